//! From a parsed HL7 v2.5 message (as SS-MIX2 uses it) to the GeMJ model: the subject from
//! MSH-4 and PID-3, demographics from ADT^A08, diagnoses from PPR^ZD1, laboratory results from
//! OUL^R22 and OML^O33. Every segment is either mapped or reported.

use std::borrow::Cow;
use std::collections::HashMap;

use gemj_hl7v2::{Field, Message, Segment};
use gemj_model::source::{
    DiagnosisFacts, Diagnostic, Extract, HospitalPatientId, Identifying, MeasurementFacts,
    NameRepresentation, PersonName, RecordBody, Rejected, SourceRecord, SubjectFacts, SubjectRef,
};
use gemj_model::{
    Coding, DiagnosisDetails, Icd10Code, InstitutionId, LabSpecimen, Provenance, Quantity, Sex,
};

use crate::path::{ReadKind, StoragePath};
use crate::text::normalize_kana;
use crate::{SOURCE, hl7time};

/// The longest id (patient, order, specimen) copied onto records, in characters: longer ones
/// would let one huge value be copied onto every result of a message.
const MAX_ID: usize = 64;

/// The longest display text of a specimen material copied onto every result, in characters.
const MAX_TEXT: usize = 256;

/// The coding system written for a code whose system the message leaves empty: HL7 table 0396
/// `L`, "local general code".
const LOCAL_SYSTEM: &str = "L";

/// What the mapping knows about the input besides its text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Input<'p> {
    /// The file label used in provenance and diagnostics.
    pub file: &'p str,
    /// The parsed storage path, when the input is a file of a standardized storage.
    pub path: Option<&'p StoragePath>,
}

/// The message types this crate maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `ADT^A08`: demographics and body measurements.
    Adt,
    /// `PPR^ZD1`: diagnoses.
    Ppr,
    /// `OUL^R22` or `OML^O33`: laboratory results.
    Lab,
}

impl Kind {
    fn of(code: &str, trigger: &str) -> Option<Self> {
        match (code, trigger) {
            ("ADT", "A08") => Some(Self::Adt),
            ("PPR", "ZD1") => Some(Self::Ppr),
            ("OUL", "R22") | ("OML", "O33") => Some(Self::Lab),
            _ => None,
        }
    }

    fn fits(self, kind: ReadKind) -> bool {
        matches!(
            (self, kind),
            (Self::Adt, ReadKind::Adt00)
                | (Self::Ppr, ReadKind::Ppr01)
                | (Self::Lab, ReadKind::Oml11)
        )
    }
}

/// Decoded text of one message to records, appended to `out`.
pub(crate) fn read_text(input: Input<'_>, text: &str, out: &mut Extract) {
    let text = normalize_kana(text);
    let message = match Message::parse(&text) {
        Ok(m) => m,
        Err(error) => {
            let reason = format!("not an HL7 v2 message: {error}");
            out.diagnostics
                .push(Diagnostic::error(input.file, "", "", reason.clone()));
            out.rejected.push(Rejected {
                provenance: provenance(input.file, None, None),
                reason,
            });
            return;
        }
    };
    let mut reader = Reader {
        input,
        message: &message,
        out,
    };
    reader.read();
}

/// A provenance in this source.
pub(crate) fn provenance(file: &str, position: Option<&str>, value: Option<&str>) -> Provenance {
    Provenance {
        source: SOURCE.to_owned(),
        file: Some(file.to_owned()),
        position: position.map(str::to_owned),
        value: value.map(str::to_owned),
    }
}

