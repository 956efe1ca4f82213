//! The audit writer: every access decision is appended to the store's hash-chained audit log
//! before the decision is returned, with group commit. Callers queue their events and wait for
//! their acknowledgement; a writer task drains whatever has queued up, a batch at a time, each
//! in one transaction, and ends when the queue is empty. It is started by the request that
//! finds none running: on SQLite on that request's own runtime (an HTTP worker's thread), so an
//! audited request that finds the store idle writes its events with no crossing to another
//! thread (docs/PERFORMANCE.md, "The audit written on the request's thread"); on PostgreSQL on
//! the runtime the sink was made on, which drives the audit connection's socket. Under load,
//! batches grow by themselves; idle, a lone event is written at once, with no timer.
//! [`AuditMetrics`] times both sides: each request's wait for its events to be durable and each
//! batch's write (the server's `/metrics`).
//!
//! With a local journal ([`AuditSink::with_journal`], PostgreSQL deployments), a batch is
//! appended to the replica's own journal file instead, which is all an answer waits for, and a
//! shipper task moves the journal into the store's chain as it fills (`gemj_store::journal`).
//! Its rows get their sequence numbers there, so a journaled request is answered with 0s.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use gemj_model::AuditEvent;
use gemj_store::{AuditJournal, Backend, SHIP_BATCH, Store};
use prometheus::{Histogram, HistogramOpts, IntGauge};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot, watch};

use crate::CoreError;

/// Tuning of the audit writer.
#[derive(Debug, Clone, Copy)]
pub struct AuditOptions {
    /// Most events written in one transaction.
    pub max_batch: usize,
    /// Events that may wait in the queue before callers wait for room.
    pub queue_capacity: usize,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            max_batch: 1024,
            queue_capacity: 16_384,
        }
    }
}

/// With a journal, the shipper's pause after a shipping that found rows: the rows of the next
/// few milliseconds then go in one commit.
const SHIP_PAUSE: std::time::Duration = std::time::Duration::from_millis(4);

/// The events of one request, written together in one transaction and acknowledged together.
struct Pending {
    events: Vec<AuditEvent>,
    /// Its events' number, kept when they are moved into a batch.
    len: usize,
    /// Its room in the queue, given back when the writer takes it.
    room: Option<OwnedSemaphorePermit>,
    ack: oneshot::Sender<Result<Vec<i64>, ()>>,
}

/// The queue, and whether a writer task is draining it.
#[derive(Default)]
struct State {
    queue: VecDeque<Pending>,
    writing: bool,
}

struct Shared {
    store: Store,
    state: Mutex<State>,
    room: Arc<Semaphore>,
    capacity: usize,
    max_batch: usize,
    /// Where the writer runs: `None`, on the runtime of the request that starts it.
    home: Option<tokio::runtime::Handle>,
    metrics: AuditMetrics,
    /// The local journal and its shipper, when the sink journals.
    ship: Option<Arc<Ship>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last handle is gone: the shipper ships what is left and lets the journal go.
        if let Some(ship) = &self.ship {
            ship.closed
                .store(true, std::sync::atomic::Ordering::Release);
            ship.wake.notify_one();
        }
    }
}

/// A journal's shipper: woken by each append, it ships until the journal is empty.
struct Ship {
    store: Store,
    journal: AuditJournal,
    wake: Notify,
    closed: std::sync::atomic::AtomicBool,
    /// The last journal row shipped.
    shipped: watch::Sender<i64>,
    metrics: AuditMetrics,
}

impl Ship {
    /// Ships until nothing waits; `false` when the store failed (then the rows stay in the
    /// journal for the next try).
    async fn ship_all(&self) -> bool {
        loop {
            let started = Instant::now();
            let shipped = self
                .store
                .ship_audit_journal(&self.journal, SHIP_BATCH)
                .await;
            if let (Ok(_), Some(through)) = (&shipped, self.journal.last_shipped()) {
                self.shipped
                    .send_if_modified(|s| std::mem::replace(s, through) != through);
                let waiting = self.journal.last_appended().saturating_sub(through);
                self.metrics.journal_rows.set(waiting);
            }
            match shipped {
                Ok(0) => return true,
                Ok(n) => {
                    self.metrics.ship.observe(started.elapsed().as_secs_f64());
                    // Busy: let a few milliseconds' rows gather into the next shipping, fewer
                    // and larger commits (no answer waits for them). Idle, the next append
                    // is shipped at once.
                    if n < SHIP_BATCH {
                        tokio::time::sleep(SHIP_PAUSE).await;
                    }
                }
                Err(error) => {
                    // The kind only: a store's or a row's error text may quote a record.
                    tracing::warn!(
                        message = "The audit journal could not be shipped; retrying.",
                        journal = self.journal.id(),
                        after = self.journal.last_shipped().unwrap_or(-1),
                        error = error_kind(&error)
                    );
                    return false;
                }
            }
        }
    }

