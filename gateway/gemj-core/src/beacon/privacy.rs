//! Beacon privacy defenses: what a count or a boolean may say, per dataset, and the budgets
//! that stop one requester from probing the cohort. Each defense and the attack it answers is
//! described in `docs/PRIVACY.md`; the defaults here are the safe ones.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    /// The strictest of `first` and `rest` in every respect: the least detailed granularity,
    /// the highest thresholds and rounding step, the narrowest ranges, and wildcards only where
    /// every rule allows them. A Beacon network's rule for its members' counts, so that no
    /// dataset's stricter setting is loosened by asking through the network.
    #[must_use]
    pub fn strictest<'a>(first: &Self, rest: impl IntoIterator<Item = &'a Self>) -> Self {
        rest.into_iter().fold(*first, |a, b| Self {
            max_granularity: a.max_granularity.min(b.max_granularity),
            min_cohort_public: a.min_cohort_public.max(b.min_cohort_public),
            small_cell: a.small_cell.max(b.small_cell),
            round_to: a.round_to.max(b.round_to),
            rare_allele_min_carriers: a.rare_allele_min_carriers.max(b.rare_allele_min_carriers),
            max_range_public: a.max_range_public.min(b.max_range_public),
            max_range_registered: a.max_range_registered.min(b.max_range_registered),
            public_wildcards: a.public_wildcards && b.public_wildcards,
        })
    }

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
    /// Seconds until the window frees a query (rounded up, at least 1).
    pub retry_after_secs: u64,
    /// Milliseconds until the window ends.
    pub wait_ms: u64,
}

/// The address a per-address budget counts: an IPv4 address itself (an IPv4-mapped IPv6 one
/// as that IPv4 address), an IPv6 address by its /64 (one host is given a whole /64, so counting
/// its addresses one by one would multiply its budget by 2^64).
#[must_use]
pub fn budget_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                v6.to_bits() & !u128::from(u64::MAX),
            )),
        },
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// Query budgets per caller and per IP (fixed windows), and per-requester risk budgets per
/// participant, kept in the store: every instance sharing the database enforces one budget
/// (documented in PRIVACY.md).
///
/// An instance does not write the store for every query: it leases a few queries of a window
/// at once ([`lease_size`]: 1 for limits under 128, at most 16; doubling while a key spends
/// each lease within a second, up to one 64th of the limit and at most 1,024:
/// [`max_lease_size`]) and spends them itself, so the store never grants more than the limit in
/// all. A lease of at least [`TOP_UP_FROM`] queries (a busy key of a large budget) is topped up
/// in the background once a quarter of it is left, so its queries do not wait for the store
/// (every query of the key would wait for an inline refill: docs/PERFORMANCE.md); so at most
/// one lease per instance and key, and a quarter of another, is left unspent when a window
/// ends. The set
/// of participants whose risk budget a requester has spent is read at most once a second per
/// requester; a charge adds at once the participants it finds spent (its one statement returns
/// every charged participant's count over all instances), so an instance learns of another's
/// charges of a participant within a second, or at its own next charge of them.
#[derive(Debug)]
pub struct Budgets {
    settings: BudgetSettings,
    /// Put before every key in the store, so that budgets of different purposes kept in one
    /// store never share a key (Beacon's queries: none; the access layer's refused
    /// credentials: `refusals:`).
    prefix: &'static str,
    store: Store,
    /// When this instance last forgot ended windows (ms since the epoch).
    pruned_ms: AtomicI64,
    /// When this instance last forgot risk charges older than the risk window.
    risk_pruned_ms: AtomicI64,
    /// The query budgets' leases, shared with their background top-ups.
    book: Arc<LeaseBook>,
    /// Spent risk budgets read from the store, by requester, with when they were read.
    exhausted: Mutex<HashMap<String, (Instant, RoaringBitmap)>>,
}

/// This instance's leases of query budgets, and what it learnt of spent ones.
#[derive(Debug)]
struct LeaseBook {
    store: Store,
    /// This instance's unspent leases, by key.
    leases: Mutex<HashMap<String, Lease>>,
    /// One refill of a key's lease at a time (keys spread over [`REFILL_STRIPES`] locks): a
    /// query that finds its lease spent while another query refills it waits for that refill
    /// and spends from it, instead of leasing from the store too (under many concurrent queries
    /// of one caller, each would otherwise write the store and leave the lease it replaced
    /// unspent).
    refills: Box<[tokio::sync::Mutex<()>]>,
    /// Keys whose budget the store refused, with when their window ends (ms since the epoch):
    /// until then a query of the key is refused here, without a store write (a flood of
    /// refused queries wrote the store once each). A budget spent in a window stays spent on
    /// every instance until the window ends.
    spent: Mutex<HashMap<String, i64>>,
}

