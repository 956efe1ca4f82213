//! Beacon privacy defenses: what a count or a boolean may say, per dataset, and the budgets
//! that stop one requester from probing the cohort. Each defense and the attack it answers is
//! described in `docs/PRIVACY.md`; the defaults here are the safe ones.

use std::net::IpAddr;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use gemj_beacon::{Count, CountAdjustedTo, Granularity};
use gemj_store::{QueryBudget, Store, StoreError};
use roaring::RoaringBitmap;

/// The privacy settings of one dataset (the defaults apply to every dataset the configuration
/// does not name).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct DatasetPrivacy {
    /// The most detailed answer the dataset ever gives, whatever the caller's level
    /// (`boolean`, `count` or `record`).
    #[schemars(with = "String")]
    pub max_granularity: Granularity,
    /// A dataset with fewer servable participants than this answers PUBLIC booleans `false`
    /// (a boolean over a tiny cohort identifies its members).
    pub min_cohort_public: u64,
    /// Counts below this (including 0) are reported as `0` with `countAdjustedTo: ["<N"]`,
    /// and `exists: false`: a small count and no count look the same.
    pub small_cell: u64,
    /// Counts at or above `small_cell` are rounded down to a multiple of this
    /// (`countAdjustedTo: [N]`); 1 reports exact counts.
    pub round_to: u64,
    /// PUBLIC booleans count a variant only when at least this many servable participants
    /// carry it (rare alleles identify their carriers).
    pub rare_allele_min_carriers: u64,
    /// The widest range (bases) a PUBLIC caller may query.
    pub max_range_public: u64,
    /// The widest range (bases) a REGISTERED caller may query.
    pub max_range_registered: u64,
    /// Whether PUBLIC callers may use IUPAC wildcards (`N`) in alleles.
    pub public_wildcards: bool,
}

impl Default for DatasetPrivacy {
    fn default() -> Self {
        Self {
            max_granularity: Granularity::Record,
            min_cohort_public: 20,
            small_cell: 5,
            round_to: 5,
            rare_allele_min_carriers: 2,
            max_range_public: 1_000_000,
            max_range_registered: 10_000_000,
            public_wildcards: false,
        }
    }
}

impl DatasetPrivacy {
    /// The count a REGISTERED-level answer reports for a true count `n`: below `small_cell`,
    /// 0 adjusted to "below `small_cell`"; otherwise `n` rounded down to a multiple of
    /// `round_to`, and never below `round_to` (rounding changes a count, never a non-empty
    /// answer into an empty one).
    #[must_use]
    pub fn report_count(&self, n: u64) -> Count {
        let small = self.small_cell.max(1);
        if n < small {
            return Count::rounded(0, NonZeroU64::new(small).map(CountAdjustedTo::Below));
        }
        let step = self.round_to.max(1);
        if step == 1 {
            return Count::exact(n);
        }
        // Down to a multiple of `round_to`, but never to 0: a count that exists (at least
        // `small_cell`) is never reported as none, even when `round_to` exceeds `small_cell`.
        let rounded = (n - n % step).max(step);
        Count::rounded(rounded, NonZeroU64::new(step).map(CountAdjustedTo::To))
    }

    /// Whether a reported count says "exists".
    #[must_use]
    pub fn count_exists(&self, n: u64) -> bool {
        n >= self.small_cell.max(1)
    }
}

/// Requests allowed per window for one key (a caller or an address).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetSettings {
    /// Queries per window for one authenticated requester.
    pub per_caller: u32,
    /// Queries per window from one IP address (every caller behind it).
    pub per_ip: u32,
    /// The window, seconds.
    pub window_secs: u64,
    /// How many small answers (at most `risk_set_size` participants) one participant may be
    /// part of for one requester before it stops counting in that requester's booleans and
    /// counts.
    pub risk_budget: u32,
    /// The size at or below which a positive answer is charged to its participants' risk
    /// budgets.
    pub risk_set_size: u64,
    /// How long a risk charge lasts, seconds.
    pub risk_window_secs: u64,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        Self {
            per_caller: 1_000,
            per_ip: 2_000,
            window_secs: 60,
            risk_budget: 10,
            risk_set_size: 5,
            risk_window_secs: 24 * 3600,
        }
    }
}

/// A refusal for exceeding a query budget: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// Seconds until the window frees a query.
    pub retry_after_secs: u64,
}

/// Query budgets per caller and per IP (fixed windows), and per-requester risk budgets per
/// participant, kept in the store: every instance sharing the database enforces one budget
/// (documented in PRIVACY.md).
#[derive(Debug)]
pub struct Budgets {
    settings: BudgetSettings,
    store: Store,
    /// When this instance last forgot ended windows (ms since the epoch).
    pruned_ms: AtomicI64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1_000)).unwrap_or(i64::MAX)
}

