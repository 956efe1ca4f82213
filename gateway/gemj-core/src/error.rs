//! The one error type of the core services. Status codes are chosen in gemj-server, per API
//! envelope; this type only says what went wrong.

use gemj_store::StoreError;

/// What went wrong in a core service.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The resource does not exist, or the caller may not know that it exists (the two are
    /// never told apart).
    #[error("not found")]
    NotFound,
    /// The operation needs a verified credential and the caller presented none.
    #[error("a verified credential is required")]
    CredentialRequired,
    /// The access decision point denied the request (audited); the API answers 401 or 403
    /// with the reason code, or 404 where existence must not be revealed.
    #[error("denied: {}", .0.code())]
    Denied(Box<crate::access::Denial>),
    /// This instance's consent view is too old to answer consent-dependent requests: answer
    /// 503 with `Retry-After`.
    #[error("the consent view is stale ({age_ms} ms)")]
    ConsentStale {
        /// How old the view is.
        age_ms: u64,
    },
    /// A signed data URL was refused (altered, foreign or expired): the code says which.
    #[error("signed URL refused: {0}")]
    UrlRejected(&'static str),
    /// The request conflicts with what is stored (same id, other content).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The request names something the caller may not use (a WES run's input); the message
    /// names it, and reads the same whether it exists or not (the decision is audited).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The store failed.
    #[error("store error")]
    Store(#[from] StoreError),
    /// Object storage failed (the folder or the S3 server): a stored object cannot be read or
    /// written.
    #[error("object storage error")]
    Objects(#[from] gemj_objects::ObjectError),
    /// The audit chain could not be written: nothing may be served.
    #[error("audit unavailable")]
    AuditUnavailable,
    /// A task the request was waiting for did not finish: it panicked (a bug: 500) or was
    /// cancelled (the server is shutting down: 503). Never the caller's fault.
    #[error("a worker task {}", if *.cancelled { "was cancelled" } else { "failed" })]
    Task {
        /// Cancelled rather than panicked.
        cancelled: bool,
    },
}

impl From<tokio::task::JoinError> for CoreError {
    fn from(e: tokio::task::JoinError) -> Self {
        if e.is_panic() {
            tracing::error!(message = "A worker task panicked.");
        }
        Self::Task {
            cancelled: e.is_cancelled(),
        }
    }
}

impl From<crate::consent_view::Stale> for CoreError {
    fn from(s: crate::consent_view::Stale) -> Self {
        Self::ConsentStale { age_ms: s.age_ms }
    }
}
