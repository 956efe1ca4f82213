//! What an adapter extracts from an input, before it reaches the store: records that name their
//! subject the way the source does (a GeMJ id, or only a hospital patient id), each with its
//! provenance, plus diagnostics for what could not be read.
//!
//! Adapters (`adapters/`) produce an [`Extract`]; the gateway's ingest resolves each
//! [`SubjectRef`] through the linkage table, checks consent, and turns the facts into the
//! canonical records ([`crate::Diagnosis`], [`crate::Specimen`], ...). Nothing here touches a
//! store.
//!
//! # Examples
//! ```
//! use gemj_model::source::{Diagnostic, Extract, Severity};
//! let mut extract = Extract::default();
//! extract.diagnostics.push(Diagnostic::error("records.csv", "line 3", "sex", "unknown code 7"));
//! assert_eq!(extract.diagnostics[0].severity, Severity::Error);
//! assert!(extract.records.is_empty());
//! ```

use crate::{
    Coding, HpoId, Icd10Code, InstitutionId, LabSpecimen, PartialDate, ParticipantId,
    PhenotypeStatus, Program, Provenance, Quantity, Sex, SpecimenDetails, SpecimenId, SpecimenType,
};

/// The JP Core identifier system prefix for a hospital's patient ids: `urn:oid:1.2.392.100495.20.3.51.`
/// + `1` + the 10-digit medical-institution code.
pub const JP_PATIENT_ID_OID_PREFIX: &str = "urn:oid:1.2.392.100495.20.3.51.1";

/// The identifier system of GeMJ subject ids (a placeholder namespace, changed here only).
pub const GEMJ_SUBJECT_SYSTEM: &str = "http://gemj.example.jp/id/subject";

/// The identifier system of GeMJ specimen ids.
pub const GEMJ_SPECIMEN_SYSTEM: &str = "http://gemj.example.jp/id/specimen";

/// A patient id at a hospital: the 10-digit medical-institution code and the hospital's own id.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct HospitalPatientId {
    /// The medical-institution code (`9999999999`).
    pub institution: InstitutionId,
    /// The hospital's patient id (`9000000001`).
    pub patient: String,
}

impl HospitalPatientId {
    /// The JP Core identifier system of this hospital's patient ids.
    #[must_use]
    pub fn system(&self) -> String {
        format!("{JP_PATIENT_ID_OID_PREFIX}{}", self.institution)
    }

    /// The institution code of a JP Core patient-id system, if `system` is one.
    ///
    /// ```
    /// use gemj_model::source::HospitalPatientId;
    /// let code = HospitalPatientId::institution_of_system("urn:oid:1.2.392.100495.20.3.51.19999999999");
    /// assert_eq!(code.as_deref(), Some("9999999999"));
    /// assert_eq!(HospitalPatientId::institution_of_system("urn:oid:1.2.3"), None);
    /// ```
    #[must_use]
    pub fn institution_of_system(system: &str) -> Option<String> {
        let code = system.strip_prefix(JP_PATIENT_ID_OID_PREFIX)?;
        (code.len() == 10 && code.bytes().all(|b| b.is_ascii_digit())).then(|| code.to_owned())
    }
}

/// How a record names its subject.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SubjectRef {
    /// By GeMJ id.
    Participant(ParticipantId),
    /// Only by hospital patient id: resolved through the linkage table, never invented.
    Hospital(HospitalPatientId),
}

/// How bad a diagnostic is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A value was read with a caveat (an encoding fallback, an unknown optional code).
    Warning,
    /// A record or field could not be read; the record is quarantined or the field left out.
    Error,
}

/// Something an adapter could not read, or read with a caveat.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// The input file (relative path or name as given).
    pub file: String,
    /// Where in it: `line 3`, `PRB[1]`, `entry 2`, `SubjectData GEMJ-TEST-0001`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// The field (`PRB-16`, `sex`, `I.BRTHDTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What was wrong. Never the record's content beyond the offending code or value shape.
    pub message: String,
}

impl Diagnostic {
    /// An error at a position and field.
    #[must_use]
    pub fn error(file: &str, position: &str, field: &str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, file, position, field, message)
    }

    /// A warning at a position and field.
    #[must_use]
    pub fn warning(file: &str, position: &str, field: &str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, file, position, field, message)
    }

    fn new(
        severity: Severity,
        file: &str,
        position: &str,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Self {
            severity,
            file: file.to_owned(),
            position: opt(position),
            field: opt(field),
            message: message.into(),
        }
    }
}

