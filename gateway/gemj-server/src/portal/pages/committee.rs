//! The data-use committee's page: pending applications and approvals, decided with reasons.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::*;

/// Registers the committee's page and its forms.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal/committee", web::get().to(committee))
        .route(
            "/portal/committee/applications/{id}",
            web::post().to(decide),
        )
        .route(
            "/portal/committee/approvals/{id}",
            web::post().to(change_status),
        );
}

// ---------------------------------------------------------------------------------------------
// The committee.

#[derive(Template)]
#[template(path = "portal/committee.html")]
struct CommitteePage {
    c: Common,
    csrf: String,
    pending: Vec<ApplicationRow>,
    approvals: Vec<ApprovalRow>,
}

async fn committee(
    req: HttpRequest,
    deps: Deps,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let (lang, user) = deps.signed_in(&req).await?;
    let t = lang.texts();
    let view = deps
        .approvals
        .committee_view(&ctx(&req), &user.principal, 200)
        .await
        .map_err(core_fail(&req, lang, Some(&user)))?;
    let page = CommitteePage {
        c: common(
            lang,
            Some(&user),
            t.committee,
            &here(&req),
            flash(t, &query.done),
        ),
        csrf: user.csrf.clone(),
        pending: view.pending.iter().map(|a| application_row(t, a)).collect(),
        approvals: view.approvals.iter().map(approval_row).collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(serde::Deserialize)]
struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    valid_days: String,
}

async fn decide(
    req: HttpRequest,
    deps: Deps,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (lang, user, form): (_, _, DecisionForm) = deps.signed_form(&req, &body).await?;
    let f = fail(&req, lang, Some(&user));
    let approve = match form.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(f(Failure::BadRequest("decision".to_owned()))),
    };
    let days = if form.valid_days.trim().is_empty() {
        365
    } else {
        form.valid_days
            .trim()
            .parse::<u16>()
            .map_err(|_| f(Failure::BadRequest("valid_days".to_owned())))?
    };
    deps.approvals
        .decide(
            &ctx(&req),
            &user.principal,
            &id,
            approve,
            &form.reason,
            days,
        )
        .await
        .map_err(core_fail(&req, lang, Some(&user)))?;
    Ok(see_other(if approve {
        "/portal/committee?done=approved"
    } else {
        "/portal/committee?done=rejected"
    }))
}

#[derive(serde::Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
}

async fn change_status(
    req: HttpRequest,
    deps: Deps,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (lang, user, form): (_, _, StatusForm) = deps.signed_form(&req, &body).await?;
    let f = fail(&req, lang, Some(&user));
    let status = match form.status.as_str() {
        "active" => ApprovalStatus::Active,
        "suspended" => ApprovalStatus::Suspended,
        "revoked" => ApprovalStatus::Revoked,
        _ => return Err(f(Failure::BadRequest("status".to_owned()))),
    };
    if form.reason.trim().is_empty() {
        return Err(f(Failure::BadRequest(lang.texts().reason.to_owned())));
    }
    deps.approvals
        .set_status(&ctx(&req), &user.principal, &id, status, &form.reason)
        .await
        .map_err(core_fail(&req, lang, Some(&user)))?;
    Ok(see_other("/portal/committee?done=status"))
}
