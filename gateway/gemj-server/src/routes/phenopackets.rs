//! GA4GH Phenopackets v2 (`/phenopackets/v2/{id}`): one participant as a phenopacket, for the
//! enrolling institution or a researcher with data access to a dataset that holds them.

use super::openapi::CredentialAnswers;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{AnyCaller, context};
use crate::error::{ApiError, Problem};
use gemj_core::phenopacket::PhenopacketService;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::get_resource(
        "/phenopackets/v2/{id}",
        get_phenopacket,
    ));
}

/// The participant as a GA4GH Phenopacket v2 (JSON).
#[utoipa::path(get, path = "/phenopackets/v2/{id}", tag = "phenopackets",
    params(("id" = String, Path, description = "Pseudonymous participant id")),
    responses(CredentialAnswers,
              (status = 403, description = "The caller is not the institution this is for (a researcher's passport, or another institution's token).", body = Problem),
              (status = 200, description = "A Phenopacket v2 (phenopacketSchemaVersion 2.0)."),
              (status = 401, description = "No or invalid credential.", body = Problem),
              (status = 404, description = "No such participant, not visible to this caller, or consent withdrawn.", body = Problem)))]
pub async fn get_phenopacket(
    req: HttpRequest,
    phenopackets: web::Data<PhenopacketService>,
    caller: AnyCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let packet = phenopackets
        .export(&context(&req, "phenopackets"), &caller.0, &id)
        .await?;
    Ok(HttpResponse::Ok().json(packet))
}
