//! htsget 1.3 under `/htsget`: `GET`/`POST /htsget/reads/{id}` (BAM, CRAM) and
//! `/htsget/variants/{id}` (VCF, BCF), and their `service-info`. Tickets carry the versioned
//! media type; errors are the spec's `{"htsget": {"error", "message"}}` with its status codes.
//!
//! `fields`, `tags` and `notags` are validated (known field names; `tags` and `notags` must not
//! intersect) but not applied: service-info says so (`fieldsParameterEffective: false`,
//! `tagsParametersEffective: false`), and the spec lets a server return more than asked.

use std::collections::BTreeSet;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use gemj_core::htsget::{self, Endpoint, HtsgetError, MAX_REGIONS, TicketRequest};
use gemj_core::{Core, CoreError};
use gemj_genomics::slice::{Class, Format, ReferenceName, Region};

use super::{BaseUrl, Caller, context};
use crate::error::ApiError;

/// The ticket media type (htsget 1.3.0).
pub const TICKET_MEDIA_TYPE: &str = "application/vnd.ga4gh.htsget.v1.3.0+json; charset=utf-8";

/// The largest POST body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The SAM field names `fields` may list.
const READ_FIELDS: &[&str] = &[
    "QNAME", "FLAG", "RNAME", "POS", "MAPQ", "CIGAR", "RNEXT", "PNEXT", "TLEN", "SEQ", "QUAL",
];

/// The VCF field names `fields` may list.
const VARIANT_FIELDS: &[&str] = &[
    "CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", "SAMPLE",
];

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for (path, endpoint) in [
        ("/htsget/reads", Endpoint::Reads),
        ("/htsget/variants", Endpoint::Variants),
    ] {
        let info = move |core: web::Data<Core>| async move { service_info(&core, endpoint) };
        cfg.service(
            web::resource(format!("{path}/service-info"))
                .route(web::get().to(info))
                .default_service(web::to(|| async { method_not_allowed("GET") })),
        )
        .service(
            web::resource(format!("{path}/{{id:.+}}"))
                .route(web::get().to(move |req, core, base, caller, id| {
                    get_ticket(req, core, base, caller, id, endpoint)
                }))
                .route(web::post().to(move |req, core, base, caller, id, body| {
                    post_ticket(req, core, base, caller, id, body, endpoint)
                }))
                .default_service(web::to(|| async { method_not_allowed("GET, POST") })),
        );
    }
}

/// Registers htsget's two endpoints in the service registry.
pub fn mount(registry: &mut gemj_core::services::ServiceRegistry) {
    for endpoint in [Endpoint::Reads, Endpoint::Variants] {
        registry.mount(
            &format!("htsget.{}", endpoint.datatype()),
            &format!("htsget {}", endpoint.datatype()),
            service_type(),
            &format!("/htsget/{}", endpoint.datatype()),
            &format!(
                "htsget 1.3 {}: region slices as signed, range-scoped data URLs and inline re-encoded edge blocks.",
                endpoint.datatype()
            ),
        );
    }
}

fn service_type() -> gemj_service_info::ServiceType {
    gemj_service_info::ServiceType {
        group: "org.ga4gh".to_owned(),
        artifact: "htsget".to_owned(),
        version: "1.3.0".to_owned(),
    }
}

fn service_info(core: &Core, endpoint: Endpoint) -> HttpResponse {
    let mut s = core.services.gateway_service();
    s.id = format!("{}.htsget.{}", s.id, endpoint.datatype());
    s.name = format!("{} htsget {}", s.name, endpoint.datatype());
    s.r#type = service_type();
    s.description = Some(format!(
        "htsget 1.3 {}. Every region answer is a valid stream (edge blocks re-encoded), POST regions are merged without duplicates, and multi-sample VCF/BCF slices never carry the genotypes of participants outside the caller's consent scope.",
        endpoint.datatype()
    ));
    let mut value = serde_json::to_value(&s).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "htsget".to_owned(),
            serde_json::json!({
                "datatype": endpoint.datatype(),
                "formats": endpoint.formats().iter().map(|f| f.as_str()).collect::<Vec<_>>(),
                "fieldsParameterEffective": false,
                "tagsParametersEffective": false,
            }),
        );
    }
    HttpResponse::Ok().json(value)
}