/// The most diagnostics a [`DiagnosticLog`] keeps; the rest are counted in one closing warning.
pub const MAX_DIAGNOSTICS: usize = 1000;

/// The diagnostics of one input, capped at [`MAX_DIAGNOSTICS`] so that a hostile file cannot make
/// the report larger than a fixed bound. Past the cap, diagnostics are only counted, and
/// [`DiagnosticLog::finish`] closes the list with one warning that says how many were suppressed.
///
/// # Examples
/// ```
/// use gemj_model::source::{DiagnosticLog, MAX_DIAGNOSTICS, Severity};
/// let mut log = DiagnosticLog::new("records.csv");
/// log.error("line 3", "sex", "unknown code 7");
/// for _ in 0..MAX_DIAGNOSTICS + 4 {
///     log.warning("line 4", "", "blank row");
/// }
/// let list = log.finish();
/// assert_eq!(list.len(), MAX_DIAGNOSTICS + 1);
/// assert_eq!(list[0].severity, Severity::Error);
/// assert_eq!(list[0].position.as_deref(), Some("line 3"));
/// assert_eq!(
///     list[MAX_DIAGNOSTICS].message,
///     "5 further diagnostics were suppressed (at most 1000 are kept)"
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct DiagnosticLog {
    file: String,
    list: Vec<Diagnostic>,
    suppressed: usize,
}

impl DiagnosticLog {
    /// An empty log of the input `file`.
    #[must_use]
    pub fn new(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            list: Vec::new(),
            suppressed: 0,
        }
    }

    /// Logs an error at a position and field (blank for none).
    pub fn error(&mut self, position: &str, field: &str, message: impl Into<String>) {
        if self.room() {
            let d = Diagnostic::error(&self.file, position, field, message);
            self.list.push(d);
        }
    }

    /// Logs a warning at a position and field (blank for none).
    pub fn warning(&mut self, position: &str, field: &str, message: impl Into<String>) {
        if self.room() {
            let d = Diagnostic::warning(&self.file, position, field, message);
            self.list.push(d);
        }
    }

    /// Whether another diagnostic may be kept; counts it as suppressed when not.
    fn room(&mut self) -> bool {
        if self.list.len() < MAX_DIAGNOSTICS {
            true
        } else {
            self.suppressed += 1;
            false
        }
    }

    /// The diagnostics in the order logged, with a closing warning when some were suppressed.
    #[must_use]
    pub fn finish(mut self) -> Vec<Diagnostic> {
        if self.suppressed > 0 {
            self.list.push(Diagnostic::warning(
                &self.file,
                "",
                "",
                format!(
                    "{} further diagnostics were suppressed (at most {MAX_DIAGNOSTICS} are kept)",
                    self.suppressed
                ),
            ));
        }
        self.list
    }
}

/// Line numbers of byte offsets in a line-based input (CSV), counted incrementally: offsets must
/// not decrease. Line ends at an offset are skipped first, since a record never starts with one
/// (the `csv` crate places the record after a CRLF at its LF, so its own line count is off by one
/// after CRLF line ends).
///
/// # Examples
/// ```
/// use gemj_model::source::LineNumbers;
/// let text = b"id,sex\r\n1,2\r\n2,1\r\n";
/// let mut lines = LineNumbers::new(text);
/// assert_eq!(lines.line_at(0), 1);
/// assert_eq!(lines.line_at(7), 2); // the LF of the first CRLF
/// assert_eq!(lines.line_at(13), 3);
/// ```
#[derive(Debug, Clone)]
pub struct LineNumbers<'b> {
    bytes: &'b [u8],
    offset: usize,
    line: u64,
}