/// How many locks the keys' refills are spread over.
const REFILL_STRIPES: usize = 64;

/// The refill lock of `key`.
fn stripe(key: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    usize::try_from(h.finish() % REFILL_STRIPES as u64).unwrap_or_default()
}

/// Queries of one key's window this instance took from the store and has not spent.
#[derive(Debug, Clone, Copy)]
struct Lease {
    /// The window's start (ms since the epoch).
    started_ms: i64,
    /// Queries left.
    left: u32,
    /// How many queries it was taken with.
    size: u32,
    /// When it was taken (ms since the epoch).
    taken_ms: i64,
    /// A background top-up of it is under way ([`LeaseBook::top_up`]).
    topping_up: bool,
}

impl Lease {
    /// A lease of `amount` queries of the window started at `started_ms`, `spent` of them
    /// already, taken at `now`.
    fn new(started_ms: i64, amount: u32, spent: u32, now: i64) -> Self {
        Self {
            started_ms,
            left: amount - spent,
            size: amount,
            taken_ms: now,
            topping_up: false,
        }
    }

    /// Large enough to be topped up in the background, and down to a quarter.
    fn wants_top_up(&self) -> bool {
        self.size >= TOP_UP_FROM && self.left <= self.size / 4
    }
}

/// The smallest lease topped up in the background before it is spent: smaller ones (every
/// budget under 4,096 queries a window, and a key's first leases) are refilled when spent, so
/// an instance holds at most one lease of them.
const TOP_UP_FROM: u32 = 64;

/// How many queries an instance first takes from the store at once for a budget of `limit`:
/// one in 64 of the limit, between 1 and 16 (limits under 128 are taken one by one, exactly).
#[must_use]
pub fn lease_size(limit: u32) -> u32 {
    (limit / 64).clamp(1, 16)
}

/// The most an instance takes at once for a budget of `limit`, once a key spends its leases
/// fast ([`next_lease_size`]): still one in 64 of the limit, at most [`MAX_LEASE`].
#[must_use]
pub fn max_lease_size(limit: u32) -> u32 {
    (limit / 64).clamp(1, MAX_LEASE)
}

/// The largest lease: a key of a huge limit, spending fast, writes the store once per this many
/// queries.
const MAX_LEASE: u32 = 1_024;

/// A lease spent within this long of being taken is followed by one twice its size.
const FAST_LEASE_MS: i64 = 1_000;

/// The size of the lease that follows `spent` (the key's last lease, if it is of the current
/// window, `now`, and spent): twice its size, up to [`max_lease_size`], when it was spent
/// within [`FAST_LEASE_MS`] of being taken; else [`lease_size`]. So a key queried fast (a busy
/// caller of a large budget, many callers behind one address) writes the store rarely, while
/// what an instance can leave unspent when a window ends stays under one 64th of the limit.
#[must_use]
fn next_lease_size(limit: u32, spent: Option<(u32, i64)>, now: i64) -> u32 {
    match spent {
        Some((size, taken_ms)) if now - taken_ms < FAST_LEASE_MS => size
            .saturating_mul(2)
            .clamp(lease_size(limit), max_lease_size(limit)),
        _ => lease_size(limit),
    }
}

/// How long a read of a requester's spent risk budgets is used.
const EXHAUSTED_TTL: Duration = Duration::from_secs(1);

