//! Each instance's view of consent: who has withdrawn and every participant's scopes, at a
//! known consent epoch. It is refreshed when any instance sharing the store announces a change
//! (PostgreSQL `LISTEN`/`NOTIFY`) and by polling the epoch, so a withdrawal received by another
//! instance is enforced here within the poll interval at worst. A view that could not confirm
//! its freshness for longer than the allowed staleness refuses to answer ([`Stale`]): serving
//! stale consent is worse than serving nothing.
//!
//! Invariant: the instance that receives a withdrawal refreshes its own view before the
//! request returns ([`ConsentView::refresh`]), so the withdrawing institution never sees its
//! participant served afterwards by the instance it talked to.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use gemj_model::{ConsentState, ParticipantId};
use gemj_store::Store;

use crate::CoreError;

/// Tuning of the consent view.
#[derive(Debug, Clone, Copy)]
pub struct ConsentViewOptions {
    /// How often the epoch is polled (a missed notification costs at most this).
    pub poll_interval: Duration,
    /// Older than this, the view refuses to answer.
    pub max_staleness: Duration,
}

impl Default for ConsentViewOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(1000),
            max_staleness: Duration::from_secs(5),
        }
    }
}

/// The view could not confirm it is current: answer 503 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the consent view is {age_ms} ms old")]
pub struct Stale {
    /// How old the view is.
    pub age_ms: u64,
}

/// A consistent snapshot: the epoch and the states it saw.
#[derive(Debug, Clone)]
pub struct ConsentSnapshot {
    /// The consent epoch of this snapshot (recorded in audit records).
    pub epoch: i64,
    states: Arc<HashMap<ParticipantId, ConsentState>>,
    withdrawn: Arc<HashSet<ParticipantId>>,
}

impl ConsentSnapshot {
    /// Whether the participant has fully withdrawn (never served).
    #[must_use]
    pub fn is_withdrawn(&self, participant: &ParticipantId) -> bool {
        self.withdrawn.contains(participant)
    }

    /// The participant's consent state; `None` means no consent was ever recorded (nothing may
    /// be served).
    #[must_use]
    pub fn state(&self, participant: &ParticipantId) -> Option<&ConsentState> {
        self.states.get(participant)
    }

    /// Whether the participant's data may be served for research.
    #[must_use]
    pub fn permits_research(&self, participant: &ParticipantId) -> bool {
        self.state(participant)
            .is_some_and(ConsentState::permits_research)
    }

    /// Whether the participant may be served to a requester with this consent scope: consent
    /// for research in force (never after full withdrawal, never without consent), provision to
    /// third parties allowed (every requester served through the gateway is one: to industry
    /// for an industry requester, to academia otherwise; a partial withdrawal that stops
    /// third-party provision removes both), international transfer allowed when the requester
    /// processes outside Japan.
    #[must_use]
    pub fn serves(&self, participant: &ParticipantId, scope: crate::access::ConsentScope) -> bool {
        if self.is_withdrawn(participant) {
            return false;
        }
        self.state(participant).is_some_and(|s| {
            s.permits_research()
                && if scope.industry {
                    s.scopes.third_party_industry
                } else {
                    s.scopes.third_party_academia
                }
                && (!scope.international || s.scopes.international_transfer)
        })
    }

    /// How many participants have withdrawn.
    #[must_use]
    pub fn withdrawn_count(&self) -> usize {
        self.withdrawn.len()
    }
}

struct Inner {
    snapshot: ConsentSnapshot,
    confirmed_at: Instant,
}

/// The consent view of this instance. Cheap to clone.
#[derive(Clone)]
pub struct ConsentView {
    store: Store,
    inner: Arc<RwLock<Inner>>,
    options: ConsentViewOptions,
}

impl std::fmt::Debug for ConsentView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentView")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

