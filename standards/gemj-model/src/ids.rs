//! Identifier newtypes. Every identifier is parsed once at the edge and is valid afterwards:
//! 1 to 128 characters from `[A-Za-z0-9._:-]`, starting with a letter or digit.

use crate::error::{ModelError, truncate};

fn check_id(kind: &'static str, s: &str) -> Result<(), ModelError> {
    let err = |why| ModelError::InvalidId {
        kind,
        value: truncate(s),
        why,
    };
    if s.is_empty() {
        return Err(err("empty"));
    }
    if s.len() > 128 {
        return Err(err("longer than 128 characters"));
    }
    if !s.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(err("must start with a letter or digit"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        return Err(err(
            "only letters, digits, '.', '_', ':' and '-' are allowed",
        ));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses an identifier.
            ///
            /// # Errors
            /// [`ModelError::InvalidId`] when the text is not a valid identifier.
            pub fn parse(s: &str) -> Result<Self, ModelError> {
                check_id($kind, s)?;
                Ok(Self(s.to_owned()))
            }

            /// The identifier as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        $crate::macros::text_schema!(
            $name,
            pattern: "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
            description: concat!("A ", $kind, " identifier.")
        );

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ModelError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ModelError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                check_id($kind, &s)?;
                Ok(Self(s))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::try_from(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A participant's pseudonymous GeMJ identifier (never a hospital patient id).
    ParticipantId, "participant"
);
id_type!(
    /// A medical institution or biobank (for hospitals, the 10-digit medical-institution code).
    InstitutionId, "institution"
);
id_type!(
    /// A specimen or biobank sample identifier.
    SpecimenId, "specimen"
);
id_type!(
    /// A dataset identifier.
    DatasetId, "dataset"
);
id_type!(
    /// A stored data object (file or index): also its DRS id.
    ObjectId, "object"
);
id_type!(
    /// A sequencing run identifier.
    RunId, "run"
);
id_type!(
    /// An analysis (pipeline execution) identifier.
    AnalysisId, "analysis"
);
id_type!(
    /// An approval of the data-use review committee.
    ApprovalId, "approval"
);
id_type!(
    /// A recontact request identifier.
    RecontactRequestId, "recontact request"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, ok: bool) {
        assert_eq!(ParticipantId::parse(input).is_ok(), ok, "{input:?}");
    }

    #[test]
    fn participant_ids() {
        check("GEMJ-P-000001", true);
        check("a", true);
        check("GEMJ:TEST.0001_x", true);
        check("", false);
        check("-leading", false);
        check("has space", false);
        check("日本", false);
        check("../etc/passwd", false);
        check(&"x".repeat(128), true);
        check(&"x".repeat(129), false);
    }

    #[test]
    fn deserialize_rejects_invalid() {
        assert!(serde_json::from_str::<DatasetId>("\"ok-1\"").is_ok());
        assert!(serde_json::from_str::<DatasetId>("\"no/slash\"").is_err());
    }
}
