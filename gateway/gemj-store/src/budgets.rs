//! Beacon's query budgets and risk ledgers (migration 0012), shared by every instance on the
//! database: a budget is one budget however many replicas answer. Times are milliseconds since
//! the epoch, given by the caller (the instances' clocks are assumed to agree to within a
//! small part of a window).

use crate::{Store, StoreError, with_pool, with_tx};

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

    /// Forgets the query windows that ended before `now_ms - window_ms`.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn prune_query_windows(
        &self,
        window_ms: i64,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        Ok(with_pool!(self, |p| {
            sqlx::query("DELETE FROM query_windows WHERE started_ms <= $1")
                .bind(now_ms - window_ms)
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
    /// twice is charged once): a charge older than `window_ms` starts the count again. One
    /// statement per 500 participants, each charged row's count after the charge returned (the
    /// count every instance on this store has charged), so no read has to follow.
    ///
    /// # Errors
    /// [`StoreError::Database`].
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
        let mut charged = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(500) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("($1, ${}, 1, $2)", i + 4))
                .collect();
            let sql = format!(
                "INSERT INTO risk_charges (requester, participant, charges, at_ms) VALUES {} \
                 ON CONFLICT (requester, participant) DO UPDATE SET \
                   charges = CASE WHEN risk_charges.at_ms <= $2 - $3 THEN 1 \
                                  ELSE risk_charges.charges + 1 END, \
                   at_ms = $2 \
                 RETURNING participant, charges",
                values.join(", ")
            );
            let rows: Vec<(i64, i64)> = with_pool!(self, |p| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(requester)
                    .bind(now_ms)
                    .bind(window_ms);
                for participant in chunk {
                    q = q.bind(i64::from(*participant));
                }
                q.fetch_all(p).await?
            });
            charged.extend(
                rows.into_iter()
                    .filter_map(|(p, n)| Some((u32::try_from(p).ok()?, n))),
            );
        }
        Ok(charged)
    }

    /// Forgets every risk charge made at or before `before_ms` (charges outside the window
    /// count for nothing; this keeps the table small). Returns how many were forgotten.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn prune_risk_charges(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(with_pool!(self, |p| {
            sqlx::query("DELETE FROM risk_charges WHERE at_ms <= $1")
                .bind(before_ms)
                .execute(p)
                .await?
                .rows_affected()
        }))
    }
}