impl Budgets {
    /// Budgets kept in `store`.
    #[must_use]
    pub fn new(settings: BudgetSettings, store: Store) -> Self {
        Self {
            settings,
            store,
            pruned_ms: AtomicI64::new(0),
        }
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &BudgetSettings {
        &self.settings
    }

    /// Takes one query from the caller's and the address's budgets: `Ok(Err(_))` when either
    /// is spent (nothing is taken then).
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read or written.
    pub async fn take(
        &self,
        caller: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<Result<(), OverBudget>, StoreError> {
        let window = ms(self.settings.window_secs.max(1));
        let now = now_ms();
        let caller_key = caller.map(|c| format!("caller:{c}"));
        let ip_key = ip.map(|ip| format!("ip:{ip}"));
        let mut keys = Vec::with_capacity(2);
        if let Some(key) = &caller_key {
            keys.push(QueryBudget {
                key,
                limit: self.settings.per_caller,
            });
        }
        if let Some(key) = &ip_key {
            keys.push(QueryBudget {
                key,
                limit: self.settings.per_ip,
            });
        }
        let outcome = self.store.take_queries(&keys, window, now).await?;
        let last = self.pruned_ms.load(Ordering::Relaxed);
        if now - last > window
            && self
                .pruned_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.store.prune_query_windows(window, now).await?;
        }
        Ok(outcome.map_err(|wait_ms| OverBudget {
            retry_after_secs: u64::try_from(wait_ms).unwrap_or(1).div_ceil(1_000).max(1),
        }))
    }

    /// The participants whose risk budget for `requester` is spent.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read.
    pub async fn exhausted(&self, requester: &str) -> Result<RoaringBitmap, StoreError> {
        let since = now_ms() - ms(self.settings.risk_window_secs);
        Ok(self
            .store
            .risk_exhausted(requester, self.settings.risk_budget, since)
            .await?
            .into_iter()
            .collect())
    }

    /// Charges a positive answer to its participants when it is small enough to single them
    /// out.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be written.
    pub async fn charge(&self, requester: &str, answer: &RoaringBitmap) -> Result<(), StoreError> {
        if answer.is_empty() || answer.len() > self.settings.risk_set_size {
            return Ok(());
        }
        let participants: Vec<u32> = answer.iter().collect();
        self.store
            .charge_risk(
                requester,
                &participants,
                ms(self.settings.risk_window_secs),
                now_ms(),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_and_zero_look_the_same_and_larger_ones_are_rounded_down() {
        let p = DatasetPrivacy::default();
        let zero = serde_json::to_value(p.report_count(0).adjusted_to).unwrap_or_default();
        for n in 0..5 {
            let c = p.report_count(n);
            assert_eq!(c.value, 0);
            assert_eq!(
                serde_json::to_value(c.adjusted_to).unwrap_or_default(),
                zero
            );
            assert!(!p.count_exists(n));
        }
        assert_eq!(p.report_count(5).value, 5);
        assert_eq!(p.report_count(9).value, 5);
        assert_eq!(p.report_count(10).value, 10);
        assert!(p.count_exists(5));
        let exact = DatasetPrivacy {
            small_cell: 1,
            round_to: 1,
            ..p
        };
        assert_eq!(exact.report_count(3), Count::exact(3));
        // Rounding coarser than the small cell never reports a count that exists as none.
        let coarse = DatasetPrivacy {
            small_cell: 3,
            round_to: 10,
            ..p
        };
        for n in 3..10 {
            assert!(coarse.count_exists(n));
            assert_eq!(coarse.report_count(n).value, 10, "{n}");
        }
        assert_eq!(coarse.report_count(2).value, 0);
        assert_eq!(coarse.report_count(27).value, 20);
    }

    async fn store() -> Store {
        let one = gemj_store::StoreOptions {
            max_connections: 1,
            ..gemj_store::StoreOptions::default()
        };
        let store = Store::connect("sqlite::memory:", &one)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        store.migrate().await.unwrap_or_else(|e| panic!("{e}"));
        store
    }

    #[tokio::test]
    async fn budgets_refuse_past_the_limit_and_name_the_wait() -> Result<(), StoreError> {
        let b = Budgets::new(
            BudgetSettings {
                per_caller: 2,
                per_ip: 3,
                window_secs: 60,
                ..BudgetSettings::default()
            },
            store().await,
        );
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert!(b.take(Some("a"), Some(ip)).await?.is_ok());
        assert!(b.take(Some("a"), Some(ip)).await?.is_ok());
        let refused = b.take(Some("a"), Some(ip)).await?;
        assert!(
            matches!(refused, Err(OverBudget { retry_after_secs }) if (1..=60).contains(&retry_after_secs))
        );
        // Another caller behind the same address has one query left there.
        assert!(b.take(Some("b"), Some(ip)).await?.is_ok());
        assert!(b.take(Some("c"), Some(ip)).await?.is_err());
        Ok(())
    }

    #[tokio::test]
    async fn a_participant_in_many_small_answers_stops_counting_for_that_requester()
    -> Result<(), StoreError> {
        let b = Budgets::new(
            BudgetSettings {
                risk_budget: 3,
                risk_set_size: 2,
                ..BudgetSettings::default()
            },
            store().await,
        );
        let one: RoaringBitmap = [7].into_iter().collect();
        let big: RoaringBitmap = (0..10).collect();
        for _ in 0..5 {
            b.charge("mallory", &big).await?;
        }
        assert!(b.exhausted("mallory").await?.is_empty());
        b.charge("mallory", &one).await?;
        b.charge("mallory", &one).await?;
        assert!(b.exhausted("mallory").await?.is_empty());
        b.charge("mallory", &one).await?;
        assert!(b.exhausted("mallory").await?.contains(7));
        assert!(b.exhausted("alice").await?.is_empty());
        Ok(())
    }
}
