//! Data Connect's error envelope: `{"errors": [{"title", "detail"}]}` with the status, for every
//! failure under `/data-connect` (`Retry-After` for spent budgets and stale consent,
//! `WWW-Authenticate` for refused credentials). Bad requests carry no `source` (the
//! specification reserves it for failures of a backing table).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError as _};
use gemj_core::CoreError;
use gemj_core::beacon::BeaconFailure;
use gemj_core::data_connect::DataConnectFailure;
use gemj_data_connect::ErrorResponse;
use gemj_store::scratch::ScratchError;

use crate::error::ApiError;

/// An error response.
pub(crate) fn dc_error(status: StatusCode, title: &str, detail: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .json(ErrorResponse::new(title, detail))
}

fn with_retry(mut res: HttpResponse, secs: u64) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// A failed search.
pub(crate) fn failure(f: DataConnectFailure) -> HttpResponse {
    match f {
        DataConnectFailure::Sql(e) => dc_error(StatusCode::BAD_REQUEST, e.title(), e.to_string()),
        DataConnectFailure::Parameter(i) => dc_error(
            StatusCode::BAD_REQUEST,
            "Invalid parameter",
            format!("parameter {i} is not a string, number, boolean or null"),
        ),
        DataConnectFailure::Query(e) => match e {
            ScratchError::Query(m) => dc_error(StatusCode::BAD_REQUEST, "Invalid query", m),
            ScratchError::Deadline(_) | ScratchError::TooManyRows(_) => dc_error(
                StatusCode::BAD_REQUEST,
                "Query too large",
                format!("{e}: narrow it (filters, GROUP BY, LIMIT)"),
            ),
            ScratchError::Busy => with_retry(
                dc_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service unavailable",
                    e.to_string(),
                ),
                1,
            ),
            ScratchError::BadTable(_) | ScratchError::Engine(_) => {
                tracing::error!(message = "Data Connect search failed.", error = %e);
                dc_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                    "the gateway could not run the query; the failure is logged",
                )
            }
        },
        DataConnectFailure::Beacon(BeaconFailure::Beacon(e, retry)) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            let title = status.canonical_reason().unwrap_or("Error");
            let res = dc_error(status, title, e.message);
            match retry {
                Some(secs) => with_retry(res, secs),
                None => res,
            }
        }
        DataConnectFailure::Beacon(BeaconFailure::Core(e)) => core(&e),
    }
}

fn core(e: &CoreError) -> HttpResponse {
    match e {
        CoreError::ConsentStale { .. } => with_retry(
            dc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service unavailable",
                "the consent view is being refreshed; retry shortly",
            ),
            5,
        ),
        other => {
            tracing::error!(message = "Data Connect search failed.", error = %other);
            dc_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
                "the gateway could not answer; the failure is logged",
            )
        }
    }
}

/// A refused credential or body, with the status every API gives it.
pub(crate) fn api_failure(e: &ApiError) -> HttpResponse {
    let status = e.status_code();
    if let ApiError::Core(c) = e
        && status.is_server_error()
    {
        return core(c);
    }
    let title = status.canonical_reason().unwrap_or("Error");
    let mut res = dc_error(status, title, e.to_string());
    match e {
        ApiError::Unauthenticated(code) if crate::error::is_issuer_outage(code) => {
            res = with_retry(res, 5);
        }
        ApiError::Unauthenticated(code) => {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                crate::error::bearer_challenge(Some(code)),
            );
        }
        _ if status == StatusCode::UNAUTHORIZED => {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                crate::error::bearer_challenge(None),
            );
        }
        _ => {}
    }
    res
}
