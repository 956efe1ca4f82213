//! GA4GH service-info 1.0 (`/service-info`) and the service registry (`/services`,
//! `/services/{id}`, `/services/types`) of the APIs this gateway mounts.

use actix_web::{HttpResponse, web};
use gemj_core::services::ServiceRegistry;

use crate::error::{ApiError, Problem};

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::get_resource("/service-info", service_info))
        .service(super::get_resource("/services", services))
        .service(super::get_resource("/services/types", service_types))
        .service(super::get_resource("/services/{id}", service_by_id));
}

/// The gateway's GA4GH service-info.
#[utoipa::path(get, path = "/service-info", tag = "service-info",
    responses((status = 200, description = "GA4GH service-info 1.0 `Service` of the gateway (a service registry).", content_type = "application/json")))]
pub async fn service_info(registry: web::Data<ServiceRegistry>) -> HttpResponse {
    HttpResponse::Ok().json(registry.gateway_service())
}

/// The services mounted on this gateway, as GA4GH `ExternalService` records.
#[utoipa::path(get, path = "/services", tag = "service-info",
    responses((status = 200, description = "GA4GH service-registry 1.0: every mounted service, the gateway first.", content_type = "application/json")))]
pub async fn services(registry: web::Data<ServiceRegistry>) -> HttpResponse {
    HttpResponse::Ok().json(registry.services())
}

/// The distinct service types mounted.
#[utoipa::path(get, path = "/services/types", tag = "service-info",
    responses((status = 200, description = "GA4GH service-registry 1.0: the `ServiceType`s mounted.", content_type = "application/json")))]
pub async fn service_types(registry: web::Data<ServiceRegistry>) -> HttpResponse {
    let mut types: Vec<_> = registry
        .services()
        .iter()
        .map(|s| s.service.r#type.clone())
        .collect();
    types.dedup();
    HttpResponse::Ok().json(types)
}

/// One mounted service.
#[utoipa::path(get, path = "/services/{id}", tag = "service-info",
    params(("id" = String, Path, description = "Service id")),
    responses((status = 200, description = "One `ExternalService`.", content_type = "application/json"),
              (status = 404, description = "No such service.", body = Problem)))]
pub async fn service_by_id(
    registry: web::Data<ServiceRegistry>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    registry
        .services()
        .iter()
        .find(|s| s.service.id == *id)
        .map(|s| HttpResponse::Ok().json(s))
        .ok_or(ApiError::Core(gemj_core::CoreError::NotFound))
}
