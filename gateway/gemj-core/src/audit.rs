//! The audit writer: every access decision is appended to the store's hash-chained audit log
//! before the decision is returned, with group commit. Callers enqueue an event and wait for
//! its acknowledgement; one writer task drains whatever has queued up meanwhile and writes it
//! in one transaction. Under load, batches grow by themselves; idle, a lone event is written at
//! once, with no timer. [`AuditMetrics`] times both sides: each request's wait for its events
//! to be durable and each batch's write (the server's `/metrics`).

use std::time::Instant;

use gemj_model::AuditEvent;
use gemj_store::{Backend, Store};
use prometheus::{Histogram, HistogramOpts};
use tokio::sync::{mpsc, oneshot};

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

/// The events of one request, written together in one transaction and acknowledged together.
struct Pending {
    events: Vec<AuditEvent>,
    ack_len: usize,
    ack: oneshot::Sender<Result<Vec<i64>, ()>>,
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
        }
    }

    /// Times one batch's write.
    fn wrote(&self, events: usize, started: Instant) {
        self.write.observe(started.elapsed().as_secs_f64());
        #[allow(clippy::cast_precision_loss)] // at most `max_batch` events
        self.batch.observe(events as f64);
    }
}

/// A handle to the audit writer. Cloning is cheap; the writer stops when every handle is
/// dropped, after writing what is queued.
#[derive(Clone, Debug)]
pub struct AuditSink {
    tx: mpsc::Sender<Pending>,
    metrics: AuditMetrics,
}

impl AuditSink {
    /// Starts the writer on the current tokio runtime: on SQLite a thread of its own, which
    /// writes on its own connection (no crossing to sqlx's connection thread and back per
    /// batch: docs/PERFORMANCE.md, "The audit writer's own thread"); on PostgreSQL a task.
    /// The handle ends when the writer does.
    ///
    /// # Panics
    /// Outside a tokio runtime, or when the thread cannot be started.
    #[must_use]
    pub fn start(store: Store, options: AuditOptions) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let max_batch = options.max_batch.max(1);
        let metrics = AuditMetrics::new();
        let timer = metrics.clone();
        let handle = match store.backend() {
            Backend::Sqlite => {
                let rt = tokio::runtime::Handle::current();
                let (ended, end) = oneshot::channel::<()>();
                std::thread::Builder::new()
                    .name("gemj-audit".to_owned())
                    .spawn(move || {
                        writer_thread(&store, rx, max_batch, &rt, &timer);
                        let _ = ended.send(());
                    })
                    .expect("the audit writer's thread starts");
                tokio::spawn(async move {
                    let _ = end.await;
                })
            }
            Backend::Postgres => tokio::spawn(writer(store, rx, max_batch, timer)),
        };
        (Self { tx, metrics }, handle)
    }

    /// The writer's latency histograms, for a metrics registry.
    #[must_use]
    pub fn metrics(&self) -> &AuditMetrics {
        &self.metrics
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
    /// numbers) and waits until they are durable; returns their sequence numbers in order.
    ///
    /// # Errors
    /// [`CoreError::AuditUnavailable`] when the events could not be written.
    pub async fn record_many(&self, events: Vec<AuditEvent>) -> Result<Vec<i64>, CoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let expected = events.len();
        let queued = Instant::now();
        let (ack, wait) = oneshot::channel();
        self.tx
            .send(Pending {
                ack_len: events.len(),
                events,
                ack,
            })
            .await
            .map_err(|_| CoreError::AuditUnavailable)?;
        let answered = wait.await;
        self.metrics.wait.observe(queued.elapsed().as_secs_f64());
        match answered {
            Ok(Ok(seqs)) if seqs.len() == expected => Ok(seqs),
            _ => Err(CoreError::AuditUnavailable),
        }
    }
}

/// Takes `first` and whatever else has queued meanwhile, up to `max_batch` events, into
/// `batch`; returns their events in order.
fn gather(
    first: Pending,
    rx: &mut mpsc::Receiver<Pending>,
    batch: &mut Vec<Pending>,
    max_batch: usize,
) -> Vec<AuditEvent> {
    let mut queued = first.events.len();
    batch.push(first);
    while queued < max_batch {
        match rx.try_recv() {
            Ok(p) => {
                queued += p.events.len();
                batch.push(p);
            }
            Err(_) => break,
        }
    }
    batch
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.events))
        .collect()
}

/// Answers every request of `batch` with its sequence numbers, or with a failure.
fn acknowledge(
    batch: &mut Vec<Pending>,
    events: usize,
    written: Result<Vec<i64>, gemj_store::StoreError>,
) {
    match written {
        Ok(seqs) if seqs.len() == events => {
            let mut seqs = seqs.into_iter();
            for p in batch.drain(..) {
                let n = p.ack_len;
                let _ = p.ack.send(Ok(seqs.by_ref().take(n).collect()));
            }
        }
        Ok(_) => {
            tracing::error!(
                message = "Audit batch acknowledged with a wrong row count.",
                events
            );
            for p in batch.drain(..) {
                let _ = p.ack.send(Err(()));
            }
        }
        Err(error) => {
            tracing::error!(message = "Audit batch could not be written.", events, %error);
            for p in batch.drain(..) {
                let _ = p.ack.send(Err(()));
            }
        }
    }
}

/// PostgreSQL: the writer task.
async fn writer(
    store: Store,
    mut rx: mpsc::Receiver<Pending>,
    max_batch: usize,
    metrics: AuditMetrics,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.recv().await {
        let mut events = gather(first, &mut rx, &mut batch, max_batch);
        let started = Instant::now();
        let written = store.append_audit_mut(&mut events).await;
        metrics.wrote(events.len(), started);
        acknowledge(&mut batch, events.len(), written);
    }
}

/// SQLite: the writer thread (`Store::append_audit_blocking`). Ends when every sink is dropped.
fn writer_thread(
    store: &Store,
    mut rx: mpsc::Receiver<Pending>,
    max_batch: usize,
    rt: &tokio::runtime::Handle,
    metrics: &AuditMetrics,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        let events = gather(first, &mut rx, &mut batch, max_batch);
        let n = events.len();
        let started = Instant::now();
        let written = store.append_audit_blocking(events, rt);
        metrics.wrote(n, started);
        acknowledge(&mut batch, n, written);
    }
}
