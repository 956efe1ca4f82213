//! The Beacon network under `/beacon-network/v2` (when `beacon.network.members` is set):
//! `/`, `/info`, `/map`, `/filtering_terms`, and each record entry type's collection query
//! (`/individuals`, `/g_variants`, `/biosamples`, `/runs`, `/analyses`), GET and POST, asked of
//! every member in parallel. Queries are parsed and checked here with this gateway's own
//! limits before any member is asked; errors are Beacon errors.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use gemj_beacon::{BeaconError, BeaconQuery, EntryType};
use gemj_core::Principal;
use gemj_core::beacon::Beacon;
use gemj_core::beacon::network::{BeaconNetwork, MemberRequest};

use super::beacon::{post_body, query_pairs};
use super::{BaseUrl, Caller, context};
use crate::error::ApiError;
use crate::error::beacon::{auth_failure, beacon_error, failure};

/// The route prefix.
pub const PREFIX: &str = "/beacon-network/v2";

/// The `iss` path of the passports the network gives its members (after the public URL).
pub const ISSUER_PATH: &str = "/beacon-network";

/// Where the network publishes the key its members verify those passports with.
pub const JWKS_PATH: &str = "/beacon-network/.well-known/jwks.json";

type Network = Option<web::Data<BeaconNetwork>>;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for (path, which) in [
        ("", Doc::Info),
        ("/", Doc::Info),
        ("/info", Doc::Info),
        ("/map", Doc::Map),
    ] {
        cfg.service(
            web::resource(format!("{PREFIX}{path}")).route(web::get().to(
                move |req, beacon, network, base, caller| {
                    informational(req, beacon, network, base, caller, which)
                },
            )),
        );
    }
    cfg.service(web::resource(JWKS_PATH).route(web::get().to(jwks)));
    cfg.service(
        web::resource(format!("{PREFIX}/filtering_terms"))
            .route(web::get().to(filtering_terms))
            .route(web::post().to(filtering_terms)),
    );
    cfg.service(
        web::resource(format!("{PREFIX}/{{entry}}"))
            .route(web::get().to(entries))
            .route(web::post().to(entries)),
    );
}

/// The network's public key set: members verify the passports the network gives them with it
/// (404, a Beacon error, without a network).
#[utoipa::path(get, path = "/beacon-network/.well-known/jwks.json", tag = "beacon-network",
    responses((status = 200, description = "The JWK Set (RFC 7517) of the key that signs the \
        passports members get."), (status = 404, description = "No Beacon network is configured \
        (a Beacon error response).")))]
pub async fn jwks(network: Network, beacon: web::Data<Beacon>) -> HttpResponse {
    match network {
        Some(n) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "max-age=300"))
            .json(n.issuer().jwks()),
        None => beacon_error(&beacon, None, &not_configured()),
    }
}

fn not_configured() -> BeaconError {
    BeaconError::not_found("no Beacon network is configured on this gateway")
}

/// The entry type of `/{entry}`: the record types only (collections are not merged).
fn entry_type(req: &HttpRequest) -> Result<EntryType, BeaconError> {
    let segment = req.match_info().get("entry").unwrap_or_default();
    EntryType::from_path_segment(segment)
        .filter(|t| !matches!(t, EntryType::Dataset | EntryType::Cohort))
        .ok_or_else(|| {
            BeaconError::not_found(format!(
                "the Beacon network answers /individuals, /g_variants, /biosamples, /runs and /analyses under {PREFIX}"
            ))
        })
}

/// `/info` or `/map`: the network's own document, built from this gateway's Beacon at the
/// network's root and completed from the members'.
#[derive(Debug, Clone, Copy)]
enum Doc {
    Info,
    Map,
}

async fn informational(
    req: HttpRequest,
    beacon: web::Data<Beacon>,
    network: Network,
    base: web::Data<BaseUrl>,
    caller: Result<Caller, ApiError>,
    which: Doc,
) -> HttpResponse {
    let Some(network) = network else {
        return beacon_error(&beacon, None, &not_configured());
    };
    let principal = match caller {
        Ok(c) => c.0,
        Err(e) => return auth_failure(&beacon, None, &e),
    };
    let root = format!("{}{PREFIX}", base.0.trim_end_matches('/'));
    let ctx = context(&req, "beacon-network");
    let answer = match which {
        Doc::Info => {
            let local = serde_json::to_value(beacon.info(&root)).unwrap_or_default();
            network.info(&ctx, &principal, local).await
        }
        Doc::Map => {
            let local = serde_json::to_value(beacon.map(&root)).unwrap_or_default();
            network.map(&ctx, &principal, local).await
        }
    };
    match answer {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(f) => failure(&beacon, None, f),
    }
}

/// The caller, and for a POST its body (passports taken out of it), or the error response.
async fn caller_and_body(
    req: &HttpRequest,
    beacon: &Beacon,
    entry: Option<EntryType>,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
) -> Result<(Principal, Option<serde_json::Value>), HttpResponse> {
    if req.method() == actix_web::http::Method::POST {
        match post_body(req, caller, payload).await {
            Ok((p, body)) => Ok((p, Some(body))),
            Err(Ok(e)) => Err(beacon_error(beacon, entry, &e)),
            Err(Err(e)) => Err(auth_failure(beacon, entry, &e)),
        }
    } else {
        match caller {
            Ok(c) => Ok((c.0, None)),
            Err(e) => Err(auth_failure(beacon, entry, &e)),
        }
    }
}

async fn filtering_terms(
    req: HttpRequest,
    beacon: web::Data<Beacon>,
    network: Network,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
) -> HttpResponse {
    let Some(network) = network else {
        return beacon_error(&beacon, None, &not_configured());
    };
    let principal = match caller_and_body(&req, &beacon, None, caller, payload).await {
        Ok((p, _)) => p,
        Err(response) => return response,
    };
    let ctx = context(&req, "beacon-network");
    match network.filtering_terms(&ctx, &principal).await {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(f) => failure(&beacon, None, f),
    }
}

/// A query of one entry type, GET or POST.
async fn entries(
    req: HttpRequest,
    beacon: web::Data<Beacon>,
    network: Network,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
) -> HttpResponse {
    let Some(network) = network else {
        return beacon_error(&beacon, None, &not_configured());
    };
    let entry = match entry_type(&req) {
        Ok(t) => t,
        Err(e) => return beacon_error(&beacon, None, &e),
    };
    let (principal, body) = match caller_and_body(&req, &beacon, Some(entry), caller, payload).await
    {
        Ok(v) => v,
        Err(response) => return response,
    };
    let limits = beacon.settings().limits();
    let parsed = match body {
        Some(body) => {
            BeaconQuery::from_post(&body, entry, &limits).map(|q| (q, MemberRequest::Post(body)))
        }
        None => query_pairs(&req).and_then(|pairs| {
            BeaconQuery::from_get(&pairs, entry, &limits).map(|q| (q, MemberRequest::Get(pairs)))
        }),
    };
    let (query, request) = match parsed {
        Ok(v) => v,
        Err(e) => return beacon_error(&beacon, Some(entry), &e),
    };
    let ctx = context(&req, "beacon-network");
    match network.query(&ctx, &principal, &query, request).await {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(f) => failure(&beacon, Some(entry), f),
    }
}
