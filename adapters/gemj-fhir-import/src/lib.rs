//! FHIR R4 transaction bundles from EHRs (Patient, Condition, Specimen, Consent, Observation; JP
//! Core identifiers) into the GeMJ model, after R4 JSON Schema validation.
//!
//! This crate owns the import of an EHR's FHIR push: one `Bundle` of type `transaction` (or
//! `batch`) in, one [`gemj_model::source::Extract`] out, i.e. [`SourceRecord`]s that name their
//! subject as the bundle does (GeMJ id, or only a JP Core hospital patient id), [`Rejected`]
//! entries with the reason, and [`Diagnostic`]s. It does not store, link or check consent: the
//! gateway's ingest does that with the extract. It does not serve FHIR either.
//!
//! # Validate first, then map with small structs
//!
//! [`read_bundle`] first validates the JSON against the official FHIR R4 JSON schema
//! (`fhir/r4/fhir.schema.json`, through [`BundleValidator`] and `gemj-schemas`). A transaction is
//! all-or-nothing (FHIR R4 §3.1.0.11.2), so any schema error refuses the whole bundle
//! ([`FhirImportError::Invalid`], which the gateway answers with `400`). Only then are the
//! elements this crate needs read, with its own small serde structs (private, `#[serde(default)]`,
//! unknown elements ignored because the schema has judged them).
//!
//! That is on purpose. `fhir-model`, the Rust FHIR model, silently drops unknown elements and
//! silently empties malformed choice values, so it cannot be trusted with unvalidated input; it
//! has no R4 build, only R4B; and its release build takes about ten minutes on two cores. The
//! FHIR serving crate will own it later, in one small crate; an importer needs a few dozen
//! fields.
//!
//! # What is read
//!
//! | Resource | Becomes | Key |
//! |---|---|---|
//! | `Patient` | [`RecordBody::Subject`] | identifier in `http://gemj.example.jp/id/subject` (GeMJ id) and `urn:oid:1.2.392.100495.20.3.51.1` + 10-digit institution code (JP Core hospital patient id) |
//! | `Condition` | [`RecordBody::Diagnosis`] | ICD-10 in [`JP_ICD10_SYSTEM`] (`C169`) or [`ICD10_SYSTEM`] (`C16.9`), canonical dotted |
//! | `Specimen` | [`RecordBody::Specimen`] | identifier in `http://gemj.example.jp/id/specimen`; always `biobank_sample = true` |
//! | `Consent` | [`RecordBody::Consent`] | `status` and `provision.type` |
//! | `Observation` | [`RecordBody::Measurement`] | first coding of `code` |
//!
//! Every other resource type is rejected (`resourceType X is not imported`), as are entries
//! whose `request.method` is not `POST` or `PUT` (a bundle never deletes GeMJ records).
//! Conditional creates (`request.ifNoneExist`) are imported like creates; the record's
//! provenance says `conditional create`, and the gateway merges a Patient whose identifier it
//! already knows by that identifier.
//!
//! References resolve within the bundle (FHIR R4 §2.36.4): by `fullUrl` (`urn:uuid:` or
//! absolute), by `Type/id` of an entry, or outside it by business identifier (a logical
//! `Reference.identifier`, or a conditional reference `Patient?identifier=system|value`). A
//! record whose subject does not resolve to a GeMJ or JP Core identifier is rejected with an
//! error diagnostic: the gateway never invents a subject.
//!
//! Provenance: `source` is `fhir`, `file` the name given, `position` `entry N (Type)` where `N`
//! is the entry's 0-based index (as in the JSON pointer `/entry/N` of schema errors), with the
//! request mode when it is not a plain create (`entry 0 (Patient, conditional create)`,
//! `entry 2 (Specimen, update)`); `value` is the source spelling when it differs from the
//! canonical value (`C169` for ICD-10 `C16.9`).
//!
//! Dates keep their precision ([`gemj_model::PartialDate`]): `onsetDateTime: "2005"` stays a
//! year, and a dateTime becomes its date in its own offset (`2024-03-15T10:30:00+09:00` is
//! 2024-03-15; the full text is kept where the model has a place for it).
//!
//! Invariant: no message (error, rejection reason, diagnostic) quotes names, addresses, phone
//! numbers or free text; they name fields, codes, systems, ids and references. Only
//! [`FhirImportError::Invalid`]'s schema errors may quote an offending value, for the sender.
//!
//! Invariant: nothing here panics on input, logs, or does I/O.
//!
//! # Examples
//!
//! ```
//! use gemj_model::source::{RecordBody, SubjectRef};
//!
//! let bundle = br#"{
//!   "resourceType": "Bundle", "type": "transaction",
//!   "entry": [
//!     {"fullUrl": "urn:uuid:1",
//!      "resource": {"resourceType": "Patient",
//!                   "identifier": [{"system": "http://gemj.example.jp/id/subject", "value": "GEMJ-TEST-0001"}],
//!                   "birthDate": "1975"},
//!      "request": {"method": "POST", "url": "Patient"}},
//!     {"resource": {"resourceType": "Condition",
//!                   "code": {"coding": [{"system": "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full", "code": "C169"}]},
//!                   "subject": {"reference": "urn:uuid:1"}},
//!      "request": {"method": "POST", "url": "Condition"}}
//!   ]}"#;
//! // Without a validator the caller vouches for the JSON (see `read_bundle`).
//! let extract = gemj_fhir_import::read_bundle(bundle, "push.json", None)?;
//! assert_eq!(extract.records.len(), 2);
//! let RecordBody::Diagnosis(diagnosis) = &extract.records[1].body else {
//!     return Err("expected a diagnosis".into());
//! };
//! assert_eq!(diagnosis.icd10.as_str(), "C16.9");
//! assert_eq!(extract.records[1].provenance.value.as_deref(), Some("C169"));
//! assert!(matches!(&extract.records[1].subject, SubjectRef::Participant(id) if id.as_str() == "GEMJ-TEST-0001"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bundle;
mod condition;
mod consent;
mod datetime;
mod error;
mod notes;
mod observation;
mod patient;
mod specimen;
mod validate;
mod wire;

