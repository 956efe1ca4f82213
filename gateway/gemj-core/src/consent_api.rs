//! The consent registry as institutions use it: post consent events for their participants,
//! read a participant's current state and history. Only the institution that enrolled a
//! participant may do either; to every other caller the participant does not exist.
//!
//! Invariant: when [`post_event`] returns, this instance's consent view already includes the
//! event (a withdrawal is enforced here before the institution hears back); other instances
//! sharing the PostgreSQL store follow within the consent view's poll interval.

use gemj_model::{ConsentEvent, ConsentState, ParticipantId};
use gemj_store::AppendOutcome;

use crate::access::{Action, Ask, OnDenial, Outcome, Permit, Principal, RequestContext, Resource};
use crate::{CoreError, Shared};

/// The most events one history page returns.
pub const MAX_EVENTS: usize = 10_000;

/// The answer to a posted event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PostedEvent {
    /// The event id.
    pub event_id: String,
    /// The participant.
    pub participant: ParticipantId,
    /// Its place in the consent log.
    pub seq: i64,
    /// Whether the same event had been received before (nothing changed).
    pub duplicate: bool,
    /// The participant's consent state now.
    pub state: Option<ConsentState>,
    /// The consent epoch at which this instance enforces it.
    pub consent_epoch: i64,
}

/// One event of a participant's history, with its chain hashes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryEvent {
    /// Its place in the consent log.
    pub seq: i64,
    /// The event as received.
    pub event: ConsentEvent,
    /// Hash of the previous event of this participant.
    pub prev_hash: String,
    /// Hash of this event.
    pub hash: String,
}

/// A participant's consent: the current state and every event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsentRecord {
    /// The participant.
    pub participant: ParticipantId,
    /// The current state (`null` before any event).
    pub state: Option<ConsentState>,
    /// Every event, oldest first.
    pub events: Vec<HistoryEvent>,
}

/// Looks up the participant: the ask to manage them. Unknown participants and participants of
/// another institution are both refused as not found (see [`on_denial`]).
///
/// # Errors
/// Store failures.
pub(crate) async fn manage(core: &Shared, participant: &ParticipantId) -> Result<Ask, CoreError> {
    let institution = core
        .store
        .get_participant(participant)
        .await?
        .map(|p| p.institution);
    let resource = Resource::Participant {
        id: participant.clone(),
        institution,
    };
    Ok(Ask::new(Action::ManageParticipants, resource))
}

/// What a refused institution request answers: another institution's participant is not
/// found; a caller that is not an institution is told why.
pub(crate) fn on_denial(principal: &Principal) -> OnDenial {
    if matches!(principal, Principal::Institution(_)) {
        OnDenial::Hide
    } else {
        OnDenial::Explain
    }
}

/// Serves `principal` on the consent of `participant`, as the institution that enrolled them:
/// enforces [`manage`] (refusing as [`on_denial`] says), then runs `serve` under the permit.
pub(crate) async fn as_manager<T>(
    core: &Shared,
    ctx: &RequestContext,
    principal: &Principal,
    participant: &ParticipantId,
    serve: impl AsyncFnOnce(&Permit) -> Result<(T, Outcome), CoreError>,
) -> Result<T, CoreError> {
    let ask = manage(core, participant).await?;
    core.access
        .enforce(ctx, principal, ask, on_denial(principal), serve)
        .await
}

/// The service of the consent registry: built once at start, cheap to clone.
#[derive(Debug, Clone)]
pub struct ConsentService {
    core: Shared,
}

impl ConsentService {
    /// The service over the gateway's shared parts.
    #[must_use]
    pub fn new(core: Shared) -> Self {
        Self { core }
    }
}

impl ConsentService {
    /// Posts a consent event of the caller's institution. Idempotent by (institution, event id).
    ///
    /// # Errors
    /// [`CoreError::InvalidInput`] when the event names another institution;
    /// [`CoreError::NotFound`] for a participant the institution does not manage;
    /// [`CoreError::Conflict`] for a reused event id with other contents;
    /// [`CoreError::Denied`] for a caller that is not an institution.
    pub async fn post_event(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        event: &ConsentEvent,
    ) -> Result<PostedEvent, CoreError> {
        let core = &self.core;
        if let Principal::Institution(i) = principal
            && i.institution != event.institution
        {
            return Err(CoreError::InvalidInput(format!(
                "the event's institution must be the caller's institution ({})",
                i.institution
            )));
        }
        if event.event_id.is_empty() || event.event_id.len() > 128 {
            return Err(CoreError::InvalidInput(
                "event_id must be 1 to 128 characters".to_owned(),
            ));
        }
        let (appended, snapshot) = as_manager(
            core,
            ctx,
            principal,
            &event.participant,
            async |permit: &Permit| {
                let (appended, snapshot) = append(core, permit, event).await?;
                let outcome = Outcome {
                    consent_epoch: Some(snapshot.epoch),
                    participants: vec![event.participant.clone()],
                    ..Outcome::returned(1)
                };
                Ok(((appended, snapshot), outcome))
            },
        )
        .await?;
        Ok(PostedEvent {
            event_id: event.event_id.clone(),
            participant: event.participant.clone(),
            seq: appended.seq(),
            duplicate: matches!(appended, AppendOutcome::Duplicate { .. }),
            state: core.store.consent_state(&event.participant).await?,
            consent_epoch: snapshot.epoch,
        })
    }

