//! Approvals of the data-use review committee: who may use which CONTROLLED datasets, for what
//! purpose, where, and until when. A revoked or suspended approval permits nothing, whatever
//! visas the researcher still holds.

use crate::error::ModelError;
use crate::{ApprovalId, DatasetId, DuoCode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where an approval stands.
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
pub enum ApprovalStatus {
    /// In force (within its valid period).
    Active,
    /// Temporarily not in force.
    Suspended,
    /// Withdrawn by the committee; final.
    Revoked,
}

impl ApprovalStatus {
    /// The snake-case name used in storage and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
        }
    }
}

/// An approval.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Approval id.
    pub id: ApprovalId,
    /// The researcher's passport issuer.
    pub researcher_issuer: String,
    /// The researcher's subject at that issuer.
    pub researcher_subject: String,
    /// The researcher's institution.
    pub institution: String,
    /// The approved project.
    pub project: String,
    /// The approved research purpose as DUO terms (the primary purpose first).
    pub purpose: Vec<DuoCode>,
    /// For disease-specific research, the diseases (MONDO or ICD-10 ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diseases: Vec<String>,
    /// Whether the use is for profit.
    pub for_profit: bool,
    /// Whether the researcher's organisation is for-profit; `None` when the committee did not
    /// record it (then NPU and NPUNCU go to the committee).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_profit_organisation: Option<bool>,
    /// ISO 3166-1 alpha-2 country where the data will be processed.
    pub country: String,
    /// The datasets approved.
    pub datasets: Vec<DatasetId>,
    /// Start of the valid period (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub valid_from: time::OffsetDateTime,
    /// End of the valid period (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub valid_until: time::OffsetDateTime,
    /// Status.
    pub status: ApprovalStatus,
}

impl Approval {
    /// Checks the fields a committee could get wrong.
    ///
    /// # Errors
    /// An empty purpose or dataset list, a country that is not two upper-case letters, or a
    /// valid period that ends before it starts.
    pub fn validate(&self) -> Result<(), ModelError> {
        check_terms(
            &self.purpose,
            &self.datasets,
            &self.country,
            &self.researcher_issuer,
            &self.researcher_subject,
        )?;
        if self.valid_until <= self.valid_from {
            return Err(ModelError::value(
                "valid_until",
                "",
                "must be after valid_from",
            ));
        }
        Ok(())
    }

    /// Whether the approval is in force at `now` (active and within its valid period).
    #[must_use]
    pub fn in_force(&self, now: time::OffsetDateTime) -> bool {
        self.status == ApprovalStatus::Active && self.valid_from <= now && now < self.valid_until
    }
}

/// The terms an approval and an application share: a purpose, datasets, a country of
/// processing and the researcher.
fn check_terms(
    purpose: &[DuoCode],
    datasets: &[DatasetId],
    country: &str,
    issuer: &str,
    subject: &str,
) -> Result<(), ModelError> {
    if purpose.is_empty() {
        return Err(ModelError::value("purpose", "", "at least one DUO term"));
    }
    if datasets.is_empty() {
        return Err(ModelError::value("datasets", "", "at least one dataset"));
    }
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ModelError::value(
            "country",
            country,
            "ISO 3166-1 alpha-2, e.g. JP",
        ));
    }
    if issuer.is_empty() || subject.is_empty() {
        return Err(ModelError::value(
            "researcher",
            "",
            "issuer and subject are required",
        ));
    }
    Ok(())
}

/// An application for access, awaiting the data-use committee's decision: what a researcher
/// asks for (the datasets, the purpose as DUO terms, the project). Approving it records an
/// [`Approval`] with these terms; rejecting it records the reason. Decided once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Application id (`APP-…`).
    pub id: ApprovalId,
    /// The researcher's passport issuer.
    pub researcher_issuer: String,
    /// The researcher's subject at that issuer.
    pub researcher_subject: String,
    /// The researcher's institution, as they name it.
    pub institution: String,
    /// The project.
    pub project: String,
    /// The research purpose as DUO terms (the primary purpose first).
    pub purpose: Vec<DuoCode>,
    /// For disease-specific research, the diseases (ICD-10 or MONDO ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diseases: Vec<String>,
    /// Whether the use is for profit.
    pub for_profit: bool,
    /// ISO 3166-1 alpha-2 country where the data will be processed.
    pub country: String,
    /// The datasets asked for.
    pub datasets: Vec<DatasetId>,
    /// When it was submitted (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub submitted_at: time::OffsetDateTime,
}

