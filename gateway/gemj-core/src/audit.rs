//! The audit writer: every access decision is appended to the store's hash-chained audit log
//! before the decision is returned, with group commit. Callers enqueue an event and wait for
//! its acknowledgement; one writer task drains whatever has queued up meanwhile and writes it
//! in one transaction. Under load, batches grow by themselves; idle, a lone event is written at
//! once, with no timer.

use gemj_model::AuditEvent;
use gemj_store::{Backend, Store};
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

/// A handle to the audit writer. Cloning is cheap; the writer stops when every handle is
/// dropped, after writing what is queued.
#[derive(Clone, Debug)]
pub struct AuditSink {
    tx: mpsc::Sender<Pending>,
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
        let handle = match store.backend() {
            Backend::Sqlite => {
                let rt = tokio::runtime::Handle::current();
                let (ended, end) = oneshot::channel::<()>();
                std::thread::Builder::new()
                    .name("gemj-audit".to_owned())
                    .spawn(move || {
                        writer_thread(&store, rx, max_batch, &rt);
                        let _ = ended.send(());
                    })
                    .expect("the audit writer's thread starts");
                tokio::spawn(async move {
                    let _ = end.await;
                })
            }
            Backend::Postgres => tokio::spawn(writer(store, rx, max_batch)),
        };
        (Self { tx }, handle)
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
        let (ack, wait) = oneshot::channel();
        self.tx
            .send(Pending {
                ack_len: events.len(),
                events,
                ack,
            })
            .await
            .map_err(|_| CoreError::AuditUnavailable)?;
        match wait.await {
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
async fn writer(store: Store, mut rx: mpsc::Receiver<Pending>, max_batch: usize) {
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.recv().await {
        let mut events = gather(first, &mut rx, &mut batch, max_batch);
        let written = store.append_audit_mut(&mut events).await;
        acknowledge(&mut batch, events.len(), written);
    }
}

/// SQLite: the writer thread (`Store::append_audit_blocking`). Ends when every sink is dropped.
fn writer_thread(
    store: &Store,
    mut rx: mpsc::Receiver<Pending>,
    max_batch: usize,
    rt: &tokio::runtime::Handle,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        let events = gather(first, &mut rx, &mut batch, max_batch);
        let n = events.len();
        let written = store.append_audit_blocking(events, rt);
        acknowledge(&mut batch, n, written);
    }
}
