//! The audit log shown back to the people it is about: `/audit/v1/me`, a researcher's own
//! access history.

use super::openapi::CredentialAnswers;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{AnyCaller, Caller, context};
use crate::error::{ApiError, Problem};
use gemj_core::audit_api::AuditService;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::get_resource("/audit/v1/me", me))
        .service(super::get_resource(
            "/audit/v1/participants/{id}",
            participant,
        ));
}

/// Pagination of the history.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Return records after this sequence number.
    #[serde(default)]
    pub after: i64,
    /// At most this many (1 to 1000, default 100).
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    100
}

/// The caller's own access decisions, oldest first.
#[utoipa::path(get, path = "/audit/v1/me", tag = "audit",
    params(("after" = Option<i64>, Query, description = "Cursor: records after this seq"), ("limit" = Option<u32>, Query, description = "1 to 1000, default 100")),
    responses((status = 400, description = "Malformed parameters or body: a value of the wrong type, or a parameter or member this endpoint does not take.", body = Problem),
              CredentialAnswers,
              (status = 200, description = "`{\"records\": [...], \"next_after\": seq}`: every decision about this caller, never the participants touched."),
              (status = 401, description = "No verified passport.", body = Problem)))]
pub async fn me(
    req: HttpRequest,
    audit: web::Data<AuditService>,
    caller: Caller,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let history = audit
        .my_history(&context(&req, "audit"), &caller.0, page.after, page.limit)
        .await?;
    Ok(HttpResponse::Ok().json(history))
}

/// Who accessed a participant's data and when, for the institution that enrolled the
/// participant (transparency for patients).
#[utoipa::path(get, path = "/audit/v1/participants/{id}", tag = "audit",
    params(("id" = String, Path, description = "Pseudonymous participant id"), ("after" = Option<i64>, Query, description = "Cursor: records after this seq"), ("limit" = Option<u32>, Query, description = "1 to 1000, default 100")),
    responses((status = 400, description = "Malformed parameters or body: a value of the wrong type, or a parameter or member this endpoint does not take.", body = Problem),
              CredentialAnswers,
              (status = 403, description = "The caller is not the institution this is for (a researcher's passport, or another institution's token).", body = Problem),
              (status = 200, description = "`{participant, records: [{seq, at, principal, api, endpoint, action, resource, decision, approval}], next_after}`."),
              (status = 401, description = "No or invalid institution token.", body = Problem),
              (status = 404, description = "Not a participant of the calling institution.", body = Problem)))]
pub async fn participant(
    req: HttpRequest,
    audit: web::Data<AuditService>,
    caller: AnyCaller,
    id: web::Path<String>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let history = audit
        .participant_history(
            &context(&req, "audit"),
            &caller.0,
            &id,
            page.after,
            page.limit,
        )
        .await?;
    Ok(HttpResponse::Ok().json(history))
}