/// The longest free text of an application or a committee's reason, in characters.
pub const MAX_APPLICATION_TEXT: usize = 500;

impl Application {
    /// Checks what a researcher could get wrong: the same rules as an [`Approval`]'s terms,
    /// and bounded free text.
    ///
    /// # Errors
    /// An empty purpose or dataset list, a country that is not two upper-case letters, an empty
    /// project, free text over [`MAX_APPLICATION_TEXT`] characters, or more than 16 diseases.
    pub fn validate(&self) -> Result<(), ModelError> {
        check_terms(
            &self.purpose,
            &self.datasets,
            &self.country,
            &self.researcher_issuer,
            &self.researcher_subject,
        )?;
        for (field, text) in [
            ("project", &self.project),
            ("institution", &self.institution),
        ] {
            if text.trim().is_empty() || text.chars().count() > MAX_APPLICATION_TEXT {
                return Err(ModelError::value(field, "", "1 to 500 characters"));
            }
        }
        if self.diseases.len() > 16 || self.diseases.iter().any(|d| d.is_empty() || d.len() > 32) {
            return Err(ModelError::value(
                "diseases",
                "",
                "at most 16 ids of 1 to 32 characters",
            ));
        }
        Ok(())
    }

    /// The approval that approving this application records: its terms, for the given period,
    /// under `id`, active.
    #[must_use]
    pub fn approval(
        &self,
        id: ApprovalId,
        valid_from: time::OffsetDateTime,
        valid_until: time::OffsetDateTime,
    ) -> Approval {
        Approval {
            id,
            researcher_issuer: self.researcher_issuer.clone(),
            researcher_subject: self.researcher_subject.clone(),
            institution: self.institution.clone(),
            project: self.project.clone(),
            purpose: self.purpose.clone(),
            diseases: self.diseases.clone(),
            for_profit: self.for_profit,
            for_profit_organisation: Some(self.for_profit),
            country: self.country.clone(),
            datasets: self.datasets.clone(),
            valid_from,
            valid_until,
            status: ApprovalStatus::Active,
        }
    }
}

/// The committee's decision on an [`Application`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApplicationDecision {
    /// Approved (an approval was recorded) or rejected.
    pub approved: bool,
    /// When (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub at: time::OffsetDateTime,
    /// Who decided (`issuer#subject` of the administrator).
    pub by: String,
    /// The committee's reason.
    pub reason: String,
    /// The approval recorded, when approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalId>,
}

/// A change of an approval's status, with who made it and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalEvent {
    /// When (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub at: time::OffsetDateTime,
    /// The status it was given.
    pub status: ApprovalStatus,
    /// Why.
    pub reason: String,
    /// Who (`issuer#subject` of the administrator).
    pub by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval() -> Result<Approval, Box<dyn std::error::Error>> {
        Ok(Approval {
            id: ApprovalId::parse("APR-1")?,
            researcher_issuer: "https://broker.example".into(),
            researcher_subject: "r1".into(),
            institution: "Synthetic University".into(),
            project: "P1".into(),
            purpose: vec![DuoCode::parse("DUO:0000006")?],
            diseases: vec![],
            for_profit: false,
            for_profit_organisation: None,
            country: "JP".into(),
            datasets: vec![DatasetId::parse("D1")?],
            valid_from: time::OffsetDateTime::from_unix_timestamp(1_700_000_000)?,
            valid_until: time::OffsetDateTime::from_unix_timestamp(1_800_000_000)?,
            status: ApprovalStatus::Active,
        })
    }

    #[test]
    fn validity_and_force() -> Result<(), Box<dyn std::error::Error>> {
        let a = approval()?;
        assert!(a.validate().is_ok());
        let inside = time::OffsetDateTime::from_unix_timestamp(1_750_000_000)?;
        let after = time::OffsetDateTime::from_unix_timestamp(1_800_000_000)?;
        assert!(a.in_force(inside));
        assert!(!a.in_force(after));
        let revoked = Approval {
            status: ApprovalStatus::Revoked,
            ..a.clone()
        };
        assert!(!revoked.in_force(inside));
        for bad in [
            Approval {
                purpose: vec![],
                ..a.clone()
            },
            Approval {
                datasets: vec![],
                ..a.clone()
            },
            Approval {
                country: "jp".into(),
                ..a.clone()
            },
            Approval {
                country: "JPN".into(),
                ..a.clone()
            },
            Approval {
                valid_until: a.valid_from,
                ..a.clone()
            },
            Approval {
                researcher_subject: String::new(),
                ..a.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        Ok(())
    }
}
