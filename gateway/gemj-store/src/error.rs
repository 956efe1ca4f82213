//! The one error type of the store. Its `Display` names ids and what failed, never record
//! contents, URLs with credentials or tokens; the cause is kept as the error source.

use std::error::Error as StdError;

use crate::Backend;

/// A boxed cause.
type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL or the connection options are not usable.
    #[error("bad database URL: {reason}")]
    BadUrl {
        /// What is wrong (never the URL itself, which may hold a password).
        reason: String,
        /// The parser's error, if any.
        #[source]
        source: Option<sqlx::Error>,
    },
    /// The database could not be reached or refused the connection.
    #[error("could not connect to the {backend} database")]
    Connect {
        /// Which database.
        backend: Backend,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// Applying or checking the embedded migrations failed.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database query failed")]
    Database(#[from] sqlx::Error),
    /// The audit writer's direct SQLite connection failed (SQLite's message); nothing of the
    /// write was stored.
    #[error("SQLite failed: {0}")]
    Sqlite(String),
    /// This process's writes stayed queued behind another (an ingest, a variant load) for as
    /// long as SQLite's own busy timeout (30 s): nothing was written.
    #[error("the database stayed busy: no turn to write within {0:?}")]
    Busy(std::time::Duration),
    /// A write made in a group with others' (risk charges) failed; the group's first error,
    /// as text, and nothing of the group was written.
    #[error("a grouped write failed: {0}")]
    Grouped(String),
    /// A record with this id is already stored with different contents, and the operation
    /// is not an update (consent events, recontact requests).
    #[error("{entity} {id} is already stored with different contents")]
    Conflict {
        /// The kind of record.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// A record refers to another that is not stored (a participant's institution, a
    /// dataset member, a variant's dataset, ...).
    #[error("{entity} {id} refers to a record that is not stored")]
    MissingReference {
        /// The kind of record being written.
        entity: &'static str,
        /// Its id.
        id: String,
        /// The database's foreign-key error, when the database found it.
        #[source]
        source: Option<sqlx::Error>,
    },
    /// A stored value no longer parses into the model.
    #[error("stored {entity} {id} does not parse into the model")]
    InvalidData {
        /// The kind of record.
        entity: &'static str,
        /// Its id.
        id: String,
        /// The parse error.
        #[source]
        source: Cause,
    },
    /// A value cannot be stored (it does not fit the column, or does not serialize).
    #[error("{entity} {id} cannot be stored")]
    InvalidInput {
        /// The kind of record.
        entity: &'static str,
        /// Its id.
        id: String,
        /// Why.
        #[source]
        source: Cause,
    },
}

impl StoreError {
    pub(crate) fn invalid_data(entity: &'static str, id: &str, source: impl Into<Cause>) -> Self {
        Self::InvalidData {
            entity,
            id: id.to_owned(),
            source: source.into(),
        }
    }

    pub(crate) fn invalid_input(entity: &'static str, id: &str, source: impl Into<Cause>) -> Self {
        Self::InvalidInput {
            entity,
            id: id.to_owned(),
            source: source.into(),
        }
    }

    pub(crate) fn conflict(entity: &'static str, id: &str) -> Self {
        Self::Conflict {
            entity,
            id: id.to_owned(),
        }
    }

    /// Maps a write error: a foreign-key violation becomes [`StoreError::MissingReference`]
    /// naming the record being written, anything else [`StoreError::Database`].
    pub(crate) fn write(entity: &'static str, id: &str) -> impl FnOnce(sqlx::Error) -> Self {
        let id = id.to_owned();
        move |e| {
            let fk = matches!(
                &e,
                sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::ForeignKeyViolation
            );
            if fk {
                Self::MissingReference {
                    entity,
                    id,
                    source: Some(e),
                }
            } else {
                Self::Database(e)
            }
        }
    }
}
