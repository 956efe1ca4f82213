//! The Visa Type (`ga4gh_visa_v1.type`): the five GA4GH standard types, or a custom one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Visa Type (Passport 1.2 "Visa Type", "GA4GH Standard Visa Type Definitions").
///
/// Serialized as the exact spec string. Parsing is case-sensitive: any other string, including a
/// differently cased standard name, becomes [`VisaType::Other`]. A custom type "MUST follow the
/// format prescribed in the URL Claims section"; [`check_visa`](crate::check_visa) enforces that.
///
/// # Examples
///
/// ```
/// use gemj_passport::VisaType;
///
/// assert_eq!(VisaType::parse("ResearcherStatus"), VisaType::ResearcherStatus);
/// assert_eq!(VisaType::ResearcherStatus.as_str(), "ResearcherStatus");
/// assert_eq!(
///     VisaType::parse("https://ras.nih.gov/visas/v1.1"),
///     VisaType::Other("https://ras.nih.gov/visas/v1.1".into())
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VisaType {
    /// `AffiliationAndRole`: `value` is `role@affiliation`.
    AffiliationAndRole,
    /// `AcceptedTermsAndPolicies`: `value` is the URL of the accepted terms.
    AcceptedTermsAndPolicies,
    /// `ResearcherStatus`: `value` is the URL of the researcher standard.
    ResearcherStatus,
    /// `ControlledAccessGrants`: `value` is the URL of the granted dataset.
    ControlledAccessGrants,
    /// `LinkedIdentities`: `value` lists other identities of the same person.
    LinkedIdentities,
    /// A custom Visa Type (any other string).
    Other(String),
}

impl VisaType {
    /// Maps a spec string to a Visa Type; unknown strings become [`VisaType::Other`].
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s {
            "AffiliationAndRole" => Self::AffiliationAndRole,
            "AcceptedTermsAndPolicies" => Self::AcceptedTermsAndPolicies,
            "ResearcherStatus" => Self::ResearcherStatus,
            "ControlledAccessGrants" => Self::ControlledAccessGrants,
            "LinkedIdentities" => Self::LinkedIdentities,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The spec string of this Visa Type.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::AffiliationAndRole => "AffiliationAndRole",
            Self::AcceptedTermsAndPolicies => "AcceptedTermsAndPolicies",
            Self::ResearcherStatus => "ResearcherStatus",
            Self::ControlledAccessGrants => "ControlledAccessGrants",
            Self::LinkedIdentities => "LinkedIdentities",
            Self::Other(s) => s,
        }
    }

    /// Whether this is one of the five GA4GH standard Visa Types.
    #[must_use]
    pub fn is_standard(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

impl From<&str> for VisaType {
    fn from(s: &str) -> Self {
        Self::parse(s)
    }
}

impl fmt::Display for VisaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for VisaType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for VisaType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(Self::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::VisaType;

    #[test]
    fn parse_and_print() {
        fn check(input: &str, expect: VisaType) {
            let parsed = VisaType::parse(input);
            assert_eq!(parsed, expect, "{input}");
            assert_eq!(parsed.as_str(), input, "{input}");
        }
        check("AffiliationAndRole", VisaType::AffiliationAndRole);
        check(
            "AcceptedTermsAndPolicies",
            VisaType::AcceptedTermsAndPolicies,
        );
        check("ResearcherStatus", VisaType::ResearcherStatus);
        check("ControlledAccessGrants", VisaType::ControlledAccessGrants);
        check("LinkedIdentities", VisaType::LinkedIdentities);
        check(
            "researcherstatus",
            VisaType::Other("researcherstatus".into()),
        );
        check("", VisaType::Other(String::new()));
        check(
            "https://ras.nih.gov/visas/v1.1",
            VisaType::Other("https://ras.nih.gov/visas/v1.1".into()),
        );
    }

    #[test]
    fn serde_uses_spec_strings() -> Result<(), Box<dyn std::error::Error>> {
        let json = serde_json::to_string(&VisaType::ControlledAccessGrants)?;
        assert_eq!(json, "\"ControlledAccessGrants\"");
        let back: VisaType = serde_json::from_str("\"https://example.org/t\"")?;
        assert_eq!(back, VisaType::Other("https://example.org/t".into()));
        assert!(serde_json::from_str::<VisaType>("1").is_err());
        Ok(())
    }
}