    /// The shipper's loop, until the sink is dropped and the journal is empty (or the store
    /// is out of reach then: what is left ships at the next start).
    async fn run(self: Arc<Self>) {
        let mut failures = 0_u32;
        loop {
            let closed = self.closed.load(std::sync::atomic::Ordering::Acquire);
            if self.ship_all().await {
                failures = 0;
                if closed {
                    return;
                }
                self.wake.notified().await;
            } else {
                failures = failures.saturating_add(1);
                if closed && failures > 3 {
                    return;
                }
                // Back off up to a second; an append wakes it no sooner.
                let pause = std::time::Duration::from_millis(50 * u64::from(failures.min(20)));
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// What kind of failure stopped a shipping, for the log (never its text).
fn error_kind(error: &gemj_store::StoreError) -> &'static str {
    use gemj_store::StoreError as E;
    match error {
        E::Database(_) | E::Connect { .. } | E::Busy(_) => "the store is out of reach",
        E::Conflict { .. } => "the journal's mark moved (shipped elsewhere)",
        E::InvalidData { .. } => "a journal row does not read back",
        E::Sqlite(_) => "the journal file",
        _ => "the store refused the rows",
    }
}

/// The audit writer's latencies: what an audited answer waits for, and where that goes. Under
/// load a request waits for the batch being written, then for its own batch's write (group
/// commit); `wait` against `write` tells a slow store from a long queue. The server's
/// `/metrics` renders them with its `gemj_` prefix.
#[derive(Clone, Debug)]
pub struct AuditMetrics {
    /// Per request: from its events queued to their being durable (or failed), in seconds
    /// (`gemj_audit_wait_seconds`).
    pub wait: Histogram,
    /// Per batch: its write to the store, in seconds (`gemj_audit_write_seconds`).
    pub write: Histogram,
    /// Per batch: the events written together (`gemj_audit_batch_events`).
    pub batch: Histogram,
    /// With a journal, per shipping: its append to the store's chain, in seconds
    /// (`gemj_audit_ship_seconds`).
    pub ship: Histogram,
    /// With a journal: its rows not yet shipped, as of the last shipping
    /// (`gemj_audit_journal_rows`).
    pub journal_rows: IntGauge,
}

impl AuditMetrics {
    fn new() -> Self {
        const SECONDS: [f64; 14] = [
            0.000_1, 0.000_25, 0.000_5, 0.000_75, 0.001, 0.001_5, 0.002_5, 0.005, 0.01, 0.025,
            0.05, 0.1, 0.25, 1.0,
        ];
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
                .expect("constant, valid histogram options")
        };
        Self {
            wait: histogram(
                "audit_wait_seconds",
                "Audited requests: time from their events queued to their being durable.",
                &SECONDS,
            ),
            write: histogram(
                "audit_write_seconds",
                "Audit batches: time to write one to the store.",
                &SECONDS,
            ),
            batch: histogram(
                "audit_batch_events",
                "Audit batches: events written together.",
                &[
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
                ],
            ),
            ship: histogram(
                "audit_ship_seconds",
                "Audit journal: time to ship a batch of its rows into the store's chain.",
                &SECONDS,
            ),
            journal_rows: IntGauge::new(
                "audit_journal_rows",
                "Audit journal: rows not yet shipped into the store's chain.",
            )
            .expect("constant, valid gauge options"),
        }
    }

    /// Times one batch's write.
    fn wrote(&self, events: usize, started: Instant) {
        self.write.observe(started.elapsed().as_secs_f64());
        #[allow(clippy::cast_precision_loss)] // at most `max_batch` events
        self.batch.observe(events as f64);
    }
}

/// A handle to the audit writer. Cloning is cheap.
#[derive(Clone)]
pub struct AuditSink {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSink").finish_non_exhaustive()
    }
}

impl AuditSink {
    /// The audit writer over `store`. On PostgreSQL, made inside a tokio runtime, its writer
    /// runs on that runtime; else on the runtime of the request that starts it.
    #[must_use]
    pub fn new(store: Store, options: AuditOptions) -> Self {
        let home = match store.backend() {
            Backend::Postgres => tokio::runtime::Handle::try_current().ok(),
            Backend::Sqlite => None,
        };
        Self::made(store, options, home, AuditMetrics::new(), None)
    }

