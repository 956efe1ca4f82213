//! Consent: the append-only, hash-chained event log per participant, the projected state of
//! each participant, and the global consent epoch.
//!
//! Appending one event is one transaction: lock the epoch row (which serialises appends),
//! check idempotency by (institution, event id), chain the event to the participant's
//! previous one with [`gemj_model::chain::link`], re-project the participant's state with
//! [`gemj_model::consent::project`], and increment the epoch. There is no update or delete.

use gemj_model::chain::{GENESIS, link};
use gemj_model::consent::project;
use gemj_model::{ConsentEvent, ConsentState, ParticipantId};

use crate::catalog::parse_participant_id;
use crate::convert::{from_json, json_list, rfc3339, to_json, variant_name};
use crate::{Store, StoreError, with_pool, with_tx};

/// What [`Store::append_consent_event`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppendOutcome {
    /// The event was new and is stored with this sequence number.
    Appended {
        /// Its place in the consent log.
        seq: i64,
    },
    /// The same event (same institution, id and contents) was already stored.
    Duplicate {
        /// The stored event's sequence number.
        seq: i64,
    },
}

impl AppendOutcome {
    /// The stored event's sequence number, new or not.
    #[must_use]
    pub fn seq(self) -> i64 {
        match self {
            Self::Appended { seq } | Self::Duplicate { seq } => seq,
        }
    }
}

/// A stored consent event with its place in the participant's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConsentEvent {
    /// Sequence number in the (global) consent log; increasing along each participant's chain.
    pub seq: i64,
    /// The event.
    pub event: ConsentEvent,
    /// Hash of the participant's previous event ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// Hash of this event.
    pub hash: String,
}

/// The PostgreSQL notification channel on which every consent change is announced.
pub const CONSENT_CHANNEL: &str = "gemj_consent";

/// A subscription to changes made by any instance sharing the store (consent, or the catalogue
/// through [`Store::catalogue_changes`]). On PostgreSQL it wakes on `NOTIFY`; on SQLite (one instance per file) it never wakes, and polling the epoch
/// is the whole mechanism.
pub struct ConsentChanges {
    listener: Option<sqlx::postgres::PgListener>,
}

impl std::fmt::Debug for ConsentChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentChanges")
            .field("listening", &self.listener.is_some())
            .finish()
    }
}

impl ConsentChanges {
    /// Waits for the next change notification.
    ///
    /// # Errors
    /// When the listening connection fails (it reconnects on the next call).
    pub async fn next(&mut self) -> Result<(), StoreError> {
        match &mut self.listener {
            Some(l) => {
                l.recv().await?;
                Ok(())
            }
            None => std::future::pending().await,
        }
    }
}

/// Parses a stored consent event body.
pub(crate) fn parse_event(id: &str, body: &str) -> Result<ConsentEvent, StoreError> {
    from_json("consent event", id, body)
}

/// Reads the last consent seq, locking the epoch row on PostgreSQL (SQLite write transactions
/// already hold the database write lock). This serialises consent writers.
macro_rules! lock_epoch {
    ($tx:ident, $pg:ident) => {{
        let last_seq: i64 = sqlx::query_scalar(if $pg {
            "SELECT last_seq FROM consent_epoch WHERE id = 1 FOR UPDATE"
        } else {
            "SELECT last_seq FROM consent_epoch WHERE id = 1"
        })
        .fetch_one(&mut *$tx)
        .await?;
        last_seq
    }};
}

/// A participant's stored events, in order.
macro_rules! load_events {
    ($tx:ident, $participant:expr) => {{
        let participant: &str = $participant;
        let bodies: Vec<(i64, String)> = sqlx::query_as(
            "SELECT seq, body FROM consent_events WHERE participant = $1 ORDER BY seq",
        )
        .bind(participant)
        .fetch_all(&mut *$tx)
        .await?;
        bodies
            .iter()
            .map(|(seq, b)| parse_event(&format!("{participant}#{seq}"), b))
            .collect::<Result<Vec<ConsentEvent>, StoreError>>()?
    }};
}

