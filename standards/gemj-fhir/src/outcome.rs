//! `OperationOutcome`: every FHIR error the gateway answers, with the HTTP status chosen here
//! and nowhere else.

use serde_json::{Value, json};

/// The `issue.code` values the gateway uses (FHIR R4 `IssueType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueCode {
    /// Content invalid against the specification or a profile.
    Invalid,
    /// A structural issue in the content (not JSON, wrong JSON types).
    Structure,
    /// A required element is missing.
    Required,
    /// An element value is invalid.
    Value,
    /// A content validation rule failed (a business rule).
    BusinessRule,
    /// Authentication required before the request can be processed.
    Login,
    /// The user does not have the rights to perform this action.
    Forbidden,
    /// The resource or operation is not known (or not visible to the caller).
    NotFound,
    /// The interaction, operation, resource type or format is not supported.
    NotSupported,
    /// The resource already exists.
    Duplicate,
    /// The request is too costly (a page or body too large).
    TooCostly,
    /// A rate or budget limit was reached.
    Throttled,
    /// A transient condition; retry later.
    Transient,
    /// Processing failed for a reason the caller cannot fix.
    Exception,
    /// Processing of the request failed (e.g. a lift-over that cannot be made).
    Processing,
    /// An authorisation failure (an expired or invalid credential).
    Security,
}

impl IssueCode {
    /// The code as FHIR spells it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Structure => "structure",
            Self::Required => "required",
            Self::Value => "value",
            Self::BusinessRule => "business-rule",
            Self::Login => "login",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::NotSupported => "not-supported",
            Self::Duplicate => "duplicate",
            Self::TooCostly => "too-costly",
            Self::Throttled => "throttled",
            Self::Transient => "transient",
            Self::Exception => "exception",
            Self::Processing => "processing",
            Self::Security => "security",
        }
    }
}

/// One issue of an `OperationOutcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// `error` or `warning` (`fatal` is never used: the server always answers).
    pub severity: &'static str,
    /// What kind of issue.
    pub code: IssueCode,
    /// A human-readable explanation. Never quotes a credential or record contents; it may
    /// quote the caller's own parameter values.
    pub diagnostics: String,
    /// FHIRPath expressions of the elements or parameters at fault.
    pub expression: Vec<String>,
}

impl Issue {
    /// An error issue.
    #[must_use]
    pub fn error(code: IssueCode, diagnostics: impl Into<String>) -> Self {
        Self {
            severity: "error",
            code,
            diagnostics: diagnostics.into(),
            expression: Vec::new(),
        }
    }

    /// A warning issue.
    #[must_use]
    pub fn warning(code: IssueCode, diagnostics: impl Into<String>) -> Self {
        Self {
            severity: "warning",
            code,
            diagnostics: diagnostics.into(),
            expression: Vec::new(),
        }
    }

    /// The same issue about the element or parameter at `expression`.
    #[must_use]
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression.push(expression.into());
        self
    }
}

/// A FHIR error: the HTTP status and the issues of its `OperationOutcome`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("FHIR {status}: {}", .issues.first().map_or("", |i| i.diagnostics.as_str()))]
pub struct FhirError {
    /// The HTTP status.
    pub status: u16,
    /// At least one issue.
    pub issues: Vec<Issue>,
}

impl FhirError {
    /// An error of one issue.
    #[must_use]
    pub fn new(status: u16, issue: Issue) -> Self {
        Self {
            status,
            issues: vec![issue],
        }
    }

    /// 400 `invalid` (or the given code) about `expression`.
    #[must_use]
    pub fn bad_request(code: IssueCode, expression: &str, diagnostics: impl Into<String>) -> Self {
        let issue = Issue::error(code, diagnostics);
        let issue = if expression.is_empty() {
            issue
        } else {
            issue.at(expression)
        };
        Self::new(400, issue)
    }

    /// 404 `not-found`: what the caller names does not exist for them.
    #[must_use]
    pub fn not_found(diagnostics: impl Into<String>) -> Self {
        Self::new(404, Issue::error(IssueCode::NotFound, diagnostics))
    }

    /// 406: the response format the caller asked for is not served.
    #[must_use]
    pub fn not_acceptable(diagnostics: impl Into<String>) -> Self {
        Self::new(406, Issue::error(IssueCode::NotSupported, diagnostics))
    }

    /// 415: the request body's media type is not read.
    #[must_use]
    pub fn unsupported_media_type(diagnostics: impl Into<String>) -> Self {
        Self::new(415, Issue::error(IssueCode::NotSupported, diagnostics))
    }

    /// 422 `processing`: the request is well formed but cannot be processed (FHIR's
    /// "Unprocessable Entity", e.g. a range that cannot be lifted over).
    #[must_use]
    pub fn unprocessable(code: IssueCode, diagnostics: impl Into<String>) -> Self {
        Self::new(422, Issue::error(code, diagnostics))
    }

    /// The `OperationOutcome` resource.
    #[must_use]
    pub fn outcome(&self) -> Value {
        operation_outcome(&self.issues)
    }
}

/// An `OperationOutcome` of `issues` (at least one: an empty list gives one `informational`
/// issue, as the resource requires one).
#[must_use]
pub fn operation_outcome(issues: &[Issue]) -> Value {
    let issues: Vec<Value> = if issues.is_empty() {
        vec![json!({"severity": "information", "code": "informational", "diagnostics": "ok"})]
    } else {
        issues
            .iter()
            .map(|i| {
                let mut v = json!({
                    "severity": i.severity,
                    "code": i.code.as_str(),
                    "diagnostics": i.diagnostics,
                });
                if !i.expression.is_empty() {
                    v["expression"] = json!(i.expression);
                }
                v
            })
            .collect()
    };
    json!({"resourceType": "OperationOutcome", "issue": issues})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_the_expression() {
        let e = FhirError::bad_request(IssueCode::Value, "Observation.code", "unknown system");
        let o = e.outcome();
        assert_eq!(o["issue"][0]["code"], "value");
        assert_eq!(o["issue"][0]["expression"][0], "Observation.code");
        assert_eq!(e.status, 400);
        assert!(crate::model::typed(&o).is_ok());
    }
}