pub use condition::{ICD10_SYSTEM, JP_ICD10_SYSTEM, MEDIS_DISEASE_SYSTEM};
pub use error::FhirImportError;
pub use observation::UCUM_SYSTEM;
pub use patient::EN_REPRESENTATION_EXTENSION;
pub use specimen::V2_0487_SYSTEM;
pub use validate::BundleValidator;

#[cfg(doc)]
use gemj_model::source::{Diagnostic, RecordBody, Rejected, SourceRecord};

/// Most schema errors [`FhirImportError::Invalid`] carries; the rest are counted.
pub const MAX_SCHEMA_ERRORS: usize = 100;

/// Reads one FHIR R4 `Bundle` (JSON bytes) into an extract. `file` names the input in
/// provenance and diagnostics (a file name, or a request id for a push).
///
/// With a `validator`, the bundle must first conform to the R4 JSON schema; any error refuses
/// the whole bundle, as a transaction is all-or-nothing. Without one, the caller takes
/// responsibility for the JSON: each entry is still read defensively (an entry whose elements
/// have the wrong JSON types is rejected, never trusted), but unknown or misspelt elements
/// pass unnoticed. Pass `None` only for input already validated, or to fuzz the mapping.
///
/// # Errors
///
/// [`FhirImportError::Json`] when the bytes are not JSON (or nest deeper than 128 levels; a
/// leading UTF-8 byte order mark is skipped);
/// [`FhirImportError::Invalid`] on schema errors (at most [`MAX_SCHEMA_ERRORS`]);
/// [`FhirImportError::NotABundle`] and [`FhirImportError::BundleType`] when it is not a
/// transaction or batch Bundle. Problems inside an entry are not errors: they give rejected
/// entries and diagnostics in the extract.
///
/// # Examples
///
/// ```
/// use gemj_fhir_import::{FhirImportError, read_bundle};
///
/// let deletion = br#"{"resourceType": "Bundle", "type": "transaction",
///   "entry": [{"request": {"method": "DELETE", "url": "Patient/123"}}]}"#;
/// let extract = read_bundle(deletion, "push.json", None)?;
/// assert!(extract.records.is_empty());
/// assert_eq!(extract.rejected[0].provenance.position.as_deref(), Some("entry 0 (Patient, DELETE)"));
///
/// let collection = br#"{"resourceType": "Bundle", "type": "collection"}"#;
/// assert!(matches!(read_bundle(collection, "x", None), Err(FhirImportError::BundleType { .. })));
/// assert!(matches!(read_bundle(b"[[[", "x", None), Err(FhirImportError::Json { .. })));
/// # Ok::<(), FhirImportError>(())
/// ```
pub fn read_bundle(
    bytes: &[u8],
    file: &str,
    validator: Option<&BundleValidator>,
) -> Result<gemj_model::source::Extract, FhirImportError> {
    // RFC 8259 §8.1 lets a parser ignore a byte order mark; Windows EHR exports send one.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|source| FhirImportError::Json { source })?;
    if let Some(validator) = validator
        && let Err(mut errors) = validator.validate(&value)
    {
        let omitted = errors.len().saturating_sub(MAX_SCHEMA_ERRORS);
        errors.truncate(MAX_SCHEMA_ERRORS);
        return Err(FhirImportError::Invalid { errors, omitted });
    }
    // Decimals keep the digits the sender wrote (`3.20`), which the parse above dropped.
    wire::mark_written_numbers(bytes, &mut value);
    bundle::read(&value, file)
}

