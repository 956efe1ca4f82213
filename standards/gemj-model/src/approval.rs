//! Approvals of the data-use review committee: who may use which CONTROLLED datasets, for what
//! purpose, where, and until when. A revoked or suspended approval permits nothing, whatever
//! visas the researcher still holds.

use crate::error::ModelError;
use crate::{ApprovalId, DatasetId, DuoCode};

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
        if self.purpose.is_empty() {
            return Err(ModelError::value("purpose", "", "at least one DUO term"));
        }
        if self.datasets.is_empty() {
            return Err(ModelError::value("datasets", "", "at least one dataset"));
        }
        if self.country.len() != 2 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ModelError::value(
                "country",
                &self.country,
                "ISO 3166-1 alpha-2, e.g. JP",
            ));
        }
        if self.valid_until <= self.valid_from {
            return Err(ModelError::value(
                "valid_until",
                "",
                "must be after valid_from",
            ));
        }
        if self.researcher_issuer.is_empty() || self.researcher_subject.is_empty() {
            return Err(ModelError::value(
                "researcher",
                "",
                "issuer and subject are required",
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
