//! The gateway's own dataset catalogue (`/catalogue/v1/datasets`): the datasets the caller
//! may know of, each through the access decision point.

use super::openapi::CredentialAnswers;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{Caller, context};
use crate::error::{ApiError, Problem};
use gemj_core::catalogue::CatalogueService;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::get_resource("/catalogue/v1/datasets", list))
        .service(super::get_resource("/catalogue/v1/datasets/{id}", get));
}

/// Datasets whose metadata the caller may read.
#[utoipa::path(get, path = "/catalogue/v1/datasets", tag = "catalogue",
    responses(CredentialAnswers,
              (status = 200, description = "`{\"datasets\": [...]}`: id, name, description, access level and DUO data-use conditions."),
              (status = 401, description = "A credential was presented that cannot be verified.", body = Problem)))]
pub async fn list(
    req: HttpRequest,
    catalogue: web::Data<CatalogueService>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let datasets = catalogue
        .list_datasets(&context(&req, "catalogue"), &caller.0)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "datasets": datasets })))
}

/// One dataset, or 404 (also when the caller may not see it).
#[utoipa::path(get, path = "/catalogue/v1/datasets/{id}", tag = "catalogue",
    params(("id" = String, Path, description = "Dataset id")),
    responses(CredentialAnswers,
              (status = 200, description = "The dataset."), (status = 404, description = "Not found or not visible.", body = Problem)))]
pub async fn get(
    req: HttpRequest,
    catalogue: web::Data<CatalogueService>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let dataset = catalogue
        .get_dataset(&context(&req, "catalogue"), &caller.0, &id)
        .await?;
    Ok(HttpResponse::Ok().json(dataset))
}
