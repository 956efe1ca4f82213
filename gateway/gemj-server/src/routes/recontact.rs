//! Recontact (`/recontact/v1`): researchers with a CONTROLLED approval ask that participants be
//! recontacted and see rounded aggregate status; institutions fetch their inbox and report
//! outcomes.

use super::openapi::CredentialAnswers;
use actix_web::{HttpRequest, HttpResponse, web};
use gemj_core::recontact::{NewRequest, OutcomeReport};

use super::{AnyCaller, Caller, context};
use crate::error::{ApiError, Problem};
use gemj_core::recontact::RecontactService;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource_405("/recontact/v1/requests", "POST").route(web::post().to(create)),
    )
    .service(super::get_resource("/recontact/v1/requests/{id}", status))
    .service(super::get_resource(
        "/recontact/v1/institutions/{id}/inbox",
        inbox,
    ))
    .service(
        super::resource_405("/recontact/v1/institutions/{id}/outcomes", "POST")
            .route(web::post().to(outcomes)),
    );
}

/// Asks that participants of a dataset be recontacted through their institutions. The
/// passport may come as `Authorization: Bearer` or as `{"passports": [...]}` in the body.
#[utoipa::path(post, path = "/recontact/v1/requests", tag = "recontact",
    request_body(content = Object, description = "`{dataset, kind: research_invitation|return_of_findings, reason, select: {participants: [ids]} | {carriers: {chrom, pos, reference, alternate}}, passports?: [...]}`"),
    responses(CredentialAnswers,
              (status = 201, description = "`{id, kind, dataset, asked, status}`; counts rounded, fewer than 5 read \"<5\"."),
              (status = 400, description = "Malformed request.", body = Problem),
              (status = 401, description = "No or invalid passport.", body = Problem),
              (status = 403, description = "No CONTROLLED approval for the dataset.", body = Problem),
              (status = 404, description = "No such dataset.", body = Problem),
              (status = 503, description = "Consent cannot be confirmed current; Retry-After.", body = Problem)))]
pub async fn create(
    req: HttpRequest,
    recontact: web::Data<RecontactService>,
    caller: Caller,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let mut body = body.into_inner();
    let principal = super::body_principal(&req, caller.0, &mut body).await?;
    let request: NewRequest = super::parse_body(body)?;
    let status = recontact
        .create(&context(&req, "recontact"), &principal, &request)
        .await?;
    Ok(HttpResponse::Created().json(status))
}

/// The aggregate status of one of the caller's own requests.
#[utoipa::path(get, path = "/recontact/v1/requests/{id}", tag = "recontact",
    params(("id" = String, Path, description = "Request id")),
    responses(CredentialAnswers,
              (status = 200, description = "`{id, kind, dataset, asked, status: {pending, contacted, declined, agreed}}`, rounded."),
              (status = 401, description = "No or invalid passport.", body = Problem),
              (status = 404, description = "No such request of this caller.", body = Problem)))]
pub async fn status(
    req: HttpRequest,
    recontact: web::Data<RecontactService>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let status = recontact
        .status(&context(&req, "recontact"), &caller.0, &id)
        .await?;
    Ok(HttpResponse::Ok().json(status))
}

/// An institution's inbox: its participants that requests ask for.
#[utoipa::path(get, path = "/recontact/v1/institutions/{id}/inbox", tag = "recontact",
    params(("id" = String, Path, description = "Institution id")),
    responses(CredentialAnswers,
              (status = 403, description = "The caller is not the institution this is for (a researcher's passport, or another institution's token).", body = Problem),
              (status = 200, description = "`{entries: [{request, requester, kind, reason, participant, status}]}`."),
              (status = 401, description = "No or invalid institution token.", body = Problem),
              (status = 404, description = "Not the calling institution.", body = Problem)))]
pub async fn inbox(
    req: HttpRequest,
    recontact: web::Data<RecontactService>,
    caller: AnyCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let entries = recontact
        .inbox(&context(&req, "recontact"), &caller.0, &id)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "entries": entries })))
}

/// The body of an outcome report.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcomes {
    /// One outcome per participant contacted.
    pub outcomes: Vec<OutcomeReport>,
}

/// Outcomes reported by an institution for its own participants.
#[utoipa::path(post, path = "/recontact/v1/institutions/{id}/outcomes", tag = "recontact",
    params(("id" = String, Path, description = "Institution id")),
    request_body(content = Object, description = "`{outcomes: [{request, participant, status: contacted|declined|agreed}]}`"),
    responses(CredentialAnswers,
              (status = 403, description = "The caller is not the institution this is for (a researcher's passport, or another institution's token).", body = Problem),
              (status = 200, description = "`{recorded: n}`."),
              (status = 400, description = "Malformed, or not in this institution's inbox.", body = Problem),
              (status = 401, description = "No or invalid institution token.", body = Problem),
              (status = 404, description = "Not the calling institution.", body = Problem)))]
pub async fn outcomes(
    req: HttpRequest,
    recontact: web::Data<RecontactService>,
    caller: AnyCaller,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: Outcomes = super::parse_body(body.into_inner())?;
    let n = recontact
        .report_outcomes(&context(&req, "recontact"), &caller.0, &id, &body.outcomes)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "recorded": n })))
}
