//! The DRS error envelope: `{"msg": ..., "status_code": N}` (DRS 1.5 `Error`), with the same
//! status codes as the gateway's own endpoints ([`ApiError`] chooses them) plus DRS's own: 413
//! for a bulk request over the limit or a body over the size limit, 415 for a body that is not
//! JSON, 405 with `Allow`. A reason code is added where there is one (`reason`; `Error` allows
//! further members). Absent and hidden objects share one body, byte for byte.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use gemj_core::CoreError;
use gemj_core::drs::AccessError;

use super::ApiError;

/// The message of every 404 for an object: absent and hidden look the same.
pub const NOT_FOUND_MSG: &str =
    "No such DRS object or access method, or not visible to this caller.";

/// The DRS `Error` body.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DrsErrorBody {
    /// What went wrong, for a person.
    pub msg: String,
    /// The HTTP status code.
    pub status_code: u16,
    /// A stable reason code, where there is one (`bad_signature`, `consent_view_stale`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An error of the DRS endpoints.
#[derive(Debug, thiserror::Error)]
pub enum DrsError {
    /// As on the gateway's own endpoints (status chosen by [`ApiError`]).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The caller sees the object but may not read its bytes.
    #[error("data not permitted")]
    DataNotPermitted(&'static str),
    /// A bulk request naming no id, or more than the limit.
    #[error("{}", .0.message())]
    Bulk(gemj_drs::BulkLimit),
    /// A body that is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// A method the endpoint does not accept.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// No DRS endpoint at this path.
    #[error("no such endpoint")]
    NoSuchEndpoint,
}

impl From<CoreError> for DrsError {
    fn from(e: CoreError) -> Self {
        Self::Api(ApiError::Core(e))
    }
}

impl From<AccessError> for DrsError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Core(e) => e.into(),
            AccessError::DataNotPermitted { reason } => Self::DataNotPermitted(reason),
        }
    }
}

impl DrsError {
    /// The body: message and reason code.
    #[must_use]
    pub fn body(&self) -> DrsErrorBody {
        let status = self.status_code();
        let (msg, reason) = match self {
            Self::Api(ApiError::Core(CoreError::NotFound)) => (NOT_FOUND_MSG.to_owned(), None),
            Self::Api(ApiError::Core(CoreError::CredentialRequired)) => (
                "A verified credential is required: a GA4GH passport (Authorization: Bearer, or \
                 `passports` in a POST body). Objects that do not exist are answered the same."
                    .to_owned(),
                Some("credential_required".to_owned()),
            ),
            Self::Api(ApiError::Core(CoreError::Denied(d))) => {
                let codes: Vec<&str> = d.reasons.iter().map(|r| r.code()).collect();
                (
                    format!("Access denied: {}.", codes.join(", ")),
                    Some(d.code().to_owned()),
                )
            }
            Self::Api(ApiError::Core(CoreError::ConsentStale { .. })) => (
                "This instance cannot confirm current consent; retry shortly.".to_owned(),
                Some("consent_view_stale".to_owned()),
            ),
            Self::Api(ApiError::Core(CoreError::InvalidInput(m)) | ApiError::BadRequest(m)) => {
                (m.clone(), None)
            }
            Self::Api(ApiError::Core(CoreError::AuditUnavailable)) => (
                "The audit log cannot be written; nothing is served until it can.".to_owned(),
                None,
            ),
            Self::Api(ApiError::Core(CoreError::Task { cancelled: true })) => (
                "The server is shutting down; retry shortly.".to_owned(),
                Some("shutting_down".to_owned()),
            ),
            Self::Api(ApiError::Core(CoreError::Task { cancelled: false })) => {
                ("Internal error.".to_owned(), None)
            }
            Self::Api(ApiError::Core(CoreError::Store(_))) => {
                ("The store is unavailable.".to_owned(), None)
            }
            Self::Api(ApiError::Core(CoreError::Objects(_))) => (
                "Object storage is unavailable; retry shortly.".to_owned(),
                Some("storage_unavailable".to_owned()),
            ),
            Self::Api(e @ ApiError::AuthorizationTooLarge) => {
                (e.to_string(), Some("authorization_too_large".to_owned()))
            }
            Self::Api(e @ ApiError::PassportsTooLarge) => {
                (e.to_string(), Some("passports_too_large".to_owned()))
            }
            Self::Api(e @ ApiError::BodyTooLarge(_)) => {
                (e.to_string(), Some("body_too_large".to_owned()))
            }
            Self::Api(ApiError::Unauthenticated(code)) if crate::error::is_issuer_outage(code) => (
                "The credential's issuer cannot be reached to verify it; retry shortly.".to_owned(),
                Some((*code).to_owned()),
            ),
            Self::Api(ApiError::Unauthenticated(code)) => (
                "The presented credential was rejected; see `reason`.".to_owned(),
                Some((*code).to_owned()),
            ),
            Self::Api(ApiError::Core(CoreError::UrlRejected(code))) => (
                "The data URL was refused; see `reason`.".to_owned(),
                Some((*code).to_owned()),
            ),
            Self::Api(ApiError::Core(CoreError::Conflict(m) | CoreError::Forbidden(m))) => {
                (m.clone(), None)
            }
            Self::DataNotPermitted("analysis_only") => (
                "This object's dataset may only be analysed next to the data (GA4GH WES at \
                 /ga4gh/wes/v1), never downloaded."
                    .to_owned(),
                Some("analysis_only".to_owned()),
            ),
            Self::DataNotPermitted("release_pending") => (
                "This run output derives from analysis-only data: it can be downloaded once the \
                 data-use committee releases it."
                    .to_owned(),
                Some("release_pending".to_owned()),
            ),
            Self::DataNotPermitted(_) => (
                "This caller may see the object but not read its bytes: CONTROLLED data needs a \
                 grant visa, an approval of the data-use committee and a DUO match, and the \
                 participants' consent must cover the caller's use."
                    .to_owned(),
                Some("data_not_permitted".to_owned()),
            ),
            Self::Bulk(limit) => (limit.message(), None),
            Self::UnsupportedMediaType => (
                "The request body must be JSON (Content-Type: application/json).".to_owned(),
                None,
            ),
            Self::MethodNotAllowed(allow) => (format!("This endpoint accepts {allow} only."), None),
            Self::NoSuchEndpoint => ("No such DRS endpoint.".to_owned(), None),
        };
        DrsErrorBody {
            msg,
            status_code: status.as_u16(),
            reason,
        }
    }
}

impl ResponseError for DrsError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Api(e) => e.status_code(),
            Self::DataNotPermitted(_) => StatusCode::FORBIDDEN,
            Self::Bulk(limit) => {
                StatusCode::from_u16(limit.status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::NoSuchEndpoint => StatusCode::NOT_FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error()
            && !matches!(
                self,
                Self::Api(ApiError::Core(CoreError::ConsentStale { .. }))
            )
        {
            tracing::error!(message = "DRS request failed.", %status, error = %self);
        }
        let mut res = HttpResponse::build(status).json(self.body());
        let headers = res.headers_mut();
        match self {
            Self::MethodNotAllowed(allow) => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            _ if status == StatusCode::UNAUTHORIZED => {
                let rejected = match self {
                    Self::Api(e) => e.rejected_token(),
                    _ => None,
                };
                headers.insert(header::WWW_AUTHENTICATE, super::bearer_challenge(rejected));
            }
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        res
    }
}
