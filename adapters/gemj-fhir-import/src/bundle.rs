//! The Bundle: its entries, their requests, and the references between them.
//!
//! Entries are read in three passes: each entry is checked (a `request` with `POST` or `PUT`, a
//! resource with a `resourceType`) and its resource deserialized once; the entries are indexed
//! by `fullUrl` and by `type/id` so that references resolve (FHIR R4 §2.36.4 "Resolving
//! references in Bundles"); then each resource is mapped, in entry order.

use std::collections::{HashMap, HashSet};

use gemj_model::source::{
    Extract, GEMJ_SPECIMEN_SYSTEM, GEMJ_SUBJECT_SYSTEM, HospitalPatientId, Rejected, SourceRecord,
    SubjectRef,
};
use gemj_model::{Coding, InstitutionId, ParticipantId, Provenance, SpecimenId};
use serde::Deserialize;
use serde_json::Value;

use crate::error::FhirImportError;
use crate::notes::{Diagnostics, Notes, quote, text};
use crate::{condition, consent, observation, patient, specimen, wire};

/// The provenance source kind of every record of this crate.
pub(crate) const SOURCE: &str = "fhir";

/// One entry's resource, deserialized by type.
#[derive(Debug)]
pub(crate) enum Body {
    Patient(wire::Patient),
    Condition(wire::Condition),
    Specimen(wire::Specimen),
    Consent(wire::Consent),
    Observation(wire::Observation),
    /// A resource type this crate does not import.
    Unsupported,
}

/// An entry that carries a resource to create or update.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The entry's index in `Bundle.entry` (0-based, as in the JSON pointer `/entry/N`).
    pub n: usize,
    /// `resourceType`.
    pub kind: String,
    /// `entry N (Type)` with the request mode.
    pub position: String,
    /// The resource.
    pub body: Body,
    /// The subject a Patient entry stands for, or why it stands for none.
    pub patient: Option<Result<SubjectRef, String>>,
    /// The GeMJ specimen id of a Specimen entry.
    pub gemj_specimen: Option<SpecimenId>,
    /// `Resource.id`.
    pub id: Option<String>,
}

/// What a reference points at.
#[derive(Debug)]
pub(crate) enum Target<'i> {
    /// An entry of this bundle.
    Slot(&'i Slot),
    /// A resource outside the bundle, named by a business identifier (`Reference.identifier` or
    /// a conditional reference `Patient?identifier=system|value`).
    Identifier { system: String, value: String },
}

/// The entries with resources, and how references find them.
#[derive(Debug)]
pub(crate) struct Index {
    slots: Vec<Slot>,
    by_full_url: HashMap<String, usize>,
    by_type_id: HashMap<(String, String), usize>,
}