/// Appends `$event` inside the open transaction `$tx` (see [`Store::append_consent_event`]):
/// chains it, re-projects the participant's state and bumps the consent epoch. Evaluates to
/// `AppendOutcome`; `return`s a conflict error from the enclosing function.
macro_rules! append_in_tx {
    ($tx:ident, $pg:ident, $event:expr, $key:expr, $body:expr, $now:expr) => {{
        let event: &ConsentEvent = $event;
        let key: &str = $key;
        let body: &str = $body;
        let now: time::OffsetDateTime = $now;
        let participant = event.participant.as_str();
        let pg = $pg;
        let last_seq = lock_epoch!($tx, pg);

        let stored: Option<(i64, String)> = sqlx::query_as(
            "SELECT seq, body FROM consent_events WHERE institution = $1 AND event_id = $2",
        )
        .bind(event.institution.as_str())
        .bind(event.event_id.as_str())
        .fetch_optional(&mut *$tx)
        .await?;
        if let Some((seq, stored_body)) = stored {
            let stored_event = parse_event(key, &stored_body)?;
            return if stored_event == *event {
                Ok(AppendOutcome::Duplicate { seq })
            } else {
                Err(StoreError::conflict("consent event", key))
            };
        }

        let prev_hash: String = sqlx::query_scalar(
            "SELECT hash FROM consent_events WHERE participant = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(participant)
        .fetch_optional(&mut *$tx)
        .await?
        .unwrap_or_else(|| GENESIS.to_owned());
        let seq = last_seq + 1;
        let hash = link(&prev_hash, seq, body.as_bytes());
        let recorded_at = rfc3339(now);
        sqlx::query(
            "INSERT INTO consent_events (seq, institution, event_id, participant, \
               effective_at, recorded_at, body, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(seq)
        .bind(event.institution.as_str())
        .bind(event.event_id.as_str())
        .bind(participant)
        .bind(rfc3339(event.effective_at))
        .bind(recorded_at.as_str())
        .bind(body)
        .bind(prev_hash.as_str())
        .bind(hash.as_str())
        .execute(&mut *$tx)
        .await?;

        let events = load_events!($tx, participant);
        let state = project(&event.participant, &events, now);
        sqlx::query(
            "INSERT INTO consent_states (participant, status, state, head_seq, head_hash, \
               updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (participant) DO UPDATE SET status = excluded.status, \
               state = excluded.state, head_seq = excluded.head_seq, \
               head_hash = excluded.head_hash, updated_at = excluded.updated_at",
        )
        .bind(participant)
        .bind(variant_name(&state.status))
        .bind(to_json("consent state", participant, &state)?)
        .bind(seq)
        .bind(hash.as_str())
        .bind(recorded_at.as_str())
        .execute(&mut *$tx)
        .await?;
        sqlx::query("UPDATE consent_epoch SET epoch = epoch + 1, last_seq = $1 WHERE id = 1")
            .bind(seq)
            .execute(&mut *$tx)
            .await?;
        if pg {
            // Delivered on commit to every instance listening (see `consent_changes`).
            sqlx::query("SELECT pg_notify($1, 'epoch')")
                .bind(CONSENT_CHANNEL)
                .execute(&mut *$tx)
                .await?;
        }
        AppendOutcome::Appended { seq }
    }};
}

pub(crate) use {append_in_tx, load_events, lock_epoch};

impl Store {
    /// Appends a consent event, idempotently by (institution, event id), chaining it to the
    /// participant's previous event, re-projecting the participant's [`ConsentState`] (as of
    /// now) and incrementing the consent epoch, all in one transaction.
    ///
    /// Events with an `effective_at` in the future are stored now and take effect in the
    /// projection when it is next computed: at the participant's next event, or at the first
    /// [`Store::refresh_consent_states`] after that time.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when an event with the same institution and id but other
    /// contents is stored; [`StoreError::InvalidData`] when a stored event no longer parses.
    pub async fn append_consent_event(
        &self,
        event: &ConsentEvent,
    ) -> Result<AppendOutcome, StoreError> {
        let key = format!("{}/{}", event.institution, event.event_id);
        let body = to_json("consent event", &key, event)?;
        let participant = event.participant.as_str();
        let now = time::OffsetDateTime::now_utc();
        let outcome = with_tx!(self, |tx, pg| {
            append_in_tx!(tx, pg, event, &key, &body, now)
        });
        tracing::debug!(message = "Consent event appended.", seq = outcome.seq(), %participant);
        Ok(outcome)
    }

    /// Re-projects every consent state in which a stored event has come into effect since the
    /// state was last projected (events sent with a future `effective_at`), and increments the
    /// consent epoch once when any was re-projected. Returns how many states were re-projected.
    /// Call it periodically (for example every minute).
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored event no longer parses.
    pub async fn refresh_consent_states(&self) -> Result<u64, StoreError> {
        let now = time::OffsetDateTime::now_utc();
        let now_text = rfc3339(now);
        let refreshed = with_tx!(self, |tx, pg| {
            lock_epoch!(tx, pg);
            let due: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT e.participant FROM consent_events e \
                 JOIN consent_states s ON s.participant = e.participant \
                 WHERE e.effective_at > s.updated_at AND e.effective_at <= $1 \
                 ORDER BY e.participant",
            )
            .bind(now_text.as_str())
            .fetch_all(&mut *tx)
            .await?;
            for participant in &due {
                let id = crate::catalog::parse_participant_id(participant.clone())?;
                let events = load_events!(tx, participant);
                let state = project(&id, &events, now);
                sqlx::query(
                    "UPDATE consent_states SET status = $1, state = $2, updated_at = $3 \
                     WHERE participant = $4",
                )
                .bind(variant_name(&state.status))
                .bind(to_json("consent state", participant, &state)?)
                .bind(now_text.as_str())
                .bind(participant.as_str())
                .execute(&mut *tx)
                .await?;
            }
            if !due.is_empty() {
                sqlx::query("UPDATE consent_epoch SET epoch = epoch + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await?;
                if pg {
                    sqlx::query("SELECT pg_notify($1, 'epoch')")
                        .bind(CONSENT_CHANNEL)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            due.len()
        });
        Ok(u64::try_from(refreshed).unwrap_or(u64::MAX))
    }

    /// A participant's consent events in order, with their chain hashes.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored event no longer parses.
    pub async fn consent_events(
        &self,
        participant: &ParticipantId,
    ) -> Result<Vec<StoredConsentEvent>, StoreError> {
        let rows: Vec<(i64, String, String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT seq, body, prev_hash, hash FROM consent_events \
                 WHERE participant = $1 ORDER BY seq",
            )
            .bind(participant.as_str())
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(seq, body, prev_hash, hash)| {
                Ok(StoredConsentEvent {
                    seq,
                    event: parse_event(&format!("{participant}#{seq}"), &body)?,
                    prev_hash,
                    hash,
                })
            })
            .collect()
    }

    /// A participant's projected consent state, or `None` when no event was ever received.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored state no longer parses.
    pub async fn consent_state(
        &self,
        participant: &ParticipantId,
    ) -> Result<Option<ConsentState>, StoreError> {
        let state: Option<String> = with_pool!(self, |p| {
            sqlx::query_scalar("SELECT state FROM consent_states WHERE participant = $1")
                .bind(participant.as_str())
                .fetch_optional(p)
                .await?
        });
        state
            .map(|s| from_json("consent state", participant.as_str(), &s))
            .transpose()
    }

    /// The projected consent states of the given participants that have any (ordered by
    /// participant id).
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored state no longer parses.
    pub async fn consent_states(
        &self,
        participants: &[ParticipantId],
    ) -> Result<Vec<ConsentState>, StoreError> {
        if participants.is_empty() {
            return Ok(Vec::new());
        }
        let list = json_list(participants.iter().map(ParticipantId::as_str));
        let rows: Vec<(String, String)> = with_pool!(self, |p, pg| {
            sqlx::query_as(if pg {
                "SELECT participant, state FROM consent_states \
                 WHERE participant IN (SELECT json_array_elements_text($1::json)) \
                 ORDER BY participant"
            } else {
                "SELECT participant, state FROM consent_states \
                 WHERE participant IN (SELECT value FROM json_each($1)) ORDER BY participant"
            })
            .bind(list)
            .fetch_all(p)
            .await?
        });
        rows.iter()
            .map(|(id, s)| from_json("consent state", id, s))
            .collect()
    }

    /// Subscribes to consent changes from every instance sharing this store.
    ///
    /// # Errors
    /// When the PostgreSQL listening connection cannot be opened.
    pub async fn consent_changes(&self) -> Result<ConsentChanges, StoreError> {
        self.changes_on(CONSENT_CHANNEL).await
    }

    /// A subscription to one notification channel (see [`ConsentChanges`]).
    pub(crate) async fn changes_on(&self, channel: &str) -> Result<ConsentChanges, StoreError> {
        match &self.pool {
            crate::Pool::Sqlite(_) => Ok(ConsentChanges { listener: None }),
            crate::Pool::Pg(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(channel).await?;
                Ok(ConsentChanges {
                    listener: Some(listener),
                })
            }
        }
    }

    /// Every projected consent state, in participant order.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored state does not parse.
    pub async fn all_consent_states(&self) -> Result<Vec<ConsentState>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |p| {
            sqlx::query_as("SELECT participant, state FROM consent_states ORDER BY participant")
                .fetch_all(p)
                .await?
        });
        rows.iter()
            .map(|(id, state)| from_json("consent state", id, state))
            .collect()
    }

    /// The consent epoch: incremented by every appended event and by every
    /// [`Store::refresh_consent_states`] that re-projects a state. Caches of consent decisions
    /// are valid while it does not change.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn consent_epoch(&self) -> Result<i64, StoreError> {
        Ok(with_pool!(self, |p| {
            sqlx::query_scalar("SELECT epoch FROM consent_epoch WHERE id = 1")
                .fetch_one(p)
                .await?
        }))
    }

    /// Participants whose consent is fully withdrawn, ordered by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored id no longer parses.
    pub async fn withdrawn_participants(&self) -> Result<Vec<ParticipantId>, StoreError> {
        let ids: Vec<String> = with_pool!(self, |p| {
            sqlx::query_scalar(
                "SELECT participant FROM consent_states WHERE status = $1 ORDER BY participant",
            )
            .bind(variant_name(&gemj_model::ConsentStatus::Withdrawn))
            .fetch_all(p)
            .await?
        });
        ids.into_iter().map(parse_participant_id).collect()
    }
}