    /// The audit writer over a local `journal`, shipped into `store`'s chain by a task on the
    /// current runtime, which first ships what an earlier run left. Must run inside a tokio
    /// runtime.
    #[must_use]
    pub fn with_journal(store: Store, options: AuditOptions, journal: AuditJournal) -> Self {
        let metrics = AuditMetrics::new();
        let ship = Arc::new(Ship {
            store: store.clone(),
            shipped: watch::Sender::new(journal.last_shipped().unwrap_or_default()),
            journal,
            wake: Notify::new(),
            closed: std::sync::atomic::AtomicBool::new(false),
            metrics: metrics.clone(),
        });
        tokio::spawn(Arc::clone(&ship).run());
        // A journal's append is local: the writer runs where the request does.
        Self::made(store, options, None, metrics, Some(ship))
    }

    fn made(
        store: Store,
        options: AuditOptions,
        home: Option<tokio::runtime::Handle>,
        metrics: AuditMetrics,
        ship: Option<Arc<Ship>>,
    ) -> Self {
        let capacity = options
            .queue_capacity
            .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        Self {
            shared: Arc::new(Shared {
                store,
                state: Mutex::default(),
                room: Arc::new(Semaphore::new(capacity)),
                capacity,
                max_batch: options.max_batch.max(1),
                home,
                metrics,
                ship,
            }),
        }
    }

    /// Whether the sink journals (its answers' sequence numbers are 0).
    #[must_use]
    pub fn journals(&self) -> bool {
        self.shared.ship.is_some()
    }

    /// With a journal: waits (at most `limit`) until every event recorded before the call is
    /// in the store's chain, so that a read of the audit sees them; `false` when the limit
    /// passed first. Without one: `true` at once.
    pub async fn settle(&self, limit: std::time::Duration) -> bool {
        let Some(ship) = &self.shared.ship else {
            return true;
        };
        let target = ship.journal.last_appended();
        let mut shipped = ship.shipped.subscribe();
        ship.wake.notify_one();
        tokio::time::timeout(limit, shipped.wait_for(|s| *s >= target))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The writer's latency histograms, for a metrics registry.
    #[must_use]
    pub fn metrics(&self) -> &AuditMetrics {
        &self.shared.metrics
    }

    /// Appends one event and waits until it is durable in the store.
    ///
    /// # Errors
    /// [`CoreError::AuditUnavailable`] when the event could not be written: the caller must not
    /// serve anything.
    pub async fn record(&self, event: AuditEvent) -> Result<i64, CoreError> {
        self.record_many(vec![event])
            .await?
            .pop()
            .ok_or(CoreError::AuditUnavailable)
    }

    /// Appends the events of one request together (one transaction, consecutive sequence
    /// numbers) and waits until they are durable; returns their sequence numbers in order
    /// (0 each when the sink journals: they are numbered when shipped). Must run inside a
    /// tokio runtime.
    ///
    /// # Errors
    /// [`CoreError::AuditUnavailable`] when the events could not be written.
    pub async fn record_many(&self, events: Vec<AuditEvent>) -> Result<Vec<i64>, CoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let expected = events.len();
        let queued = Instant::now();
        let answered = self.write(events).await;
        self.shared
            .metrics
            .wait
            .observe(queued.elapsed().as_secs_f64());
        match answered {
            Ok(seqs) if seqs.len() == expected => Ok(seqs),
            _ => Err(CoreError::AuditUnavailable),
        }
    }

