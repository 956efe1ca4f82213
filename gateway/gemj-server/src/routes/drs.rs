//! GA4GH DRS 1.5 under `/ga4gh/drs/v1`: service-info, objects and bundles (GET, or POST with
//! passports in the body), access URLs, authorizations (OPTIONS) and the bulk endpoints. Every
//! answer comes from [`gemj_core::drs`]; errors are DRS's own `{"msg", "status_code"}`
//! ([`DrsError`]), also for malformed bodies, unknown paths under the prefix and wrong methods.
//!
//! Bodies are read here (not by actix's JSON extractor) so that every failure answers in the
//! DRS format: a body that is not JSON is a 415, one over `server.max_body_bytes` a 413, bad
//! JSON a 400. A bulk request may name at most `drs.max_bulk_request_length` ids (1,000 by
//! default; `maxBulkRequestLength` in service-info); more is a 413.

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use gemj_core::drs::{self, DrsService, DrsSettings};
use gemj_core::services::ServiceRegistry;
use gemj_core::{CoreError, Principal};
use serde_json::{Value, json};

use super::{Caller, context};
use crate::config::Config;
use crate::error::ApiError;
use crate::error::drs::DrsError;

/// Where DRS is mounted.
pub const PREFIX: &str = "/ga4gh/drs/v1";

/// The audit name of the API.
const API: &str = "drs";

/// What the DRS handlers need besides the service.
#[derive(Debug, Clone)]
pub struct DrsState {
    /// Largest accepted request body, in bytes.
    pub max_body: usize,
}

impl DrsState {
    /// The service's settings for a gateway at `base_url`: visas are trusted from the
    /// configured trusted issuers (and the demo broker, in demo mode); bearer tokens from those
    /// and the configured passport brokers.
    #[must_use]
    pub fn settings(config: &Config, base_url: &str, demo_issuer: Option<&str>) -> DrsSettings {
        let mut passport: Vec<String> = config
            .auth
            .trusted_issuers
            .iter()
            .map(|t| t.issuer.clone())
            .chain(demo_issuer.map(str::to_owned))
            .collect();
        passport.dedup();
        let mut bearer = passport.clone();
        for b in &config.auth.brokers {
            if !bearer.contains(&b.issuer) {
                bearer.push(b.issuer.clone());
            }
        }
        DrsSettings::new(
            base_url,
            &config.drs.compact_id_prefix,
            config.drs.max_bulk_request_length,
            passport,
            bearer,
        )
        .with_presigned_urls(config.drs.presigned_urls)
    }
}

/// Registers DRS in the service registry (`/services`).
pub fn mount(registry: &mut ServiceRegistry, config: &Config) {
    registry.mount(
        "drs",
        "DRS",
        gemj_service_info::ServiceType::ga4gh("drs", drs::DRS_VERSION),
        PREFIX,
        &format!(
            "GA4GH DRS {}: every stored genome file and index as a DRS object; bundles per \
             specimen, participant and dataset. Compact identifiers `{}:<id>` are accepted \
             wherever an id is; bulk requests name at most {} ids.",
            drs::DRS_VERSION,
            config.drs.compact_id_prefix,
            config.drs.max_bulk_request_length
        ),
    );
}

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PREFIX)
            .service(resource("/service-info", "GET").route(web::get().to(service_info)))
            .service(
                resource("/objects", "POST, OPTIONS")
                    .route(web::post().to(bulk_objects))
                    .route(web::method(Method::OPTIONS).to(bulk_options)),
            )
            .service(resource("/objects/access", "POST").route(web::post().to(bulk_access)))
            .service(
                resource("/objects/{object_id}", "GET, POST, OPTIONS")
                    .route(web::get().to(object_get))
                    .route(web::post().to(object_post))
                    .route(web::method(Method::OPTIONS).to(object_options)),
            )
            .service(
                resource("/objects/{object_id}/access/{access_id}", "GET, POST")
                    .route(web::get().to(access_get))
                    .route(web::post().to(access_post)),
            )
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(DrsError::NoSuchEndpoint)
            })),
    );
}

/// A resource whose other methods answer a DRS 405 with `Allow`.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(DrsError::MethodNotAllowed(allow))
    }))
}

/// The caller of the `Authorization` header (anonymous without one; 401 for one that does not
/// verify).
async fn caller(req: &HttpRequest) -> Result<Principal, DrsError> {
    Ok(Caller::from_request(req, &mut Payload::None).await?.0)
}

/// The JSON object of a request body (`{}` when empty).
async fn json_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Value, DrsError> {
    let bytes = super::read_body(req, payload, limit).await?;
    let json_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json")
                || essence.to_ascii_lowercase().ends_with("+json")
        });
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return if json_type == Some(false) {
            Err(DrsError::UnsupportedMediaType)
        } else {
            Ok(Value::Object(serde_json::Map::new()))
        };
    }
    if json_type != Some(true) {
        return Err(DrsError::UnsupportedMediaType);
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(bad_request("The request body must be a JSON object.")),
        Err(e) => Err(bad_request(&format!(
            "The request body is not valid JSON: {e}."
        ))),
    }
}

