//! The data-use committee's approvals (`/admin/v1/approvals`), for administrators (configured
//! `issuer#subject` of their passports).

use super::openapi::CredentialAnswers;
use actix_web::{HttpRequest, HttpResponse, web};

use gemj_model::{Approval, ApprovalStatus};

use super::{Caller, context};
use crate::error::{ApiError, Problem};
use gemj_core::approvals_api::ApprovalsService;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource_405("/admin/v1/approvals", "GET, POST")
            .route(web::get().to(list))
            .route(web::post().to(put)),
    )
    .service(super::get_resource("/admin/v1/approvals/{id}", get))
    .service(
        super::resource_405("/admin/v1/approvals/{id}/status", "PUT")
            .route(web::put().to(set_status)),
    );
}

/// Records an approval (idempotent).
#[utoipa::path(post, path = "/admin/v1/approvals", tag = "admin",
    request_body(content = Object, description = "An approval: id, researcher_issuer, researcher_subject, institution, project, purpose (DUO terms, primary first), diseases, for_profit, for_profit_organisation, country, datasets, valid_from, valid_until, status."),
    responses(CredentialAnswers,
              (status = 201, description = "The stored approval."),
              (status = 400, description = "Invalid approval.", body = Problem),
              (status = 401, description = "No or invalid passport.", body = Problem),
              (status = 403, description = "Not an administrator.", body = Problem),
              (status = 409, description = "Another approval with this id is stored.", body = Problem)))]
pub async fn put(
    req: HttpRequest,
    approvals: web::Data<ApprovalsService>,
    caller: Caller,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let approval: Approval = super::parse_body(body.into_inner())?;
    let stored = approvals
        .put(&context(&req, "admin"), &caller.0, &approval)
        .await?;
    Ok(HttpResponse::Created().json(stored))
}

/// Query of the approval list.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The researcher's passport issuer.
    pub issuer: String,
    /// The researcher's subject.
    pub subject: String,
}

/// A researcher's approvals.
#[utoipa::path(get, path = "/admin/v1/approvals", tag = "admin",
    params(("issuer" = String, Query, description = "Passport issuer"), ("subject" = String, Query, description = "Subject")),
    responses((status = 400, description = "Malformed parameters or body: a value of the wrong type, or a parameter or member this endpoint does not take.", body = Problem),
              CredentialAnswers,
              (status = 200, description = "`{approvals: [...]}`."),
              (status = 403, description = "Not an administrator.", body = Problem)))]
pub async fn list(
    req: HttpRequest,
    approvals: web::Data<ApprovalsService>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let approvals = approvals
        .of_researcher(
            &context(&req, "admin"),
            &caller.0,
            &query.issuer,
            &query.subject,
        )
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "approvals": approvals })))
}

/// One approval.
#[utoipa::path(get, path = "/admin/v1/approvals/{id}", tag = "admin",
    params(("id" = String, Path, description = "Approval id")),
    responses(CredentialAnswers,
              (status = 200, description = "The approval."),
              (status = 403, description = "Not an administrator.", body = Problem),
              (status = 404, description = "No such approval.", body = Problem)))]
pub async fn get(
    req: HttpRequest,
    approvals: web::Data<ApprovalsService>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let approval = approvals
        .get(&context(&req, "admin"), &caller.0, &id)
        .await?;
    Ok(HttpResponse::Ok().json(approval))
}

/// The body of a status change.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// The new status (`revoked` is final).
    pub status: ApprovalStatus,
    /// Why (kept with the change; at most 500 characters).
    #[serde(default)]
    pub reason: String,
}

/// Suspends, reactivates or revokes an approval; revocation is final and denies at once.
#[utoipa::path(put, path = "/admin/v1/approvals/{id}/status", tag = "admin",
    params(("id" = String, Path, description = "Approval id")),
    request_body(content = Object, description = "`{status: active|suspended|revoked, reason?: string}`"),
    responses((status = 400, description = "Malformed parameters or body: a value of the wrong type, or a parameter or member this endpoint does not take.", body = Problem),
              CredentialAnswers,
              (status = 200, description = "The approval."),
              (status = 403, description = "Not an administrator.", body = Problem),
              (status = 404, description = "No such approval.", body = Problem),
              (status = 409, description = "The approval is revoked.", body = Problem)))]
pub async fn set_status(
    req: HttpRequest,
    approvals: web::Data<ApprovalsService>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: StatusChange = super::parse_body(body.into_inner())?;
    let approval = approvals
        .set_status(
            &context(&req, "admin"),
            &caller.0,
            &id,
            body.status,
            &body.reason,
        )
        .await?;
    Ok(HttpResponse::Ok().json(approval))
}