impl Index {
    /// Resolves a reference (FHIR R4 §2.36.4): a `fullUrl` of an entry (`urn:uuid:…` or
    /// absolute), `Type/id` of an entry (its `id`, its RESTful `fullUrl` or its `PUT` url), a
    /// conditional reference `Type?identifier=system|value`, or a logical `Reference.identifier`.
    /// The error says why not, quoting only the reference.
    pub(crate) fn resolve(&self, reference: &wire::Reference) -> Result<Target<'_>, String> {
        if let Some(literal) = text(reference.reference.as_ref()) {
            return self.resolve_literal(literal);
        }
        if let Some(identifier) = &reference.identifier
            && let (Some(system), Some(value)) = (
                text(identifier.system.as_ref()),
                text(identifier.value.as_ref()),
            )
        {
            return Ok(Target::Identifier {
                system: system.to_owned(),
                value: value.to_owned(),
            });
        }
        Err("the reference is empty (no reference, no identifier with system and value)".into())
    }

    fn resolve_literal(&self, literal: &str) -> Result<Target<'_>, String> {
        if literal.starts_with('#') {
            return Err(format!(
                "{} refers to a contained resource, which is not read",
                quote(literal)
            ));
        }
        let unversioned = literal.split("/_history/").next().unwrap_or(literal);
        if let Some(&i) = self
            .by_full_url
            .get(literal)
            .or_else(|| self.by_full_url.get(unversioned))
        {
            return self.slot(i);
        }
        if let Some((kind, query)) = literal.split_once('?') {
            // The query is not quoted: it may search by name or birth date.
            return conditional(kind, query).ok_or_else(|| {
                format!(
                    "a conditional reference to {} without identifier=system|value",
                    quote(kind)
                )
            });
        }
        if !literal.contains(':')
            && let Some((kind, id)) = unversioned.split_once('/')
            && let Some(&i) = self.by_type_id.get(&(kind.to_owned(), id.to_owned()))
        {
            return self.slot(i);
        }
        Err(format!("{} is not an entry of this bundle", quote(literal)))
    }

    fn slot(&self, i: usize) -> Result<Target<'_>, String> {
        self.slots
            .get(i)
            .map(Target::Slot)
            .ok_or_else(|| "internal: index out of range".to_owned())
    }

    /// The subject a reference names: a Patient entry with a GeMJ or JP Core identifier, or such
    /// an identifier itself.
    pub(crate) fn subject(
        &self,
        reference: Option<&wire::Reference>,
        field: &str,
    ) -> Result<SubjectRef, String> {
        let reference = reference.ok_or_else(|| format!("no {field}"))?;
        match self.resolve(reference) {
            Err(why) => Err(format!("{field} cannot be resolved: {why}")),
            Ok(Target::Identifier { system, value }) => subject_of_identifier(&system, &value)
                .map_err(|why| format!("{field} cannot be resolved: {why}")),
            Ok(Target::Slot(slot)) => match &slot.patient {
                Some(Ok(subject)) => Ok(subject.clone()),
                Some(Err(why)) => Err(format!(
                    "{field} refers to entry {}, a Patient that cannot be linked: {why}",
                    slot.n
                )),
                None => Err(format!(
                    "{field} refers to entry {}, a {}, not a Patient",
                    slot.n,
                    quote(&slot.kind)
                )),
            },
        }
    }

    /// [`Index::subject`], with an error diagnostic on `field` when it does not resolve.
    pub(crate) fn subject_noted(
        &self,
        reference: Option<&wire::Reference>,
        field: &str,
        notes: &mut Notes<'_>,
    ) -> Result<SubjectRef, Reject> {
        self.subject(reference, field).map_err(|why| {
            notes.error(field, why.clone());
            Reject(why)
        })
    }

    /// The GeMJ specimen id a reference names, if it names one.
    pub(crate) fn gemj_specimen(&self, reference: &wire::Reference) -> Result<SpecimenId, String> {
        match self.resolve(reference)? {
            Target::Slot(slot) => slot.gemj_specimen.clone().ok_or_else(|| {
                format!(
                    "entry {} ({}) has no identifier in {GEMJ_SPECIMEN_SYSTEM}",
                    slot.n,
                    quote(&slot.kind)
                )
            }),
            Target::Identifier { system, value } if system == GEMJ_SPECIMEN_SYSTEM => {
                SpecimenId::parse(&value)
                    .map_err(|_| "the GeMJ specimen id is not a valid identifier".to_owned())
            }
            Target::Identifier { system, .. } => Err(format!(
                "identifier system {} is not {GEMJ_SPECIMEN_SYSTEM}",
                quote(&system)
            )),
        }
    }
}

/// `identifier=system|value` from the query of a conditional reference.
fn conditional(kind: &str, query: &str) -> Option<Target<'static>> {
    if kind.is_empty() || kind.contains('/') {
        return None;
    }
    let (system, value) = identifier_query(query)?;
    Some(Target::Identifier { system, value })
}