/// Reads any bytes without a validator and never fails: a refused bundle gives an empty
/// extract with one error diagnostic. The entry point for fuzzing.
///
/// # Examples
///
/// ```
/// let extract = gemj_fhir_import::read_bytes(b"\xff\xfe not json");
/// assert!(extract.records.is_empty());
/// assert_eq!(extract.diagnostics.len(), 1);
/// ```
#[must_use]
pub fn read_bytes(bytes: &[u8]) -> gemj_model::source::Extract {
    read_bundle(bytes, "", None)
        .unwrap_or_else(|error| gemj_model::source::Extract::unreadable("", error.to_string()))
}

/// Literal bundles for the unit tests of every module.
#[cfg(test)]
pub(crate) mod test_support {
    use gemj_model::source::{Extract, RecordBody};
    use serde_json::{Value, json};

    /// The `fullUrl` of [`patient`].
    pub(crate) const PATIENT_URL: &str = "urn:uuid:00000000-0000-4000-8000-000000000001";

    /// A Patient entry with GeMJ id `GEMJ-TEST-0001`, at [`PATIENT_URL`].
    pub(crate) fn patient() -> Value {
        json!({
            "fullUrl": PATIENT_URL,
            "resource": {"resourceType": "Patient", "identifier": [
                {"system": "http://gemj.example.jp/id/subject", "value": "GEMJ-TEST-0001"}]},
            "request": {"method": "POST", "url": "Patient"}
        })
    }

    /// A POST entry for `resource`.
    pub(crate) fn post(resource: Value) -> Value {
        let kind = resource["resourceType"].clone();
        json!({"resource": resource, "request": {"method": "POST", "url": kind}})
    }

    /// Reads a transaction of `entries` without a validator.
    pub(crate) fn read(entries: Value) -> Result<Extract, Box<dyn std::error::Error>> {
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        Ok(crate::read_bundle(
            &serde_json::to_vec(&bundle)?,
            "t.json",
            None,
        )?)
    }

    /// The body of the only record of an extract.
    pub(crate) fn only(extract: &Extract) -> Result<&RecordBody, Box<dyn std::error::Error>> {
        match extract.records.as_slice() {
            [record] => Ok(&record.body),
            other => Err(format!(
                "expected one record, got {other:?}; rejected {:?}",
                extract.rejected
            )
            .into()),
        }
    }

    /// The messages of an extract's diagnostics.
    pub(crate) fn messages(extract: &Extract) -> Vec<String> {
        extract
            .diagnostics
            .iter()
            .map(|d| {
                format!(
                    "{} {}: {}",
                    d.position.as_deref().unwrap_or("-"),
                    d.field.as_deref().unwrap_or("-"),
                    d.message
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_skipped() -> Result<(), Box<dyn std::error::Error>> {
        let bundle = b"\xEF\xBB\xBF{\"resourceType\": \"Bundle\", \"type\": \"batch\"}";
        assert_eq!(read_bundle(bundle, "bom.json", None)?, Default::default());
        assert!(matches!(
            read_bundle(b"\xEF\xBB", "bom.json", None),
            Err(FhirImportError::Json { .. })
        ));
        Ok(())
    }

    #[test]
    fn read_bytes_reports_a_refusal_as_one_diagnostic() {
        let extract = read_bytes(br#"{"resourceType": "Bundle", "type": "searchset"}"#);
        assert_eq!(extract.diagnostics.len(), 1);
        assert_eq!(
            extract.diagnostics[0].message,
            "Bundle.type \"searchset\" is not imported: only transaction and batch bundles are"
        );
    }
}
