//! A hospital coordinator's pages: the recontact inbox, their participants, a participant's
//! consent, access report and the two-step withdrawal.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use gemj_core::CoreError;
use gemj_core::recontact::OutcomeReport;

use super::*;

/// Registers the coordinator's pages and forms.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal/institution", web::get().to(institution))
        .route("/portal/institution/recontact", web::post().to(outcome))
        .route(
            "/portal/institution/participants/{id}",
            web::get().to(participant),
        )
        .route(
            "/portal/institution/participants/{id}/withdraw",
            web::post().to(withdraw),
        );
}

// ---------------------------------------------------------------------------------------------
// A hospital's coordinator.

struct InboxRow {
    request: String,
    participant: String,
    kind: String,
    reason: String,
    status: String,
}

struct ParticipantRow {
    id: String,
    state: String,
}

#[derive(Template)]
#[template(path = "portal/institution.html")]
struct InstitutionPage {
    c: Common,
    csrf: String,
    institution: String,
    inbox: Vec<InboxRow>,
    participants: Vec<ParticipantRow>,
    next_after: Option<String>,
}

fn name_of<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A consent event's kind (`initial_consent`, `withdrawal: stop_all_use`, ...).
fn event_kind(kind: &gemj_model::ConsentEventKind) -> String {
    let value = serde_json::to_value(kind).unwrap_or_default();
    let name = value
        .get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or_default();
    match value.get("level").and_then(|l| l.as_str()) {
        Some(level) => format!("{name}: {level}"),
        None => name.to_owned(),
    }
}

/// The consent state's overall status as its stable code and in the reader's words.
fn state_words(state: Option<&gemj_model::ConsentState>) -> (String, String) {
    match state {
        None => ("none".to_owned(), "—".to_owned()),
        Some(s) => {
            let code = name_of(&s.status);
            let mut words = code.clone();
            if let Some(w) = &s.withdrawal {
                words = format!("{words} ({})", name_of(w));
            }
            (code, words)
        }
    }
}

async fn institution(
    req: HttpRequest,
    deps: Deps,
    query: web::Query<AfterQuery>,
    done: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let (lang, user) = deps.signed_in(&req).await?;
    let f = core_fail(&req, lang, Some(&user));
    let Some(inst) = user.institution.clone() else {
        return Err(f(CoreError::Denied(Box::new(gemj_core::access::Denial {
            reasons: vec![gemj_core::access::Reason::InstitutionCredentialRequired],
            unauthenticated: false,
            duo: None,
        }))));
    };
    let t = lang.texts();
    let inbox = deps
        .recontact
        .inbox(&ctx(&req), &user.principal, inst.as_str())
        .await
        .map_err(&f)?;
    let list = deps
        .consent
        .participants(
            &ctx(&req),
            &user.principal,
            inst.as_str(),
            query.after.as_deref().filter(|a| !a.is_empty()),
            100,
        )
        .await
        .map_err(&f)?;
    let next_after = (list.len() == 100)
        .then(|| list.last().map(|(id, _)| id.to_string()))
        .flatten();
    let page = InstitutionPage {
        c: common(
            lang,
            Some(&user),
            t.institution_page,
            &here(&req),
            flash(t, &done.done),
        ),
        csrf: user.csrf.clone(),
        institution: inst.to_string(),
        inbox: inbox
            .iter()
            .map(|e| InboxRow {
                request: e.request.to_string(),
                participant: e.participant.to_string(),
                kind: name_of(&e.kind),
                reason: e.reason.clone(),
                status: name_of(&e.status),
            })
            .collect(),
        participants: list
            .iter()
            .map(|(id, state)| ParticipantRow {
                id: id.to_string(),
                state: state_words(state.as_ref()).1,
            })
            .collect(),
        next_after,
    };
    Ok(render(StatusCode::OK, &page))
}

struct EventRow {
    at: String,
    id: String,
    kind: String,
}

struct AccessRow {
    at: String,
    who: String,
    api: String,
    action: String,
    decision: &'static str,
    approval: String,
    records: String,
}

