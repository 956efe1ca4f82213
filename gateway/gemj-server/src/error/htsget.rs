//! The htsget error envelope: `{"htsget": {"error": <name>, "message": <text>}}`. gemj-htsget
//! names every protocol error and its status; this module maps the gateway's own failures onto
//! those names, and is the only place an htsget answer's status is chosen.
//!
//! The gateway's failures that are not the caller's (stale consent, an unwritable audit log,
//! the store, an issuer outage, a failed worker task) keep the gateway's problem format, which
//! carries `Retry-After` and the reason.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use gemj_core::CoreError;
use gemj_core::htsget::HtsgetError;
use gemj_htsget::{Error, ErrorKind};

use super::ApiError;

/// The answer for an htsget error.
#[must_use]
pub fn protocol(e: &Error) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .content_type("application/json")
        .json(e.body())
}

/// 405 with `Allow`.
#[must_use]
pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut res = protocol(&Error::new(
        ErrorKind::MethodNotAllowed,
        format!("this resource answers {allow}"),
    ));
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    res
}

/// The answer for a ticket that was not issued.
#[must_use]
pub fn ticket_failure(e: HtsgetError) -> HttpResponse {
    match e {
        HtsgetError::Protocol(e) => protocol(&e),
        HtsgetError::Core(e) => core(e),
    }
}

fn core(e: CoreError) -> HttpResponse {
    let (kind, message) = match e {
        CoreError::NotFound => return protocol(&Error::not_found()),
        CoreError::InvalidInput(m) => (ErrorKind::InvalidInput, m),
        // No credential for data that needs one: 401 with a Bearer challenge, so a client
        // asks for a passport (or stops) instead of retrying a 403.
        CoreError::CredentialRequired => (
            ErrorKind::InvalidAuthentication,
            "Authorization is required to access this resource: send a GA4GH passport as a \
             bearer token."
                .to_owned(),
        ),
        CoreError::Denied(d) if d.unauthenticated => (
            ErrorKind::InvalidAuthentication,
            "The credential was not accepted.".to_owned(),
        ),
        CoreError::Denied(_) => (
            ErrorKind::PermissionDenied,
            "This caller may not read this object.".to_owned(),
        ),
        other => return ApiError::Core(other).error_response(),
    };
    let mut res = protocol(&Error::new(kind, message));
    if kind == ErrorKind::InvalidAuthentication {
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, super::bearer_challenge(None));
    }
    res
}

/// The answer for a request refused before a ticket could be asked for: its credential or
/// its body.
#[must_use]
pub fn refused(e: &ApiError) -> HttpResponse {
    match e {
        ApiError::AuthorizationTooLarge => {
            protocol(&Error::new(ErrorKind::HeaderTooLarge, e.to_string()))
        }
        ApiError::BodyTooLarge(limit) => protocol(&Error::new(
            ErrorKind::PayloadTooLarge,
            format!("the request body must be at most {limit} bytes"),
        )),
        // The issuer's outage, an unwritable audit log: the gateway's problem format.
        ApiError::Unauthenticated(code) if super::is_issuer_outage(code) => e.error_response(),
        ApiError::Unauthenticated(_) | ApiError::Core(CoreError::Denied(_)) => {
            let mut res = protocol(&Error::new(
                ErrorKind::InvalidAuthentication,
                "The credential was not accepted.",
            ));
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                super::bearer_challenge(e.rejected_token()),
            );
            res
        }
        ApiError::Core(_) => e.error_response(),
        ApiError::PassportsTooLarge | ApiError::BadRequest(_) => {
            protocol(&Error::invalid("Malformed credentials or request body."))
        }
    }
}