fn bad_request(msg: &str) -> DrsError {
    DrsError::Api(ApiError::BadRequest(msg.to_owned()))
}

/// Parses what is left of a body (after its passports) into `T`; unknown members are errors.
fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, DrsError> {
    serde_json::from_value(body)
        .map_err(|e| bad_request(&format!("The request body does not fit: {e}.")))
}

/// `?expand=true|false`.
fn expand_query(req: &HttpRequest) -> Result<Option<bool>, DrsError> {
    gemj_drs::parse_expand(req.query_string()).map_err(bad_request)
}

fn object_id(req: &HttpRequest) -> String {
    req.match_info().query("object_id").to_owned()
}

fn ok(value: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().json(value)
}

/// DRS service-info: the GA4GH `Service` of the mounted DRS, with the bulk limit and the
/// service's size (DRS 1.5 `drs` statistics: blobs and their bytes).
pub async fn service_info(
    service: web::Data<DrsService>,
    registry: web::Data<ServiceRegistry>,
) -> Result<HttpResponse, DrsError> {
    let (count, bytes) = service.stats().await?;
    let mounted = registry
        .services()
        .iter()
        .find(|s| s.service.r#type.artifact == "drs")
        .map(|s| s.service.clone())
        .ok_or(DrsError::NoSuchEndpoint)?;
    let mut body = serde_json::to_value(mounted).unwrap_or_default();
    let max = service.settings().max_bulk;
    if let Some(o) = body.as_object_mut() {
        o.insert("maxBulkRequestLength".to_owned(), json!(max));
        o.insert(
            "drs".to_owned(),
            json!({"maxBulkRequestLength": max, "objectCount": count, "totalObjectSize": bytes}),
        );
    }
    Ok(ok(&body))
}

/// `POST /objects/{id}` body.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectBody {
    expand: Option<bool>,
}

/// `POST .../access/{access_id}` body: passports only.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

async fn object_get(
    req: HttpRequest,
    service: web::Data<DrsService>,
) -> Result<HttpResponse, DrsError> {
    let principal = caller(&req).await?;
    let expand = expand_query(&req)?.unwrap_or(false);
    let object = service
        .get_object(&context(&req, API), &principal, &object_id(&req), expand)
        .await?;
    Ok(ok(&object))
}

async fn object_post(
    req: HttpRequest,
    service: web::Data<DrsService>,
    state: web::Data<DrsState>,
    payload: web::Payload,
) -> Result<HttpResponse, DrsError> {
    let mut body = json_body(&req, payload, state.max_body).await?;
    let expand_in_query = expand_query(&req)?;
    let principal = super::body_principal(&req, caller(&req).await?, &mut body).await?;
    let b: ObjectBody = parse(body)?;
    let object = service
        .get_object(
            &context(&req, API),
            &principal,
            &object_id(&req),
            b.expand.or(expand_in_query).unwrap_or(false),
        )
        .await?;
    Ok(ok(&object))
}

async fn object_options(
    req: HttpRequest,
    service: web::Data<DrsService>,
) -> Result<HttpResponse, DrsError> {
    let mut answers = service
        .authorizations(&context(&req, API), &[object_id(&req)])
        .await?;
    let auth = answers.pop().unwrap_or(Err(CoreError::NotFound))?;
    Ok(ok(&auth))
}

async fn access(
    req: &HttpRequest,
    service: &DrsService,
    principal: &Principal,
) -> Result<HttpResponse, DrsError> {
    let url = service
        .access_url(
            &context(req, API),
            principal,
            &object_id(req),
            req.match_info().query("access_id"),
        )
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(url))
}

async fn access_get(
    req: HttpRequest,
    service: web::Data<DrsService>,
) -> Result<HttpResponse, DrsError> {
    let principal = caller(&req).await?;
    access(&req, &service, &principal).await
}

async fn access_post(
    req: HttpRequest,
    service: web::Data<DrsService>,
    state: web::Data<DrsState>,
    payload: web::Payload,
) -> Result<HttpResponse, DrsError> {
    let mut body = json_body(&req, payload, state.max_body).await?;
    let principal = super::body_principal(&req, caller(&req).await?, &mut body).await?;
    let _: Empty = parse(body)?;
    access(&req, &service, &principal).await
}

fn check_bulk(named: usize, max: usize) -> Result<(), DrsError> {
    gemj_drs::check_bulk(named, max).map_err(DrsError::Bulk)
}

/// The status a per-id error answers with in a bulk response.
fn error_code(e: CoreError) -> Result<u16, DrsError> {
    match e {
        e @ (CoreError::ConsentStale { .. }
        | CoreError::Store(_)
        | CoreError::AuditUnavailable
        | CoreError::Task { .. }) => Err(e.into()),
        e => Ok(actix_web::ResponseError::status_code(&DrsError::from(e)).as_u16()),
    }
}