/// Entries kept in the instance's caches before they start over.
const CACHE_CAPACITY: usize = 100_000;

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
        Self::prefixed(settings, store, "")
    }

    /// Budgets kept in `store` under keys that begin with `prefix`.
    #[must_use]
    pub fn prefixed(settings: BudgetSettings, store: Store, prefix: &'static str) -> Self {
        Self {
            settings,
            prefix,
            store: store.clone(),
            pruned_ms: AtomicI64::new(0),
            risk_pruned_ms: AtomicI64::new(0),
            book: Arc::new(LeaseBook {
                store,
                leases: Mutex::new(HashMap::new()),
                refills: (0..REFILL_STRIPES)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
                spent: Mutex::new(HashMap::new()),
            }),
            exhausted: Mutex::new(HashMap::new()),
        }
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &BudgetSettings {
        &self.settings
    }

    /// Takes one query from the caller's and the address's budgets: `Ok(Err(_))` when either
    /// is spent (nothing is taken then). Each key in turn, the caller's first: from this
    /// instance's lease when it has one in a current window, else refilled from the store. A
    /// large lease down to a quarter is topped up by a task of its own, which the query does
    /// not wait for; so are ended windows forgotten.
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
        let mut keys: Vec<(String, u32)> = Vec::with_capacity(2);
        if let Some(c) = caller {
            keys.push((
                [self.prefix, "caller:", c].concat(),
                self.settings.per_caller,
            ));
        }
        if let Some(ip) = ip {
            let ip = budget_address(ip);
            keys.push((format!("{}ip:{ip}", self.prefix), self.settings.per_ip));
        }
        // Reserved now, given back to their leases if a later key refuses.
        let mut reserved: Vec<(&str, i64)> = Vec::with_capacity(keys.len());
        for (key, limit) in &keys {
            let taken = match self.book.spend(key, now, window, true) {
                Some((started, top_up)) => {
                    if top_up {
                        let book = Arc::clone(&self.book);
                        let (key, limit) = (key.clone(), *limit);
                        tokio::spawn(async move { book.top_up(&key, limit, window).await });
                    }
                    Ok(Ok(started))
                }
                None => match self.book.spent_for(key, now) {
                    Some(wait_ms) => Ok(Err(wait_ms)),
                    None => self.book.refill(key, *limit, now, window).await,
                },
            };
            match taken {
                Ok(Ok(started)) => reserved.push((key, started)),
                refused => {
                    let mut leases = self.book.lock_leases();
                    for (key, window_start) in reserved {
                        if let Some(l) = leases.get_mut(key)
                            && l.started_ms == window_start
                        {
                            l.left += 1;
                        }
                    }
                    return refused.map(|r| {
                        r.map(|_| ()).map_err(|wait_ms| {
                            let wait_ms = u64::try_from(wait_ms).unwrap_or(0);
                            OverBudget {
                                retry_after_secs: wait_ms.div_ceil(1_000).max(1),
                                wait_ms,
                            }
                        })
                    });
                }
            }
        }
        let last = self.pruned_ms.load(Ordering::Relaxed);
        if now - last > window
            && self
                .pruned_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let store = self.store.clone();
            let prefix = self.prefix;
            tokio::spawn(async move {
                for kind in ["caller:", "ip:"] {
                    let keys = format!("{prefix}{kind}");
                    if let Err(error) = store.prune_query_windows(&keys, window, now).await {
                        tracing::warn!(message = "Ended query windows could not be forgotten.", %error);
                    }
                }
            });
        }
        Ok(Ok(()))
    }

    /// The participants whose risk budget for `requester` is spent.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read.
    pub async fn exhausted(&self, requester: &str) -> Result<RoaringBitmap, StoreError> {
        if let Some((at, set)) = self
            .exhausted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(requester)
            && at.elapsed() < EXHAUSTED_TTL
        {
            return Ok(set.clone());
        }
        let read_at = Instant::now();
        let since = now_ms() - ms(self.settings.risk_window_secs);
        let set: RoaringBitmap = self
            .store
            .risk_exhausted(requester, self.settings.risk_budget, since)
            .await?
            .into_iter()
            .collect();
        let mut cache = self
            .exhausted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() > CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(requester.to_owned(), (read_at, set.clone()));
        Ok(set)
    }

    /// Charges a positive answer to its participants when it is small enough to single them
    /// out.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be written.
    pub async fn charge(&self, requester: &str, answer: &RoaringBitmap) -> Result<(), StoreError> {
        if answer.len() > self.settings.risk_set_size {
            return Ok(());
        }
        self.charge_members(requester, answer).await
    }

    /// The size at or below which a positive answer (or an aggregate cell) singles out its
    /// participants.
    #[must_use]
    pub fn risk_set_size(&self) -> u64 {
        self.settings.risk_set_size
    }

    /// Charges participants already found in small answers, once each, whatever their union's
    /// size: Data Connect's rows, where every cell of at most [`Self::risk_set_size`]
    /// participants is an answer of its own.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be written.
    pub async fn charge_members(
        &self,
        requester: &str,
        members: &RoaringBitmap,
    ) -> Result<(), StoreError> {
        if members.is_empty() {
            return Ok(());
        }
        let participants: Vec<u32> = members.iter().collect();
        let now = now_ms();
        let window = ms(self.settings.risk_window_secs);
        let charged = self
            .store
            .charge_risk(requester, &participants, window, now)
            .await?;
        let budget = i64::from(self.settings.risk_budget);
        let spent: Vec<u32> = charged
            .iter()
            .filter(|(_, n)| *n >= budget)
            .map(|(p, _)| *p)
            .collect();
        if !spent.is_empty()
            && let Some((_, set)) = self
                .exhausted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get_mut(requester)
        {
            set.extend(spent);
        }
        // Charges older than the window count for nothing: forgotten once a minute.
        let last = self.risk_pruned_ms.load(Ordering::Relaxed);
        if now - last > 60_000
            && self
                .risk_pruned_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.store.prune_risk_charges(now - window).await?;
        }
        Ok(())
    }
}

