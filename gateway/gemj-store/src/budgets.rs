//! Beacon's query budgets and risk ledgers (migration 0012), shared by every instance on the
//! database: a budget is one budget however many replicas answer. Times are milliseconds since
//! the epoch, given by the caller (the instances' clocks are assumed to agree to within a
//! small part of a window).

use std::collections::{BTreeMap, HashMap};

use crate::{Store, StoreError, with_pool, with_tx, with_write};

/// One key's budget for [`Store::take_queries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryBudget<'a> {
    /// `caller:<id>` or `ip:<address>`.
    pub key: &'a str,
    /// Queries allowed per window.
    pub limit: u32,
    /// How many queries to take at once (an instance leases several and spends them itself).
    pub amount: u32,
}

/// Takes `amount` queries in `key`'s window, unless that would pass the limit: `Some((used,
/// started))` when taken.
macro_rules! take_some {
    () => {
        "INSERT INTO query_windows (key, started_ms, used) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET \
           used = CASE WHEN query_windows.started_ms <= $2 - $4 THEN $3 \
                       ELSE query_windows.used + $3 END, \
           started_ms = CASE WHEN query_windows.started_ms <= $2 - $4 THEN $2 \
                             ELSE query_windows.started_ms END \
         WHERE query_windows.started_ms <= $2 - $4 OR query_windows.used + $3 <= $5 \
         RETURNING used, started_ms"
    };
}