/// Text that may be echoed in a diagnostic: a short code of capitals and digits, never record
/// content.
fn code_shape(s: &str) -> Option<&str> {
    (!s.is_empty()
        && s.len() <= 8
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
    .then_some(s)
}

/// The name of a segment as a key: three capitals or digits, or `None` for a line that is not
/// a segment.
fn segment_name(name: &str) -> Option<&str> {
    (name.len() == 3
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
    .then_some(name)
}

fn non_empty(s: Cow<'_, str>) -> Option<String> {
    (!s.is_empty()).then(|| s.into_owned())
}

/// The unescaped component `c` of the first repetition of field `f`, if not empty.
fn component(segment: &Segment<'_, '_>, f: usize, c: usize) -> Option<String> {
    non_empty(segment.field(f)?.component(c)?.value())
}

/// A coded element (CWE/CE) from components `first`, `first + 1` and `first + 2` of a
/// repetition: code, text and coding system.
fn coding_at(field: Option<Field<'_>>, first: usize) -> Option<(Coding, bool)> {
    let rep = field?.repetition(1)?;
    let part = |n: usize| {
        rep.component(n)
            .map(|c| c.value())
            .filter(|v| !v.is_empty())
    };
    let code = part(first)?;
    let system = part(first + 2);
    let has_system = system.is_some();
    let mut coding = Coding::new(system.as_deref().unwrap_or(LOCAL_SYSTEM), &code);
    if let Some(text) = part(first + 1) {
        coding = coding.with_display(&text);
    }
    Some((coding, has_system))
}

/// Whether `s` is a decimal number as HL7 NM allows: an optional sign, digits and one point.
fn is_decimal(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut seen_digit = false;
    let mut seen_point = false;
    for b in digits.bytes() {
        match b {
            b'0'..=b'9' => seen_digit = true,
            b'.' if !seen_point => seen_point = true,
            _ => return false,
        }
    }
    seen_digit
}

/// What a laboratory result inherits from the segments before it.
#[derive(Debug, Clone, Default)]
struct Group {
    specimen: Option<LabSpecimen>,
    specimen_time: Option<String>,
    order_control: Option<String>,
    orc_order: Option<String>,
    obr_order: Option<String>,
    obr_time: Option<String>,
}

struct Reader<'r, 'm, 'a> {
    input: Input<'r>,
    message: &'m Message<'a>,
    out: &'r mut Extract,
}

impl Reader<'_, '_, '_> {
    fn error(&mut self, position: &str, field: &str, message: impl Into<String>) {
        let d = Diagnostic::error(self.input.file, position, field, message);
        self.out.diagnostics.push(d);
    }

    fn warning(&mut self, position: &str, field: &str, message: impl Into<String>) {
        let d = Diagnostic::warning(self.input.file, position, field, message);
        self.out.diagnostics.push(d);
    }

    fn reject(&mut self, position: &str, value: Option<&str>, reason: impl Into<String>) {
        let position = (!position.is_empty()).then_some(position);
        self.out.rejected.push(Rejected {
            provenance: provenance(self.input.file, position, value),
            reason: reason.into(),
        });
    }

    /// Rejects the whole message with an error diagnostic.
    fn reject_message(&mut self, position: &str, field: &str, reason: &str) {
        self.error(position, field, reason);
        self.reject(position, None, reason);
    }

    fn push(
        &mut self,
        subject: &SubjectRef,
        position: &str,
        value: Option<&str>,
        body: RecordBody,
    ) {
        self.out.records.push(SourceRecord {
            subject: subject.clone(),
            provenance: provenance(self.input.file, Some(position), value),
            body,
        });
    }

    fn read(&mut self) {
        let message = self.message;
        let Some(msh) = message.segment_at(0).filter(|s| s.name() == "MSH") else {
            self.reject_message("", "", "batch files (FHS/BHS) are not read");
            return;
        };
        let code = component(&msh, 9, 1).unwrap_or_default();
        let trigger = component(&msh, 9, 2).unwrap_or_default();
        let Some(kind) = Kind::of(&code, &trigger) else {
            let reason = match (code_shape(&code), code_shape(&trigger)) {
                (Some(c), Some(t)) => format!("message type {c}^{t} is not read"),
                _ => "the message type (MSH-9) is not one this adapter reads".to_owned(),
            };
            self.warning("MSH", "MSH-9", reason.clone());
            self.reject("MSH", None, reason);
            return;
        };
        if let Some(path) = self.input.path {
            let fits = path.kind().read_kind().is_some_and(|k| kind.fits(k));
            if !fits {
                let reason = format!(
                    "message type {}^{} does not belong in data kind {}",
                    code_shape(&code).unwrap_or("?"),
                    code_shape(&trigger).unwrap_or("?"),
                    path.kind()
                );
                self.reject_message("MSH", "MSH-9", &reason);
                return;
            }
        }
        let Some(hospital_id) = self.subject(&msh) else {
            return;
        };
        self.segments(kind, &msh, hospital_id);
    }

    /// The subject: MSH-4 and PID-3, checked against the file name.
    fn subject(&mut self, msh: &Segment<'_, '_>) -> Option<HospitalPatientId> {
        let institution = component(msh, 4, 1)
            .filter(|c| c.len() == 10 && c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| InstitutionId::parse(&c).ok());
        let Some(institution) = institution else {
            self.reject_message(
                "MSH",
                "MSH-4",
                "MSH-4 is not a 10-digit medical-institution code",
            );
            return None;
        };
        let Some(pid) = self.message.segment("PID") else {
            self.reject_message("", "PID", "the message has no PID segment");
            return None;
        };
        let patient = pid.field(3).and_then(|ids| {
            let mut reps = ids.repetitions().filter(|r| !r.is_empty());
            let chosen = reps
                .clone()
                .find(|r| r.component(5).is_some_and(|c| c.as_str() == "PI"))
                .or_else(|| reps.next())?;
            non_empty(chosen.component(1)?.value())
        });
        let Some(patient) = patient.filter(|p| !p.chars().any(char::is_control)) else {
            self.reject_message("PID", "PID-3", "PID-3 has no patient id");
            return None;
        };
        if patient.chars().count() > MAX_ID {
            self.reject_message("PID", "PID-3", "PID-3 is longer than 64 characters");
            return None;
        }
        if let Some(path) = self.input.path
            && path.patient() != patient
        {
            self.reject_message(
                "PID",
                "PID-3",
                "PID-3 does not match the patient id of the file name",
            );
            return None;
        }
        Some(HospitalPatientId {
            institution,
            patient,
        })
    }

    /// Walks the segments in order, mapping what `kind` maps and reporting the rest.
    fn segments(&mut self, kind: Kind, msh: &Segment<'_, '_>, hospital_id: HospitalPatientId) {
        let subject = SubjectRef::Hospital(hospital_id.clone());
        let message = self.message;
        let time = |segment: Option<Segment<'_, '_>>, field: usize| {
            segment
                .and_then(|s| component(&s, field, 1))
                .and_then(|ts| hl7time::rfc3339(&ts))
        };
        let evn_time = time(message.segment("EVN"), 2);
        let msh_time = time(Some(*msh), 7);
        let mut counts: HashMap<&str, usize> = HashMap::new();
        // Segment names not mapped (`None` for lines that are not segments): count and first
        // position, in order of appearance.
        let mut unmapped: Vec<(Option<&str>, usize, String)> = Vec::new();
        let mut unmapped_index: HashMap<Option<&str>, usize> = HashMap::new();
        let mut group = Group::default();
        for (index, segment) in message.segments().enumerate() {
            let name = segment.name();
            let key = segment_name(name);
            let n = match key {
                Some(k) => {
                    let count = counts.entry(k).or_default();
                    *count += 1;
                    *count
                }
                None => 0,
            };
            let position = key.map(|k| format!("{k}[{n}]")).unwrap_or_default();
            match (kind, key.unwrap_or("")) {
                (_, "MSH") if index == 0 => {}
                (_, "MSH") => {
                    let left = message.segment_count() - index;
                    self.error(
                        &position,
                        "",
                        format!(
                            "the file holds a second message; its {left} segments are not read"
                        ),
                    );
                    break;
                }
                (_, "PID") if n == 1 => {
                    if kind == Kind::Adt {
                        self.subject_facts(&segment, &subject, hospital_id.clone());
                    }
                }
                (_, "PID") => {
                    let left = message.segment_count() - index - 1;
                    self.error(
                        &position,
                        "",
                        format!(
                            "a second PID segment; it and the {left} segments after it are not read"
                        ),
                    );
                    break;
                }
                (Kind::Adt, "EVN") if n == 1 => {}
                (Kind::Adt, "OBX") => {
                    let times = [
                        ("EVN-2", evn_time.as_deref()),
                        ("MSH-7", msh_time.as_deref()),
                    ];
                    let order = self.input.path.map(|p| p.order().to_owned());
                    self.measurement(&segment, &position, &subject, order, None, &times);
                }
                (Kind::Ppr, "PRB") => self.diagnosis(&segment, &position, &subject),
                (Kind::Lab, "SPM") => {
                    group = Group {
                        specimen: self.specimen(&segment, &position),
                        specimen_time: time(Some(segment), 17),
                        ..Group::default()
                    };
                }
                (Kind::Lab, "ORC") => {
                    group.order_control = component(&segment, 1, 1);
                    group.orc_order = self.order_number(&segment, &position, "ORC-2");
                }
                (Kind::Lab, "OBR") => {
                    group.obr_order = self.order_number(&segment, &position, "OBR-2");
                    group.obr_time = time(Some(segment), 7);
                }
                (Kind::Lab, "OBX") => {
                    if let Some(control) = group
                        .order_control
                        .as_deref()
                        .filter(|c| matches!(*c, "CA" | "CR" | "OC"))
                    {
                        let reason = format!("the order was cancelled (ORC-1 {control})");
                        self.reject(&position, None, reason);
                        continue;
                    }
                    let order = match self.input.path {
                        Some(p) => Some(p.order().to_owned()),
                        None => group.orc_order.clone().or_else(|| group.obr_order.clone()),
                    };
                    let times = [
                        ("SPM-17", group.specimen_time.as_deref()),
                        ("OBR-7", group.obr_time.as_deref()),
                        ("MSH-7", msh_time.as_deref()),
                    ];
                    let specimen = group.specimen.clone();
                    self.measurement(&segment, &position, &subject, order, specimen, &times);
                }
                _ => match unmapped_index.get(&key) {
                    Some(&i) => unmapped[i].1 += 1,
                    None => {
                        unmapped_index.insert(key, unmapped.len());
                        unmapped.push((key, 1, position));
                    }
                },
            }
        }
        let facts = match kind {
            Kind::Adt => None,
            Kind::Ppr => Some(("PRB", "diagnoses")),
            Kind::Lab => Some(("OBX", "results")),
        };
        if let Some((segment, what)) = facts
            && !counts.contains_key(segment)
        {
            self.warning(
                "",
                "",
                format!("the message holds no {segment} segment: no {what}"),
            );
        }
        for (name, count, first) in unmapped {
            let message = match name {
                Some(n) => format!("{count} {n} segment(s) not mapped"),
                None => format!("{count} line(s) that are not HL7 segments were not read"),
            };
            self.warning(&first, "", message);
        }
    }

    /// An order number (ORC-2 or OBR-2), warning when it differs from the file name's (which
    /// wins) and dropping one too long to copy onto every result.
    fn order_number(
        &mut self,
        segment: &Segment<'_, '_>,
        position: &str,
        field: &str,
    ) -> Option<String> {
        let order = component(segment, 2, 1)?;
        if order.chars().count() > MAX_ID {
            self.warning(
                position,
                field,
                format!("{field} is longer than {MAX_ID} characters; ignored"),
            );
            return None;
        }
        if let Some(path) = self.input.path
            && path.order() != order
        {
            self.warning(
                position,
                field,
                format!("{field} differs from the order number of the file name; the file name's is used"),
            );
        }
        Some(order)
    }

    /// ADT PID: demographics and identifying details.
    fn subject_facts(
        &mut self,
        pid: &Segment<'_, '_>,
        subject: &SubjectRef,
        hospital_id: HospitalPatientId,
    ) {
        let sex = match component(pid, 8, 1).as_deref() {
            None => None,
            Some("M") => Some(Sex::Male),
            Some("F") => Some(Sex::Female),
            Some("O") => Some(Sex::Other),
            Some("U") => Some(Sex::Unknown),
            Some(_) => {
                self.warning(
                    "PID",
                    "PID-8",
                    "PID-8 is not a sex code of HL7 table 0001 (M, F, O, U)",
                );
                None
            }
        };
        let birth_date = match component(pid, 7, 1) {
            None => None,
            Some(ts) => {
                let date = hl7time::partial_date(&ts);
                if date.is_none() {
                    self.error("PID", "PID-7", "PID-7 is not an HL7 date (YYYY[MM[DD...]])");
                }
                date
            }
        };
        let identifying = Identifying {
            names: self.names(pid),
            address: None,
            postal_code: None,
            phone: pid.field(13).and_then(|f| {
                f.repetitions().find_map(|r| {
                    let part = |n| r.component(n).and_then(|c| non_empty(c.value()));
                    part(12).or_else(|| part(1))
                })
            }),
        };
        let identifying = address(pid, identifying);
        let facts = SubjectFacts {
            hospital_ids: vec![hospital_id],
            sex,
            birth_date,
            identifying,
            ..SubjectFacts::default()
        };
        self.push(subject, "PID", None, RecordBody::Subject(facts));
    }

    /// PID-5 names: family name (XPN-1.1), given name (XPN-2), representation (XPN-8).
    fn names(&mut self, pid: &Segment<'_, '_>) -> Vec<PersonName> {
        let Some(field) = pid.field(5) else {
            return Vec::new();
        };
        let mut names = Vec::new();
        for rep in field.repetitions() {
            let family = rep
                .component(1)
                .and_then(|c| c.subcomponent(1))
                .map(|s| s.value().into_owned())
                .unwrap_or_default();
            let given = rep
                .component(2)
                .map(|c| c.value().into_owned())
                .unwrap_or_default();
            if family.is_empty() && given.is_empty() {
                continue;
            }
            let representation = match rep.component(8).map(|c| c.as_str()) {
                None | Some("") => None,
                Some("I") => Some(NameRepresentation::Ideographic),
                Some("P") => Some(NameRepresentation::Syllabic),
                Some("A") => Some(NameRepresentation::Alphabetic),
                Some(_) => {
                    self.warning(
                        "PID",
                        "PID-5",
                        "XPN-8 is not a name representation code (I, P, A)",
                    );
                    None
                }
            };
            names.push(PersonName {
                family,
                given,
                representation,
            });
        }
        names
    }

    /// A PRB segment to a diagnosis.
    fn diagnosis(&mut self, prb: &Segment<'_, '_>, position: &str, subject: &SubjectRef) {
        if let Some(action) = component(prb, 1, 1).filter(|a| a == "DE") {
            self.reject(
                position,
                None,
                format!("PRB-1 action {action}: the problem was deleted"),
            );
            return;
        }
        let field = prb.field(10);
        let triplet = |first: usize| {
            let rep = field?.repetition(1)?;
            let part = |n: usize| rep.component(n).map(|c| c.value().into_owned());
            Some((
                part(first).unwrap_or_default(),
                part(first + 2).unwrap_or_default(),
            ))
        };
        let chosen = [triplet(1), triplet(4)]
            .into_iter()
            .flatten()
            .find(|(code, system)| !code.is_empty() && (system == "I10" || system.is_empty()));
        let Some((source_code, system)) = chosen else {
            let reason = "PRB-10 has no ICD-10 code (coding system I10)";
            self.error(position, "PRB-10", reason);
            self.reject(position, None, reason);
            return;
        };
        let Ok(icd10) = Icd10Code::parse(&source_code) else {
            let reason = "PRB-10 is not an ICD-10 code";
            self.error(position, "PRB-10", reason);
            self.reject(position, None, reason);
            return;
        };
        if system.is_empty() {
            self.warning(
                position,
                "PRB-10",
                "PRB-10 names no coding system; read as ICD-10 (I10)",
            );
        }
        let recorded = self.date(prb, position, 7);
        let onset = self.date(prb, position, 16);
        let mut codings = Vec::new();
        for first in [1, 4] {
            if let Some((coding, has_system)) = coding_at(prb.field(3), first) {
                if !has_system {
                    self.warning(
                        position,
                        "PRB-3",
                        "PRB-3 names no coding system; written as L (local)",
                    );
                }
                codings.push(coding);
            }
        }
        let label = component(prb, 17, 1).or_else(|| component(prb, 3, 2));
        let main = component(prb, 18, 1).map(|rank| rank == "1");
        let facts = DiagnosisFacts {
            icd10,
            source_code: source_code.clone(),
            source_system: (!system.is_empty()).then_some(system),
            onset,
            recorded,
            details: DiagnosisDetails {
                codings,
                label,
                main,
                ..DiagnosisDetails::default()
            },
        };
        self.push(
            subject,
            position,
            Some(&source_code),
            RecordBody::Diagnosis(facts),
        );
    }

    /// A date field of a PRB, with its precision; an unreadable one is reported and left out.
    fn date(
        &mut self,
        segment: &Segment<'_, '_>,
        position: &str,
        field: usize,
    ) -> Option<gemj_model::PartialDate> {
        let ts = component(segment, field, 1)?;
        let date = hl7time::partial_date(&ts);
        if date.is_none() {
            let name = format!("{}-{field}", segment.name());
            self.error(
                position,
                &name,
                format!("{name} is not an HL7 date (YYYY[MM[DD...]])"),
            );
        }
        date
    }

    /// SPM: the routine-lab specimen (SPM-2 id, SPM-4 material).
    fn specimen(&mut self, spm: &Segment<'_, '_>, position: &str) -> Option<LabSpecimen> {
        let id = spm.field(2).and_then(|f| {
            let placer = f.component(1).and_then(|c| c.subcomponent(1));
            let filler = f.component(2).and_then(|c| c.subcomponent(1));
            [placer, filler]
                .into_iter()
                .flatten()
                .find_map(|s| non_empty(s.value()))
        });
        let Some(id) = id else {
            self.warning(
                position,
                "SPM-2",
                "SPM-2 has no specimen id; its results carry no specimen",
            );
            return None;
        };
        if id.chars().count() > MAX_ID {
            self.warning(
                position,
                "SPM-2",
                "SPM-2 is longer than 64 characters; its results carry no specimen",
            );
            return None;
        }
        let mut material = coding_at(spm.field(4), 1);
        let too_long = |c: &Coding| {
            c.code.chars().count() > MAX_ID
                || c.system.chars().count() > MAX_ID
                || c.display
                    .as_ref()
                    .is_some_and(|d| d.chars().count() > MAX_TEXT)
        };
        if material.as_ref().is_some_and(|(c, _)| too_long(c)) {
            self.warning(
                position,
                "SPM-4",
                "SPM-4 is too long to copy onto each result; left out",
            );
            material = None;
        }
        let material = material.map(|(coding, has_system)| {
            if !has_system {
                self.warning(
                    position,
                    "SPM-4",
                    "SPM-4 names no coding system; written as L (local)",
                );
            }
            coding
        });
        Some(LabSpecimen { id, material })
    }

    /// An OBX to a measurement, or a rejection when it holds none.
    fn measurement(
        &mut self,
        obx: &Segment<'_, '_>,
        position: &str,
        subject: &SubjectRef,
        order: Option<String>,
        lab_specimen: Option<LabSpecimen>,
        times: &[(&str, Option<&str>)],
    ) {
        let status = component(obx, 11, 1);
        let refused = match status.as_deref() {
            Some("D") => Some("OBX-11 result status D (deleted): not a measurement"),
            Some("W") => Some("OBX-11 result status W (wrong, replaced): not a measurement"),
            Some("X") => Some("OBX-11 result status X (no result could be obtained)"),
            _ => None,
        };
        if let Some(reason) = refused {
            self.reject(position, None, reason);
            return;
        }
        let Some((code, has_system)) =
            coding_at(obx.field(3), 1).or_else(|| coding_at(obx.field(3), 4))
        else {
            let reason = "OBX-3 has no observation code";
            self.error(position, "OBX-3", reason);
            self.reject(position, None, reason);
            return;
        };
        if !has_system {
            self.warning(
                position,
                "OBX-3",
                "OBX-3 names no coding system; written as L (local)",
            );
        }
        let value_type = component(obx, 2, 1).unwrap_or_default();
        let Some(value) = self.value(obx, position, &value_type) else {
            return;
        };
        let value_type = if value_type.is_empty() {
            self.warning(position, "OBX-2", "OBX-2 is empty; the value is read as ST");
            "ST".to_owned()
        } else {
            value_type
        };
        let effective = self.effective(obx, position, times);
        let facts = MeasurementFacts {
            code,
            value: Quantity {
                value,
                unit: component(obx, 6, 1),
            },
            value_type,
            reference_range: obx.field(7).and_then(|f| non_empty(f.value())),
            interpretation: component(obx, 8, 1),
            effective,
            status,
            order,
            lab_specimen,
        };
        self.push(subject, position, None, RecordBody::Measurement(facts));
    }

    /// OBX-5 as text, by OBX-2; `None` (with a rejection) when there is no readable value.
    fn value(&mut self, obx: &Segment<'_, '_>, position: &str, value_type: &str) -> Option<String> {
        let field = obx.field(5);
        let first = field
            .and_then(|f| f.repetition(1))
            .filter(|r| !r.is_empty());
        let Some(first) = first else {
            self.reject(position, None, "OBX-5 is empty: no result value");
            return None;
        };
        if field.is_some_and(|f| f.repetitions().skip(1).any(|r| !r.is_empty())) {
            self.warning(
                position,
                "OBX-5",
                "OBX-5 repeats; only the first repetition is read",
            );
        }
        let part = |n: usize| first.component(n).map(|c| c.value().into_owned());
        let value = match value_type {
            "NM" => {
                let v = part(1).unwrap_or_default();
                if !is_decimal(&v) {
                    self.warning(
                        position,
                        "OBX-5",
                        "OBX-5 is not a decimal number although OBX-2 is NM; kept as text",
                    );
                }
                v
            }
            "" | "ST" | "TX" | "FT" => first.value().into_owned(),
            "SN" => first.components().map(|c| c.value()).collect(),
            "CWE" | "CE" | "CNE" | "CF" => part(2)
                .filter(|t| !t.is_empty())
                .or_else(|| part(1))
                .unwrap_or_default(),
            other => {
                let reason = match code_shape(other) {
                    Some(t) => format!("OBX-2 value type {t} is not read"),
                    None => "OBX-2 is not a value type this adapter reads".to_owned(),
                };
                self.reject(position, None, reason);
                return None;
            }
        };
        if value.is_empty() {
            self.reject(position, None, "OBX-5 is empty: no result value");
            return None;
        }
        Some(value)
    }

    /// OBX-14 as RFC 3339 (JST unless a zone is given), or else the first fallback (already
    /// RFC 3339).
    fn effective(
        &mut self,
        obx: &Segment<'_, '_>,
        position: &str,
        fallbacks: &[(&str, Option<&str>)],
    ) -> Option<String> {
        if let Some(ts) = component(obx, 14, 1) {
            match hl7time::rfc3339(&ts) {
                Some(t) => return Some(t),
                None => {
                    let used = fallbacks
                        .iter()
                        .find(|(_, v)| v.is_some())
                        .map_or("nowhere", |(name, _)| name);
                    self.error(
                        position,
                        "OBX-14",
                        format!("OBX-14 is not an HL7 date/time of day precision or finer; the time is taken from {used}"),
                    );
                }
            }
        }
        fallbacks.iter().find_map(|(_, v)| v.map(str::to_owned))
    }
}

