//! Liveness (`/healthz`), readiness (`/readyz`: the store answers and its migrations are
//! applied) and Prometheus metrics (`/metrics`).

use actix_web::{HttpResponse, web};
use gemj_core::Shared;
use prometheus::Encoder;

use crate::error::Problem;
use crate::middleware::Metrics;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::get_resource("/healthz", healthz))
        .service(super::get_resource("/readyz", readyz))
        .service(super::get_resource("/metrics", metrics));
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive.")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// The gateway can serve: the store answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready."), (status = 503, description = "Not ready.", body = Problem)))]
pub async fn readyz(shared: web::Data<Shared>) -> HttpResponse {
    let store = shared.store();
    if store.ping().await.is_err() {
        return Problem::not_ready("The store does not answer.").response();
    }
    match store.migrations_pending().await {
        Ok(false) => HttpResponse::Ok()
            .json(serde_json::json!({"status": "ready", "store": store.backend().as_str()})),
        Ok(true) => Problem::not_ready("Store migrations are not applied.").response(),
        Err(_) => Problem::not_ready("The store's migration state cannot be read.").response(),
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format 0.0.4.")))]
pub async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    let mut buf = Vec::new();
    let families = metrics.registry.gather();
    if prometheus::TextEncoder::new()
        .encode(&families, &mut buf)
        .is_err()
    {
        return Problem::internal("Metrics could not be encoded.").response();
    }
    HttpResponse::Ok()
        .content_type(prometheus::TEXT_FORMAT)
        .body(buf)
}
