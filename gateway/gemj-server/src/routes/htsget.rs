//! htsget 1.3 under `/htsget`: `GET`/`POST /htsget/reads/{id}` (BAM, CRAM) and
//! `/htsget/variants/{id}` (VCF, BCF), and their `service-info`. Tickets carry the versioned
//! media type; errors are the spec's `{"htsget": {"error", "message"}}` with its status codes.
//!
//! `fields`, `tags` and `notags` are validated (known field names; `tags` and `notags` must not
//! intersect) but not applied: service-info says so (`fieldsParameterEffective: false`,
//! `tagsParametersEffective: false`), and the spec lets a server return more than asked.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use gemj_core::htsget::{Endpoint, HtsgetService, TicketRequest};
use gemj_core::services::ServiceRegistry;
use gemj_htsget::{Error, TICKET_MEDIA_TYPE};

use super::{BaseUrl, Caller, context};
use crate::error::ApiError;
use crate::error::htsget::{method_not_allowed, protocol, refused, ticket_failure};

/// The largest POST body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // One scope: a request elsewhere passes it by a prefix compare.
    let mut scope = web::scope("/htsget");
    for (path, endpoint) in [
        ("/reads", Endpoint::Reads),
        ("/variants", Endpoint::Variants),
    ] {
        let info = move |registry: web::Data<ServiceRegistry>| async move {
            service_info(&registry, endpoint)
        };
        scope = scope
            .service(
                web::resource(format!("{path}/service-info"))
                    .route(web::get().to(info))
                    .default_service(web::to(|| async { method_not_allowed("GET") })),
            )
            .service(
                web::resource(format!("{path}/{{id:.+}}"))
                    .route(web::get().to(move |req, htsget, base, caller, id| {
                        get_ticket(req, htsget, base, caller, id, endpoint)
                    }))
                    .route(web::post().to(move |req, htsget, base, caller, id, body| {
                        post_ticket(req, htsget, base, caller, id, body, endpoint)
                    }))
                    .default_service(web::to(|| async { method_not_allowed("GET, POST") })),
            );
    }
    cfg.service(scope);
}

/// Registers htsget's two endpoints in the service registry.
pub fn mount(registry: &mut ServiceRegistry) {
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

fn service_info(registry: &ServiceRegistry, endpoint: Endpoint) -> HttpResponse {
    let mut s = registry.gateway_service();
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

/// Asks for the ticket and answers it: the ticket with its media type, or the failure in
/// htsget's envelope.
async fn answer(
    req: &HttpRequest,
    htsget: &HtsgetService,
    base: &BaseUrl,
    caller: &Caller,
    id: &str,
    endpoint: Endpoint,
    request: &TicketRequest,
) -> HttpResponse {
    let ctx = context(req, "htsget");
    match htsget
        .ticket(&ctx, &caller.0, endpoint, id, request, &base.0)
        .await
    {
        Ok(ticket) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, TICKET_MEDIA_TYPE))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(ticket),
        Err(e) => ticket_failure(e),
    }
}

async fn get_ticket(
    req: HttpRequest,
    htsget: web::Data<HtsgetService>,
    base: web::Data<BaseUrl>,
    caller: Result<Caller, ApiError>,
    id: web::Path<String>,
    endpoint: Endpoint,
) -> HttpResponse {
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return refused(&e),
    };
    match gemj_htsget::parse_get(endpoint, req.query_string()) {
        Ok(request) => answer(&req, &htsget, &base, &caller, &id, endpoint, &request).await,
        Err(e) => protocol(&e),
    }
}

async fn post_ticket(
    req: HttpRequest,
    htsget: web::Data<HtsgetService>,
    base: web::Data<BaseUrl>,
    caller: Result<Caller, ApiError>,
    id: web::Path<String>,
    payload: web::Payload,
    endpoint: Endpoint,
) -> HttpResponse {
    let (caller, body) = match (
        caller,
        super::read_body(&req, payload, MAX_BODY_BYTES).await,
    ) {
        (_, Err(e)) | (Err(e), _) => return refused(&e),
        (Ok(caller), Ok(body)) => (caller, body),
    };
    if !req.query_string().is_empty() {
        return protocol(&Error::invalid("a POST request takes no query parameters"));
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
        return protocol(&Error::invalid(
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    match gemj_htsget::parse_post(endpoint, &body) {
        Ok(request) => answer(&req, &htsget, &base, &caller, &id, endpoint, &request).await,
        Err(e) => protocol(&e),
    }
}
