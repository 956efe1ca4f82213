//! Beacon's error envelope: every failure of `/beacon/v2` as a `beaconErrorResponse` with its
//! status and headers (`Retry-After` for spent budgets and stale consent, `WWW-Authenticate`
//! for refused credentials). The statuses come from gemj-beacon's `BeaconError` constructors;
//! this module only maps the gateway's failures onto them.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use gemj_beacon::{BeaconError, BeaconErrorResponse, EntryType, ErrorKind, ResponseMeta};
use gemj_core::CoreError;
use gemj_core::beacon::{Beacon, BeaconFailure};

use crate::error::ApiError;

/// A Beacon error response.
pub(crate) fn beacon_error(
    beacon: &Beacon,
    entry_type: Option<EntryType>,
    e: &BeaconError,
) -> HttpResponse {
    let settings = beacon.settings();
    let meta = ResponseMeta::for_unparsed(&settings.id, entry_type, &settings.limits());
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .content_type("application/json")
        .json(BeaconErrorResponse::new(meta, e))
}

/// The answer for a failure, in the Beacon error format.
pub(crate) fn failure(
    beacon: &Beacon,
    entry_type: Option<EntryType>,
    f: BeaconFailure,
) -> HttpResponse {
    match f {
        BeaconFailure::Beacon(e, retry) => {
            let mut res = beacon_error(beacon, entry_type, &e);
            if let Some(secs) = retry
                && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
            {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        BeaconFailure::Core(CoreError::NotFound) => beacon_error(
            beacon,
            entry_type,
            &BeaconError::not_found("no such entry for this caller"),
        ),
        BeaconFailure::Core(CoreError::ConsentStale { .. }) => {
            let mut res = beacon_error(
                beacon,
                entry_type,
                &BeaconError::unavailable("the consent view is being refreshed; retry shortly"),
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            res
        }
        BeaconFailure::Core(other) => {
            tracing::error!(message = "Beacon query failed.", error = %other);
            beacon_error(
                beacon,
                entry_type,
                &BeaconError::internal("the gateway could not answer; the failure is logged"),
            )
        }
    }
}

pub(crate) fn auth_failure(
    beacon: &Beacon,
    entry_type: Option<EntryType>,
    e: &ApiError,
) -> HttpResponse {
    match e {
        ApiError::AuthorizationTooLarge => beacon_error(
            beacon,
            entry_type,
            &BeaconError::header_too_large(e.to_string()),
        ),
        ApiError::PassportsTooLarge | ApiError::BodyTooLarge(_) => beacon_error(
            beacon,
            entry_type,
            &BeaconError::payload_too_large(e.to_string()),
        ),
        ApiError::Unauthenticated(code) if crate::error::is_issuer_outage(code) => {
            let unavailable = BeaconError::unavailable(format!(
                "the credential's issuer cannot be reached to verify it ({code}); retry shortly"
            ));
            let mut res = beacon_error(beacon, entry_type, &unavailable);
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            res
        }
        ApiError::Unauthenticated(code) => {
            let mut res = beacon_error(
                beacon,
                entry_type,
                &BeaconError::unauthorized(format!("the credential was not accepted ({code})")),
            );
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                crate::error::bearer_challenge(Some(code)),
            );
            res
        }
        ApiError::BadRequest(m) => beacon_error(
            beacon,
            entry_type,
            &BeaconError::bad_request(ErrorKind::InvalidBody, m.clone()),
        ),
        _ => {
            let mut res = beacon_error(
                beacon,
                entry_type,
                &BeaconError::unauthorized("the credential was not accepted"),
            );
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                crate::error::bearer_challenge(None),
            );
            res
        }
    }
}