/// The `system|value` of the first `identifier=` parameter of a FHIR search query,
/// percent-decoded.
pub(crate) fn identifier_query(query: &str) -> Option<(String, String)> {
    let raw = query
        .split('&')
        .find_map(|param| param.strip_prefix("identifier="))?;
    let token = percent_decode(raw)?;
    let (system, value) = token.split_once('|')?;
    (!system.is_empty() && !value.is_empty()).then(|| (system.to_owned(), value.to_owned()))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The subject an identifier names: a GeMJ subject id, or a JP Core hospital patient id.
pub(crate) fn subject_of_identifier(system: &str, value: &str) -> Result<SubjectRef, String> {
    if system == GEMJ_SUBJECT_SYSTEM {
        return ParticipantId::parse(value)
            .map(SubjectRef::Participant)
            .map_err(|_| "the GeMJ subject id is not a valid identifier".to_owned());
    }
    if let Some(code) = HospitalPatientId::institution_of_system(system) {
        let institution = InstitutionId::parse(&code)
            .map_err(|_| "the institution code is not a valid identifier".to_owned())?;
        if value.trim().is_empty() || value.len() > 128 || value.chars().any(char::is_control) {
            return Err(
                "the hospital patient id is empty, too long or has control characters".into(),
            );
        }
        return Ok(SubjectRef::Hospital(HospitalPatientId {
            institution,
            patient: value.to_owned(),
        }));
    }
    Err(format!(
        "identifier system {} is neither {GEMJ_SUBJECT_SYSTEM} nor a JP Core patient-id system \
         (urn:oid:1.2.392.100495.20.3.51.1 + 10 digits)",
        quote(system)
    ))
}

/// A FHIR `Coding` with a system and a code, as the model's [`Coding`].
pub(crate) fn coding(c: &wire::Coding) -> Option<Coding> {
    let system = text(c.system.as_ref())?;
    let code = text(c.code.as_ref())?;
    let coding = Coding::new(system, code);
    Some(match text(c.display.as_ref()) {
        Some(display) => coding.with_display(display),
        None => coding,
    })
}

/// Where a record came from.
pub(crate) fn provenance(file: &str, position: &str, value: Option<String>) -> Provenance {
    Provenance {
        source: SOURCE.to_owned(),
        file: (!file.is_empty()).then(|| file.to_owned()),
        position: Some(position.to_owned()),
        value,
    }
}

/// Reads a parsed bundle. `bundle` has passed the schema, or the caller has taken
/// responsibility for it.
pub(crate) fn read(bundle: &Value, file: &str) -> Result<Extract, FhirImportError> {
    let object = bundle.as_object().ok_or(FhirImportError::NotABundle)?;
    if object.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(FhirImportError::NotABundle);
    }
    let kind = match object.get("type") {
        None => "",
        Some(kind) => kind.as_str().ok_or(FhirImportError::NotABundle)?,
    };
    if !matches!(kind, "transaction" | "batch") {
        return Err(FhirImportError::BundleType {
            kind: kind.chars().take(64).collect(),
        });
    }
    let entries: &[Value] = match object.get("entry") {
        None => &[],
        Some(entries) => entries.as_array().ok_or(FhirImportError::NotABundle)?,
    };

    let mut extract = Extract::default();
    let mut diagnostics = Diagnostics::new(file);
    // Rejections with their entry number, to list them in entry order.
    let mut rejected: Vec<(usize, Rejected)> = Vec::new();
    let index = triage(entries, file, &mut rejected, &mut diagnostics);
    let lab_specimens = lab_specimens(&index);
    for slot in &index.slots {
        let mut notes = Notes::new(&mut diagnostics, &slot.position);
        let mapped = match &slot.body {
            Body::Patient(p) => patient::map(p, &mut notes),
            Body::Condition(c) => condition::map(c, &index, &mut notes),
            Body::Specimen(s) => {
                if slot.gemj_specimen.is_none() && lab_specimens.contains(&slot.n) {
                    // A routine-lab specimen: it stays on its Observation.
                    continue;
                }
                specimen::map(s, &index, &mut notes)
            }
            Body::Consent(c) => consent::map(c, &index, &mut notes),
            Body::Observation(o) => observation::map(o, &index, &mut notes),
            Body::Unsupported => Err(Reject(format!(
                "resourceType {} is not imported",
                quote(&slot.kind)
            ))),
        };
        match mapped {
            Ok(record) => extract.records.push(SourceRecord {
                subject: record.subject,
                provenance: provenance(file, &slot.position, record.source_value),
                body: record.body,
            }),
            Err(reason) => rejected.push((
                slot.n,
                Rejected {
                    provenance: provenance(file, &slot.position, None),
                    reason: reason.0,
                },
            )),
        }
    }
    rejected.sort_by_key(|(n, _)| *n);
    extract.rejected = rejected.into_iter().map(|(_, r)| r).collect();
    extract.diagnostics = diagnostics.finish();
    Ok(extract)
}