/// PID-11: the first repetition with address text. The text is XAD-8 (where SS-MIX2 senders
/// write the whole address), or else prefecture, city, street and other designation (XAD-4,
/// XAD-3, XAD-1.1, XAD-2) run together as Japanese addresses are written.
fn address(pid: &Segment<'_, '_>, mut identifying: Identifying) -> Identifying {
    let Some(field) = pid.field(11) else {
        return identifying;
    };
    for rep in field.repetitions() {
        let part = |n: usize| {
            rep.component(n)
                .map(|c| c.value().into_owned())
                .unwrap_or_default()
        };
        let street = rep
            .component(1)
            .and_then(|c| c.subcomponent(1))
            .map(|s| s.value().into_owned())
            .unwrap_or_default();
        let text = match part(8) {
            t if !t.is_empty() => t,
            _ => [part(4), part(3), street, part(2)].concat(),
        };
        let postal = part(5);
        if text.is_empty() && postal.is_empty() {
            continue;
        }
        identifying.address = (!text.is_empty()).then_some(text);
        identifying.postal_code = (!postal.is_empty()).then_some(postal);
        break;
    }
    identifying
}

#[cfg(test)]
mod tests {
    use gemj_model::source::Severity;

    use super::*;
    use crate::read_message;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const MSH_ADT: &str =
        "MSH|^~\\&|HIS|9999999999|GW|GEMJ|20240301090000||ADT^A08^ADT_A01|1|P|2.5";
    const MSH_PPR: &str =
        "MSH|^~\\&|HIS|9999999999|GW|GEMJ|20240220101500||PPR^ZD1^PPR_ZD1|2|P|2.5";
    const MSH_OUL: &str =
        "MSH|^~\\&|LIS|9999999999|GW|GEMJ|20240314153000||OUL^R22^OUL_R22|3|P|2.5";
    const PID: &str = "PID|0001||9000000001^^^^PI";

