//! The GeMJ store: the only crate that speaks SQL (sqlx). Object storage (the files themselves)
//! is `gemj-objects`.
//!
//! [`Store`] persists the canonical model of `gemj-model` in SQLite (the default, one file) or
//! PostgreSQL, with the same tables on both and embedded migrations per backend
//! (`migrations/sqlite`, `migrations/postgres`). Each query is written once where the SQL is
//! the same on both backends and dispatched to the pool in use; only dialect differences are
//! written twice. Every value is a bound parameter.
//!
//! What it owns:
//! - institutions, participants (with the compact ordinal used in carrier bitmaps), specimens,
//!   sequencing runs, analyses, data objects, datasets and their members,
//! - diagnoses, phenotypes and genes,
//! - recontact requests,
//! - consent: an append-only, hash-chained event log per participant with its projected state
//!   and a global consent epoch ([`Store::append_consent_event`]),
//! - audit: an append-only, hash-chained global log of compact rows written in group commits
//!   ([`Store::append_audit`]), partitioned by month on PostgreSQL, verified by
//!   [`Store::verify_chains`]; old rows leave only inside sealed segments
//!   ([`Store::seal_audit_segment`]),
//! - the variant index: per dataset and allele, counts and the carriers as a roaring bitmap of
//!   participant ordinals ([`Store::insert_variants`]).
//!
//! Invariant: the public API has no update or delete for audit records or consent events, and
//! the schema refuses both with triggers.
//!
//! # Examples
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use gemj_store::{Backend, Store, StoreOptions};
//! let dir = tempfile::tempdir().unwrap();
//! let url = format!("sqlite:{}", dir.path().join("gemj.db").display());
//! let store = Store::connect(&url, &StoreOptions::default()).await.unwrap();
//! assert!(store.migrations_pending().await.unwrap());
//! store.migrate().await.unwrap();
//! assert!(!store.migrations_pending().await.unwrap());
//! assert_eq!(store.backend(), Backend::Sqlite);
//! # });
//! ```

mod approvals;
mod audit;
mod audit_pack;
mod budgets;
mod calls;
mod catalog;
mod chains;
mod clinical;
mod connect;
mod consent;
mod error;
mod ingest;
mod journal;
mod portal;
mod recontact;
mod revocations;
pub mod scratch;
mod snapshot;
mod variants;
mod wes;

#[cfg(test)]
mod behaviour;

use sqlx::{PgPool, SqlitePool};

pub use approvals::StoredApplication;
pub use audit::{AuditRow, AuditSegment};
pub use budgets::QueryBudget;
pub use calls::CallRow;
pub use catalog::{CATALOGUE_CHANNEL, ObjectTimes};
pub use chains::{BrokenChain, ChainReport};
pub use clinical::Gene;
pub use consent::{AppendOutcome, CONSENT_CHANNEL, ConsentChanges, StoredConsentEvent};
pub use error::StoreError;
pub use ingest::IngestTx;
pub use journal::{AuditJournal, SHIP_BATCH};
pub use portal::PortalSession;
pub use recontact::RecontactInboxEntry;
pub use revocations::{Revocation, RevocationKind};
pub use snapshot::CatalogueSnapshot;
pub use variants::{VariantContribution, VariantMerge, VariantRow};
pub use wes::{ObjectOwner, WesRunChange, WesRunRow};

/// A handle on the database: cheap to clone (it wraps a connection pool).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// Catalogue writes committed through this handle (and its clones) since it connected:
    /// lets this process's caches see its own writes at once, before the epoch poll.
    catalogue_writes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Audit terms and partitions this handle (and its clones) already knows.
    audit_cache: std::sync::Arc<audit_pack::AuditCache>,
    /// SQLite: the one writer of this handle (and its clones). SQLite lets one connection
    /// write at a time; a second one that tries gets `SQLITE_BUSY` and its busy handler
    /// sleeps 1, 2, 5, 10… ms before trying again, holding its pooled connection asleep. So
    /// every write of this process (a transaction of [`with_tx`], a statement of
    /// [`with_write`], an ingest) queues here first, in arrival order, and reaches SQLite
    /// with the lock free (measured: docs/PERFORMANCE.md, "SQLite's busy sleeps"). Another
    /// process, or another handle, on the same file still waits in the busy handler. The turn
    /// holds the writer's own connection ([`connect::Writer`]), which the audit appends use.
    writer: std::sync::Arc<tokio::sync::Mutex<connect::Writer>>,
    /// Risk charges waiting to be written in one group ([`Store::charge_risk`]).
    risk: std::sync::Arc<budgets::RiskCharges>,
    /// Approval writes committed through this handle (and its clones): lets this process's
    /// cached readings of approvals see its own writes at once.
    approval_writes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// PostgreSQL: the audit appends' own pool of one connection, opened by the first append
    /// (the audit writer's, on its runtime). It prepares the append's statement once, where
    /// every pooled connection prepared it anew, and its socket is polled by the
    /// writer's runtime, not by whichever HTTP worker opened a pooled connection (a tokio
    /// socket is driven by the runtime it was opened on). Beacon on PostgreSQL: 43-45 -> 32-36
    /// us of server CPU per query (docs/PERFORMANCE.md, "More HTTP workers").
    audit_pg: Option<sqlx::PgPool>,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// Which database a [`Store`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite, one file (the default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The lower-case name (`sqlite`, `postgres`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to connect.