impl<'b> LineNumbers<'b> {
    /// Line numbers of `bytes`, starting at line 1.
    #[must_use]
    pub fn new(bytes: &'b [u8]) -> Self {
        Self {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line of a byte offset at or after the previous one.
    pub fn line_at(&mut self, offset: u64) -> u64 {
        let mut offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while matches!(self.bytes.get(offset), Some(b'\r' | b'\n')) {
            offset += 1;
        }
        if offset > self.offset {
            let newlines = self.bytes[self.offset..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += u64::try_from(newlines).unwrap_or(u64::MAX);
            self.offset = offset;
        }
        self.line
    }
}

/// What an adapter read from one input: records and diagnostics. An adapter fails only when
/// nothing usable is left; a bad record becomes a diagnostic (and, where the record itself is
/// unusable, a [`Rejected`] entry so that the ingest report accounts for it).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Extract {
    /// The records read.
    pub records: Vec<SourceRecord>,
    /// Input records that could not be used at all, with the reason.
    pub rejected: Vec<Rejected>,
    /// Everything worth telling about the input.
    pub diagnostics: Vec<Diagnostic>,
}

impl Extract {
    /// The extract of an input that could not be read at all: no records, one error naming the
    /// file and why.
    ///
    /// # Examples
    /// ```
    /// use gemj_model::source::{Extract, Severity};
    /// let extract = Extract::unreadable("records.csv", "not CSV");
    /// assert!(extract.records.is_empty());
    /// assert_eq!(extract.diagnostics[0].severity, Severity::Error);
    /// assert_eq!(extract.diagnostics[0].message, "not CSV");
    /// ```
    #[must_use]
    pub fn unreadable(file: &str, message: impl Into<String>) -> Self {
        Self {
            diagnostics: vec![Diagnostic::error(file, "", "", message)],
            ..Self::default()
        }
    }

    /// Appends another extract (of another file of the same input).
    pub fn append(&mut self, mut other: Extract) {
        self.records.append(&mut other.records);
        self.rejected.append(&mut other.rejected);
        self.diagnostics.append(&mut other.diagnostics);
    }

    /// The records about `subject`, in the order read.
    pub fn records_of<'a>(
        &'a self,
        subject: &'a SubjectRef,
    ) -> impl Iterator<Item = &'a SourceRecord> + 'a {
        self.records.iter().filter(move |r| r.subject == *subject)
    }

    /// The specimens stated, in the order read.
    pub fn specimens(&self) -> impl Iterator<Item = &SpecimenFacts> {
        self.records.iter().filter_map(|r| match &r.body {
            RecordBody::Specimen(s) => Some(s),
            _ => None,
        })
    }
}

/// An input record the adapter could not turn into facts, or that the source itself marks as
/// not to be used (an SS-MIX2 superseded file).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Rejected {
    /// Where it was.
    pub provenance: Provenance,
    /// Why it was not used.
    pub reason: String,
}

/// One fact from a source, about one subject.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct SourceRecord {
    /// Whose.
    pub subject: SubjectRef,
    /// Where it was: source kind (`ssmix2`, `fhir`, `redcap`, `odm`, `biobank`, `vcf`), file and
    /// position.
    pub provenance: Provenance,
    /// The fact.
    pub body: RecordBody,
}

/// The facts a source can state.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordBody {
    /// Identity and demographics.
    Subject(SubjectFacts),
    /// Consent given or withdrawn.
    Consent(ConsentFacts),
    /// A diagnosis.
    Diagnosis(DiagnosisFacts),
    /// A phenotypic feature.
    Phenotype(PhenotypeFacts),
    /// A specimen or biobank sample.
    Specimen(SpecimenFacts),
    /// A measurement or laboratory result.
    Measurement(MeasurementFacts),
    /// The source deleted an order (SS-MIX2 condition flag `0`): every result of it goes.
    DeleteOrder(OrderDeletion),
}

impl RecordBody {
    /// The kind's name, as used in reports (`subject`, `diagnosis`, ...).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Subject(_) => "subject",
            Self::Consent(_) => "consent",
            Self::Diagnosis(_) => "diagnosis",
            Self::Phenotype(_) => "phenotype",
            Self::Specimen(_) => "specimen",
            Self::Measurement(_) => "measurement",
            Self::DeleteOrder(_) => "delete_order",
        }
    }
}

/// How a name is written (ISO 21090 EN representation; HL7 v2 XPN-8 / JP name type).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NameRepresentation {
    /// Kanji (`IDE`, HL7 v2 `I`).
    Ideographic,
    /// Kana (`SYL`, HL7 v2 `P`), full-width after normalisation.
    Syllabic,
    /// Latin letters (`ABC`, HL7 v2 `A`).
    Alphabetic,
}