/// A mapped record, before its provenance is attached.
#[derive(Debug)]
pub(crate) struct Mapped {
    pub subject: SubjectRef,
    pub body: gemj_model::source::RecordBody,
    /// The source spelling of the record's key value, when it differs from the canonical one.
    pub source_value: Option<String>,
}

/// Why an entry was rejected.
#[derive(Debug)]
pub(crate) struct Reject(pub String);

/// What a mapper gives: a record, or why the entry is rejected.
pub(crate) type MapResult = Result<Mapped, Reject>;

/// Checks each entry's request and resource, deserializes the resources, and indexes them.
fn triage(
    entries: &[Value],
    file: &str,
    rejected: &mut Vec<(usize, Rejected)>,
    diagnostics: &mut Diagnostics,
) -> Index {
    let mut index = Index {
        slots: Vec::new(),
        by_full_url: HashMap::new(),
        by_type_id: HashMap::new(),
    };
    for (n, value) in entries.iter().enumerate() {
        let resource = value.get("resource");
        let head = resource
            .map(wire::ResourceHead::deserialize)
            .and_then(Result::ok)
            .unwrap_or_default();
        let entry = wire::Entry::deserialize(value).ok();
        let request = entry.as_ref().and_then(|e| e.request.as_ref());
        let url = request.and_then(|r| text(r.url.as_ref()));
        let url_kind = url.map(|u| u.split(['/', '?']).next().unwrap_or(u));
        let kind = text(head.resource_type.as_ref())
            .or(url_kind)
            .unwrap_or("?");
        let method = request.and_then(|r| text(r.method.as_ref()));
        let if_none_exist = request.and_then(|r| text(r.if_none_exist.as_ref()));
        let mode = match (method, if_none_exist, url) {
            (Some("POST"), Some(_), _) => ", conditional create".to_owned(),
            (Some("PUT"), _, Some(u)) if u.contains('?') => ", conditional update".to_owned(),
            (Some("PUT"), _, _) => ", update".to_owned(),
            (Some("POST") | None, _, _) => String::new(),
            (Some(m), _, _) => format!(", {}", m.chars().take(8).collect::<String>()),
        };
        let position = format!(
            "entry {n} ({}{mode})",
            kind.chars().take(64).collect::<String>()
        );
        let reject = |reason: String, rejected: &mut Vec<(usize, Rejected)>| {
            rejected.push((
                n,
                Rejected {
                    provenance: provenance(file, &position, None),
                    reason,
                },
            ));
        };
        let Some(entry) = &entry else {
            reject(
                "the entry does not have the FHIR R4 shape (an object with fullUrl, resource and request)"
                    .into(),
                rejected,
            );
            continue;
        };
        match method {
            Some("POST" | "PUT") => {}
            Some("DELETE") => {
                reject(
                    "request.method DELETE is not imported: a bundle never deletes GeMJ records \
                     (withdraw consent instead)"
                        .into(),
                    rejected,
                );
                continue;
            }
            Some(other) => {
                reject(
                    format!(
                        "request.method {} is not imported (only POST and PUT are)",
                        quote(other)
                    ),
                    rejected,
                );
                continue;
            }
            None => {
                reject(
                    "the entry has no request.method (FHIR R4 bdl-3: transaction and batch \
                     entries need a request)"
                        .into(),
                    rejected,
                );
                continue;
            }
        }
        let Some(resource) = resource else {
            reject("the entry has no resource".into(), rejected);
            continue;
        };
        let Some(kind) = text(head.resource_type.as_ref()) else {
            reject("the resource has no resourceType".into(), rejected);
            continue;
        };
        if let Some(url_kind) = url_kind
            && url_kind != kind
        {
            reject(
                format!(
                    "request.url names {} but the resource is a {}",
                    quote(url_kind),
                    quote(kind)
                ),
                rejected,
            );
            continue;
        }
        let body = match kind {
            "Patient" => wire::Patient::deserialize(resource).map(Body::Patient),
            "Condition" => wire::Condition::deserialize(resource).map(Body::Condition),
            "Specimen" => wire::Specimen::deserialize(resource).map(Body::Specimen),
            "Consent" => wire::Consent::deserialize(resource).map(Body::Consent),
            "Observation" => wire::Observation::deserialize(resource).map(Body::Observation),
            _ => Ok(Body::Unsupported),
        };
        let Ok(body) = body else {
            reject(
                format!(
                    "the {} does not have the FHIR R4 JSON shape (validate the bundle against \
                     the R4 schema to see where)",
                    quote(kind)
                ),
                rejected,
            );
            continue;
        };
        if let (Body::Patient(p), Some(query)) = (&body, if_none_exist) {
            patient::check_if_none_exist(p, query, &mut Notes::new(diagnostics, &position));
        }
        let (patient, gemj_specimen) = match &body {
            Body::Patient(p) => (Some(patient::subject(p)), None),
            Body::Specimen(s) => (None, specimen::gemj_id(s, &mut Notes::discard())),
            _ => (None, None),
        };
        let i = index.slots.len();
        if let Some(full_url) = text(entry.full_url.as_ref()) {
            if let Some(&first) = index.by_full_url.get(full_url) {
                let first_n = index.slots.get(first).map_or(0, |s| s.n);
                Notes::new(diagnostics, &position).warning(
                    "Bundle.entry.fullUrl",
                    format!("the fullUrl is also entry {first_n}'s; references resolve to entry {first_n}"),
                );
            } else {
                index.by_full_url.insert(full_url.to_owned(), i);
            }
            if let Some((k, id)) = restful_type_id(full_url) {
                index.by_type_id.entry((k, id)).or_insert(i);
            }
        }
        if let Some(id) = text(head.id.as_ref()) {
            index
                .by_type_id
                .entry((kind.to_owned(), id.to_owned()))
                .or_insert(i);
        }
        if method == Some("PUT")
            && let Some((k, id)) = url.and_then(|u| u.split_once('/'))
            && !id.contains(['/', '?'])
        {
            index
                .by_type_id
                .entry((k.to_owned(), id.to_owned()))
                .or_insert(i);
        }
        index.slots.push(Slot {
            n,
            kind: kind.to_owned(),
            position,
            body,
            patient,
            gemj_specimen,
            id: text(head.id.as_ref()).map(str::to_owned),
        });
    }
    index
}