///
/// # Examples
/// ```
/// let opts = gemj_store::StoreOptions { max_connections: 4, schema: Some("gemj".into()) };
/// assert_eq!(gemj_store::StoreOptions::default().max_connections, 8);
/// # drop(opts);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// The most connections the pool opens (at least 1 is used). On PostgreSQL the audit
    /// appends open one more of their own (`Store::audit_pg`).
    pub max_connections: u32,
    /// PostgreSQL only: the schema to work in. It is created if missing and set as the
    /// `search_path` of every connection. Lower-case letters, digits and `_`, starting with a
    /// letter or `_`, at most 63 characters. Must be `None` for SQLite.
    pub schema: Option<String>,
}

impl StoreOptions {
    /// `max_connections` connections in a PostgreSQL schema that no other process, and no
    /// earlier call in this one, has named: `{prefix}_{pid}_{nanos}_{n}`. For tests that each
    /// want a fresh schema (and drop it when done).
    #[must_use]
    pub fn fresh_schema(prefix: &str, max_connections: u32) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() % 1_000_000_000_000)
            .unwrap_or_default();
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            max_connections,
            schema: Some(format!("{prefix}_{}_{nanos}_{n}", std::process::id())),
        }
    }
}

impl Default for StoreOptions {
    /// Eight connections, the default schema.
    fn default() -> Self {
        Self {
            max_connections: 8,
            schema: None,
        }
    }
}

/// Runs `$body` once per backend, with `$p` bound to the pool (`&SqlitePool` or `&PgPool`) and
/// the optional `$pg` to whether it is PostgreSQL (to pick dialect-specific SQL).
macro_rules! with_pool {
    ($store:expr, |$p:ident $(, $pg:ident)?| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($p) => {
                $(let $pg = false;)?
                $body
            }
            $crate::Pool::Pg($p) => {
                $(let $pg = true;)?
                $body
            }
        }
    };
}

/// Runs `$body` with `$p` bound to the pool, as [`with_pool`], for a statement that writes
/// outside a transaction: on SQLite it first waits its turn as this process's one writer
/// ([`Store::writer`]). `$body` must not wait for another write of this store.
macro_rules! with_write {
    ($store:expr, |$p:ident $(, $pg:ident)?| $body:expr) => {{
        let _writer = match &$store.pool {
            $crate::Pool::Sqlite(_) => Some($store.write_turn().await?),
            $crate::Pool::Pg(_) => None,
        };
        $crate::with_pool!($store, |$p $(, $pg)?| $body)
    }};
}

