//! The consent registry for institutions (`/consent/v1`): post consent events, read a
//! participant's consent state and history. Authenticated by tokens signed with the
//! institution's registered key; a participant of another institution is a 404.

use super::openapi::CredentialAnswers;
use actix_web::{HttpRequest, HttpResponse, web};
use gemj_model::ConsentEvent;

use super::{AnyCaller, context};
use crate::error::{ApiError, Problem};
use gemj_core::consent_api::ConsentService;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource_405("/consent/v1/events", "POST").route(web::post().to(post_event)),
    )
    .service(super::get_resource(
        "/consent/v1/participants/{id}",
        get_participant,
    ));
}

/// Posts a consent event for one of the institution's participants. Idempotent by event id;
/// enforced on this instance before the response, on every other instance within seconds.
#[utoipa::path(post, path = "/consent/v1/events", tag = "consent",
    request_body(content = Object, description = "A consent event: `event_id`, `participant`, `institution` (the caller's), `effective_at` (RFC 3339), `kind` (initial_consent, change_of_intention, withdrawal, reconsent_at_majority, death_reported, correction) and the kind's fields."),
    responses(CredentialAnswers,
              (status = 403, description = "The caller is not the institution this is for (a researcher's passport, or another institution's token).", body = Problem),
              (status = 201, description = "Recorded: `{event_id, participant, seq, duplicate: false, state, consent_epoch}`."),
              (status = 200, description = "Already recorded (same id and contents): `duplicate: true`."),
              (status = 400, description = "Malformed event, or another institution's.", body = Problem),
              (status = 401, description = "No or invalid institution token.", body = Problem),
              (status = 404, description = "Not a participant of the calling institution.", body = Problem),
              (status = 409, description = "The event id was used with other contents.", body = Problem),
              (status = 503, description = "Consent cannot be confirmed current; Retry-After.", body = Problem)))]
pub async fn post_event(
    req: HttpRequest,
    consent: web::Data<ConsentService>,
    caller: AnyCaller,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let event: ConsentEvent = super::parse_body(body.into_inner())?;
    let posted = consent
        .post_event(&context(&req, "consent"), &caller.0, &event)
        .await?;
    Ok(if posted.duplicate {
        HttpResponse::Ok().json(posted)
    } else {
        HttpResponse::Created().json(posted)
    })
}

/// A participant's consent state and every event, for the enrolling institution.
#[utoipa::path(get, path = "/consent/v1/participants/{id}", tag = "consent",
    params(("id" = String, Path, description = "Pseudonymous participant id")),
    responses(CredentialAnswers,
              (status = 403, description = "The caller is not the institution this is for (a researcher's passport, or another institution's token).", body = Problem),
              (status = 200, description = "`{participant, state, events: [{seq, event, prev_hash, hash}]}`."),
              (status = 401, description = "No or invalid institution token.", body = Problem),
              (status = 404, description = "Not a participant of the calling institution.", body = Problem)))]
pub async fn get_participant(
    req: HttpRequest,
    consent: web::Data<ConsentService>,
    caller: AnyCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = consent
        .get_record(&context(&req, "consent"), &caller.0, &id)
        .await?;
    Ok(HttpResponse::Ok().json(record))
}
