//! Participants: a pseudonymous person enrolled in GeMJ through one institution.

use crate::{InstitutionId, ParticipantId, YearMonth};

/// Administrative sex as recorded by the enrolling institution.
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
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Recorded as other.
    Other,
    /// Not known or not recorded.
    Unknown,
}

impl Sex {
    /// The snake-case name used in storage and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
            Self::Other => "other",
            Self::Unknown => "unknown",
        }
    }
}

/// The GeMJ program a participant was enrolled through.
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
pub enum Program {
    /// Cancer whole-genome program.
    Cancer,
    /// Rare and intractable disease program.
    RareDisease,
    /// A linked biobank (BioBank Japan, Tohoku Medical Megabank, NCBN).
    Biobank,
}

impl Program {
    /// The snake-case name used in storage and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cancer => "cancer",
            Self::RareDisease => "rare_disease",
            Self::Biobank => "biobank",
        }
    }
}

/// A participant. Identity (name, hospital patient id) never reaches the gateway: only the
/// enrolling institution can map the pseudonymous id back to a person.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    /// Pseudonymous GeMJ id.
    pub id: ParticipantId,
    /// The institution that enrolled the participant and owns the linkage to the person.
    pub institution: InstitutionId,
    /// Administrative sex.
    pub sex: Sex,
    /// Year and month of birth (never the day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth: Option<YearMonth>,
    /// Enrolling program.
    pub program: Program,
}

/// What the clinical sources say of a participant beyond the catalogue: the full birth date (the
/// catalogue keeps only year and month). Served only where a clinical record is served (a
/// phenopacket at record granularity), never by discovery.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Demographics {
    /// Whose.
    pub participant: ParticipantId,
    /// Date of birth, with its precision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<crate::PartialDate>,
    /// Where each source said it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<crate::Provenance>,
}
