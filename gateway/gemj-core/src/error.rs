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
    /// The request is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The store failed.
    #[error("store error")]
    Store(#[from] StoreError),
    /// The audit chain could not be written: nothing may be served.
    #[error("audit unavailable")]
    AuditUnavailable,
    /// Generating or registering the demo cohort failed.
    #[error("demo cohort: {0}")]
    Demo(String),
}
