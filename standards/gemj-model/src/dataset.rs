//! Datasets: the unit of access. Each has an access level and data-use conditions in the Data
//! Use Ontology (DUO), and members (participants and objects).

use crate::DatasetId;
use crate::error::ModelError;
use crate::macros::string_newtype;

/// Who may see a dataset at all.
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
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessLevel {
    /// Anyone, anonymously.
    Public,
    /// A registered researcher (ResearcherStatus or accepted terms).
    Registered,
    /// Named researchers with an approved data-access request.
    Controlled,
}

impl AccessLevel {
    /// The upper-case name used in storage and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "PUBLIC",
            Self::Registered => "REGISTERED",
            Self::Controlled => "CONTROLLED",
        }
    }

    /// Parses the upper-case name.
    ///
    /// # Errors
    /// When the name is not an access level.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        match s {
            "PUBLIC" => Ok(Self::Public),
            "REGISTERED" => Ok(Self::Registered),
            "CONTROLLED" => Ok(Self::Controlled),
            _ => Err(ModelError::value(
                "access level",
                s,
                "expected PUBLIC, REGISTERED or CONTROLLED",
            )),
        }
    }
}

string_newtype!(
    /// A Data Use Ontology term id, `DUO:` followed by seven digits.
    DuoCode, curie "DUO:", "DUO code", example "DUO:0000042"
);

/// One data-use condition: a DUO permission term with its modifiers, as GA4GH DUO recommends
/// (one permission, any number of modifiers).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct DataUseCondition {
    /// The permission term (for example DUO:0000042 general research use).
    pub permission: DuoCode,
    /// Modifier terms (for example DUO:0000046 non-commercial use only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<DuoCode>,
    /// For disease-specific research (DUO:0000007), the disease (MONDO or ICD-10 id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disease: Option<String>,
    /// For geographical restriction (DUO:0000022 GS), the ISO 3166-1 alpha-2 codes of the
    /// countries where processing is allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    /// For institution-specific restriction (DUO:0000028 IS), the allowed institutions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub institutions: Vec<String>,
    /// For project-specific restriction (DUO:0000027 PS), the allowed projects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
    /// For user-specific restriction (DUO:0000026 US), the allowed users (`issuer#subject`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
}

/// A dataset.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Dataset id.
    pub id: DatasetId,
    /// Short name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Access level.
    pub access_level: AccessLevel,
    /// Data-use conditions.
    pub data_use: DataUseCondition,
}