    /// A participant's current consent state and history, for the institution that enrolled them.
    ///
    /// # Errors
    /// [`CoreError::NotFound`] for a participant the caller does not manage (or that does not
    /// exist); [`CoreError::Denied`] for a caller that is not an institution.
    pub async fn get_record(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        participant: &str,
    ) -> Result<ConsentRecord, CoreError> {
        let core = &self.core;
        let Ok(participant) = ParticipantId::parse(participant) else {
            return Err(CoreError::NotFound);
        };
        let (state, events) = as_manager(
            core,
            ctx,
            principal,
            &participant,
            async |permit: &Permit| {
                let (state, events) = history(core, permit, &participant).await?;
                let outcome = Outcome {
                    participants: vec![participant.clone()],
                    ..Outcome::returned(events.len())
                };
                Ok(((state, events), outcome))
            },
        )
        .await?;
        Ok(ConsentRecord {
            participant,
            state,
            events,
        })
    }

    /// An institution's participants with their consent state (`None`: no event yet), in id
    /// order after `after`, at most `limit` (capped at 500): the coordinator's list.
    ///
    /// # Errors
    /// [`CoreError::NotFound`] for another institution; [`CoreError::Denied`] for a caller that
    /// is not an institution.
    pub async fn participants(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        institution: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(ParticipantId, Option<gemj_model::ConsentState>)>, CoreError> {
        let core = &self.core;
        let Ok(institution) = gemj_model::InstitutionId::parse(institution) else {
            return Err(CoreError::NotFound);
        };
        let after = after
            .map(ParticipantId::parse)
            .transpose()
            .map_err(|_| CoreError::InvalidInput("`after` is not a participant id".to_owned()))?;
        let ask = Ask::new(
            crate::access::Action::ManageParticipants,
            Resource::Institution(institution.clone()),
        );
        core.access
            .enforce(
                ctx,
                principal,
                ask,
                on_denial(principal),
                async |_: &Permit| {
                    let ids = core
                        .store
                        .participants_of_institution(&institution, after.as_ref(), limit.min(500))
                        .await?;
                    let mut states: std::collections::HashMap<
                        ParticipantId,
                        gemj_model::ConsentState,
                    > = core
                        .store
                        .consent_states(&ids)
                        .await?
                        .into_iter()
                        .map(|s| (s.participant.clone(), s))
                        .collect();
                    let out: Vec<_> = ids
                        .into_iter()
                        .map(|id| {
                            let state = states.remove(&id);
                            (id, state)
                        })
                        .collect();
                    let outcome = Outcome {
                        participants: out.iter().map(|(id, _)| id.clone()).collect(),
                        ..Outcome::returned(out.len())
                    };
                    Ok::<_, CoreError>((out, outcome))
                },
            )
            .await
    }
}

/// Appends an institution's consent event under its permit, and makes the consent view
/// include it before anything is answered: the stored event and the snapshot that holds it.
async fn append(
    core: &Shared,
    _permit: &Permit,
    event: &ConsentEvent,
) -> Result<(AppendOutcome, crate::consent_view::ConsentSnapshot), CoreError> {
    let appended = core.store.append_consent_event(event).await.map_err(|e| {
        if matches!(e, gemj_store::StoreError::Conflict { .. }) {
            CoreError::Conflict(format!(
                "event {} was already received with other contents",
                event.event_id
            ))
        } else {
            e.into()
        }
    })?;
    // Enforce here before answering: the view must include this event.
    core.consent.refresh().await?;
    let snapshot = core.consent.snapshot()?;
    Ok((appended, snapshot))
}

/// A participant's consent state and (at most [`MAX_EVENTS`]) events, for its institution.
async fn history(
    core: &Shared,
    _permit: &Permit,
    participant: &ParticipantId,
) -> Result<(Option<ConsentState>, Vec<HistoryEvent>), CoreError> {
    let state = core.store.consent_state(participant).await?;
    let events: Vec<HistoryEvent> = core
        .store
        .consent_events(participant)
        .await?
        .into_iter()
        .take(MAX_EVENTS)
        .map(|e| HistoryEvent {
            seq: e.seq,
            event: e.event,
            prev_hash: e.prev_hash,
            hash: e.hash,
        })
        .collect();
    Ok((state, events))
}