impl LeaseBook {
    fn lock_leases(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lease>> {
        self.leases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long `key`'s budget stays spent (ms), if the store refused it in the current window.
    fn spent_for(&self, key: &str, now: i64) -> Option<i64> {
        let spent = self
            .spent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        spent
            .get(key)
            .map(|until| until - now)
            .filter(|wait| *wait > 0)
    }

    /// One query of `key` from this instance's lease in a current window: the window's start,
    /// and whether the caller is to start the lease's top-up ([`Self::top_up`]: a lease of at
    /// least [`TOP_UP_FROM`] down to a quarter, none under way, and `may_top_up`).
    fn spend(&self, key: &str, now: i64, window: i64, may_top_up: bool) -> Option<(i64, bool)> {
        match self.lock_leases().get_mut(key) {
            Some(l) if l.left > 0 && l.started_ms > now - window => {
                l.left -= 1;
                let top_up = may_top_up && !l.topping_up && l.wants_top_up();
                l.topping_up |= top_up;
                Some((l.started_ms, top_up))
            }
            _ => None,
        }
    }

    /// Tops up `key`'s lease from the store, if it still wants it, before it is spent: a
    /// lease of the size that would follow it ([`next_lease_size`]) is added to what is left.
    /// Runs as a task of its own, under the key's refill lock. When the store refuses (the
    /// budget nearly spent) or fails, the lease is left as it is, with no other top-up: it is
    /// refilled when spent, as a small one is.
    async fn top_up(&self, key: &str, limit: u32, window: i64) {
        let _refilling = self.refills[stripe(key)].lock().await;
        let now = now_ms();
        let current = self
            .lock_leases()
            .get(key)
            .filter(|l| l.started_ms > now - window && l.wants_top_up())
            .map(|l| (l.size, l.taken_ms));
        let Some(last) = current else {
            // Refilled or topped up meanwhile, or its window ended.
            return;
        };
        let amount = next_lease_size(limit, Some(last), now);
        let asked = [QueryBudget { key, limit, amount }];
        let started = match self.store.take_queries(&asked, window, now).await {
            Ok(Ok(started)) => started.first().copied().unwrap_or(now),
            Ok(Err(_)) => return,
            Err(error) => {
                tracing::warn!(message = "A query budget's lease could not be topped up.", %error);
                return;
            }
        };
        let mut leases = self.lock_leases();
        match leases.get_mut(key) {
            Some(l) if l.started_ms == started => {
                l.left += amount;
                l.size = amount;
                l.taken_ms = now;
                l.topping_up = false;
            }
            // The store's window is a new one: the old lease ended with it.
            _ => {
                leases.insert(key.to_owned(), Lease::new(started, amount, 0, now));
            }
        }
    }

    /// Leases queries of `key` from the store and spends one: the window's start, or
    /// `Err(ms)` until it ends when the budget is spent. One refill per key at a time: a query
    /// that waited for another's spends from the lease it left, if any (and no query waits for
    /// one key's refill while holding another's).
    async fn refill(
        &self,
        key: &str,
        limit: u32,
        now: i64,
        window: i64,
    ) -> Result<Result<i64, i64>, StoreError> {
        let _refilling = self.refills[stripe(key)].lock().await;
        if let Some((started, _)) = self.spend(key, now, window, false) {
            return Ok(Ok(started));
        }
        if let Some(wait_ms) = self.spent_for(key, now) {
            return Ok(Err(wait_ms));
        }
        // A whole lease (one query now, the rest kept), larger while the key's last one of
        // this window went fast; near the limit, where it no longer fits, the first size, then
        // one query.
        let spent = self
            .lock_leases()
            .get(key)
            .filter(|l| l.left == 0 && l.started_ms > now - window)
            .map(|l| (l.size, l.taken_ms));
        let whole = next_lease_size(limit, spent, now);
        let mut sizes = vec![whole, lease_size(limit), 1];
        sizes.dedup();
        let mut outcome = Err(1);
        for amount in sizes {
            let asked = [QueryBudget { key, limit, amount }];
            outcome = self
                .store
                .take_queries(&asked, window, now)
                .await?
                .map(|started| (started.first().copied().unwrap_or(now), amount));
            if outcome.is_ok() {
                break;
            }
        }
        let (started, amount) = match outcome {
            Ok(taken) => taken,
            Err(wait_ms) => {
                let mut spent = self
                    .spent
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if spent.len() > CACHE_CAPACITY {
                    spent.retain(|_, until| *until > now);
                    if spent.len() > CACHE_CAPACITY {
                        spent.clear();
                    }
                }
                spent.insert(key.to_owned(), now + wait_ms);
                return Ok(Err(wait_ms));
            }
        };
        let mut leases = self.lock_leases();
        if leases.len() > CACHE_CAPACITY {
            leases.retain(|_, l| l.started_ms > now - window);
            // Keys of one window past the capacity (a flood from many addresses): their unspent
            // leases are forgotten, which grants less, never more, than the limit.
            if leases.len() > CACHE_CAPACITY {
                leases.clear();
            }
        }
        leases.insert(key.to_owned(), Lease::new(started, amount, 1, now));
        Ok(Ok(started))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strictest_rule_takes_the_strictest_of_each_setting() {
        let base = DatasetPrivacy::default();
        assert_eq!(DatasetPrivacy::strictest(&base, []), base);
        let coarse = DatasetPrivacy {
            max_granularity: Granularity::Boolean,
            small_cell: 10,
            max_range_public: 10,
            public_wildcards: true,
            ..base
        };
        let rounded = DatasetPrivacy {
            round_to: 20,
            min_cohort_public: 50,
            rare_allele_min_carriers: 9,
            max_range_registered: 100,
            ..base
        };
        let s = DatasetPrivacy::strictest(&base, [&coarse, &rounded]);
        assert_eq!(s.max_granularity, Granularity::Boolean);
        assert_eq!((s.small_cell, s.round_to), (10, 20));
        assert_eq!((s.min_cohort_public, s.rare_allele_min_carriers), (50, 9));
        assert_eq!((s.max_range_public, s.max_range_registered), (10, 100));
        assert!(!s.public_wildcards, "only where every rule allows them");
        // The order does not matter.
        assert_eq!(DatasetPrivacy::strictest(&rounded, [&base, &coarse]), s);
    }

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
            matches!(refused, Err(OverBudget { retry_after_secs, .. }) if (1..=60).contains(&retry_after_secs))
        );
        // Another caller behind the same address has one query left there.
        assert!(b.take(Some("b"), Some(ip)).await?.is_ok());
        assert!(b.take(Some("c"), Some(ip)).await?.is_err());
        // An IPv6 /64 is one address (a host rotating through its /64 gains nothing); the
        // next /64 is another, and an IPv4-mapped address is its IPv4 address.
        let host = |s: &str| s.parse::<IpAddr>().unwrap_or_else(|e| panic!("{s}: {e}"));
        for n in 1..=3 {
            let ip = host(&format!("2001:db8:0:1::{n}"));
            assert!(b.take(None, Some(ip)).await?.is_ok(), "{ip}");
        }
        let same_64 = host("2001:db8:0:1:ffff::9");
        assert!(b.take(None, Some(same_64)).await?.is_err());
        let next_64 = host("2001:db8:0:2::1");
        assert!(b.take(None, Some(next_64)).await?.is_ok());
        let mapped = host("::ffff:127.0.0.1");
        assert!(b.take(None, Some(mapped)).await?.is_err());
        Ok(())
    }

    /// Once the store has refused a key's budget, the key's queries are refused without it
    /// until the window ends (a flood of refused queries writes nothing), with the wait left;
    /// then they are served again.
    #[tokio::test]
    async fn a_spent_budget_is_refused_without_the_store_until_its_window_ends()
    -> Result<(), StoreError> {
        let settings = BudgetSettings {
            per_caller: 2,
            per_ip: 1_000,
            window_secs: 60,
            ..BudgetSettings::default()
        };
        let db = store().await;
        let b = Budgets::new(settings, db.clone());
        assert!(b.take(Some("a"), None).await?.is_ok());
        assert!(b.take(Some("a"), None).await?.is_ok());
        assert!(b.take(Some("a"), None).await?.is_err());
        // The store is gone: refusals of the spent key still come, with the wait; a key the
        // store has not refused needs the store.
        db.close().await;
        for _ in 0..100 {
            let refused = b.take(Some("a"), None).await?;
            assert!(
                matches!(refused, Err(OverBudget { retry_after_secs, .. }) if (1..=60).contains(&retry_after_secs)),
                "{refused:?}"
            );
        }
        assert!(b.take(Some("b"), None).await.is_err());

        // A one-second window: once it ends, the caller is served again.
        let b = Budgets::new(
            BudgetSettings {
                window_secs: 1,
                ..settings
            },
            store().await,
        );
        assert!(b.take(Some("a"), None).await?.is_ok());
        assert!(b.take(Some("a"), None).await?.is_ok());
        assert!(b.take(Some("a"), None).await?.is_err());
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert!(b.take(Some("a"), None).await?.is_ok());
        Ok(())
    }

    /// Whether `amount` more queries of `key` fit a budget of `limit` in the store now (then
    /// they are taken).
    async fn fits(
        store: &Store,
        settings: BudgetSettings,
        key: &str,
        limit: u32,
        amount: u32,
    ) -> Result<bool, StoreError> {
        let asked = [QueryBudget { key, limit, amount }];
        let window = ms(settings.window_secs);
        Ok(store.take_queries(&asked, window, now_ms()).await?.is_ok())
    }

    /// How many of `queries` queries of `caller` two instances over `store` grant, the caller
    /// alternating between them.
    async fn alternating(
        settings: BudgetSettings,
        store: &Store,
        caller: &str,
        queries: usize,
    ) -> Result<u32, StoreError> {
        let (a, b) = (
            Budgets::new(settings, store.clone()),
            Budgets::new(settings, store.clone()),
        );
        let mut granted = 0;
        for i in 0..queries {
            let instance = if i % 2 == 0 { &a } else { &b };
            if instance.take(Some(caller), None).await?.is_ok() {
                granted += 1;
            }
        }
        Ok(granted)
    }

    #[tokio::test]
    async fn leases_spare_the_store_and_never_grant_more_than_the_limit() -> Result<(), StoreError>
    {
        assert_eq!(
            (
                lease_size(6),
                lease_size(127),
                lease_size(200),
                lease_size(1_000),
                lease_size(2_000_000)
            ),
            (1, 1, 3, 15, 16)
        );
        let store = store().await;
        let settings = BudgetSettings {
            per_caller: 1_000,
            per_ip: 1_000_000,
            ..BudgetSettings::default()
        };
        // One instance: 100 queries lease 7 times 15 from the store.
        let a = Budgets::new(settings, store.clone());
        for _ in 0..100 {
            assert!(a.take(Some("lea"), None).await?.is_ok());
        }
        // The store counts 105 used: 896 more do not fit, 895 do.
        assert!(!fits(&store, settings, "caller:lea", 1_000, 896).await?);
        assert!(fits(&store, settings, "caller:lea", 1_000, 895).await?);
        // Two instances over one store, a caller alternating between them: never more than
        // the limit in all, and at most one lease each left unspent.
        let settings = BudgetSettings {
            per_caller: 200,
            ..settings
        };
        let granted = alternating(settings, &store, "max", 400).await?;
        assert!(
            (200 - 2 * lease_size(200)..=200).contains(&granted),
            "{granted}"
        );
        // A refusal gives back what it reserved: the address's lease still counts whole.
        let ip: IpAddr = [192, 0, 2, 9].into();
        let tight = Budgets::new(
            BudgetSettings {
                per_caller: 1,
                per_ip: 1_000,
                ..settings
            },
            store.clone(),
        );
        assert!(tight.take(Some("one"), Some(ip)).await?.is_ok());
        assert!(tight.take(Some("one"), Some(ip)).await?.is_err());
        let left = tight
            .book
            .leases
            .lock()
            .map(|l| l.get(&format!("ip:{ip}")).map(|l| l.left))
            .unwrap_or_default();
        assert_eq!(left, Some(lease_size(1_000) - 1));
        Ok(())
    }

    #[test]
    fn leases_double_while_spent_fast_up_to_a_64th_of_the_limit() {
        let now = 1_000_000;
        let big = 1_000_000_000;
        assert_eq!(next_lease_size(big, None, now), 16);
        assert_eq!(next_lease_size(big, Some((16, now - 3)), now), 32);
        assert_eq!(next_lease_size(big, Some((512, now - 999)), now), 1_024);
        assert_eq!(next_lease_size(big, Some((1_024, now)), now), 1_024);
        // Spent slowly: back to the first size.
        assert_eq!(next_lease_size(big, Some((512, now - 1_000)), now), 16);
        // Never more than a 64th of the limit, never less than the first size.
        assert_eq!(next_lease_size(4_096, Some((64, now)), now), 64);
        assert_eq!(next_lease_size(1_000, Some((15, now)), now), 15);
        assert_eq!(next_lease_size(100, Some((1, now)), now), 1);
        assert_eq!(next_lease_size(big, Some((1, now)), now), 16);
        assert_eq!(
            (
                max_lease_size(6),
                max_lease_size(4_096),
                max_lease_size(big)
            ),
            (1, 64, 1_024)
        );
    }

    /// Waits until none of `b`'s leases has a top-up under way (at most 10 s).
    async fn settled(b: &Budgets) {
        for _ in 0..10_000 {
            if !b.book.lock_leases().values().any(|l| l.topping_up) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("a lease's top-up did not end");
    }

    /// A key queried fast writes the store once per lease of a growing size: 3,000 queries of
    /// a huge budget take 8 leases (16, 32, … 1,024, 1,024), not 188 of 16, and the last one,
    /// down to a quarter, is topped up. With the leases grown, two instances a caller alternates
    /// between still never grant more than the limit and leave at most one largest lease and a
    /// quarter each unspent.
    #[tokio::test]
    async fn a_fast_key_takes_growing_leases_within_the_same_bounds() -> Result<(), StoreError> {
        let store = store().await;
        let settings = BudgetSettings {
            per_caller: 1_000_000,
            per_ip: 1_000_000,
            ..BudgetSettings::default()
        };
        let a = Budgets::new(settings, store.clone());
        for _ in 0..3_000 {
            assert!(a.take(Some("fast"), None).await?.is_ok());
        }
        // 16 + 32 + … + 1,024 = 2,032, one more lease of 1,024, and its top-up (1,024 unless
        // the machine took a second between them: then 16).
        settled(&a).await;
        let topped = a
            .book
            .lock_leases()
            .get("caller:fast")
            .map_or(0, |l| l.size);
        assert!([16, 1_024].contains(&topped), "{topped}");
        let used = |limit, amount| fits(&store, settings, "caller:fast", limit, amount);
        assert!(!used(3_056 + topped, 1).await?);
        assert!(used(3_057 + topped, 1).await?);

        let settings = BudgetSettings {
            per_caller: 4_096,
            ..settings
        };
        let granted = alternating(settings, &store, "alternating", 10_000).await?;
        let unspent = max_lease_size(4_096) + max_lease_size(4_096) / 4;
        assert!(
            (4_096 - 2 * unspent..=4_096).contains(&granted),
            "{granted}"
        );
        Ok(())
    }

    /// A busy key's lease is topped up by a task of its own once a quarter of it is left, so
    /// its queries do not wait for the store: with the store gone after the top-up, the
    /// queries it added are still served, and only the one past them needs the store. Small
    /// leases are not topped up.
    #[tokio::test]
    async fn a_large_lease_is_topped_up_before_it_is_spent() -> Result<(), StoreError> {
        let db = store().await;
        let settings = BudgetSettings {
            per_caller: 1_000_000,
            ..BudgetSettings::default()
        };
        let a = Budgets::new(settings, db.clone());
        let lease = |b: &Budgets| {
            b.book
                .lock_leases()
                .get("caller:busy")
                .map(|l| (l.left, l.size, l.topping_up))
        };
        // Leases of 16 and 32 are refilled when spent; the third, of 64, is topped up once 16
        // of it are left.
        for _ in 0..(16 + 32 + 47) {
            assert!(a.take(Some("busy"), None).await?.is_ok());
        }
        assert_eq!(lease(&a), Some((17, 64, false)));
        assert!(a.take(Some("busy"), None).await?.is_ok());
        assert_eq!(lease(&a), Some((16, 64, true)));
        settled(&a).await;
        let Some((left, size, false)) = lease(&a) else {
            panic!("{:?}", lease(&a));
        };
        // 128 (twice 64), or 16 on a machine that took a second since the lease was taken.
        assert!(
            [128, 16].contains(&size) && left == 16 + size,
            "{left} {size}"
        );
        // The store counts every query leased: 16 + 32 + 64 + the top-up.
        let used = |limit, amount| fits(&db, settings, "caller:busy", limit, amount);
        assert!(!used(112 + size, 1).await?);
        assert!(used(113 + size, 1).await?);
        db.close().await;
        for _ in 0..left {
            assert!(a.take(Some("busy"), None).await?.is_ok());
        }
        assert!(a.take(Some("busy"), None).await.is_err());

        // A budget under 4,096 queries a window never leases 64 at once: no top-ups.
        let b = Budgets::new(
            BudgetSettings {
                per_caller: 4_095,
                ..settings
            },
            store().await,
        );
        for _ in 0..500 {
            assert!(b.take(Some("busy"), None).await?.is_ok());
            assert!(lease(&b).is_some_and(|(_, size, topping_up)| size < 64 && !topping_up));
        }
        Ok(())
    }

    /// Many concurrent queries of one caller that find its lease spent: one of them refills it
    /// and the others spend from that refill, so the store grants a lease per 15 queries, not
    /// one per query (each replacing the last and leaving it unspent).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_queries_share_one_refill_of_a_spent_lease() -> Result<(), StoreError> {
        let store = store().await;
        let settings = BudgetSettings {
            per_caller: 1_000,
            per_ip: 1_024,
            ..BudgetSettings::default()
        };
        let budgets = std::sync::Arc::new(Budgets::new(settings, store.clone()));
        let ip: IpAddr = [192, 0, 2, 7].into();
        for round in 0..3 {
            let mut queries = tokio::task::JoinSet::new();
            for _ in 0..60 {
                let b = std::sync::Arc::clone(&budgets);
                queries.spawn(async move { b.take(Some("herd"), Some(ip)).await });
            }
            while let Some(taken) = queries.join_next().await {
                let taken = taken.unwrap_or_else(|e| panic!("{e}"));
                assert!(taken?.is_ok(), "round {round}");
            }
        }
        // 180 queries: 12 leases of 15 for the caller (180 used), 12 of 16 for the address.
        let used = |key, limit, amount| fits(&store, settings, key, limit, amount);
        assert!(!used("caller:herd", 1_000, 821).await?);
        assert!(used("caller:herd", 1_000, 820).await?);
        assert!(!used("ip:192.0.2.7", 192, 1).await?);
        assert!(used("ip:192.0.2.7", 193, 1).await?);
        Ok(())
    }

    /// A query never waits for one key's refill while holding another's: with a caller's
    /// refill held (a flood of its refused queries behind it), queries of that caller wait,
    /// and another caller behind the same address, whose lease there is spent, is answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_callers_stalled_refill_does_not_hold_up_its_address() -> Result<(), StoreError> {
        let budgets = std::sync::Arc::new(Budgets::new(
            BudgetSettings {
                per_caller: 1_000,
                per_ip: 100,
                ..BudgetSettings::default()
            },
            store().await,
        ));
        let ip: IpAddr = [192, 0, 2, 8].into();
        assert_ne!(stripe("caller:flooder"), stripe("caller:honest"));
        let held = budgets.book.refills[stripe("caller:flooder")].lock().await;
        let mut flood = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let b = std::sync::Arc::clone(&budgets);
            flood.spawn(async move { b.take(Some("flooder"), Some(ip)).await });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Limits under 128 are leased one by one: each query refills the address's key.
        for _ in 0..3 {
            let honest = tokio::time::timeout(
                Duration::from_secs(10),
                budgets.take(Some("honest"), Some(ip)),
            )
            .await;
            assert!(matches!(honest, Ok(Ok(Ok(())))), "{honest:?}");
        }
        assert!(
            flood.try_join_next().is_none(),
            "the flood waits for its refill"
        );
        drop(held);
        while let Some(taken) = flood.join_next().await {
            assert!(taken.unwrap_or_else(|e| panic!("{e}"))?.is_ok());
        }
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

    /// Charges of concurrent answers on two instances are none lost and none counted twice:
    /// 2 instances x 40 answers at once, each charging participant 7 (and half of them
    /// 8 too) for eve, leave exactly 80 and 40 charges in the store; every instance then
    /// knows 7 is spent for eve at a budget of 80.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_charges_count_every_answer_once() -> Result<(), StoreError> {
        let store = store().await;
        let settings = BudgetSettings {
            risk_budget: 80,
            risk_set_size: 2,
            ..BudgetSettings::default()
        };
        let instances = [
            Budgets::new(settings, store.clone()),
            Budgets::new(settings, store.clone()),
        ];
        let seven: RoaringBitmap = [7].into_iter().collect();
        let both: RoaringBitmap = [7, 8].into_iter().collect();
        let answers = (0..80).map(|i| {
            let b = &instances[i % 2];
            let set = if i % 4 < 2 { &seven } else { &both };
            b.charge("eve", set)
        });
        for result in futures_util::future::join_all(answers).await {
            result?;
        }
        assert_eq!(store.risk_exhausted("eve", 80, 0).await?, vec![7]);
        assert!(store.risk_exhausted("eve", 81, 0).await?.is_empty());
        let mut eight = store.risk_exhausted("eve", 40, 0).await?;
        eight.sort_unstable();
        assert_eq!(eight, vec![7, 8]);
        assert!(!store.risk_exhausted("eve", 41, 0).await?.contains(&8));
        for b in &instances {
            assert!(b.exhausted("eve").await?.contains(7));
        }
        Ok(())
    }
}