    fn read(lines: &[&str]) -> Extract {
        read_message("t", &lines.join("\r"))
    }

    fn measurements(e: &Extract) -> Vec<&MeasurementFacts> {
        e.records
            .iter()
            .filter_map(|r| match &r.body {
                RecordBody::Measurement(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn diagnoses(e: &Extract) -> Vec<&DiagnosisFacts> {
        e.records
            .iter()
            .filter_map(|r| match &r.body {
                RecordBody::Diagnosis(d) => Some(d),
                _ => None,
            })
            .collect()
    }

    fn reasons(e: &Extract) -> Vec<&str> {
        e.rejected.iter().map(|r| r.reason.as_str()).collect()
    }

    fn messages(e: &Extract, severity: Severity) -> Vec<&str> {
        e.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .map(|d| d.message.as_str())
            .collect()
    }

    #[test]
    fn decimals() {
        for (s, ok) in [
            ("3.2", true),
            ("61.0", true),
            ("-1", true),
            ("+.5", true),
            ("10.", true),
            ("", false),
            (".", false),
            ("1.2.3", false),
            ("<0.1", false),
            ("１", false),
            ("1e3", false),
        ] {
            assert_eq!(is_decimal(s), ok, "{s:?}");
        }
    }

    #[test]
    fn code_shapes() {
        assert_eq!(code_shape("OUL"), Some("OUL"));
        assert_eq!(code_shape("OUL_R22"), Some("OUL_R22"));
        assert_eq!(code_shape(""), None);
        assert_eq!(code_shape("試験"), None);
        assert_eq!(code_shape("lower"), None);
        assert_eq!(code_shape("TOOLONGCODE"), None);
    }

    #[test]
    fn message_level_rejections() {
        let check = |lines: &[&str], reason: &str| {
            let e = read(lines);
            assert!(e.records.is_empty(), "{lines:?}");
            assert_eq!(reasons(&e), [reason], "{lines:?}");
        };
        check(
            &["PID|1"],
            "not an HL7 v2 message: the message does not start with an MSH, BHS or FHS segment",
        );
        check(
            &["FHS|^~\\&", MSH_ADT, PID],
            "batch files (FHS/BHS) are not read",
        );
        check(
            &[
                "MSH|^~\\&|HIS|9999999999|GW|GEMJ|20240301||ADT^A01^ADT_A01|1|P|2.5",
                PID,
            ],
            "message type ADT^A01 is not read",
        );
        check(
            &[
                "MSH|^~\\&|HIS|9999999999|GW|GEMJ|20240301||試験^A01|1|P|2.5",
                PID,
            ],
            "the message type (MSH-9) is not one this adapter reads",
        );
        check(
            &[
                "MSH|^~\\&|HIS|999999999|GW|GEMJ|20240301||ADT^A08^ADT_A01|1|P|2.5",
                PID,
            ],
            "MSH-4 is not a 10-digit medical-institution code",
        );
        check(
            &[MSH_ADT, "EVN||20240301"],
            "the message has no PID segment",
        );
        check(&[MSH_ADT, "PID|0001||^^^^PI"], "PID-3 has no patient id");
        let long = format!("PID|0001||{}^^^^PI", "9".repeat(65));
        check(&[MSH_ADT, &long], "PID-3 is longer than 64 characters");
    }

    #[test]
    fn patient_id_prefers_the_pi_repetition() {
        let e = read(&[
            MSH_PPR,
            "PID|0001||X-1^^^^MR~9000000001^^^^PI",
            "PRB|AD|||||||||C169^^I10",
        ]);
        let SubjectRef::Hospital(h) = &e.records[0].subject else {
            panic!("not a hospital subject");
        };
        assert_eq!(h.patient, "9000000001");
    }

    #[test]
    fn demographics() -> TestResult {
        let e = read(&[
            MSH_ADT,
            "PID|0001||9000000001^^^^PI||ｶﾞｯｺｳ^ﾊﾟﾝ^^^^^L^P~Test^Taro^^^^^L^A~^^^^^^L^I||2005|X|||1-2-3^Room 4^Chiyoda^Tokyo^100-0001^JPN^H||03-1111-2222^PRN^PH",
        ]);
        let RecordBody::Subject(facts) = &e.records[0].body else {
            return Err("no subject".into());
        };
        let names: Vec<_> = facts
            .identifying
            .names
            .iter()
            .map(|n| (n.family.as_str(), n.given.as_str(), n.representation))
            .collect();
        assert_eq!(
            names,
            [
                ("ガッコウ", "パン", Some(NameRepresentation::Syllabic)),
                ("Test", "Taro", Some(NameRepresentation::Alphabetic)),
            ]
        );
        let birth = facts.birth_date.ok_or("no birth date")?;
        assert_eq!(birth.to_string(), "2005");
        assert_eq!(facts.sex, None);
        assert_eq!(
            messages(&e, Severity::Warning),
            ["PID-8 is not a sex code of HL7 table 0001 (M, F, O, U)"]
        );
        assert_eq!(
            facts.identifying.address.as_deref(),
            Some("TokyoChiyoda1-2-3Room 4")
        );
        assert_eq!(facts.identifying.postal_code.as_deref(), Some("100-0001"));
        assert_eq!(facts.identifying.phone.as_deref(), Some("03-1111-2222"));
        Ok(())
    }

    #[test]
    fn bad_birth_date_is_an_error_not_a_guess() {
        let e = read(&[MSH_ADT, "PID|0001||9000000001^^^^PI||||19750431|M"]);
        assert_eq!(
            messages(&e, Severity::Error),
            ["PID-7 is not an HL7 date (YYYY[MM[DD...]])"]
        );
        let RecordBody::Subject(facts) = &e.records[0].body else {
            panic!("no subject");
        };
        assert_eq!(facts.birth_date, None);
        assert_eq!(facts.sex, Some(Sex::Male));
    }

    #[test]
    fn diagnoses_and_their_rejections() {
        let e = read(&[
            MSH_PPR,
            PID,
            "PRB|AD||20054178^胃癌^MDCDX2|1|||20240220|||C169^^I10||||||202402|胃癌|2^副診断^JHSD0007",
            "PRB|DE||20054178^胃癌^MDCDX2|1|||20240220|||C169^^I10",
            "PRB|AD||L-1^x^99Z03|1|||20240220|||",
            "PRB|AD||L-1^x^99Z03|1|||20240220|||XYZ^^I10",
            "PRB|AD||L-1^x^99Z03|1|||20240220|||1234^^MDCDX2^Q874^^I10",
            "PRB|AD||L-2^y|1|||2024|||E119",
            "PRB|AD||||||2024022|||I10^^I10||||||20241340",
        ]);
        let d = diagnoses(&e);
        let summary: Vec<_> = d
            .iter()
            .map(|d| {
                (
                    d.icd10.as_str(),
                    d.source_code.as_str(),
                    d.source_system.as_deref(),
                    d.onset.map(|o| o.to_string()),
                    d.recorded.map(|o| o.to_string()),
                    d.details.main,
                    d.details.label.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "C16.9",
                    "C169",
                    Some("I10"),
                    Some("2024-02".to_owned()),
                    Some("2024-02-20".to_owned()),
                    Some(false),
                    Some("胃癌")
                ),
                (
                    "Q87.4",
                    "Q874",
                    Some("I10"),
                    None,
                    Some("2024-02-20".to_owned()),
                    None,
                    Some("x")
                ),
                (
                    "E11.9",
                    "E119",
                    None,
                    None,
                    Some("2024".to_owned()),
                    None,
                    Some("y")
                ),
                ("I10", "I10", Some("I10"), None, None, None, None),
            ]
        );
        assert_eq!(
            d[2].details.codings,
            [Coding::new("L", "L-2").with_display("y")]
        );
        assert_eq!(
            reasons(&e),
            [
                "PRB-1 action DE: the problem was deleted",
                "PRB-10 has no ICD-10 code (coding system I10)",
                "PRB-10 is not an ICD-10 code",
            ]
        );
        let positions: Vec<_> = e
            .rejected
            .iter()
            .filter_map(|r| r.provenance.position.as_deref())
            .collect();
        assert_eq!(positions, ["PRB[2]", "PRB[3]", "PRB[4]"]);
        assert_eq!(
            messages(&e, Severity::Error),
            [
                "PRB-10 has no ICD-10 code (coding system I10)",
                "PRB-10 is not an ICD-10 code",
                "PRB-7 is not an HL7 date (YYYY[MM[DD...]])",
                "PRB-16 is not an HL7 date (YYYY[MM[DD...]])",
            ]
        );
    }

    #[test]
    fn result_statuses_and_values() {
        let e = read(&[
            MSH_OUL,
            PID,
            "SPM|1|LS-9&LAB||023^血清^JC10|||||||||||||20240314090000",
            "ORC|SC|000000000000777",
            "OBX|1|NM|A^a^JC10||3.2|g/dL|1-2|H|||F|||202403141000",
            "OBX|2|NM|B^b^JC10||1.0|g/dL|||||D",
            "OBX|3|NM|C^c^JC10||1.0|g/dL|||||W",
            "OBX|4|NM|D^d^JC10|||g/dL|||||X",
            "OBX|5|NM|E^e^JC10|||g/dL|||||F",
            "OBX|6|SN|F^f^JC10||<^0.1|mg/dL|||||F|||2024031",
            "OBX|7|CWE|G^g^JC10||+^陽性^JC10||||||C",
            "OBX|8|ED|H^h^JC10||^AP^^Base64^QUJD||||||F",
            "OBX|9|ST|^^^I^i^JC10||a\\S\\b~c||||||F",
            "OBX|10|NM|||1.0",
            "OBX|11|NM|K^k||<0.1",
        ]);
        let m = measurements(&e);
        let summary: Vec<_> = m
            .iter()
            .map(|m| {
                (
                    m.code.code.as_str(),
                    m.code.system.as_str(),
                    m.value.value.as_str(),
                    m.value_type.as_str(),
                    m.effective.as_deref(),
                    m.status.as_deref(),
                    m.order.as_deref(),
                    m.lab_specimen.as_ref().map(|s| s.id.as_str()),
                )
            })
            .collect();
        let spm = Some("2024-03-14T09:00:00+09:00");
        let order = Some("000000000000777");
        let ls = Some("LS-9");
        assert_eq!(
            summary,
            [
                (
                    "A",
                    "JC10",
                    "3.2",
                    "NM",
                    Some("2024-03-14T10:00:00+09:00"),
                    Some("F"),
                    order,
                    ls
                ),
                ("F", "JC10", "<0.1", "SN", spm, Some("F"), order, ls),
                ("G", "JC10", "陽性", "CWE", spm, Some("C"), order, ls),
                ("I", "JC10", "a^b", "ST", spm, Some("F"), order, ls),
                ("K", "L", "<0.1", "NM", spm, None, order, ls),
            ]
        );
        assert_eq!(m[0].reference_range.as_deref(), Some("1-2"));
        assert_eq!(m[0].interpretation.as_deref(), Some("H"));
        assert_eq!(m[0].value.unit.as_deref(), Some("g/dL"));
        assert_eq!(
            reasons(&e),
            [
                "OBX-11 result status D (deleted): not a measurement",
                "OBX-11 result status W (wrong, replaced): not a measurement",
                "OBX-11 result status X (no result could be obtained)",
                "OBX-5 is empty: no result value",
                "OBX-2 value type ED is not read",
                "OBX-3 has no observation code",
            ]
        );
        assert_eq!(
            messages(&e, Severity::Error),
            [
                "OBX-14 is not an HL7 date/time of day precision or finer; the time is taken from SPM-17",
                "OBX-3 has no observation code",
            ]
        );
        assert_eq!(
            messages(&e, Severity::Warning),
            [
                "OBX-5 repeats; only the first repetition is read",
                "OBX-3 names no coding system; written as L (local)",
                "OBX-5 is not a decimal number although OBX-2 is NM; kept as text",
            ]
        );
    }

    #[test]
    fn cancelled_orders_yield_no_results() {
        let e = read(&[
            MSH_OUL,
            PID,
            "SPM|1|LS-1",
            "ORC|CA|1",
            "OBX|1|NM|A^a^JC10||1.0|||||F",
            "SPM|2|LS-2",
            "ORC|SC|2",
            "OBX|1|NM|B^b^JC10||2.0|||||F",
        ]);
        let m = measurements(&e);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].code.code, "B");
        assert_eq!(m[0].order.as_deref(), Some("2"));
        assert_eq!(
            m[0].lab_specimen.as_ref().map(|s| s.id.as_str()),
            Some("LS-2")
        );
        assert_eq!(reasons(&e), ["the order was cancelled (ORC-1 CA)"]);
    }

    #[test]
    fn oml_o33_is_read_and_obr_gives_the_order() {
        let e = read(&[
            "MSH|^~\\&|LIS|9999999999|GW|GEMJ|20240314153000||OML^O33^OML_O33|3|P|2.5",
            PID,
            "SPM|1|LS-1",
            "OBR|1|000000000000888|||||20240314080000",
            "OBX|1|NM|A^a^JC10||1.0|||||F",
        ]);
        let m = measurements(&e);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].order.as_deref(), Some("000000000000888"));
        assert_eq!(m[0].effective.as_deref(), Some("2024-03-14T08:00:00+09:00"));
    }