/// A person's name as a source wrote it (kana normalised to full width).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct PersonName {
    /// Family name.
    pub family: String,
    /// Given name.
    pub given: String,
    /// Kanji, kana or Latin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representation: Option<NameRepresentation>,
}

/// Identifying details a source carries. Adapters read them (so that their parsing is tested and
/// linkage could use them); the gateway's store never keeps them.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Identifying {
    /// Names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<PersonName>,
    /// Street address text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Telephone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Identifying {
    /// Whether the source carried nothing identifying.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Identity and demographics of a subject.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct SubjectFacts {
    /// The GeMJ id, when the source carries it next to a hospital id (linkage).
    pub participant: Option<ParticipantId>,
    /// Hospital patient ids the source links to the subject.
    pub hospital_ids: Vec<HospitalPatientId>,
    /// The enrolling institution, when the source says.
    pub institution: Option<InstitutionId>,
    /// Administrative sex.
    pub sex: Option<Sex>,
    /// Date of birth with its precision.
    pub birth_date: Option<PartialDate>,
    /// The program, when the source implies one (a cancer form, a rare-disease registry).
    pub program: Option<Program>,
    /// Names, address, phone: parsed, never stored.
    pub identifying: Identifying,
}

/// Consent given, or withdrawn.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ConsentAction {
    /// Consent to research use was given (FHIR Consent `permit`, an informed-consent date).
    Given,
    /// Consent was withdrawn.
    Withdrawn,
}

/// A consent statement from a source.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ConsentFacts {
    /// Given or withdrawn.
    pub action: ConsentAction,
    /// When it took effect, when the source says (a manifest's `consent_status=withdrawn` does
    /// not).
    pub date: Option<PartialDate>,
    /// Purposes the source names (`HRESCH`), policies (`http://.../wgs-research-consent-v1`).
    pub purposes: Vec<String>,
}

/// A diagnosis as a source states it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct DiagnosisFacts {
    /// Canonical (dotted) ICD-10.
    pub icd10: Icd10Code,
    /// The ICD-10 code as the source spelled it (`C169`).
    pub source_code: String,
    /// The source's code system for it (`I10`, the JP Core URI).
    pub source_system: Option<String>,
    /// Onset, with precision (`2005` stays a year).
    pub onset: Option<PartialDate>,
    /// Date diagnosed or recorded.
    pub recorded: Option<PartialDate>,
    /// Other codes, label, stage.
    pub details: crate::DiagnosisDetails,
}

/// A phenotypic feature as a source states it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct PhenotypeFacts {
    /// HPO term.
    pub hpo: HpoId,
    /// Observed, or explicitly excluded. An unticked checkbox is neither: no record.
    pub status: PhenotypeStatus,
    /// Onset.
    pub onset: Option<PartialDate>,
}

/// A specimen as a source states it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct SpecimenFacts {
    /// Its id.
    pub id: SpecimenId,
    /// Material.
    pub specimen_type: SpecimenType,
    /// The specimen it was derived from.
    pub parent: Option<SpecimenId>,
    /// Collection or creation date.
    pub collected: Option<PartialDate>,
    /// Tumour (true) or normal (false), when known.
    pub tumour: Option<bool>,
    /// Whether it is a biobank sample (a routine-lab specimen is not, and is not a specimen
    /// record at all: it stays on its measurement).
    pub biobank_sample: bool,
    /// Biobank and collection details.
    pub details: SpecimenDetails,
}

/// A measurement as a source states it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct MeasurementFacts {
    /// What was measured.
    pub code: Coding,
    /// The value.
    pub value: Quantity,
    /// `NM`, `ST`, `TX`.
    pub value_type: String,
    /// Reference range as written.
    pub reference_range: Option<String>,
    /// Abnormal flag.
    pub interpretation: Option<String>,
    /// When, RFC 3339 with zone.
    pub effective: Option<String>,
    /// Result status.
    pub status: Option<String>,
    /// The order it belongs to.
    pub order: Option<String>,
    /// The routine-lab specimen.
    pub lab_specimen: Option<LabSpecimen>,
}

/// An order the source deleted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct OrderDeletion {
    /// The order number.
    pub order: String,
}