/// Runs `$body` in a write transaction, with `$tx` bound to it, and commits if `$body` does
/// not return early (`?` or `return` roll back). On SQLite the transaction starts with
/// `BEGIN IMMEDIATE`, taking the write lock at once, so that reads inside it cannot go stale
/// and concurrent writers wait for each other instead of failing; before it, the transaction
/// waits its turn as this process's one writer ([`Store::writer`]) and runs on the writer's
/// own connection ([`connect::Writer::connection`]). `$body` must not wait for another write
/// of this store.
macro_rules! with_tx {
    ($store:expr, |$tx:ident $(, $pg:ident)?| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite(pool) => {
                $(let $pg = false;)?
                let mut writer = $store.write_turn().await?;
                let conn = writer.connection(pool).await?;
                let done = match sqlx::Connection::begin_with(conn, "BEGIN IMMEDIATE").await {
                    Ok(mut $tx) => {
                        let out = $body;
                        $tx.commit().await?;
                        Ok(out)
                    }
                    Err(e) => Err(e),
                };
                match done {
                    Ok(out) => out,
                    // A connection that cannot begin a transaction is closed (the next write
                    // opens another). One dropped unfinished is rolled back before its next
                    // command: sqlx queues the rollback.
                    Err(e) => {
                        writer.close().await;
                        return Err(e.into());
                    }
                }
            }
            $crate::Pool::Pg(pool) => {
                $(let $pg = true;)?
                let mut $tx = $crate::connect::PgTx::begin(pool).await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

pub(crate) use {with_pool, with_tx, with_write};

impl Store {
    /// Waits for this process's turn to write ([`Store::writer`]), at most as long as SQLite's
    /// own busy timeout.
    async fn write_turn(&self) -> Result<tokio::sync::MutexGuard<'_, connect::Writer>, StoreError> {
        tokio::time::timeout(connect::SQLITE_BUSY_TIMEOUT, self.writer.lock())
            .await
            .map_err(|_| StoreError::Busy(connect::SQLITE_BUSY_TIMEOUT))
    }

    /// [`Store::write_turn`], for a transaction that outlives the borrow (an ingest).
    async fn owned_write_turn(
        &self,
    ) -> Result<tokio::sync::OwnedMutexGuard<connect::Writer>, StoreError> {
        tokio::time::timeout(
            connect::SQLITE_BUSY_TIMEOUT,
            self.writer.clone().lock_owned(),
        )
        .await
        .map_err(|_| StoreError::Busy(connect::SQLITE_BUSY_TIMEOUT))
    }

    /// Which database this store uses.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Pg(_) => Backend::Postgres,
        }
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError::Database`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, |p| {
            sqlx::query("SELECT 1").execute(p).await?;
        });
        Ok(())
    }

    /// A handle on the same pool that shares none of this one's audit caches: to the audit
    /// chain, another writer (a replica, a command-line run).
    #[cfg(test)]
    pub(crate) fn another_audit_writer(&self) -> Store {
        Store {
            audit_cache: std::sync::Arc::default(),
            ..self.clone()
        }
    }

    /// Closes every connection of the pool (and the writer's own, unless a write holds it);
    /// later calls fail.
    pub async fn close(&self) {
        if let Ok(mut writer) = self.writer.try_lock() {
            writer.close().await;
        }
        with_pool!(self, |p| p.close().await);
        if let Some(p) = &self.audit_pg {
            p.close().await;
        }
    }

    /// The count that `sql`, a `SELECT COUNT(*)` without parameters, answers.
    pub(crate) async fn count_rows(&self, sql: &'static str) -> Result<u64, StoreError> {
        let n: i64 = with_pool!(self, |p| sqlx::query_scalar(sql).fetch_one(p).await?);
        Ok(n.unsigned_abs())
    }
}

/// Small conversions shared by the modules.
mod convert {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use crate::StoreError;

    /// The JSON text of a model value.
    pub(crate) fn to_json<T: Serialize>(
        entity: &'static str,
        id: &str,
        value: &T,
    ) -> Result<String, StoreError> {
        serde_json::to_string(value).map_err(|e| StoreError::invalid_input(entity, id, e))
    }

    /// Parses a stored JSON document back into the model.
    pub(crate) fn from_json<T: DeserializeOwned>(
        entity: &'static str,
        id: &str,
        text: &str,
    ) -> Result<T, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::invalid_data(entity, id, e))
    }

    /// The serde name of a unit enum variant (`rare_disease`, `WGS`), or `other` for a variant
    /// with data.
    pub(crate) fn variant_name<T: Serialize>(value: &T) -> String {
        match serde_json::to_value(value) {
            Ok(serde_json::Value::String(s)) => s,
            Ok(serde_json::Value::Object(m)) => m.keys().next().cloned().unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// Parses a unit enum variant from its serde name.
    pub(crate) fn parse_variant<T: DeserializeOwned>(
        entity: &'static str,
        id: &str,
        name: &str,
    ) -> Result<T, StoreError> {
        serde_json::from_value(serde_json::Value::String(name.to_owned()))
            .map_err(|e| StoreError::invalid_data(entity, id, e))
    }

    /// A stored integer as `u32`.
    pub(crate) fn to_u32(entity: &'static str, id: &str, v: i64) -> Result<u32, StoreError> {
        u32::try_from(v).map_err(|e| StoreError::invalid_data(entity, id, e))
    }

    /// A page size as a bound `LIMIT`.
    pub(crate) fn page_limit(limit: u32) -> i64 {
        i64::from(limit)
    }

    /// A JSON array of strings, bound as one parameter and expanded in SQL by `json_each`
    /// (SQLite) or `json_array_elements_text` (PostgreSQL).
    pub(crate) fn json_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
        let items: Vec<&str> = items.into_iter().collect();
        serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_owned())
    }

    /// The current time as stored (see [`rfc3339`]).
    pub(crate) fn now_rfc3339() -> String {
        rfc3339(time::OffsetDateTime::now_utc())
    }

    /// A time as stored: RFC 3339 in UTC with exactly six fractional digits
    /// (`2024-01-01T00:00:00.000000Z`), so that text order is time order.
    pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
        const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        );
        t.to_offset(time::UtcOffset::UTC)
            .format(FORMAT)
            .unwrap_or_default()
    }
}
