//! GA4GH Phenopacket Schema v2.0 (`phenopacketSchemaVersion: "2.0"`) wire types: the subset of
//! the top-level `Phenopacket` message the gateway exports (subject, phenotypic features,
//! biosamples, diseases, meta data), serialized exactly as the schema's canonical JSON
//! (lowerCamelCase names, absent fields omitted, `TimeElement` as a one-key object).
//!
//! Invariant: no I/O; what the gateway builds is checked by the official Python package
//! (`phenopackets` 2.0.2) in the end-to-end tests.
//!
//! # Examples
//!
//! ```
//! use gemj_phenopacket::{OntologyClass, TimeElement};
//!
//! let onset = TimeElement::Timestamp("2019-05-01T00:00:00Z".to_owned());
//! assert_eq!(
//!     serde_json::to_string(&onset)?,
//!     r#"{"timestamp":"2019-05-01T00:00:00Z"}"#
//! );
//! let term = OntologyClass::new("HP:0001166", "Arachnodactyly");
//! assert_eq!(serde_json::to_string(&term)?, r#"{"id":"HP:0001166","label":"Arachnodactyly"}"#);
//! # Ok::<(), serde_json::Error>(())
//! ```

use serde::Serialize;

/// The schema version every exported phenopacket declares.
pub const SCHEMA_VERSION: &str = "2.0";

/// `Phenopacket` (top-level element).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Phenopacket {
    /// An identifier of this phenopacket.
    pub id: String,
    /// The proband.
    pub subject: Individual,
    /// Observed and excluded phenotypic features.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phenotypic_features: Vec<PhenotypicFeature>,
    /// Biosamples taken from the subject.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub biosamples: Vec<Biosample>,
    /// Diagnosed diseases.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diseases: Vec<Disease>,
    /// Provenance: who made it, when, with which ontologies.
    pub meta_data: MetaData,
}

/// `OntologyClass`: a term of an ontology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OntologyClass {
    /// A CURIE (`HP:0001166`).
    pub id: String,
    /// The term's label.
    pub label: String,
}

impl OntologyClass {
    /// A term.
    #[must_use]
    pub fn new(id: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            label: label.into(),
        }
    }
}

/// `Sex` (`UNKNOWN_SEX`, `FEMALE`, `MALE`, `OTHER_SEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Sex {
    /// Not assessed or not available.
    UnknownSex,
    /// Female.
    Female,
    /// Male.
    Male,
    /// Neither female nor male.
    OtherSex,
}

/// `Individual`: the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Individual {
    /// The subject's (pseudonymous) id.
    pub id: String,
    /// The date of birth as an RFC 3339 timestamp, only when the day is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// Phenotypic sex.
    pub sex: Sex,
}

/// `TimeInterval`: both ends as RFC 3339 timestamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeInterval {
    /// The first instant.
    pub start: String,
    /// The last instant.
    pub end: String,
}

/// `TimeElement`, of the forms the gateway needs: a timestamp for a known day, an interval for
/// a month or a year (a partial date never becomes a made-up day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TimeElement {
    /// `{"timestamp": "..."}`.
    Timestamp(String),
    /// `{"interval": {"start": "...", "end": "..."}}`.
    Interval(TimeInterval),
}

/// `PhenotypicFeature`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhenotypicFeature {
    /// The phenotype (HPO).
    #[serde(rename = "type")]
    pub r#type: OntologyClass,
    /// Explicitly excluded (omitted when false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub excluded: bool,
    /// When it began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onset: Option<TimeElement>,
}

/// `Disease`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disease {
    /// The disease (MONDO where mapped, else ICD-10).
    pub term: OntologyClass,
    /// When it began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onset: Option<TimeElement>,
}

/// `Biosample`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Biosample {
    /// The biosample's id.
    pub id: String,
    /// The individual it was taken from.
    pub individual_id: String,
    /// The tissue (UBERON), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampled_tissue: Option<OntologyClass>,
    /// When it was collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_of_collection: Option<TimeElement>,
}

/// `Resource`: an ontology the phenopacket's terms come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Its id (`hp`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where it is published.
    pub url: String,
    /// The release used.
    pub version: String,
    /// The CURIE prefix (`HP`).
    pub namespace_prefix: String,
    /// The IRI a CURIE's local part is appended to.
    pub iri_prefix: String,
}

/// `MetaData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetaData {
    /// When it was made (RFC 3339).
    pub created: String,
    /// Who made it.
    pub created_by: String,
    /// The ontologies used.
    pub resources: Vec<Resource>,
    /// [`SCHEMA_VERSION`].
    pub phenopacket_schema_version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn check<T: Serialize>(value: &T, expect: &str) -> TestResult {
        assert_eq!(serde_json::to_string(value)?, expect);
        Ok(())
    }

    #[test]
    fn serializes_as_canonical_json() -> TestResult {
        check(&Sex::UnknownSex, r#""UNKNOWN_SEX""#)?;
        check(&Sex::OtherSex, r#""OTHER_SEX""#)?;
        check(
            &TimeElement::Interval(TimeInterval {
                start: "2005-01-01T00:00:00Z".to_owned(),
                end: "2005-12-31T23:59:59Z".to_owned(),
            }),
            r#"{"interval":{"start":"2005-01-01T00:00:00Z","end":"2005-12-31T23:59:59Z"}}"#,
        )?;
        check(
            &PhenotypicFeature {
                r#type: OntologyClass::new("HP:0001250", "Seizure"),
                excluded: true,
                onset: None,
            },
            r#"{"type":{"id":"HP:0001250","label":"Seizure"},"excluded":true}"#,
        )?;
        check(
            &PhenotypicFeature {
                r#type: OntologyClass::new("HP:0001166", "Arachnodactyly"),
                excluded: false,
                onset: None,
            },
            r#"{"type":{"id":"HP:0001166","label":"Arachnodactyly"}}"#,
        )?;
        check(
            &Individual {
                id: "GEMJ-1".to_owned(),
                date_of_birth: None,
                sex: Sex::Female,
            },
            r#"{"id":"GEMJ-1","sex":"FEMALE"}"#,
        )?;
        check(
            &Biosample {
                id: "SP-1".to_owned(),
                individual_id: "GEMJ-1".to_owned(),
                sampled_tissue: None,
                time_of_collection: None,
            },
            r#"{"id":"SP-1","individualId":"GEMJ-1"}"#,
        )
    }
}