#[derive(Template)]
#[template(path = "portal/participant.html")]
struct ParticipantPage {
    c: Common,
    csrf: String,
    levels: [&'static str; 4],
    id: String,
    state: String,
    state_code: String,
    events: Vec<EventRow>,
    accesses: Vec<AccessRow>,
    plot: Option<String>,
    can_withdraw: bool,
}

async fn participant(
    req: HttpRequest,
    deps: Deps,
    id: web::Path<String>,
    done: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let (lang, user) = deps.signed_in(&req).await?;
    let f = core_fail(&req, lang, Some(&user));
    let t = lang.texts();
    let record = deps
        .consent
        .get_record(&ctx(&req), &user.principal, &id)
        .await
        .map_err(&f)?;
    let report = deps
        .audit
        .participant_history(&ctx(&req), &user.principal, &id, 0, 500)
        .await
        .map_err(&f)?;
    let (state_code, state) = state_words(record.state.as_ref());
    let days = per_day(report.records.iter().map(|r| r.at.as_str()));
    let page = ParticipantPage {
        c: common(
            lang,
            Some(&user),
            t.participant,
            &here(&req),
            flash(t, &done.done),
        ),
        csrf: user.csrf.clone(),
        levels: LEVELS,
        id: record.participant.to_string(),
        can_withdraw: state_code != "withdrawn",
        state,
        state_code,
        events: record
            .events
            .iter()
            .rev()
            .map(|e| EventRow {
                at: e
                    .event
                    .effective_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                id: e.event.event_id.clone(),
                kind: event_kind(&e.event.kind),
            })
            .collect(),
        plot: (!days.is_empty()).then(|| {
            day_plot(
                "participant-accesses-plot",
                t,
                t.participant_accesses_title,
                &days,
            )
        }),
        accesses: report
            .records
            .iter()
            .rev()
            .map(|a| AccessRow {
                at: a.at.clone(),
                who: a.principal.clone(),
                api: a.api.clone(),
                action: a.action.clone(),
                decision: if a.decision == gemj_model::AccessDecision::Permit {
                    t.permit
                } else {
                    t.deny
                },
                approval: a.approval.clone().unwrap_or_default(),
                records: a
                    .records_returned
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(serde::Deserialize)]
struct WithdrawForm {
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    level: String,
}

/// The withdrawal levels a coordinator may record, the full withdrawal first.
const LEVELS: [&str; 4] = [
    "stop_all_use",
    "stop_all_use_and_destroy",
    "stop_third_party_provision",
    "stop_contact",
];

fn level_of(s: &str) -> Result<gemj_model::WithdrawalLevel, Failure> {
    let s = if s.is_empty() { LEVELS[0] } else { s };
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| Failure::BadRequest(format!("not a withdrawal level: {s}")))
}

#[derive(Template)]
#[template(path = "portal/confirm_withdraw.html")]
struct ConfirmWithdrawPage {
    c: Common,
    csrf: String,
    id: String,
    level: String,
}

async fn withdraw(
    req: HttpRequest,
    deps: Deps,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (lang, user, form): (_, _, WithdrawForm) = deps.signed_form(&req, &body).await?;
    let f = fail(&req, lang, Some(&user));
    let t = lang.texts();
    let level = level_of(&form.level).map_err(&f)?;
    if form.confirm != "yes" {
        // First step: the coordinator sees what will happen and confirms.
        let page = ConfirmWithdrawPage {
            c: common(
                lang,
                Some(&user),
                t.withdraw_confirm_title,
                &here(&req),
                None,
            ),
            csrf: user.csrf.clone(),
            id: id.to_string(),
            level: name_of(&level),
        };
        return Ok(render(StatusCode::OK, &page));
    }
    let Some(institution) = user.institution.clone() else {
        return Err(f(Failure::Core(CoreError::Forbidden(
            t.role_coordinator.to_owned(),
        ))));
    };
    let participant =
        gemj_model::ParticipantId::parse(&id).map_err(|_| f(Failure::Core(CoreError::NotFound)))?;
    let event = gemj_model::ConsentEvent {
        event_id: format!("portal-{}", uuid::Uuid::new_v4()),
        participant,
        institution,
        effective_at: time::OffsetDateTime::now_utc(),
        kind: gemj_model::ConsentEventKind::Withdrawal { level },
    };
    deps.consent
        .post_event(&ctx(&req), &user.principal, &event)
        .await
        .map_err(core_fail(&req, lang, Some(&user)))?;
    Ok(see_other(&format!(
        "/portal/institution/participants/{}?done=withdrawn",
        encode_component(&id)
    )))
}

#[derive(serde::Deserialize)]
struct OutcomeForm {
    #[serde(default)]
    request: String,
    #[serde(default)]
    participant: String,
    #[serde(default)]
    status: String,
}

async fn outcome(
    req: HttpRequest,
    deps: Deps,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (lang, user, form): (_, _, OutcomeForm) = deps.signed_form(&req, &body).await?;
    let f = fail(&req, lang, Some(&user));
    let Some(institution) = user.institution.clone() else {
        return Err(f(Failure::Core(CoreError::Forbidden(
            lang.texts().role_coordinator.to_owned(),
        ))));
    };
    let report: OutcomeReport = serde_json::from_value(serde_json::json!({
        "request": form.request,
        "participant": form.participant,
        "status": form.status,
    }))
    .map_err(|_| f(Failure::BadRequest("status".to_owned())))?;
    deps.recontact
        .report_outcomes(&ctx(&req), &user.principal, institution.as_str(), &[report])
        .await
        .map_err(core_fail(&req, lang, Some(&user)))?;
    Ok(see_other("/portal/institution?done=outcome"))
}