    #[test]
    fn huge_shared_values_are_not_copied_onto_every_result() {
        let spm = format!("SPM|1|{}", "L".repeat(1000));
        let orc = format!("ORC|SC|{}", "1".repeat(1000));
        let e = read(&[
            MSH_OUL,
            PID,
            &spm,
            &orc,
            "OBX|1|NM|A^a^JC10||1.0",
            "OBX|2|NM|A^a^JC10||1.0",
        ]);
        let m = measurements(&e);
        assert_eq!(m.len(), 2);
        assert!(
            m.iter()
                .all(|m| m.lab_specimen.is_none() && m.order.is_none())
        );
        assert_eq!(
            messages(&e, Severity::Warning),
            [
                "SPM-2 is longer than 64 characters; its results carry no specimen",
                "ORC-2 is longer than 64 characters; ignored",
            ]
        );
    }

    #[test]
    fn unmapped_segments_are_reported_once_per_name() {
        let e = read(&[
            MSH_ADT,
            "EVN||20240301",
            PID,
            "PV1|1",
            "PV1|2",
            "NK1|1",
            "garbage line",
            "more garbage",
            "EVN||x",
        ]);
        let warnings: Vec<_> = e
            .diagnostics
            .iter()
            .map(|d| (d.position.as_deref(), d.message.as_str()))
            .collect();
        assert_eq!(
            warnings,
            [
                (Some("PV1[1]"), "2 PV1 segment(s) not mapped"),
                (Some("NK1[1]"), "1 NK1 segment(s) not mapped"),
                (None, "2 line(s) that are not HL7 segments were not read"),
                (Some("EVN[2]"), "1 EVN segment(s) not mapped"),
            ]
        );
    }

    #[test]
    fn a_second_message_or_patient_stops_reading() {
        let e = read(&[
            MSH_ADT,
            PID,
            "OBX|1|NM|A^a^JC10||1.0",
            MSH_ADT,
            PID,
            "OBX|1|NM|B^b^JC10||2.0",
        ]);
        assert_eq!(measurements(&e).len(), 1);
        assert_eq!(
            messages(&e, Severity::Error),
            ["the file holds a second message; its 3 segments are not read"]
        );
        let e = read(&[
            MSH_OUL,
            PID,
            "OBX|1|NM|A^a^JC10||1.0",
            "PID|0002||9000000009^^^^PI",
            "OBX|1|NM|B^b^JC10||2.0",
        ]);
        assert_eq!(measurements(&e).len(), 1);
        assert_eq!(
            messages(&e, Severity::Error),
            ["a second PID segment; it and the 1 segments after it are not read"]
        );
    }
}
