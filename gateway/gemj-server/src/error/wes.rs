//! The WES error envelope, `ErrorResponse` (`{"msg": ..., "status_code": N}`, plus `reason`
//! where there is one): the DRS envelope's messages and statuses for everything the gateway's
//! APIs share, WES's own for forms, runs and endpoints. An absent run and another caller's run
//! share one body, byte for byte.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use gemj_core::CoreError;
use gemj_wes::form::FormError;

use super::ApiError;
use super::drs::{DrsError, DrsErrorBody};

/// The message of every 404 for a run or task: absent and another caller's look the same.
pub const NOT_FOUND_MSG: &str = "No such run or task, or not this caller's.";

/// An error of the WES endpoints.
#[derive(Debug, thiserror::Error)]
pub enum WesError {
    /// As on DRS (the shared statuses and messages).
    #[error(transparent)]
    Drs(#[from] DrsError),
    /// A `POST /runs` form refused.
    #[error(transparent)]
    Form(FormError),
    /// A method the endpoint does not accept.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// No WES endpoint at this path.
    #[error("no such endpoint")]
    NoSuchEndpoint,
}

impl From<CoreError> for WesError {
    fn from(e: CoreError) -> Self {
        Self::Drs(DrsError::from(e))
    }
}

impl From<ApiError> for WesError {
    fn from(e: ApiError) -> Self {
        Self::Drs(DrsError::Api(e))
    }
}

impl WesError {
    fn not_found(&self) -> bool {
        matches!(
            self,
            Self::Drs(DrsError::Api(ApiError::Core(CoreError::NotFound)))
        )
    }

    /// The body.
    #[must_use]
    pub fn body(&self) -> DrsErrorBody {
        let status = self.status_code().as_u16();
        let (msg, reason) = match self {
            _ if self.not_found() => (NOT_FOUND_MSG.to_owned(), None),
            Self::Drs(DrsError::Api(ApiError::Core(CoreError::Forbidden(m)))) => {
                (m.clone(), Some("input_not_permitted".to_owned()))
            }
            Self::Drs(DrsError::Api(ApiError::Core(CoreError::CredentialRequired))) => (
                "A verified GA4GH passport is required (Authorization: Bearer). Runs that do not \
                 exist are answered the same."
                    .to_owned(),
                Some("credential_required".to_owned()),
            ),
            Self::Drs(d) => {
                let b = d.body();
                (b.msg, b.reason)
            }
            Self::Form(f) => (f.to_string(), Some(f.code().to_owned())),
            Self::MethodNotAllowed(allow) => (format!("This endpoint accepts {allow} only."), None),
            Self::NoSuchEndpoint => ("No such WES endpoint.".to_owned(), None),
        };
        DrsErrorBody {
            msg,
            status_code: status,
            reason,
        }
    }
}

impl ResponseError for WesError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Drs(DrsError::Api(ApiError::Core(CoreError::Forbidden(_)))) => {
                StatusCode::FORBIDDEN
            }
            Self::Drs(d) => d.status_code(),
            Self::Form(f) => StatusCode::from_u16(f.status()).unwrap_or(StatusCode::BAD_REQUEST),
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::NoSuchEndpoint => StatusCode::NOT_FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let Self::Drs(d) = self
            && !self.not_found()
            && !matches!(
                d,
                DrsError::Api(ApiError::Core(
                    CoreError::Forbidden(_) | CoreError::CredentialRequired
                ))
            )
        {
            // Its own headers (WWW-Authenticate, Retry-After, Allow) and logging.
            let mut res = d.error_response();
            *res.status_mut() = status;
            return res.set_body(actix_web::body::BoxBody::new(
                serde_json::to_vec(&self.body()).unwrap_or_default(),
            ));
        }
        let mut res = HttpResponse::build(status).json(self.body());
        let headers = res.headers_mut();
        match self {
            Self::MethodNotAllowed(allow) => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            _ if status == StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, super::bearer_challenge(None));
            }
            _ => {}
        }
        res
    }
}