    /// Queues `events`, starts the writer when none runs, and waits for their acknowledgement.
    async fn write(&self, events: Vec<AuditEvent>) -> Result<Vec<i64>, ()> {
        let shared = &self.shared;
        let wanted = u32::try_from(events.len().min(shared.capacity)).unwrap_or(u32::MAX);
        let room = Arc::clone(&shared.room)
            .acquire_many_owned(wanted)
            .await
            .map_err(|_| ())?;
        let (ack, answer) = oneshot::channel();
        let start = {
            let mut state = shared.lock();
            state.queue.push_back(Pending {
                len: events.len(),
                events,
                room: Some(room),
                ack,
            });
            !std::mem::replace(&mut state.writing, true)
        };
        if start {
            spawn_writer(Arc::clone(shared));
        }
        answer.await.map_err(|_| ())?
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next batch: requests from the front of the queue, up to `max_batch` events (at
    /// least one request); none when the queue is empty, and then the writer stops.
    fn next_batch(&self) -> Option<Vec<Pending>> {
        let mut state = self.lock();
        if state.queue.is_empty() {
            state.writing = false;
            return None;
        }
        let mut batch = Vec::new();
        let mut held = 0;
        while let Some(front) = state.queue.front() {
            if held > 0 && held + front.len > self.max_batch {
                break;
            }
            held += front.len;
            batch.extend(state.queue.pop_front());
        }
        drop(state);
        for p in &mut batch {
            p.room = None;
        }
        Some(batch)
    }

    /// Fails every waiting request and marks the writer stopped: its task ended before the
    /// queue was empty (a panic, or its runtime shutting down).
    fn abandon(&self) {
        let waiting: Vec<Pending> = {
            let mut state = self.lock();
            state.writing = false;
            state.queue.drain(..).collect()
        };
        fail(waiting);
    }

    /// Writes the events of `batch` in one transaction and answers its requests.
    async fn write_batch(&self, mut batch: Vec<Pending>) {
        let mut events = Vec::with_capacity(batch.iter().map(|p| p.len).sum());
        for p in &mut batch {
            events.append(&mut p.events);
        }
        let n = events.len();
        let started = Instant::now();
        let written = match &self.ship {
            Some(ship) => {
                let journaled = ship.journal.append(&events).map(|last| {
                    let shipped = ship.journal.last_shipped().unwrap_or_default();
                    self.metrics.journal_rows.set(last.saturating_sub(shipped));
                    vec![0; n]
                });
                ship.wake.notify_one();
                journaled
            }
            None => self.store.append_audit_owned(events).await,
        };
        self.metrics.wrote(n, started);
        match written {
            Ok(seqs) if seqs.len() == n => {
                let mut seqs = seqs.into_iter();
                for p in batch {
                    let _ = p.ack.send(Ok(seqs.by_ref().take(p.len).collect()));
                }
            }
            Ok(_) => {
                tracing::error!(
                    message = "Audit batch acknowledged with a wrong row count.",
                    events = n
                );
                fail(batch);
            }
            Err(error) => {
                tracing::error!(message = "Audit batch could not be written.", events = n, %error);
                fail(batch);
            }
        }
    }
}

fn fail(batch: Vec<Pending>) {
    for p in batch {
        let _ = p.ack.send(Err(()));
    }
}

/// Held by the writer task until it finds the queue empty ([`Baton::release`]); dropped before
/// that (a panic, the runtime shutting down, or a runtime that had already stopped and never
/// ran the task), it fails the waiting requests rather than leave them waiting for good, and
/// lets the next request start a writer.
struct Baton(Option<Arc<Shared>>);

impl Baton {
    fn release(&mut self) {
        self.0 = None;
    }
}

impl Drop for Baton {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take() {
            shared.abandon();
        }
    }
}

/// The writer task: writes batches until the queue is empty. It runs apart from the request
/// that started it, so a caller that stops waiting stops neither its own events nor anyone
/// else's from being written.
fn spawn_writer(shared: Arc<Shared>) {
    let home = shared.home.clone();
    let mut baton = Baton(Some(Arc::clone(&shared)));
    let task = async move {
        while let Some(batch) = shared.next_batch() {
            shared.write_batch(batch).await;
            // A SQLite write does not wait: let the thread's other requests have their turn.
            tokio::task::yield_now().await;
        }
        baton.release();
    };
    match home {
        Some(home) => drop(home.spawn(task)),
        None => drop(tokio::spawn(task)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use gemj_model::{AccessDecision, AuditEvent};
    use gemj_store::{Store, StoreOptions};
    use tokio::sync::Semaphore;

    use super::{AuditMetrics, AuditOptions, AuditSink, Baton, Shared, spawn_writer};

    type Answer = tokio::task::JoinHandle<Result<Vec<i64>, crate::CoreError>>;

    fn event(n: usize) -> AuditEvent {
        AuditEvent {
            at: time::OffsetDateTime::now_utc(),
            request_id: format!("r{n}"),
            api: "audit-unit-test".to_owned(),
            endpoint: "/test/{id}".to_owned(),
            principal: format!("https://issuer.example#user{}", n % 4),
            action: "read_metadata".to_owned(),
            resource: "dataset:D1".to_owned(),
            decision: AccessDecision::Permit,
            reasons: vec!["public_metadata".to_owned()],
            credential_hashes: Vec::new(),
            approval: None,
            consent_epoch: Some(1),
            participants: vec![format!("GEMJ-T-{:04}", n % 8)],
            records_returned: Some(1),
            records_filtered: Some(0),
        }
    }

    async fn store() -> Result<(tempfile::TempDir, Store), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite:{}", dir.path().join("gemj.db").display());
        let store = Store::connect(&url, &StoreOptions::default()).await?;
        store.migrate().await?;
        Ok((dir, store))
    }

    /// Requests of two events each, for `ids`, queued in that order while the test holds the
    /// writer's place (as a write under way would), each in a task of its own.
    async fn queued(sink: &AuditSink, ids: &[usize]) -> Vec<Answer> {
        sink.shared.lock().writing = true;
        let mut tasks = Vec::new();
        for &n in ids {
            let sink2 = sink.clone();
            tasks.push(tokio::spawn(async move {
                sink2.record_many(vec![event(n), event(n)]).await
            }));
            // In this order.
            while sink.shared.lock().queue.len() < tasks.len() {
                tokio::task::yield_now().await;
            }
        }
        tasks
    }

    /// Whether the writer has stopped (its place free) within ten seconds.
    async fn writer_ends(sink: &AuditSink) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while sink.shared.lock().writing {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        true
    }

    async fn answered(task: Answer) -> Result<Vec<i64>, Box<dyn std::error::Error>> {
        Ok(tokio::time::timeout(Duration::from_secs(10), task).await???)
    }

    /// A journaling sink answers once the events are in its local file (0 for their numbers),
    /// ships them into the one chain, settles on request, and, dropped, ships what is left and
    /// lets the file go.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_journal_answers_from_its_file_and_ships_into_the_chain()
    -> Result<(), Box<dyn std::error::Error>> {
        let (dir, store) = store().await?;
        let path = dir.path().join("audit-journal.sqlite");
        let journal = gemj_store::AuditJournal::open(&path)?;
        let sink = AuditSink::with_journal(store.clone(), AuditOptions::default(), journal);
        assert!(sink.journals());
        let tasks: Vec<_> = (0..16)
            .map(|n| {
                let sink = sink.clone();
                tokio::spawn(async move { sink.record_many(vec![event(n), event(n)]).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(answered(task).await?, [0, 0]);
        }
        assert!(sink.settle(Duration::from_secs(10)).await);
        let records = store.audit_records(0, 100).await?;
        assert_eq!(records.len(), 32, "every journaled event is in the chain");
        let mut ids: Vec<&str> = records
            .iter()
            .map(|r| r.event.request_id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 16);
        assert!(store.verify_chains().await?.is_intact());

        sink.record(event(99)).await?;
        drop(sink);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let reopened = loop {
            match gemj_store::AuditJournal::open(&path) {
                Ok(journal) => break journal,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        assert_eq!(
            store.audit_count().await?,
            33,
            "shipped before the file was let go"
        );
        assert_eq!(store.ship_audit_journal(&reopened, 100).await?, 0);
        Ok(())
    }

    /// Many requests at once on two threads: each gets consecutive sequence numbers, every
    /// number once, in one intact chain; the writer stops once the queue is empty.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_batches_and_one_chain()
    -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, store) = store().await?;
        let sink = AuditSink::new(store.clone(), AuditOptions::default());
        let tasks: Vec<_> = (0..48)
            .map(|w| {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let mut seqs = Vec::new();
                    for i in 0..20 {
                        let n = w * 100 + i;
                        let events = (0..=(n % 3)).map(|_| event(n)).collect();
                        let got = sink.record_many(events).await?;
                        assert_eq!(got.len(), n % 3 + 1);
                        assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "{got:?}");
                        seqs.extend(got);
                    }
                    Ok::<_, crate::CoreError>(seqs)
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        all.sort_unstable();
        let total = all.len();
        assert_eq!(all, (1..=i64::try_from(total)?).collect::<Vec<_>>());
        assert!(store.verify_chains().await?.is_intact());
        assert_eq!(store.audit_rows(0, 10_000).await?.len(), total);
        let metrics = sink.metrics();
        assert_eq!(metrics.wait.get_sample_count(), 48 * 20);
        let batches = metrics.write.get_sample_count();
        assert!((1..=48 * 20).contains(&batches), "{batches} batches");
        assert!(writer_ends(&sink).await);
        Ok(())
    }

    /// On a runtime of one thread (an HTTP worker's), the request that finds no writer starts
    /// one there: nothing else has to run for its events to be written.
    #[tokio::test(flavor = "current_thread")]
    async fn the_writer_runs_on_the_requests_own_thread() -> Result<(), Box<dyn std::error::Error>>
    {
        let (_dir, store) = store().await?;
        let sink = AuditSink::new(store.clone(), AuditOptions::default());
        assert!(sink.shared.home.is_none());
        for n in 1..=3 {
            assert_eq!(sink.record(event(n)).await?, i64::try_from(n)?);
            // The writer yields after its batch, then finds the queue empty and ends.
            assert!(writer_ends(&sink).await);
        }
        Ok(())
    }

    /// A request whose caller stopped waiting is still written, in its place, and holds
    /// nobody up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_gone_neither_loses_its_events_nor_blocks()
    -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, store) = store().await?;
        let sink = AuditSink::new(store.clone(), AuditOptions::default());
        let mut tasks = queued(&sink, &[1, 2, 3]).await;
        let gone = tasks.remove(1);
        gone.abort();
        assert!(gone.await.is_err_and(|e| e.is_cancelled()));
        spawn_writer(sink.shared.clone());
        assert_eq!(answered(tasks.remove(0)).await?, [1, 2]);
        assert_eq!(answered(tasks.remove(0)).await?, [5, 6]);
        let rows = store.audit_records(0, 100).await?;
        let ids: Vec<&str> = rows.iter().map(|r| r.event.request_id.as_str()).collect();
        assert_eq!(ids, ["r1", "r1", "r2", "r2", "r3", "r3"]);
        assert_eq!(sink.record(event(4)).await?, 7);
        assert!(store.verify_chains().await?.is_intact());
        Ok(())
    }

    /// A writer task that ends before the queue is empty (a panic, its runtime stopping)
    /// fails the waiting requests at once, and the next request starts a writer again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_lost_fails_the_waiting_and_lets_the_next_start()
    -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, store) = store().await?;
        let sink = AuditSink::new(store.clone(), AuditOptions::default());
        let tasks = queued(&sink, &[1, 2]).await;
        drop(Baton(Some(Arc::clone(&sink.shared))));
        for t in tasks {
            let answer = tokio::time::timeout(Duration::from_secs(10), t).await??;
            assert!(matches!(answer, Err(crate::CoreError::AuditUnavailable)));
        }
        assert_eq!(sink.record(event(3)).await?, 1);
        Ok(())
    }

    /// A writer that cannot run (its runtime has stopped) fails the request rather than leave
    /// it waiting, and frees the writer's place.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_whose_runtime_stopped_fails_the_request()
    -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, store) = store().await?;
        let stopped = tokio::runtime::Builder::new_current_thread().build()?;
        let home = stopped.handle().clone();
        stopped.shutdown_background();
        let sink = AuditSink {
            shared: Arc::new(Shared {
                store,
                state: Mutex::default(),
                room: Arc::new(Semaphore::new(8)),
                capacity: 8,
                max_batch: 8,
                home: Some(home),
                metrics: AuditMetrics::new(),
                ship: None,
            }),
        };
        let answer = tokio::time::timeout(Duration::from_secs(10), sink.record(event(1))).await?;
        assert!(matches!(answer, Err(crate::CoreError::AuditUnavailable)));
        assert!(!sink.shared.lock().writing);
        Ok(())
    }

    /// A full queue holds callers back until the writer takes requests from it; batches stop
    /// at `max_batch` events.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_holds_callers_until_room() -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, store) = store().await?;
        let options = AuditOptions {
            max_batch: 4,
            queue_capacity: 4,
        };
        let sink = AuditSink::new(store.clone(), options);
        let mut tasks = queued(&sink, &[1, 2]).await;
        let late = {
            let sink = sink.clone();
            tokio::spawn(async move { sink.record_many(vec![event(3), event(3)]).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            sink.shared.lock().queue.len(),
            2,
            "no room for a third request"
        );
        spawn_writer(sink.shared.clone());
        tasks.push(late);
        for (t, want) in tasks.into_iter().zip([[1, 2], [3, 4], [5, 6]]) {
            assert_eq!(answered(t).await?, want);
        }
        assert!(store.verify_chains().await?.is_intact());
        let batches = sink.metrics().batch.get_sample_sum();
        assert!(
            (batches - 6.0).abs() < f64::EPSILON,
            "{batches} events in batches"
        );
        assert_eq!(
            sink.metrics().write.get_sample_count(),
            2,
            "4 events, then 2"
        );
        Ok(())
    }
}
