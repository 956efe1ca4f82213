//! Error envelopes. This is the only place where status codes are chosen. The gateway's own
//! endpoints answer problem details (RFC 9457: `{"type", "title", "status", "detail"}` plus the
//! request id); each standard API adds its own envelope here (htsget, DRS, Beacon, FHIR) as it
//! is mounted.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use gemj_core::CoreError;

pub mod beacon;
pub mod data_connect;
pub mod drs;
pub mod fhir;
pub mod htsget;
pub mod wes;

/// The problem-details body of the gateway's own endpoints.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`about:blank` for plain HTTP statuses).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary: the HTTP reason phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// A stable machine-readable reason code, where there is one (`bad_signature`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a decision of the DUO matcher: the outcome and, per term of the dataset's data-use
    /// condition, its outcome and reason in English and Japanese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub explanation: Option<serde_json::Value>,
}

impl Problem {
    /// A problem for a status with a detail.
    #[must_use]
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            problem_type: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            reason: None,
            explanation: None,
        }
    }

    /// 503: the gateway cannot serve yet (its store does not answer, or is not migrated).
    #[must_use]
    pub fn not_ready(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, detail)
    }

    /// 500: a failure of the gateway itself, never the caller's.
    #[must_use]
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }

    /// 400: a request the gateway refuses as it stands.
    #[must_use]
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 416 with `Content-Range: bytes */*`: a byte range outside the object.
    #[must_use]
    pub fn range_not_satisfiable(detail: impl Into<String>) -> HttpResponse {
        let mut res = Self::new(StatusCode::RANGE_NOT_SATISFIABLE, detail).response();
        res.headers_mut().insert(
            header::CONTENT_RANGE,
            header::HeaderValue::from_static("bytes */*"),
        );
        res
    }

    /// 405 with `Allow: <allow>`: a method the resource does not answer.
    #[must_use]
    pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
        let mut res = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("This endpoint accepts {allow} only."),
        )
        .response();
        res.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        res
    }

    /// The response.
    #[must_use]
    pub fn response(&self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status)
            .content_type("application/problem+json")
            .json(self)
    }
}

/// Whether an authentication failure is an issuer's outage (its key set or broker cannot be
/// reached for a key the gateway has not cached), not the caller's fault: every API answers 503
/// with Retry-After, never 401 and never a permit.
#[must_use]
pub fn is_issuer_outage(code: &str) -> bool {
    matches!(
        code,
        "jwks_unavailable" | "broker_unavailable" | "discovery_failed"
    )
}

/// The `WWW-Authenticate` challenge of a 401 (RFC 6750 section 3): for a rejected token,
/// `error="invalid_token"` with the reason code as `error_description`; without a token, the
/// bare scheme (no error code, as RFC 6750 section 3.1 asks).
#[must_use]
pub fn bearer_challenge(rejected: Option<&str>) -> HeaderValue {
    match rejected {
        Some(code) if code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
            HeaderValue::from_str(&format!(
                "Bearer error=\"invalid_token\", error_description=\"{code}\""
            ))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer error=\"invalid_token\""))
        }
        Some(_) => HeaderValue::from_static("Bearer error=\"invalid_token\""),
        None => HeaderValue::from_static("Bearer"),
    }
}

/// An error of the gateway's own endpoints.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A core service failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The request carried a credential that did not verify; the reason code says why.
    #[error("the credential was rejected: {0}")]
    Unauthenticated(&'static str),
    /// The request is malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The `Authorization` header is longer than the gateway accepts (431).
    #[error("the Authorization header is too large")]
    AuthorizationTooLarge,
    /// The `passports` of a request body are more or larger than the gateway accepts (413).
    #[error(
        "the body's passports are too large: at most {} passports of {} bytes each",
        gemj_auth::MAX_POST_PASSPORTS,
        gemj_auth::MAX_PASSPORT_BYTES
    )]
    PassportsTooLarge,
    /// The request body is longer than the API accepts (413); the limit in bytes.
    #[error("the request body exceeds {0} bytes")]
    BodyTooLarge(usize),
}