async fn load(store: &Store) -> Result<ConsentSnapshot, CoreError> {
    // Read the epoch first: a change racing with the load bumps the epoch again, and the next
    // poll reloads, so the snapshot is never newer in states than in epoch.
    let epoch = store.consent_epoch().await?;
    let states = store.all_consent_states().await?;
    let withdrawn = states
        .iter()
        .filter(|s| s.status == gemj_model::ConsentStatus::Withdrawn)
        .map(|s| s.participant.clone())
        .collect();
    let states = states
        .into_iter()
        .map(|s| (s.participant.clone(), s))
        .collect();
    Ok(ConsentSnapshot {
        epoch,
        states: Arc::new(states),
        withdrawn: Arc::new(withdrawn),
    })
}

impl ConsentView {
    /// Loads the view and starts keeping it current in the background (notifications plus
    /// polling). Must run inside a tokio runtime.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn start(store: Store, options: ConsentViewOptions) -> Result<Self, CoreError> {
        let snapshot = load(&store).await?;
        let view = Self {
            store,
            inner: Arc::new(RwLock::new(Inner {
                snapshot,
                confirmed_at: Instant::now(),
            })),
            options,
        };
        let background = view.clone();
        tokio::spawn(async move { background.keep_current().await });
        Ok(view)
    }

    async fn keep_current(self) {
        let mut changes = match self.store.consent_changes().await {
            Ok(c) => Some(c),
            Err(error) => {
                tracing::warn!(message = "Consent notifications unavailable; polling only.", %error);
                None
            }
        };
        let mut tick = tokio::time::interval(self.options.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            wake(&mut changes, &mut tick, "Consent").await;
            if let Err(error) = self.refresh().await {
                tracing::warn!(message = "Consent view refresh failed.", %error);
            }
            if std::sync::Arc::strong_count(&self.inner) == 1 {
                // Every other handle is gone: the gateway stopped.
                return;
            }
        }
    }

    /// Brings the view up to the store's current epoch now.
    ///
    /// # Errors
    /// When the store cannot be read (the view keeps its old snapshot and ages).
    pub async fn refresh(&self) -> Result<(), CoreError> {
        let epoch = self.store.consent_epoch().await?;
        let current = self
            .inner
            .read()
            .map(|i| i.snapshot.epoch)
            .unwrap_or(i64::MIN);
        if epoch == current {
            if let Ok(mut inner) = self.inner.write() {
                inner.confirmed_at = Instant::now();
            }
            return Ok(());
        }
        let snapshot = load(&self.store).await?;
        if let Ok(mut inner) = self.inner.write() {
            if snapshot.epoch >= inner.snapshot.epoch {
                inner.snapshot = snapshot;
            }
            inner.confirmed_at = Instant::now();
        }
        Ok(())
    }

    /// The current snapshot, or [`Stale`] when the view could not confirm it is current within
    /// the allowed staleness.
    ///
    /// # Errors
    /// [`Stale`].
    pub fn snapshot(&self) -> Result<ConsentSnapshot, Stale> {
        let inner = self.inner.read().map_err(|_| Stale { age_ms: u64::MAX })?;
        let age = inner.confirmed_at.elapsed();
        if age > self.options.max_staleness {
            return Err(Stale {
                age_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
            });
        }
        Ok(inner.snapshot.clone())
    }
}

/// Waits for the next notification on `changes` (PostgreSQL) or the next `tick`, whichever
/// comes first: how every per-instance view of an epoch (consent, catalogue) wakes to check it.
pub(crate) async fn wake(
    changes: &mut Option<gemj_store::ConsentChanges>,
    tick: &mut tokio::time::Interval,
    what: &str,
) {
    match changes {
        Some(c) => {
            tokio::select! {
                r = c.next() => {
                    if let Err(error) = r {
                        tracing::warn!(message = "Notification failed.", view = what, %error);
                    }
                }
                _ = tick.tick() => {}
            }
        }
        None => {
            tick.tick().await;
        }
    }
}