fn error(status: StatusCode, kind: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .json(serde_json::json!({"htsget": {"error": kind, "message": message}}))
}

fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut res = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "InvalidInput",
        &format!("this resource answers {allow}"),
    );
    res.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    res
}

fn invalid(message: impl Into<String>) -> HtsgetError {
    HtsgetError::InvalidInput(message.into())
}

/// The htsget error for a failure.
fn respond(e: HtsgetError) -> HttpResponse {
    match e {
        HtsgetError::NotFound | HtsgetError::Core(CoreError::NotFound) => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "No such object, reference or file for this caller.",
        ),
        HtsgetError::UnsupportedFormat(m) => {
            error(StatusCode::BAD_REQUEST, "UnsupportedFormat", &m)
        }
        HtsgetError::InvalidInput(m) | HtsgetError::Core(CoreError::InvalidInput(m)) => {
            error(StatusCode::BAD_REQUEST, "InvalidInput", &m)
        }
        HtsgetError::InvalidRange(m) => error(StatusCode::BAD_REQUEST, "InvalidRange", &m),
        HtsgetError::PayloadTooLarge(m) => {
            error(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge", &m)
        }
        HtsgetError::Core(CoreError::CredentialRequired) => error(
            StatusCode::FORBIDDEN,
            "PermissionDenied",
            "Authorization is required to access this resource: send a GA4GH passport as a bearer token.",
        ),
        HtsgetError::Core(CoreError::Denied(d)) if d.unauthenticated => error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthentication",
            "The credential was not accepted.",
        ),
        HtsgetError::Core(CoreError::Denied(_)) => error(
            StatusCode::FORBIDDEN,
            "PermissionDenied",
            "This caller may not read this object.",
        ),
        // Stale consent, an unwritable audit log, the store: the gateway's own problem format
        // carries Retry-After and the reason.
        HtsgetError::Core(other) => {
            actix_web::ResponseError::error_response(&ApiError::Core(other))
        }
    }
}

fn auth_error(e: &ApiError) -> HttpResponse {
    match e {
        ApiError::AuthorizationTooLarge => error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "InvalidInput",
            &e.to_string(),
        ),
        // The issuer's outage: the gateway's problem format, 503 with Retry-After.
        ApiError::Unauthenticated(code) if crate::error::is_issuer_outage(code) => {
            actix_web::ResponseError::error_response(e)
        }
        ApiError::Unauthenticated(_) | ApiError::Core(CoreError::Denied(_)) => {
            let mut res = error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthentication",
                "The credential was not accepted.",
            );
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                crate::error::bearer_challenge(e.rejected_token()),
            );
            res
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Malformed credentials.",
        ),
    }
}

