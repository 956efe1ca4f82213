//! GA4GH Beacon v2.2.0 under `/beacon/v2`: `/`, `/info`, `/service-info`, `/configuration`,
//! `/map`, `/entry_types`, `/filtering_terms`, and every entry type as a collection
//! (`/individuals`), by id (`/individuals/{id}`) and nested (`/individuals/{id}/g_variants`),
//! GET and POST. Every error is a `beaconErrorResponse` with its status (400 for malformed
//! requests, 401 for credentials that do not verify, 404 for unknown routes, 429 with
//! `Retry-After` for spent budgets, 503 with `Retry-After` for a stale consent view).
//!
//! Credentials: `Authorization: Bearer <passport>`, or on POST `"passports": [...]` in the
//! body (removed before the body is read as a `beaconRequestBody`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use gemj_beacon::{BeaconError, BeaconQuery, EntryType, ErrorKind, SPEC_NESTED_ROUTES, TermsPage};
use gemj_core::Principal;
use gemj_core::beacon::{Beacon, BeaconRequest, Scope};
use gemj_core::services::ServiceRegistry;

use super::{BaseUrl, Caller, context};
use crate::error::ApiError;
use crate::error::beacon::{auth_failure, beacon_error, failure};

/// The largest POST body accepted.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// The route prefix.
pub const PREFIX: &str = "/beacon/v2";

/// Registers the routes, in one scope under [`PREFIX`]: a request elsewhere passes it by a
/// prefix compare, not by trying each of its patterns.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut scope = web::scope(PREFIX);
    let informational = [
        ("", Doc::Info),
        ("/", Doc::Info),
        ("/info", Doc::Info),
        ("/service-info", Doc::ServiceInfo),
        ("/configuration", Doc::Configuration),
        ("/map", Doc::Map),
        ("/entry_types", Doc::EntryTypes),
    ];
    for (path, which) in informational {
        scope = scope.service(
            web::resource(path)
                .route(web::get().to(
                    move |beacon: web::Data<Beacon>,
                          registry: web::Data<ServiceRegistry>,
                          base: web::Data<BaseUrl>| {
                        informational_doc(beacon, registry, base, which)
                    },
                ))
                .default_service(web::to(|beacon: web::Data<Beacon>| {
                    method_not_allowed(beacon, "GET")
                })),
        );
    }
    // The spec's filtering-term endpoints, before `/{entry}/{id}` would take
    // `filtering_terms` for an id.
    for path in [
        "/filtering_terms",
        "/individuals/filtering_terms",
        "/{entry}/{id}/filtering_terms",
    ] {
        scope = scope.service(
            get_and_post(path)
                .route(web::get().to(filtering_terms))
                .route(web::post().to(filtering_terms_post)),
        );
    }
    for path in ["/{entry}", "/{entry}/{id}", "/{entry}/{id}/{nested}"] {
        scope = scope.service(
            get_and_post(path)
                .route(web::get().to(get_entries))
                .route(web::post().to(post_entries)),
        );
    }
    cfg.service(scope);
}

/// A resource of the scope whose methods other than GET and POST answer Beacon's 405.
fn get_and_post(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|beacon: web::Data<Beacon>| {
        method_not_allowed(beacon, "GET, POST")
    }))
}

/// Registers Beacon in the service registry.
pub fn mount(registry: &mut ServiceRegistry) {
    registry.mount(
        "beacon",
        "GeMJ Beacon",
        service_type(),
        PREFIX,
        "Beacon v2.2.0: every entry type, filters with ICD-10 and HPO hierarchies, granularity by verified passport, and privacy defenses.",
    );
}

fn service_type() -> gemj_service_info::ServiceType {
    gemj_service_info::ServiceType {
        group: "org.ga4gh".to_owned(),
        artifact: "beacon".to_owned(),
        version: gemj_beacon::API_VERSION.to_owned(),
    }
}

#[derive(Debug, Clone, Copy)]
enum Doc {
    Info,
    ServiceInfo,
    Configuration,
    Map,
    EntryTypes,
}

fn base_of(base: &BaseUrl) -> String {
    format!("{}{PREFIX}", base.0.trim_end_matches('/'))
}

async fn informational_doc(
    beacon: web::Data<Beacon>,
    registry: web::Data<ServiceRegistry>,
    base: web::Data<BaseUrl>,
    which: Doc,
) -> HttpResponse {
    let root = base_of(&base);
    let mut ok = HttpResponse::Ok();
    match which {
        Doc::Info => ok.json(beacon.info(&root)),
        Doc::ServiceInfo => {
            let mut s = registry.gateway_service();
            s.id = beacon.settings().id.clone();
            s.name = beacon.settings().name.clone();
            s.r#type = service_type();
            s.description = Some(
                "Beacon v2.2.0 over the GeMJ cohort: booleans for anyone, counts for registered researchers, records for approved ones."
                    .to_owned(),
            );
            ok.json(s)
        }
        Doc::Configuration => ok.json(beacon.configuration(&root)),
        Doc::Map => ok.json(beacon.map(&root)),
        Doc::EntryTypes => ok.json(beacon.entry_types(&root)),
    }
}

