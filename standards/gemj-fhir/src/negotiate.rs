//! Content negotiation as FHIR R4 §3.1.0.1.7–9 says, for a JSON-only server: the `_format`
//! parameter wins over `Accept`; `json`, `application/json` and `application/fhir+json` (with
//! `fhirVersion=4.0`, or none) are served; XML, Turtle and any other FHIR version are 406; a
//! request body in another media type is 415. Errors are answered in JSON whatever was asked.

use crate::outcome::{FhirError, IssueCode};

/// The media type of every answer.
pub const FHIR_JSON: &str = "application/fhir+json";

/// The `fhirVersion` media-type parameter value of R4.
pub const FHIR_VERSION_PARAMETER: &str = "4.0";

/// Checks that the answer can be JSON for a request's `_format` parameter (if any) and
/// `Accept` header (if any).
///
/// # Errors
/// 406 `not-supported` naming what was asked for.
pub fn response_format(format: Option<&str>, accept: Option<&str>) -> Result<(), FhirError> {
    if let Some(format) = format {
        let format = format.trim();
        return if is_json(format)? {
            Ok(())
        } else {
            Err(FhirError::not_acceptable(format!(
                "_format={format} is not served: this server answers JSON only (json, application/json, application/fhir+json)"
            ))
            .with_expression("_format"))
        };
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(());
    };
    let mut any_json = false;
    for range in accept.split(',') {
        let media = range.split(';').next().unwrap_or("").trim();
        if media.is_empty() {
            continue;
        }
        let quality_zero = range.split(';').skip(1).any(|p| {
            p.trim()
                .strip_prefix("q=")
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        if quality_zero {
            continue;
        }
        if matches!(media, "*/*" | "application/*") {
            any_json = true;
            continue;
        }
        if is_json(range.trim())? {
            any_json = true;
        }
    }
    if any_json {
        Ok(())
    } else {
        Err(FhirError::not_acceptable(
            "the Accept header asks for no format this server answers (JSON only: application/fhir+json or application/json)",
        ))
    }
}

/// Checks the media type of a request body (`Content-Type`).
///
/// # Errors
/// 415 for a body that is not FHIR JSON (XML included), 406 for another FHIR version.
pub fn request_format(content_type: Option<&str>) -> Result<(), FhirError> {
    let Some(content_type) = content_type.filter(|c| !c.trim().is_empty()) else {
        return Err(FhirError::unsupported_media_type(
            "a request body needs Content-Type: application/fhir+json",
        ));
    };
    match is_json(content_type) {
        Ok(true) => Ok(()),
        Ok(false) => Err(FhirError::unsupported_media_type(format!(
            "Content-Type {} is not read: send application/fhir+json",
            content_type.split(';').next().unwrap_or("").trim()
        ))),
        Err(e) => Err(e),
    }
}

/// Whether a media type (with parameters) or `_format` value means FHIR JSON of R4.
fn is_json(media: &str) -> Result<bool, FhirError> {
    let mut parts = media.split(';');
    let kind = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let json = matches!(
        kind.as_str(),
        "json" | "application/json" | "application/fhir+json" | "application/json+fhir"
    );
    for parameter in parts {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("fhirVersion") {
            let version = value.trim().trim_matches('"');
            if json && version != FHIR_VERSION_PARAMETER {
                return Err(FhirError::not_acceptable(format!(
                    "fhirVersion={version} is not served: this server is FHIR R4 (fhirVersion=4.0)"
                )));
            }
        }
    }
    Ok(json)
}

impl FhirError {
    /// The same error with `expression` added to its first issue.
    #[must_use]
    pub fn with_expression(mut self, expression: &str) -> Self {
        if let Some(issue) = self.issues.first_mut() {
            issue.expression.push(expression.to_owned());
        }
        self
    }

    /// Whether the first issue has `code`.
    #[must_use]
    pub fn is(&self, code: IssueCode) -> bool {
        self.issues.first().is_some_and(|i| i.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_wins_over_accept() {
        assert!(response_format(Some("json"), Some("application/fhir+xml")).is_ok());
        assert_eq!(
            response_format(Some("xml"), Some("application/fhir+json")).map_err(|e| e.status),
            Err(406)
        );
        assert!(response_format(None, Some("application/fhir+json; fhirVersion=4.0")).is_ok());
        assert_eq!(
            response_format(None, Some("application/fhir+json; fhirVersion=5.0"))
                .map_err(|e| e.status),
            Err(406)
        );
        assert_eq!(
            response_format(None, Some("application/fhir+xml")).map_err(|e| e.status),
            Err(406)
        );
        assert!(response_format(None, Some("text/html, */*;q=0.8")).is_ok());
        assert!(response_format(None, None).is_ok());
        assert_eq!(
            response_format(None, Some("application/json;q=0")).map_err(|e| e.status),
            Err(406)
        );
    }

    #[test]
    fn bodies_must_be_json() {
        assert!(request_format(Some("application/fhir+json; charset=utf-8")).is_ok());
        assert_eq!(
            request_format(Some("application/fhir+xml")).map_err(|e| e.status),
            Err(415)
        );
        assert_eq!(request_format(None).map_err(|e| e.status), Err(415));
        assert_eq!(
            request_format(Some("application/fhir+json; fhirVersion=3.0")).map_err(|e| e.status),
            Err(406)
        );
    }
}