fn parse_format(endpoint: Endpoint, s: &str) -> Result<Format, HtsgetError> {
    endpoint
        .formats()
        .iter()
        .copied()
        .find(|f| f.as_str() == s)
        .ok_or_else(|| {
            HtsgetError::UnsupportedFormat(format!(
                "format {s:?} is not served here; use one of {}",
                endpoint
                    .formats()
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

fn parse_class(s: &str) -> Result<Class, HtsgetError> {
    match s {
        "header" => Ok(Class::Header),
        "body" => Ok(Class::Body),
        _ => Err(invalid(format!("class must be \"header\" (got {s:?})"))),
    }
}

fn check_fields(endpoint: Endpoint, fields: &[String]) -> Result<(), HtsgetError> {
    let known = match endpoint {
        Endpoint::Reads => READ_FIELDS,
        Endpoint::Variants => VARIANT_FIELDS,
    };
    match fields.iter().find(|f| !known.contains(&f.as_str())) {
        Some(f) => Err(invalid(format!("unknown field {f:?}"))),
        None => Ok(()),
    }
}

fn check_tags(tags: Option<&[String]>, notags: Option<&[String]>) -> Result<(), HtsgetError> {
    if let (Some(t), Some(n)) = (tags, notags) {
        let t: BTreeSet<&String> = t.iter().collect();
        if n.iter().any(|x| t.contains(x)) {
            return Err(invalid("tags and notags must not intersect"));
        }
    }
    Ok(())
}

/// One region, validated.
fn region(
    endpoint: Endpoint,
    name: Option<&str>,
    start: Option<u64>,
    end: Option<u64>,
) -> Result<Option<Region>, HtsgetError> {
    let Some(name) = name else {
        if start.is_some() || end.is_some() {
            return Err(invalid("start and end need a referenceName"));
        }
        return Ok(None);
    };
    if name.is_empty() {
        return Err(invalid("referenceName must not be empty"));
    }
    if name == "*" {
        if endpoint == Endpoint::Variants {
            return Err(invalid(
                "referenceName=* (unplaced reads) applies to reads only",
            ));
        }
        if start.is_some() || end.is_some() {
            return Err(invalid(
                "start and end cannot be combined with referenceName=*",
            ));
        }
        return Ok(Some(Region {
            reference: ReferenceName::Unplaced,
            start: 0,
            end: None,
        }));
    }
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        return Err(HtsgetError::InvalidRange(format!(
            "start ({s}) must be less than end ({e})"
        )));
    }
    Ok(Some(Region::new(name, start.unwrap_or(0), end)))
}

fn parse_u64(name: &str, v: &str) -> Result<u64, HtsgetError> {
    v.parse::<u64>()
        .ok()
        .filter(|n| *n <= u64::from(u32::MAX))
        .ok_or_else(|| {
            invalid(format!(
                "{name} must be a non-negative 32-bit integer (got {v:?})"
            ))
        })
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The GET query, validated.
fn get_request(endpoint: Endpoint, query: &str) -> Result<TicketRequest, HtsgetError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| invalid("the query string is not valid URL encoding"))?;
    let mut seen = BTreeSet::new();
    let (mut format, mut class, mut name, mut start, mut end) = (None, None, None, None, None);
    let (mut fields, mut tags, mut notags) = (None, None, None);
    for (k, v) in &pairs {
        if !seen.insert(k.as_str()) {
            return Err(invalid(format!("{k} is given twice")));
        }
        match k.as_str() {
            "format" => format = Some(parse_format(endpoint, v)?),
            "class" => class = Some(parse_class(v)?),
            "referenceName" => name = Some(v.as_str()),
            "start" => start = Some(parse_u64("start", v)?),
            "end" => end = Some(parse_u64("end", v)?),
            "fields" => fields = Some(list(v)),
            "tags" => tags = Some(list(v)),
            "notags" => notags = Some(list(v)),
            other => return Err(invalid(format!("unknown query parameter {other:?}"))),
        }
    }
    if class == Some(Class::Header) && seen.iter().any(|k| *k != "format" && *k != "class") {
        return Err(invalid(
            "class=header cannot be combined with parameters other than format",
        ));
    }
    check_fields(endpoint, fields.as_deref().unwrap_or_default())?;
    check_tags(tags.as_deref(), notags.as_deref())?;
    Ok(TicketRequest {
        format,
        class: class.unwrap_or_default(),
        regions: region(endpoint, name, start, end)?.into_iter().collect(),
    })
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PostRegion {
    reference_name: Option<String>,
    start: Option<u64>,
    end: Option<u64>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PostBody {
    format: Option<String>,
    class: Option<String>,
    fields: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    notags: Option<Vec<String>>,
    regions: Option<Vec<PostRegion>>,
}

fn post_request(endpoint: Endpoint, body: &[u8]) -> Result<TicketRequest, HtsgetError> {
    let body: PostBody = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("the body is not an htsget request: {e}")))?;
    let format = body
        .format
        .as_deref()
        .map(|f| parse_format(endpoint, f))
        .transpose()?;
    let class = body.class.as_deref().map(parse_class).transpose()?;
    if class == Some(Class::Header)
        && (body.fields.is_some()
            || body.tags.is_some()
            || body.notags.is_some()
            || body.regions.is_some())
    {
        return Err(invalid(
            "class header cannot be combined with parameters other than format",
        ));
    }
    check_fields(endpoint, body.fields.as_deref().unwrap_or_default())?;
    check_tags(body.tags.as_deref(), body.notags.as_deref())?;
    let mut regions = Vec::new();
    if let Some(list) = &body.regions {
        if list.is_empty() {
            return Err(invalid(
                "regions must not be empty (omit it for the whole file)",
            ));
        }
        if list.len() > MAX_REGIONS {
            return Err(HtsgetError::PayloadTooLarge(format!(
                "at most {MAX_REGIONS} regions per request"
            )));
        }
        for r in list {
            if r.reference_name.is_none() {
                return Err(invalid("every region needs a referenceName"));
            }
            for (n, v) in [("start", r.start), ("end", r.end)] {
                if v.is_some_and(|v| v > u64::from(u32::MAX)) {
                    return Err(invalid(format!(
                        "{n} must be a non-negative 32-bit integer"
                    )));
                }
            }
            if let Some(region) = region(endpoint, r.reference_name.as_deref(), r.start, r.end)? {
                regions.push(region);
            }
        }
    }
    Ok(TicketRequest {
        format,
        class: class.unwrap_or_default(),
        regions,
    })
}

fn finish(result: Result<gemj_core::htsget::Ticket, HtsgetError>) -> HttpResponse {
    match result {
        Ok(ticket) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, TICKET_MEDIA_TYPE))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(serde_json::to_vec(&ticket).unwrap_or_default()),
        Err(e) => respond(e),
    }
}

async fn get_ticket(
    req: HttpRequest,
    core: web::Data<Core>,
    base: web::Data<BaseUrl>,
    caller: Result<Caller, ApiError>,
    id: web::Path<String>,
    endpoint: Endpoint,
) -> HttpResponse {
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return auth_error(&e),
    };
    let request = match get_request(endpoint, req.query_string()) {
        Ok(r) => r,
        Err(e) => return respond(e),
    };
    finish(
        htsget::ticket(
            &core,
            &context(&req, "htsget"),
            &caller.0,
            endpoint,
            &id,
            &request,
            &base.0,
        )
        .await,
    )
}

async fn post_ticket(
    req: HttpRequest,
    core: web::Data<Core>,
    base: web::Data<BaseUrl>,
    caller: Result<Caller, ApiError>,
    id: web::Path<String>,
    payload: web::Payload,
    endpoint: Endpoint,
) -> HttpResponse {
    let body = match super::read_body(&req, payload, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(ApiError::BodyTooLarge(_)) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                &format!("the request body must be at most {MAX_BODY_BYTES} bytes"),
            );
        }
        Err(e @ ApiError::Core(_)) => return actix_web::ResponseError::error_response(&e),
        Err(e) => return respond(invalid(e.to_string())),
    };
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return auth_error(&e),
    };
    if !req.query_string().is_empty() {
        return respond(invalid("a POST request takes no query parameters"));
    }
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().ends_with("json"))
        });
    if !json {
        return respond(invalid(
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    let request = match post_request(endpoint, &body) {
        Ok(r) => r,
        Err(e) => return finish(Err(e)),
    };
    finish(
        htsget::ticket(
            &core,
            &context(&req, "htsget"),
            &caller.0,
            endpoint,
            &id,
            &request,
            &base.0,
        )
        .await,
    )
}