async fn method_not_allowed(beacon: web::Data<Beacon>, allow: &'static str) -> HttpResponse {
    let mut res = beacon_error(&beacon, None, &BeaconError::method_not_allowed(allow));
    res.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    res
}

/// The route's entry type and scope, or the 404 for a route Beacon does not define.
fn route(
    entry: &str,
    id: Option<&str>,
    nested: Option<&str>,
) -> Result<(EntryType, Option<Scope>), BeaconError> {
    let unknown = || BeaconError::not_found(format!("no such Beacon endpoint under {PREFIX}"));
    let first = EntryType::from_path_segment(entry).ok_or_else(unknown)?;
    match (id, nested) {
        (None, _) => Ok((first, None)),
        (Some(id), None) => Ok((
            first,
            Some(Scope {
                entry_type: first,
                id: id.to_owned(),
            }),
        )),
        (Some(id), Some(nested)) => {
            let to = EntryType::from_path_segment(nested).ok_or_else(unknown)?;
            if !SPEC_NESTED_ROUTES
                .iter()
                .any(|r| r.from == first && r.to == to)
            {
                return Err(unknown());
            }
            Ok((
                to,
                Some(Scope {
                    entry_type: first,
                    id: id.to_owned(),
                }),
            ))
        }
    }
}

fn path_parts(req: &HttpRequest) -> (String, Option<String>, Option<String>) {
    let info = req.match_info();
    (
        info.get("entry").unwrap_or_default().to_owned(),
        info.get("id").map(str::to_owned),
        info.get("nested").map(str::to_owned),
    )
}

pub(super) fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, BeaconError> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()).map_err(|_| {
        BeaconError::bad_request(
            ErrorKind::InvalidValue,
            "the query string is not URL-encoded",
        )
    })
}

async fn get_entries(
    req: HttpRequest,
    beacon: web::Data<Beacon>,
    caller: Result<Caller, ApiError>,
) -> HttpResponse {
    let (entry, id, nested) = path_parts(&req);
    let (entry_type, scope) = match route(&entry, id.as_deref(), nested.as_deref()) {
        Ok(r) => r,
        Err(e) => return beacon_error(&beacon, None, &e),
    };
    let principal = match caller {
        Ok(c) => c.0,
        Err(e) => return auth_failure(&beacon, Some(entry_type), &e),
    };
    let limits = beacon.settings().limits();
    let query = match query_pairs(&req)
        .and_then(|pairs| BeaconQuery::from_get(&pairs, entry_type, &limits))
    {
        Ok(q) => q,
        Err(e) => return beacon_error(&beacon, Some(entry_type), &e),
    };
    answer(&req, &beacon, principal, query, scope).await
}

/// The official `beaconRequestBody.json`, compiled once from the shipped copy.
fn request_schema() -> Result<&'static gemj_schemas::Validator, BeaconError> {
    static VALIDATOR: std::sync::OnceLock<Option<gemj_schemas::Validator>> =
        std::sync::OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let doc = format!(
                "{}/requests/beaconRequestBody.json",
                gemj_schemas::docs::BEACON_FRAMEWORK
            );
            gemj_schemas::SchemaSet::embedded()
                .validator(&doc, "")
                .inspect_err(|e| {
                    tracing::error!(message = "beaconRequestBody.json does not compile.", error = %e);
                })
                .ok()
        })
        .as_ref()
        .ok_or_else(|| BeaconError::internal("the request schema is unavailable"))
}

/// A POST body follows the official `beaconRequestBody.json` (`meta` with `apiVersion`, the
/// `query` members' types), with one extension: `query.requestParameters` may also be the flat
/// form (`{"referenceName": ..., "start": [...]}`) that Beacon clients widely send, which the
/// query parser checks member by member. Violations are named by schema place and keyword only.
fn conforms(body: &serde_json::Value) -> Result<(), BeaconError> {
    let flat = body
        .pointer("/query/requestParameters")
        .and_then(serde_json::Value::as_object)
        .is_some_and(|p| p.iter().any(|(k, v)| k != "$schema" && !v.is_object()));
    let checked = if flat {
        let mut copy = body.clone();
        if let Some(query) = copy
            .get_mut("query")
            .and_then(serde_json::Value::as_object_mut)
        {
            query.remove("requestParameters");
        }
        std::borrow::Cow::Owned(copy)
    } else {
        std::borrow::Cow::Borrowed(body)
    };
    request_schema()?.violations(&checked).map_err(|found| {
        BeaconError::bad_request(
            ErrorKind::InvalidBody,
            format!(
                "the request body does not follow beaconRequestBody.json: {}",
                found.join("; ")
            ),
        )
    })
}