impl ApiError {
    /// The reason code of a presented token that was rejected, if that is the error.
    #[must_use]
    pub fn rejected_token(&self) -> Option<&'static str> {
        match self {
            Self::Unauthenticated(code) => Some(code),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Core(CoreError::NotFound) => StatusCode::NOT_FOUND,
            Self::Core(CoreError::InvalidInput(_)) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Core(
                CoreError::AuditUnavailable | CoreError::Store(_) | CoreError::Objects(_),
            ) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Core(CoreError::Task { cancelled: false }) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Core(CoreError::Task { cancelled: true }) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthenticated(code) if is_issuer_outage(code) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Unauthenticated(_) | Self::Core(CoreError::CredentialRequired) => {
                StatusCode::UNAUTHORIZED
            }
            Self::Core(CoreError::Denied(d)) if d.unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Core(CoreError::Denied(_)) => StatusCode::FORBIDDEN,
            Self::Core(CoreError::ConsentStale { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Core(CoreError::Conflict(_)) => StatusCode::CONFLICT,
            Self::Core(CoreError::Forbidden(_)) => StatusCode::FORBIDDEN,
            Self::Core(CoreError::UrlRejected(_)) => StatusCode::FORBIDDEN,
            Self::AuthorizationTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::PassportsTooLarge | Self::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let status = self.status_code();
        let detail = match self {
            Self::Core(CoreError::NotFound) => {
                "No such resource, or not visible to this caller.".to_owned()
            }
            Self::Core(CoreError::InvalidInput(m)) | Self::BadRequest(m) => m.clone(),
            Self::Core(CoreError::AuditUnavailable) => {
                "The audit log cannot be written; nothing is served until it can.".to_owned()
            }
            Self::Core(CoreError::Store(_)) => "The store is unavailable.".to_owned(),
            Self::Core(CoreError::Objects(_)) => {
                "Object storage is unavailable; retry shortly.".to_owned()
            }
            Self::Core(CoreError::Task { cancelled: false }) => "Internal error.".to_owned(),
            Self::Core(CoreError::Task { cancelled: true }) => {
                "The server is shutting down; retry shortly.".to_owned()
            }
            Self::Core(CoreError::CredentialRequired) => {
                "A verified passport is required (Authorization: Bearer).".to_owned()
            }
            Self::Unauthenticated(code) if is_issuer_outage(code) => {
                "The credential's issuer cannot be reached to verify it; retry shortly.".to_owned()
            }
            Self::Unauthenticated(_) => {
                "The presented credential was rejected; see `reason`.".to_owned()
            }
            Self::Core(CoreError::Denied(d)) => denial_detail(d),
            Self::Core(CoreError::ConsentStale { .. }) => {
                "This instance cannot confirm current consent; retry shortly.".to_owned()
            }
            Self::Core(CoreError::Conflict(m) | CoreError::Forbidden(m)) => m.clone(),
            Self::Core(CoreError::UrlRejected(_)) => {
                "The data URL was refused; see `reason`. Ask for a new one.".to_owned()
            }
            Self::AuthorizationTooLarge => format!(
                "The Authorization header is longer than {} bytes; send large passports in a \
                 POST body as {{\"passports\": [...]}}.",
                crate::routes::MAX_AUTHORIZATION_BYTES
            ),
            Self::PassportsTooLarge | Self::BodyTooLarge(_) => self.to_string(),
        };
        if status.is_server_error() {
            tracing::error!(message = "Request failed.", %status, error = %self);
        }
        let mut problem = Problem::new(status, detail);
        match self {
            Self::Unauthenticated(code) => problem.reason = Some((*code).to_owned()),
            Self::Core(CoreError::Denied(d)) => {
                problem.reason = Some(d.code().to_owned());
                problem.explanation = d.duo.as_ref().and_then(|m| serde_json::to_value(m).ok());
            }
            Self::Core(CoreError::ConsentStale { .. }) => {
                problem.reason = Some("consent_view_stale".to_owned());
            }
            Self::Core(CoreError::CredentialRequired) => {
                problem.reason = Some("credential_required".to_owned());
            }
            Self::Core(CoreError::UrlRejected(code)) => problem.reason = Some((*code).to_owned()),
            Self::AuthorizationTooLarge => {
                problem.reason = Some("authorization_too_large".to_owned());
            }
            Self::PassportsTooLarge => problem.reason = Some("passports_too_large".to_owned()),
            Self::BodyTooLarge(_) => problem.reason = Some("body_too_large".to_owned()),
            _ => {}
        }
        let mut res = problem.response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                bearer_challenge(self.rejected_token()),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        res
    }
}

/// Rewrites any error response that is not JSON (actix's own 404, 405, payload and extractor
/// errors) into problem details, so no client ever receives HTML or an empty error body.
///
/// # Errors
/// Never: the rewrite itself cannot fail.
pub fn json_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json") || ct.starts_with("text/html"));
    // JSON errors are already an API's own format; HTML ones are the portal's pages.
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let detail = match status {
        StatusCode::NOT_FOUND => "No such endpoint.".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "This endpoint does not accept that method.".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.".to_owned(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported content type.".to_owned(),
        s if s.is_server_error() => "Internal error.".to_owned(),
        _ => res.response().error().map_or_else(
            || "The request could not be processed.".to_owned(),
            std::string::ToString::to_string,
        ),
    };
    let (req, old) = res.into_parts();
    let mut new = Problem::new(status, detail).response();
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // A body over an endpoint's limit, refused by actix's extractor before any decision:
        // audited once like every refusal, before the answer leaves.
        return Ok(ErrorHandlerResponse::Future(Box::pin(async move {
            let new = match audit_oversized_body(&req).await {
                Ok(()) => new,
                Err(e) => ApiError::Core(e).error_response(),
            };
            Ok(ServiceResponse::new(req, new).map_into_right_body())
        })));
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}

/// The audit row of a body refused by an extractor's limit: its content was never read, so
/// what is hashed is the declared `Content-Length` (and the path), never content.
async fn audit_oversized_body(req: &actix_web::HttpRequest) -> Result<(), CoreError> {
    let Some(core) = req.app_data::<actix_web::web::Data<gemj_core::Shared>>() else {
        return Ok(());
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    let presented = format!("{} content-length:{declared}", req.path());
    let ctx = crate::routes::context(req, crate::routes::api_of(req.path()));
    core.access()
        .refuse_credential(&ctx, presented.as_bytes(), "body_too_large")
        .await
}

/// A denial for a person: the reason codes and, for a DUO decision, each term's outcome and
/// reason (English; the Japanese reasons are in the audit explanation API).
fn denial_detail(d: &gemj_core::Denial) -> String {
    let codes: Vec<&str> = d.reasons.iter().map(|r| r.code()).collect();
    let mut text = format!("Access denied: {}.", codes.join(", "));
    if let Some(m) = &d.duo {
        for t in &m.terms {
            let name = t.shorthand.as_deref().unwrap_or(&t.label);
            text.push_str(&format!(" {} {name} ({}): {}", t.outcome, t.term, t.reason));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError as _;
    use actix_web::http::StatusCode;
    use gemj_core::CoreError;

    use super::ApiError;

    /// A worker task that panicked is the gateway's fault (500), one cancelled at shutdown is
    /// temporary (503); neither is ever the caller's (400).
    #[tokio::test]
    async fn failed_worker_tasks_are_never_the_callers_fault() {
        let panicked = tokio::task::spawn_blocking(|| panic!("a slicer bug")).await;
        let e = CoreError::from(panicked.expect_err("the task panicked"));
        assert!(matches!(e, CoreError::Task { cancelled: false }));
        assert_eq!(
            ApiError::Core(e).status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let task = tokio::spawn(std::future::pending::<()>());
        task.abort();
        let e = CoreError::from(task.await.expect_err("the task was cancelled"));
        assert!(matches!(e, CoreError::Task { cancelled: true }));
        let api = ApiError::Core(e);
        assert_eq!(api.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        let htsget = crate::error::htsget::ticket_failure(gemj_core::htsget::HtsgetError::Core(
            CoreError::Task { cancelled: false },
        ));
        assert_eq!(htsget.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