impl Store {
    /// Takes `amount` queries from every budget of `budgets` in one transaction, or from none:
    /// `Ok` with each window's start (milliseconds, in the order given) when taken, `Err(ms)`
    /// with the milliseconds until the first spent window ends. A window starts at its key's
    /// first query and lasts `window_ms`; a take that would pass a limit takes nothing.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn take_queries(
        &self,
        budgets: &[QueryBudget<'_>],
        window_ms: i64,
        now_ms: i64,
    ) -> Result<Result<Vec<i64>, i64>, StoreError> {
        let window_ms = window_ms.max(1);
        let outcome = with_tx!(self, |tx| {
            let mut taken: Vec<(&str, u32, i64)> = Vec::new();
            let mut refused: Option<i64> = None;
            for b in budgets {
                let row: Option<(i64, i64)> = sqlx::query_as(take_some!())
                    .bind(b.key)
                    .bind(now_ms)
                    .bind(i64::from(b.amount.max(1)))
                    .bind(window_ms)
                    .bind(i64::from(b.limit))
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some((_, started)) = row {
                    taken.push((b.key, b.amount.max(1), started));
                    continue;
                }
                let (started,): (i64,) =
                    sqlx::query_as("SELECT started_ms FROM query_windows WHERE key = $1")
                        .bind(b.key)
                        .fetch_one(&mut *tx)
                        .await?;
                refused = Some((started + window_ms - now_ms).max(1));
                break;
            }
            if refused.is_some() {
                // All or nothing: give back what this call took (no other transaction saw it).
                for (key, amount, _) in &taken {
                    sqlx::query("UPDATE query_windows SET used = used - $1 WHERE key = $2")
                        .bind(i64::from(*amount))
                        .bind(*key)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            match refused {
                Some(wait) => Err(wait),
                None => Ok(taken.into_iter().map(|(_, _, started)| started).collect()),
            }
        });
        Ok(outcome)
    }

    /// Forgets the query windows of the keys that begin with `prefix` and ended before
    /// `now_ms - window_ms` (budgets of different purposes share the table, each with its own
    /// window: one never forgets another's windows).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn prune_query_windows(
        &self,
        prefix: &str,
        window_ms: i64,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        Ok(with_write!(self, |p| {
            sqlx::query(
                "DELETE FROM query_windows WHERE started_ms <= $1 \
                 AND substr(key, 1, length($2)) = $2",
            )
            .bind(now_ms - window_ms)
            .bind(prefix)
            .execute(p)
            .await?
            .rows_affected()
        }))
    }

    /// The participants (ordinals) charged at least `budget` times for `requester`, the last
    /// time after `since_ms`.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn risk_exhausted(
        &self,
        requester: &str,
        budget: u32,
        since_ms: i64,
    ) -> Result<Vec<u32>, StoreError> {
        let rows: Vec<(i64,)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT participant FROM risk_charges \
                 WHERE requester = $1 AND charges >= $2 AND at_ms > $3",
            )
            .bind(requester)
            .bind(i64::from(budget))
            .bind(since_ms)
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(p,)| u32::try_from(p).ok())
            .collect())
    }

    /// Charges one small answer to each of `participants` for `requester` (a participant listed
    /// twice is charged once): a charge older than `window_ms` starts the count again. Returns
    /// each charged row's count after the charge (the count every instance on this store has
    /// charged), so no read has to follow.
    ///
    /// Charges are written in groups: a charge that arrives while another group is being
    /// written waits for it, then the first of the waiting writes every waiting charge in one
    /// transaction (one upsert per 500 rows, a row charged by several answers charged once
    /// with their number), and each answer gets its rows' counts after the whole group. Under
    /// many small answers the store gets a few statements instead of one per answer
    /// (docs/PERFORMANCE.md). Charges of one group share its latest `now_ms`.
    ///
    /// # Errors
    /// [`StoreError::Database`]; [`StoreError::Grouped`] when the group this charge was
    /// written with failed (nothing of the group was written).
    pub async fn charge_risk(
        &self,
        requester: &str,
        participants: &[u32],
        window_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<(u32, i64)>, StoreError> {
        let mut unique = participants.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let charge = |done| PendingCharge {
            requester: requester.to_owned(),
            participants: unique.clone(),
            window_ms,
            now_ms,
            done,
        };
        let (done, mut answer) = tokio::sync::oneshot::channel();
        self.risk.enqueue(charge(done));
        let _turn = self.risk.turn.lock().await;
        match answer.try_recv() {
            Ok(result) => return result,
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                // The task writing its group ended without answering (it panicked): again.
                let (done, again) = tokio::sync::oneshot::channel();
                self.risk.enqueue(charge(done));
                answer = again;
            }
        }
        let group = self.risk.take();
        let store = self.clone();
        // Reason: the group is written by a task of its own, so that a caller dropped mid-write
        // (its client gone) cannot cut the write short and leave the others to charge again.
        let _written = tokio::spawn(async move { store.write_group(group).await }).await;
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Grouped(
                "the charge left its group unanswered".to_owned(),
            ))
        })
    }

    /// Writes a group of charges and answers each of them: its rows' counts, or the group's
    /// error.
    async fn write_group(&self, group: Vec<PendingCharge>) {
        match self.write_charges(&group).await {
            Ok(counts) => {
                for c in group {
                    let mine = c
                        .participants
                        .iter()
                        .filter_map(|p| Some((*p, *counts.get(c.requester.as_str())?.get(p)?)))
                        .collect();
                    let _ = c.done.send(Ok(mine));
                }
            }
            Err(e) => {
                let reason = e.to_string();
                for c in group {
                    let _ = c.done.send(Err(StoreError::Grouped(reason.clone())));
                }
            }
        }
    }

    /// Writes a group of charges in one transaction; the count of each (requester,
    /// participant) after it.
    async fn write_charges(
        &self,
        group: &[PendingCharge],
    ) -> Result<HashMap<String, HashMap<u32, i64>>, StoreError> {
        // Per window (one in practice): how many of the group's answers charge each row.
        let mut by_window: BTreeMap<i64, (i64, ChargedRows<'_>)> = BTreeMap::new();
        for c in group {
            let (now, rows) = by_window.entry(c.window_ms).or_default();
            *now = (*now).max(c.now_ms);
            for p in &c.participants {
                *rows.entry((c.requester.as_str(), *p)).or_default() += 1;
            }
        }
        let mut counts = HashMap::new();
        with_tx!(self, |tx| {
            for (window_ms, (now_ms, rows)) in &by_window {
                let rows: Vec<_> = rows.iter().collect();
                for chunk in rows.chunks(500) {
                    let values: Vec<String> = (0..chunk.len())
                        .map(|i| format!("(${}, ${}, ${}, $1)", 3 * i + 3, 3 * i + 4, 3 * i + 5))
                        .collect();
                    let sql = format!(
                        "INSERT INTO risk_charges (requester, participant, charges, at_ms) \
                         VALUES {} ON CONFLICT (requester, participant) DO UPDATE SET \
                           charges = CASE WHEN risk_charges.at_ms <= $1 - $2 \
                                          THEN excluded.charges \
                                          ELSE risk_charges.charges + excluded.charges END, \
                           at_ms = $1 \
                         RETURNING requester, participant, charges",
                        values.join(", ")
                    );
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(*now_ms)
                        .bind(*window_ms);
                    for ((requester, participant), n) in chunk {
                        q = q.bind(*requester).bind(i64::from(*participant)).bind(**n);
                    }
                    let written: Vec<(String, i64, i64)> = q.fetch_all(&mut *tx).await?;
                    for (requester, participant, n) in written {
                        if let Ok(participant) = u32::try_from(participant) {
                            counts
                                .entry(requester)
                                .or_insert_with(HashMap::new)
                                .insert(participant, n);
                        }
                    }
                }
            }
        });
        Ok(counts)
    }

    /// Forgets every risk charge made at or before `before_ms` (charges outside the window
    /// count for nothing; this keeps the table small). Returns how many were forgotten.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn prune_risk_charges(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(with_write!(self, |p| {
            sqlx::query("DELETE FROM risk_charges WHERE at_ms <= $1")
                .bind(before_ms)
                .execute(p)
                .await?
                .rows_affected()
        }))
    }
}

/// How many answers of a group charge each (requester, participant).
type ChargedRows<'a> = BTreeMap<(&'a str, u32), i64>;

/// A risk charge waiting for its group ([`Store::charge_risk`]).
struct PendingCharge {
    requester: String,
    participants: Vec<u32>,
    window_ms: i64,
    now_ms: i64,
    done: tokio::sync::oneshot::Sender<Result<Vec<(u32, i64)>, StoreError>>,
}

/// The risk charges waiting to be written, and whose turn it is to write them.
#[derive(Default)]
pub(crate) struct RiskCharges {
    waiting: std::sync::Mutex<Vec<PendingCharge>>,
    turn: tokio::sync::Mutex<()>,
}

impl RiskCharges {
    fn enqueue(&self, charge: PendingCharge) {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(charge);
    }

    fn take(&self) -> Vec<PendingCharge> {
        std::mem::take(
            &mut *self
                .waiting
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}