/// `(Type, id)` of a RESTful absolute URL `http(s)://base/Type/id`.
fn restful_type_id(url: &str) -> Option<(String, String)> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return None;
    }
    let path = url.split("/_history/").next().unwrap_or(url);
    let mut parts = path.rsplit('/');
    let id = parts.next()?;
    let kind = parts.next()?;
    let capitalised = kind.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    (capitalised && !id.is_empty()).then(|| (kind.to_owned(), id.to_owned()))
}

/// Entry numbers of Specimens that Observations of the bundle name as their specimen.
fn lab_specimens(index: &Index) -> HashSet<usize> {
    index
        .slots
        .iter()
        .filter_map(|slot| match &slot.body {
            Body::Observation(o) => o.specimen.as_ref(),
            _ => None,
        })
        .filter_map(|reference| match index.resolve(reference) {
            Ok(Target::Slot(slot)) if matches!(slot.body, Body::Specimen(_)) => Some(slot.n),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_support::{PATIENT_URL, messages, only, patient, post, read};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn condition_about(subject: serde_json::Value) -> serde_json::Value {
        post(json!({
            "resourceType": "Condition", "subject": subject,
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "C16.9"}]}
        }))
    }

    fn positions(rejected: &[Rejected]) -> Vec<(&str, &str)> {
        rejected
            .iter()
            .map(|r| {
                (
                    r.provenance.position.as_deref().unwrap_or(""),
                    r.reason.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn references_by_id_identifier_and_conditional_query() -> TestResult {
        let put = json!({
            "fullUrl": "https://ehr.example.jp/fhir/Patient/p2",
            "resource": {"resourceType": "Patient", "id": "p2", "identifier": [
                {"system": "urn:oid:1.2.392.100495.20.3.51.19999999999", "value": "9000000002"}]},
            "request": {"method": "PUT", "url": "Patient/p2"}
        });
        let extract = read(json!([
            patient(),
            put,
            condition_about(json!({"reference": "Patient/p2"})),
            condition_about(
                json!({"reference": "https://ehr.example.jp/fhir/Patient/p2/_history/3"})
            ),
            condition_about(
                json!({"identifier": {"system": GEMJ_SUBJECT_SYSTEM, "value": "GEMJ-TEST-0009"}})
            ),
            condition_about(
                json!({"reference": format!("Patient?identifier={GEMJ_SUBJECT_SYSTEM}|GEMJ-TEST-0008")})
            ),
            condition_about(json!({"reference": PATIENT_URL})),
        ]))?;
        assert!(extract.rejected.is_empty(), "{:?}", extract.rejected);
        let subjects: Vec<String> = extract
            .records
            .iter()
            .map(|r| match &r.subject {
                SubjectRef::Participant(p) => p.as_str().to_owned(),
                SubjectRef::Hospital(h) => h.patient.clone(),
            })
            .collect();
        assert_eq!(
            subjects,
            [
                "GEMJ-TEST-0001",
                "9000000002",
                "9000000002",
                "9000000002",
                "GEMJ-TEST-0009",
                "GEMJ-TEST-0008",
                "GEMJ-TEST-0001"
            ]
        );
        assert_eq!(
            extract.records[1].provenance.position.as_deref(),
            Some("entry 1 (Patient, update)")
        );
        Ok(())
    }

    #[test]
    fn unusable_entries_are_rejected_with_their_reason() -> TestResult {
        let extract = read(json!([
            "not an entry",
            {"resource": {"resourceType": "Patient"}},
            {"resource": {"resourceType": "Patient"}, "request": {"method": "PATCH", "url": "Patient/1"}},
            {"request": {"method": "POST", "url": "Patient"}},
            {"resource": {"id": "x"}, "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Condition"}, "request": {"method": "POST", "url": "Patient"}},
            post(json!({"resourceType": "DiagnosticReport", "status": "final"})),
            post(json!({"resourceType": "Patient", "identifier": "not a list"})),
            {"fullUrl": 7, "resource": {"resourceType": "Patient"}, "request": {"method": "POST"}},
        ]))?;
        assert!(extract.records.is_empty());
        assert_eq!(
            positions(&extract.rejected),
            [
                (
                    "entry 0 (?)",
                    "the entry does not have the FHIR R4 shape (an object with fullUrl, resource and request)"
                ),
                (
                    "entry 1 (Patient)",
                    "the entry has no request.method (FHIR R4 bdl-3: transaction and batch entries need a request)"
                ),
                (
                    "entry 2 (Patient, PATCH)",
                    "request.method \"PATCH\" is not imported (only POST and PUT are)"
                ),
                ("entry 3 (Patient)", "the entry has no resource"),
                ("entry 4 (Patient)", "the resource has no resourceType"),
                (
                    "entry 5 (Condition)",
                    "request.url names \"Patient\" but the resource is a \"Condition\""
                ),
                (
                    "entry 6 (DiagnosticReport)",
                    "resourceType \"DiagnosticReport\" is not imported"
                ),
                (
                    "entry 7 (Patient)",
                    "the \"Patient\" does not have the FHIR R4 JSON shape (validate the bundle against the R4 schema to see where)"
                ),
                (
                    "entry 8 (Patient)",
                    "the entry does not have the FHIR R4 shape (an object with fullUrl, resource and request)"
                ),
            ]
        );
        Ok(())
    }

    #[test]
    fn subjects_that_cannot_be_linked() -> TestResult {
        let extract = read(json!([
            {"fullUrl": "urn:uuid:anonymous", "request": {"method": "POST", "url": "Patient"},
             "resource": {"resourceType": "Patient", "identifier": [{"system": "http://example.org/mrn", "value": "1"}]}},
            {"fullUrl": "urn:uuid:group", "request": {"method": "POST", "url": "Group"},
             "resource": {"resourceType": "Group", "type": "person", "actual": true}},
            condition_about(json!({"reference": "urn:uuid:anonymous"})),
            condition_about(json!({"reference": "urn:uuid:group"})),
            condition_about(json!({"reference": "#p1"})),
            condition_about(json!({"identifier": {"system": "http://example.org/mrn", "value": "1"}})),
            condition_about(json!({"display": "試験 太郎"})),
            condition_about(json!({"reference": "Patient?name=試験"})),
        ]))?;
        assert!(extract.records.is_empty());
        let reasons: Vec<_> = positions(&extract.rejected);
        assert_eq!(reasons.len(), 8);
        assert!(
            reasons[2]
                .1
                .contains("refers to entry 0, a Patient that cannot be linked")
        );
        assert!(
            reasons[3]
                .1
                .contains("refers to entry 1, a \"Group\", not a Patient")
        );
        assert!(reasons[4].1.contains("contained resource"));
        assert!(reasons[5].1.contains("neither"));
        assert!(reasons[6].1.contains("the reference is empty"));
        assert!(
            reasons[7]
                .1
                .contains("conditional reference to \"Patient\" without identifier")
        );
        // One error diagnostic per unresolved subject, plus the unlinkable Patient.
        assert_eq!(extract.diagnostics.len(), 7, "{:?}", messages(&extract));
        // Never the display name, nor a conditional query (it may search by name).
        let texts: Vec<String> = messages(&extract)
            .into_iter()
            .chain(reasons.iter().map(|r| r.1.to_owned()))
            .collect();
        assert!(
            texts
                .iter()
                .all(|m| !m.contains("太郎") && !m.contains("試験"))
        );
        Ok(())
    }

    #[test]
    fn batches_are_read_and_duplicate_full_urls_noted() -> TestResult {
        let bundle =
            json!({"resourceType": "Bundle", "type": "batch", "entry": [patient(), patient()]});
        let extract = crate::read_bundle(&serde_json::to_vec(&bundle)?, "t.json", None)?;
        assert_eq!(extract.records.len(), 2);
        assert_eq!(
            messages(&extract),
            [
                "entry 1 (Patient) Bundle.entry.fullUrl: the fullUrl is also entry 0's; references resolve to entry 0"
            ]
        );
        Ok(())
    }

    #[test]
    fn bundle_shapes_that_are_refused() -> TestResult {
        let check =
            |json: serde_json::Value| -> Result<FhirImportError, Box<dyn std::error::Error>> {
                match crate::read_bundle(&serde_json::to_vec(&json)?, "t", None) {
                    Err(e) => Ok(e),
                    Ok(x) => Err(format!("accepted {x:?}").into()),
                }
            };
        assert!(matches!(check(json!([]))?, FhirImportError::NotABundle));
        assert!(matches!(
            check(json!({"resourceType": "Patient"}))?,
            FhirImportError::NotABundle
        ));
        assert!(matches!(
            check(json!({"resourceType": "Bundle", "type": "transaction", "entry": {}}))?,
            FhirImportError::NotABundle
        ));
        assert!(matches!(
            check(json!({"resourceType": "Bundle", "type": 1}))?,
            FhirImportError::NotABundle
        ));
        let FhirImportError::BundleType { kind } = check(json!({"resourceType": "Bundle"}))? else {
            return Err("expected a bundle type error".into());
        };
        assert_eq!(kind, "");
        let FhirImportError::BundleType { kind } =
            check(json!({"resourceType": "Bundle", "type": "x".repeat(1000)}))?
        else {
            return Err("expected a bundle type error".into());
        };
        assert_eq!(kind.len(), 64);
        let empty = crate::read_bundle(
            br#"{"resourceType": "Bundle", "type": "transaction"}"#,
            "t",
            None,
        )?;
        assert_eq!(empty, Extract::default());
        Ok(())
    }

    #[test]
    fn conditional_create_is_in_the_position() -> TestResult {
        let mut entry = patient();
        entry["request"]["ifNoneExist"] =
            json!("identifier=http://gemj.example.jp/id/subject|GEMJ-TEST-0001");
        let extract = read(json!([entry.clone()]))?;
        only(&extract)?;
        assert!(extract.diagnostics.is_empty());
        assert_eq!(
            extract.records[0].provenance.position.as_deref(),
            Some("entry 0 (Patient, conditional create)")
        );
        entry["request"]["ifNoneExist"] =
            json!("identifier=http://gemj.example.jp/id/subject|GEMJ-TEST-0002");
        let mut other = entry.clone();
        other["request"]["ifNoneExist"] = json!("name=試験&birthdate=1975-04-01");
        other["fullUrl"] = json!("urn:uuid:other");
        let extract = read(json!([entry, other]))?;
        assert_eq!(extract.records.len(), 2);
        assert_eq!(
            messages(&extract),
            [
                "entry 0 (Patient, conditional create) Bundle.entry.request.ifNoneExist: the \
                 identifier searched for is not one of the Patient's; the gateway matches \
                 Patients by their own identifiers",
                "entry 1 (Patient, conditional create) Bundle.entry.request.ifNoneExist: the \
                 search is not by identifier; the gateway matches Patients by their own \
                 identifiers"
            ]
        );
        Ok(())
    }

    #[test]
    fn identifier_queries() {
        let check = |q: &str, expect: Option<(&str, &str)>| {
            assert_eq!(
                identifier_query(q),
                expect.map(|(s, v)| (s.to_owned(), v.to_owned())),
                "{q:?}"
            );
        };
        check(
            "identifier=urn:oid:1.2.392.100495.20.3.51.19999999999|9000000001",
            Some(("urn:oid:1.2.392.100495.20.3.51.19999999999", "9000000001")),
        );
        check(
            "_summary=true&identifier=http%3A%2F%2Fgemj.example.jp%2Fid%2Fsubject%7CGEMJ-TEST-0001",
            Some(("http://gemj.example.jp/id/subject", "GEMJ-TEST-0001")),
        );
        check("identifier=9000000001", None);
        check("identifier=|9000000001", None);
        check("name=x", None);
        check("identifier=a%7", None);
        check("identifier=a%ZZ|b", None);
        check("identifier=a%FF|b", None);
    }

    #[test]
    fn subjects_of_identifiers() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(
            subject_of_identifier(GEMJ_SUBJECT_SYSTEM, "GEMJ-TEST-0001")?,
            SubjectRef::Participant(ParticipantId::parse("GEMJ-TEST-0001")?)
        );
        assert_eq!(
            subject_of_identifier("urn:oid:1.2.392.100495.20.3.51.19999999999", "9000000001")?,
            SubjectRef::Hospital(HospitalPatientId {
                institution: InstitutionId::parse("9999999999")?,
                patient: "9000000001".to_owned(),
            })
        );
        assert!(subject_of_identifier(GEMJ_SUBJECT_SYSTEM, "GEMJ TEST").is_err());
        assert!(subject_of_identifier("urn:oid:1.2.392.100495.20.3.51.19999999999", " ").is_err());
        assert!(subject_of_identifier("urn:oid:1.2.392.100495.20.3.51.1999", "1").is_err());
        assert!(subject_of_identifier("http://example.org/mrn", "1").is_err());
        Ok(())
    }

    #[test]
    fn restful_urls() {
        assert_eq!(
            restful_type_id("https://ehr.example.jp/fhir/Patient/123/_history/2"),
            Some(("Patient".to_owned(), "123".to_owned()))
        );
        assert_eq!(restful_type_id("urn:uuid:1234"), None);
        assert_eq!(restful_type_id("https://ehr.example.jp/"), None);
    }

    #[test]
    fn percent_decoding_never_panics_on_multibyte_text() {
        assert_eq!(percent_decode("試験%7C").as_deref(), Some("試験|"));
        assert_eq!(percent_decode("%E8%A9%A6").as_deref(), Some("試"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%é"), None);
    }
}