async fn bulk_objects(
    req: HttpRequest,
    service: web::Data<DrsService>,
    state: web::Data<DrsState>,
    payload: web::Payload,
) -> Result<HttpResponse, DrsError> {
    let mut body = json_body(&req, payload, state.max_body).await?;
    let expand = expand_query(&req)?.unwrap_or(false);
    let passports = body.as_object_mut().and_then(|o| o.remove("passports"));
    let b: gemj_drs::BulkObjectIds = parse(body)?;
    check_bulk(b.bulk_object_ids.len(), service.settings().max_bulk)?;
    let mut credentials = json!({});
    if let (Some(p), Some(o)) = (passports, credentials.as_object_mut()) {
        o.insert("passports".to_owned(), p);
    }
    let principal = super::body_principal(&req, caller(&req).await?, &mut credentials).await?;
    let results = service
        .get_objects(&context(&req, API), &principal, &b.bulk_object_ids, expand)
        .await?;
    let mut resolved = Vec::new();
    let mut unresolved = Vec::new();
    for (id, r) in b.bulk_object_ids.iter().zip(results) {
        match r {
            Ok(o) => resolved.push(o),
            Err(e) => unresolved.push((error_code(e)?, id.clone())),
        }
    }
    Ok(ok(&gemj_drs::BulkObjects::new(
        b.bulk_object_ids.len(),
        resolved,
        unresolved,
    )))
}

async fn bulk_options(
    req: HttpRequest,
    service: web::Data<DrsService>,
    state: web::Data<DrsState>,
    payload: web::Payload,
) -> Result<HttpResponse, DrsError> {
    let body = json_body(&req, payload, state.max_body).await?;
    if body.as_object().is_some_and(serde_json::Map::is_empty) {
        return Err(bad_request(
            "OPTIONS /objects takes {\"bulk_object_ids\": [...]}; OPTIONS /objects/{object_id} \
             answers for one object.",
        ));
    }
    let b: gemj_drs::BulkObjectIds = parse(body)?;
    check_bulk(b.bulk_object_ids.len(), service.settings().max_bulk)?;
    let answers = service
        .authorizations(&context(&req, API), &b.bulk_object_ids)
        .await?;
    let mut resolved = Vec::new();
    let mut unresolved = Vec::new();
    for (id, a) in b.bulk_object_ids.iter().zip(answers) {
        match a {
            Ok(a) => resolved.push(a),
            Err(e) => unresolved.push((error_code(e)?, id.clone())),
        }
    }
    Ok(ok(&gemj_drs::BulkObjects::new(
        b.bulk_object_ids.len(),
        resolved,
        unresolved,
    )))
}

async fn bulk_access(
    req: HttpRequest,
    service: web::Data<DrsService>,
    state: web::Data<DrsState>,
    payload: web::Payload,
) -> Result<HttpResponse, DrsError> {
    let mut body = json_body(&req, payload, state.max_body).await?;
    let passports = body.as_object_mut().and_then(|o| o.remove("passports"));
    let b: gemj_drs::BulkAccessIds = parse(body)?;
    let max = service.settings().max_bulk;
    let pairs = b.pairs();
    check_bulk(b.bulk_object_access_ids.len(), max)?;
    check_bulk(pairs, max)?;
    let mut credentials = json!({});
    if let (Some(p), Some(o)) = (passports, credentials.as_object_mut()) {
        o.insert("passports".to_owned(), p);
    }
    let principal = super::body_principal(&req, caller(&req).await?, &mut credentials).await?;
    let ctx = context(&req, API);
    let mut resolved = Vec::new();
    let mut unresolved = Vec::new();
    for entry in &b.bulk_object_access_ids {
        for access_id in &entry.bulk_access_ids {
            match service
                .access_url(&ctx, &principal, &entry.bulk_object_id, access_id)
                .await
            {
                Ok(u) => resolved.push(gemj_drs::BulkAccessUrl {
                    drs_object_id: entry.bulk_object_id.clone(),
                    drs_access_id: access_id.clone(),
                    url: u.url,
                }),
                Err(drs::AccessError::DataNotPermitted { reason }) => {
                    let status =
                        actix_web::ResponseError::status_code(&DrsError::DataNotPermitted(reason))
                            .as_u16();
                    unresolved.push((status, entry.bulk_object_id.clone()));
                }
                Err(drs::AccessError::Core(e)) => {
                    unresolved.push((error_code(e)?, entry.bulk_object_id.clone()));
                }
            }
        }
    }
    // Nothing in it is public and no credential came: the request as a whole needs one (401
    // with WWW-Authenticate, so a client signs in instead of reading a 200).
    let needs_credential = DrsError::from(CoreError::CredentialRequired);
    let unauthorized = actix_web::ResponseError::status_code(&needs_credential).as_u16();
    if resolved.is_empty() && unresolved.iter().all(|(code, _)| *code == unauthorized) {
        return Err(needs_credential);
    }
    let mut res = ok(&gemj_drs::BulkAccessUrls::new(pairs, resolved, unresolved));
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}
