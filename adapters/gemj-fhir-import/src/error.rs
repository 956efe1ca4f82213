//! [`FhirImportError`]: why a whole bundle was refused.
//!
//! A FHIR `transaction` is all-or-nothing (FHIR R4 §3.1.0.11.2 "Transaction Processing Rules"),
//! so a bundle that is not JSON, not a schema-valid R4 Bundle, or not a transaction or batch is
//! refused as a whole. Problems inside one entry are not errors: they become a
//! [`gemj_model::source::Rejected`] entry or a [`gemj_model::source::Diagnostic`].

/// Why a bundle was refused as a whole. The gateway answers these with `400 Bad Request`.
///
/// The `Display` text never quotes the bundle; [`FhirImportError::Invalid`]'s `errors` may quote
/// offending values (a wrong code, a malformed date): send them back to the client that sent
/// the bundle, and do not log them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FhirImportError {
    /// The body is not JSON (RFC 8259), or nests deeper than serde_json's recursion limit (128).
    #[error("the bundle is not JSON")]
    Json {
        /// The parser's error: what and where (line and column), without the content.
        #[source]
        source: serde_json::Error,
    },
    /// The bundle does not conform to the FHIR R4 JSON schema (`fhir.schema.json`,
    /// `#/definitions/Bundle`).
    #[error("the bundle does not conform to the FHIR R4 JSON schema ({} errors)", errors.len() + omitted)]
    Invalid {
        /// `<JSON pointer>: <message>`, at most [`crate::MAX_SCHEMA_ERRORS`].
        errors: Vec<String>,
        /// How many further errors were left out.
        omitted: usize,
    },
    /// The JSON is not a FHIR `Bundle` (no `"resourceType": "Bundle"`, or an `entry` that is not
    /// an array of objects). Only reachable without a validator.
    #[error("the JSON is not a FHIR Bundle")]
    NotABundle,
    /// `Bundle.type` is not `transaction` or `batch` (FHIR R4 §2.36.0.1: a `collection`,
    /// `document`, `searchset`, … is not a request to store anything).
    #[error("Bundle.type {kind:?} is not imported: only transaction and batch bundles are")]
    BundleType {
        /// The type as written (cut to 64 characters), empty when absent.
        kind: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_does_not_quote_the_bundle() -> Result<(), Box<dyn std::error::Error>> {
        let error = FhirImportError::Invalid {
            errors: vec!["/entry/0/resource/birthDate: 12 is not of type \"string\"".to_owned()],
            omitted: 2,
        };
        assert_eq!(
            error.to_string(),
            "the bundle does not conform to the FHIR R4 JSON schema (3 errors)"
        );
        let Err(source) = serde_json::from_str::<serde_json::Value>("{\"name\": \"試験") else {
            return Err("expected a JSON error".into());
        };
        let error = FhirImportError::Json { source };
        assert_eq!(error.to_string(), "the bundle is not JSON");
        assert!(std::error::Error::source(&error).is_some());
        Ok(())
    }
}
