//! The audit writer: every access decision is appended to the store's hash-chained audit log
//! before the decision is returned, with group commit. Callers enqueue an event and wait for
//! its acknowledgement; one writer task drains whatever has queued up meanwhile and writes it
//! in one transaction. Under load, batches grow by themselves; idle, a lone event is written at
//! once, with no timer.

use gemj_model::AuditEvent;
use gemj_store::Store;
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

struct Pending {
    event: AuditEvent,
    ack: oneshot::Sender<Result<i64, ()>>,
}

/// A handle to the audit writer. Cloning is cheap; the writer stops when every handle is
/// dropped, after writing what is queued.
#[derive(Clone, Debug)]
pub struct AuditSink {
    tx: mpsc::Sender<Pending>,
}

impl AuditSink {
    /// Starts the writer task on the current tokio runtime.
    #[must_use]
    pub fn start(store: Store, options: AuditOptions) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let handle = tokio::spawn(writer(store, rx, options.max_batch.max(1)));
        (Self { tx }, handle)
    }

    /// Appends one event and waits until it is durable in the store.
    ///
    /// # Errors
    /// [`CoreError::AuditUnavailable`] when the event could not be written: the caller must not
    /// serve anything.
    pub async fn record(&self, event: AuditEvent) -> Result<i64, CoreError> {
        let (ack, wait) = oneshot::channel();
        self.tx
            .send(Pending { event, ack })
            .await
            .map_err(|_| CoreError::AuditUnavailable)?;
        match wait.await {
            Ok(Ok(seq)) => Ok(seq),
            _ => Err(CoreError::AuditUnavailable),
        }
    }
}

async fn writer(store: Store, mut rx: mpsc::Receiver<Pending>, max_batch: usize) {
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let events: Vec<AuditEvent> = batch.iter().map(|p| p.event.clone()).collect();
        match store.append_audit(&events).await {
            Ok(seqs) if seqs.len() == batch.len() => {
                for (p, seq) in batch.drain(..).zip(seqs) {
                    let _ = p.ack.send(Ok(seq));
                }
            }
            Ok(_) => {
                tracing::error!(
                    message = "Audit batch acknowledged with a wrong row count.",
                    events = events.len()
                );
                for p in batch.drain(..) {
                    let _ = p.ack.send(Err(()));
                }
            }
            Err(error) => {
                tracing::error!(message = "Audit batch could not be written.", events = events.len(), %error);
                for p in batch.drain(..) {
                    let _ = p.ack.send(Err(()));
                }
            }
        }
    }
}
