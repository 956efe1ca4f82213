//! The OpenAPI 3.1 document of the gateway's own endpoints (`/openapi.json`). The standard
//! APIs (htsget, DRS, Beacon, FHIR) are described by their official specifications and are
//! listed in `/services`.

use actix_web::{HttpResponse, web};
use utoipa::OpenApi;

use super::{
    approvals, audit, catalogue, consent, data, health, ingest, phenopackets, recontact,
    revocations, service_info,
};
use crate::error::Problem;

/// The document.
#[derive(OpenApi, Debug)]
#[openapi(
    info(
        title = "GeMJ gateway",
        description = "The gateway's own endpoints. Standard APIs are listed at /services."
    ),
    paths(
        service_info::service_info,
        service_info::services,
        service_info::service_types,
        service_info::service_by_id,
        health::healthz,
        health::readyz,
        health::metrics,
        catalogue::list,
        catalogue::get,
        audit::me,
        audit::participant,
        consent::post_event,
        consent::get_participant,
        recontact::create,
        recontact::status,
        recontact::inbox,
        recontact::outcomes,
        approvals::put,
        approvals::list,
        approvals::get,
        approvals::set_status,
        revocations::list,
        revocations::revoke,
        revocations::unrevoke,
        data::participants,
        data::url_get,
        data::url_post,
        data::fetch,
        ingest::post_ingest,
        phenopackets::get_phenopacket,
        openapi_json,
    ),
    components(schemas(Problem))
)]
pub struct ApiDoc;

/// Registers the route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::get_resource("/openapi.json", openapi_json));
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1 JSON.")))]
pub async fn openapi_json() -> HttpResponse {
    let mut doc = ApiDoc::openapi();
    doc.info.version = gemj_core::services::VERSION.to_owned();
    HttpResponse::Ok().json(doc)
}