/// Reads a POST body: JSON object, `application/json` (or none given), passports removed.
pub(super) async fn post_body(
    req: &HttpRequest,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
) -> Result<(Principal, serde_json::Value), Result<BeaconError, ApiError>> {
    let body = super::read_body(req, payload, MAX_BODY_BYTES)
        .await
        .map_err(Err)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" && !essence.ends_with("+json") {
        return Err(Ok(BeaconError::bad_request(
            ErrorKind::InvalidBody,
            format!("a Beacon request body is application/json, not `{essence}`"),
        )));
    }
    let principal = caller.map_err(Err)?.0;
    let mut value: serde_json::Value = if body.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            Ok(BeaconError::bad_request(
                ErrorKind::InvalidBody,
                format!("the request body is not JSON: {e}"),
            ))
        })?
    };
    let principal = super::body_principal(req, principal, &mut value)
        .await
        .map_err(Err)?;
    conforms(&value).map_err(Ok)?;
    Ok((principal, value))
}

async fn post_entries(
    req: HttpRequest,
    beacon: web::Data<Beacon>,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
) -> HttpResponse {
    let (entry, id, nested) = path_parts(&req);
    let (entry_type, scope) = match route(&entry, id.as_deref(), nested.as_deref()) {
        Ok(r) => r,
        Err(e) => return beacon_error(&beacon, None, &e),
    };
    let (principal, value) = match post_body(&req, caller, payload).await {
        Ok(v) => v,
        Err(Ok(e)) => return beacon_error(&beacon, Some(entry_type), &e),
        Err(Err(e)) => return auth_failure(&beacon, Some(entry_type), &e),
    };
    let limits = beacon.settings().limits();
    let query = match BeaconQuery::from_post(&value, entry_type, &limits) {
        Ok(q) => q,
        Err(e) => return beacon_error(&beacon, Some(entry_type), &e),
    };
    answer(&req, &beacon, principal, query, scope).await
}

async fn answer(
    req: &HttpRequest,
    beacon: &Beacon,
    principal: Principal,
    query: BeaconQuery,
    scope: Option<Scope>,
) -> HttpResponse {
    let entry_type = query.entry_type;
    let ctx = context(req, "beacon");
    let request = BeaconRequest { query, scope };
    match beacon.query(&ctx, &principal, request).await {
        Ok(value) => HttpResponse::Ok().json(value),
        Err(f) => failure(beacon, Some(entry_type), f),
    }
}

/// The collection a filtering-terms route names: `/datasets/{id}/filtering_terms` and
/// `/cohorts/{id}/filtering_terms` (the spec's two), or none.
fn terms_scope(req: &HttpRequest) -> Result<Option<Scope>, BeaconError> {
    let (entry, id, _) = path_parts(req);
    let Some(id) = id else {
        return Ok(None);
    };
    match EntryType::from_path_segment(&entry) {
        Some(entry_type @ (EntryType::Dataset | EntryType::Cohort)) => {
            Ok(Some(Scope { entry_type, id }))
        }
        _ => Err(BeaconError::not_found(format!(
            "no such Beacon endpoint under {PREFIX}"
        ))),
    }
}

async fn filtering_terms(
    req: HttpRequest,
    beacon: web::Data<Beacon>,
    caller: Result<Caller, ApiError>,
) -> HttpResponse {
    let scope = match terms_scope(&req) {
        Ok(scope) => scope,
        Err(e) => return beacon_error(&beacon, None, &e),
    };
    let principal = match caller {
        Ok(c) => c.0,
        Err(e) => return auth_failure(&beacon, None, &e),
    };
    let page = match query_pairs(&req).and_then(|pairs| TermsPage::from_get(&pairs)) {
        Ok(page) => page,
        Err(e) => return beacon_error(&beacon, None, &e),
    };
    terms(&req, &beacon, principal, scope.as_ref(), page).await
}

async fn filtering_terms_post(
    req: HttpRequest,
    beacon: web::Data<Beacon>,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
) -> HttpResponse {
    let scope = match terms_scope(&req) {
        Ok(scope) => scope,
        Err(e) => return beacon_error(&beacon, None, &e),
    };
    match post_body(&req, caller, payload).await {
        Ok((principal, body)) => match TermsPage::from_post(&body) {
            Ok(page) => terms(&req, &beacon, principal, scope.as_ref(), page).await,
            Err(e) => beacon_error(&beacon, None, &e),
        },
        Err(Ok(e)) => beacon_error(&beacon, None, &e),
        Err(Err(e)) => auth_failure(&beacon, None, &e),
    }
}

async fn terms(
    req: &HttpRequest,
    beacon: &Beacon,
    principal: Principal,
    scope: Option<&Scope>,
    page: TermsPage,
) -> HttpResponse {
    let ctx = context(req, "beacon");
    match beacon.filtering_terms(&ctx, &principal, scope).await {
        Ok(mut v) => {
            v.response.keep_page(page);
            HttpResponse::Ok().json(v)
        }
        Err(f) => failure(beacon, None, f),
    }
}
