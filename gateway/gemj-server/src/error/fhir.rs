//! FHIR's error envelope: every failure under `/fhir` as an `OperationOutcome`
//! (`application/fhir+json`), never problem details. The statuses of the FHIR layer's own
//! errors come from `gemj_fhir::FhirError`; this module maps the gateway's failures (access,
//! credentials, consent, the store) onto it, with `WWW-Authenticate` on 401 and `Retry-After`
//! on 503.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use gemj_core::CoreError;
use gemj_core::fhir::FhirFailure;
use gemj_fhir::negotiate::FHIR_JSON;
use gemj_fhir::{FhirError, Issue, IssueCode};

use crate::error::ApiError;

/// The `OperationOutcome` answer of `e`.
pub(crate) fn outcome(e: &FhirError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    if status.is_server_error() {
        tracing::error!(message = "FHIR request failed.", %status);
    }
    HttpResponse::build(status)
        .content_type(FHIR_JSON)
        .json(e.outcome())
}

fn with_header(
    mut res: HttpResponse,
    name: header::HeaderName,
    value: header::HeaderValue,
) -> HttpResponse {
    res.headers_mut().insert(name, value);
    res
}

/// The answer for a failure of the FHIR service.
pub(crate) fn failure(f: FhirFailure) -> HttpResponse {
    match f {
        FhirFailure::Fhir(e) => outcome(&e),
        FhirFailure::Core(e) => core(&e),
    }
}

/// The answer for a core failure.
pub(crate) fn core(e: &CoreError) -> HttpResponse {
    let error = |status: u16, code: IssueCode, diagnostics: String| {
        FhirError::new(status, Issue::error(code, diagnostics))
    };
    match e {
        CoreError::NotFound => outcome(&FhirError::not_found("no such resource for this caller")),
        CoreError::CredentialRequired => with_header(
            outcome(&error(401, IssueCode::Login, "a credential is required: an institution token, a SMART Backend Services access token or a GA4GH Passport (Authorization: Bearer)".to_owned())),
            header::WWW_AUTHENTICATE,
            crate::error::bearer_challenge(None),
        ),
        CoreError::Denied(d) if d.unauthenticated => with_header(
            outcome(&error(401, IssueCode::Login, format!("access denied ({})", d.code()))),
            header::WWW_AUTHENTICATE,
            crate::error::bearer_challenge(None),
        ),
        CoreError::Denied(d) => outcome(&error(403, IssueCode::Forbidden, format!("access denied ({})", d.code()))),
        CoreError::ConsentStale { .. } => with_header(
            outcome(&error(503, IssueCode::Transient, "this instance cannot confirm current consent; retry shortly (consent_view_stale)".to_owned())),
            header::RETRY_AFTER,
            header::HeaderValue::from_static("5"),
        ),
        CoreError::InvalidInput(m) => outcome(&error(400, IssueCode::Invalid, m.clone())),
        CoreError::Conflict(m) => outcome(&error(409, IssueCode::Duplicate, m.clone())),
        CoreError::UrlRejected(code) => outcome(&error(403, IssueCode::Security, format!("refused ({code})"))),
        CoreError::Forbidden(m) => outcome(&error(403, IssueCode::Forbidden, m.clone())),
        CoreError::Task { cancelled: false } => outcome(&error(500, IssueCode::Exception, "internal error; the failure is logged".to_owned())),
        CoreError::AuditUnavailable | CoreError::Store(_) | CoreError::Objects(_) | CoreError::Task { .. } => {
            tracing::error!(message = "FHIR request failed.", error = %e);
            with_header(
                outcome(&error(503, IssueCode::Transient, "the gateway cannot answer now (store or audit unavailable); retry shortly".to_owned())),
                header::RETRY_AFTER,
                header::HeaderValue::from_static("5"),
            )
        }
    }
}

/// The answer for a refused credential or body (before any decision).
pub(crate) fn api(e: &ApiError) -> HttpResponse {
    match e {
        ApiError::Core(c) => core(c),
        ApiError::Unauthenticated(code) if crate::error::is_issuer_outage(code) => with_header(
            outcome(&FhirError::new(
                503,
                Issue::error(
                    IssueCode::Transient,
                    format!(
                        "the credential's issuer cannot be reached to verify it ({code}); retry shortly"
                    ),
                ),
            )),
            header::RETRY_AFTER,
            header::HeaderValue::from_static("5"),
        ),
        ApiError::Unauthenticated(code) => with_header(
            outcome(&FhirError::new(
                401,
                Issue::error(
                    IssueCode::Security,
                    format!("the credential was not accepted ({code})"),
                ),
            )),
            header::WWW_AUTHENTICATE,
            crate::error::bearer_challenge(Some(code)),
        ),
        ApiError::BadRequest(m) => outcome(&FhirError::new(
            400,
            Issue::error(IssueCode::Invalid, m.clone()),
        )),
        ApiError::AuthorizationTooLarge => outcome(&FhirError::new(
            431,
            Issue::error(IssueCode::TooCostly, e.to_string()),
        )),
        ApiError::PassportsTooLarge | ApiError::BodyTooLarge(_) => outcome(&FhirError::new(
            413,
            Issue::error(IssueCode::TooCostly, e.to_string()),
        )),
    }
}
