//! Revoked credentials (`/admin/v1/revocations`), for administrators: revoke one token (its
//! issuer and `jti`) or every token of a subject (issuer and `sub`), list them, lift one. A
//! revocation holds from the next request on this instance and within one poll interval on
//! every instance sharing the store.

use super::openapi::CredentialAnswers;
use actix_web::{HttpRequest, HttpResponse, web};
use gemj_store::{Revocation, RevocationKind};

use super::{Caller, context};
use crate::error::{ApiError, Problem};
use gemj_core::revocations::RevocationsService;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource_405("/admin/v1/revocations", "GET, POST, DELETE")
            .route(web::get().to(list))
            .route(web::post().to(revoke))
            .route(web::delete().to(unrevoke)),
    );
}

/// Every revocation.
#[utoipa::path(get, path = "/admin/v1/revocations", tag = "admin",
    responses(CredentialAnswers,
              (status = 200, description = "`{revocations: [{kind, issuer, value, reason, created_at, created_by}]}`."),
              (status = 401, description = "No or invalid passport.", body = Problem),
              (status = 403, description = "Not an administrator.", body = Problem)))]
pub async fn list(
    req: HttpRequest,
    revocations: web::Data<RevocationsService>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let revocations = revocations.list(&context(&req, "admin"), &caller.0).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "revocations": revocations })))
}

/// A revocation as an administrator posts it.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRevocation {
    /// One token (`value` is its `jti`) or every token of a subject (`value` is its `sub`).
    #[schemars(with = "KindName")]
    pub kind: RevocationKind,
    /// The issuer of the token or subject.
    pub issuer: String,
    /// The `jti` or `sub`.
    pub value: String,
    /// Why (kept in the audit log).
    pub reason: String,
}

/// The spelling of [`RevocationKind`] on the wire.
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // Reason: only its schema is used, for `NewRevocation::kind`.
enum KindName {
    Token,
    Subject,
}

/// Revokes a token or a subject: 201 when new, 200 when it was revoked already.
#[utoipa::path(post, path = "/admin/v1/revocations", tag = "admin",
    request_body(content = Object, description = "`{kind: token|subject, issuer, value, reason}`: value is the token's `jti` or the subject's `sub`."),
    responses(CredentialAnswers,
              (status = 201, description = "Revoked."),
              (status = 200, description = "Already revoked."),
              (status = 400, description = "Invalid revocation.", body = Problem),
              (status = 401, description = "No or invalid passport.", body = Problem),
              (status = 403, description = "Not an administrator.", body = Problem)))]
pub async fn revoke(
    req: HttpRequest,
    revocations: web::Data<RevocationsService>,
    caller: Caller,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: NewRevocation = super::parse_body(body.into_inner())?;
    let revocation = Revocation {
        kind: body.kind,
        issuer: body.issuer,
        value: body.value,
        reason: body.reason,
        created_at: String::new(),
        created_by: String::new(),
    };
    let new = revocations
        .revoke(&context(&req, "admin"), &caller.0, &revocation)
        .await?;
    let mut res = if new {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(res.json(serde_json::json!({
        "kind": revocation.kind,
        "issuer": revocation.issuer,
        "value": revocation.value,
    })))
}

/// Which revocation to lift.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Which {
    /// `token` or `subject`.
    pub kind: RevocationKind,
    /// The issuer.
    pub issuer: String,
    /// The `jti` or `sub`.
    pub value: String,
}

/// Lifts a revocation: 204, or 404 when there was none.
#[utoipa::path(delete, path = "/admin/v1/revocations", tag = "admin",
    params(("kind" = String, Query, description = "token or subject"), ("issuer" = String, Query, description = "Issuer"), ("value" = String, Query, description = "jti or sub")),
    responses((status = 400, description = "Malformed parameters or body: a value of the wrong type, or a parameter or member this endpoint does not take.", body = Problem),
              CredentialAnswers,
              (status = 204, description = "Lifted."),
              (status = 401, description = "No or invalid passport.", body = Problem),
              (status = 403, description = "Not an administrator.", body = Problem),
              (status = 404, description = "No such revocation.", body = Problem)))]
pub async fn unrevoke(
    req: HttpRequest,
    revocations: web::Data<RevocationsService>,
    caller: Caller,
    which: web::Query<Which>,
) -> Result<HttpResponse, ApiError> {
    let removed = revocations
        .unrevoke(
            &context(&req, "admin"),
            &caller.0,
            which.kind,
            &which.issuer,
            &which.value,
        )
        .await?;
    if removed {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::Core(gemj_core::CoreError::NotFound))
    }
}
