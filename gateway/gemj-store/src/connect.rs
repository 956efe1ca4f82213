//! Connecting (URL parsing, pool set-up per backend) and the embedded migrations.

use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, SqlSafeStr};

use crate::{Backend, Pool, Store, StoreError, StoreOptions, with_pool};

/// The embedded migrations of each backend, listed by `build.rs`: `(version, description,
/// SQL)`, as sqlx reads `migrations/<backend>/<version>_<description>.sql`.
type MigrationList = &'static [(i64, &'static str, &'static str)];
const SQLITE_MIGRATION_LIST: MigrationList =
    include!(concat!(env!("OUT_DIR"), "/migrations_sqlite.rs"));
const PG_MIGRATION_LIST: MigrationList =
    include!(concat!(env!("OUT_DIR"), "/migrations_postgres.rs"));

static SQLITE_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| migrator(SQLITE_MIGRATION_LIST));
static PG_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| migrator(PG_MIGRATION_LIST));

/// sqlx's migrator over `list`: the same versions, descriptions and checksums (SHA-384 of
/// the SQL) as `sqlx::migrate!` gives, and a migration whose SQL starts with
/// `-- no-transaction` runs outside a transaction, as there.
fn migrator(list: MigrationList) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    sql.starts_with("-- no-transaction"),
                )
            })
            .collect(),
    )
}

/// How long a SQLite connection waits for another writer before failing.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long acquiring a pooled connection may take.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// A PostgreSQL connection idle at least this long is pinged before it is handed out (a server
/// restart or a dropped socket shows there, not in a request's query). One in steady use is
/// not: sqlx's default pings on every acquire, a round trip each (docs/PERFORMANCE.md).
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

fn bad_url(reason: impl Into<String>, source: Option<sqlx::Error>) -> StoreError {
    StoreError::BadUrl {
        reason: reason.into(),
        source,
    }
}

/// Checks a PostgreSQL schema name: `[a-z_][a-z0-9_]{0,62}`, so that it needs no quoting.
fn check_schema(schema: &str) -> Result<(), StoreError> {
    let b = schema.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_');
    if ok {
        Ok(())
    } else {
        Err(bad_url(
            "the schema must be 1 to 63 characters from [a-z0-9_], starting with a letter or '_'",
            None,
        ))
    }
}

impl Store {
    /// Connects to `sqlite:PATH` (or `sqlite://PATH`, `sqlite::memory:`) or to
    /// `postgres://…` / `postgresql://…`.
    ///
    /// SQLite: the file is created if missing, in WAL mode with `synchronous=NORMAL`, foreign
    /// keys on and a busy timeout. PostgreSQL: a pool of `opts.max_connections`; with
    /// `opts.schema`, the schema is created if missing and set as the `search_path` of every
    /// connection. Connecting does not migrate: call [`Store::migrate`].
    ///
    /// # Errors
    /// [`StoreError::BadUrl`] for another scheme, a malformed URL or bad options;
    /// [`StoreError::Connect`] when the database cannot be reached.
    pub async fn connect(database_url: &str, opts: &StoreOptions) -> Result<Store, StoreError> {
        let Some((scheme, rest)) = database_url.split_once(':') else {
            return Err(bad_url(
                "no scheme: expected sqlite:PATH or postgres://HOST/DB",
                None,
            ));
        };
        let max = opts.max_connections.max(1);
        match scheme {
            "sqlite" => {
                if opts.schema.is_some() {
                    return Err(bad_url(
                        "the schema option applies to PostgreSQL only",
                        None,
                    ));
                }
                let path = rest.trim_start_matches("//");
                if path.is_empty() || path.starts_with('?') {
                    return Err(bad_url("sqlite: URL without a database file", None));
                }
                connect_sqlite(database_url, max).await
            }
            "postgres" | "postgresql" => {
                if let Some(s) = &opts.schema {
                    check_schema(s)?;
                }
                connect_pg(database_url, max, opts.schema.clone()).await
            }
            other => {
                let shown: String = other.chars().take(20).collect();
                let shown = if shown
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                {
                    shown
                } else {
                    "?".to_owned()
                };
                Err(bad_url(
                    format!("unsupported scheme {shown:?}: expected sqlite: or postgres://"),
                    None,
                ))
            }
        }
    }

    /// Applies every embedded migration not yet applied, then converts audit rows written
    /// before migration 0014 into the compact log (resumable: a crash leaves the rest for the
    /// next start).
    ///
    /// # Errors
    /// [`StoreError::Migrate`] when a migration fails or an applied one was changed;
    /// [`StoreError::Database`] or [`StoreError::InvalidData`] when legacy audit rows cannot
    /// be converted.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await,
            Pool::Pg(p) => PG_MIGRATIONS.run(p).await,
        }
        .map_err(StoreError::Migrate)?;
        self.convert_legacy_audit().await?;
        Ok(())
    }

    /// Applies the embedded migrations up to and including `version` (tests of a migration
    /// over rows written before it).
    #[cfg(test)]
    pub(crate) async fn migrate_to(&self, version: i64) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run_to(version, p).await,
            Pool::Pg(p) => PG_MIGRATIONS.run_to(version, p).await,
        }
        .map_err(StoreError::Migrate)
    }

    /// Whether any embedded migration is not applied (for readiness checks).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the database cannot be asked.
    pub async fn migrations_pending(&self) -> Result<bool, StoreError> {
        let (migrator, applied) = with_pool!(self, |p, pg| {
            let migrator = if pg {
                &PG_MIGRATIONS
            } else {
                &SQLITE_MIGRATIONS
            };
            let exists: i64 = sqlx::query_scalar(if pg {
                "SELECT COUNT(*) FROM pg_catalog.pg_tables \
                 WHERE schemaname = current_schema() AND tablename = '_sqlx_migrations'"
            } else {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            })
            .fetch_one(p)
            .await?;
            if exists == 0 {
                return Ok(true);
            }
            let applied: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(p)
                    .await?;
            (migrator, applied)
        });
        Ok(migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .any(|m| !applied.contains(&m.version)))
    }
}

/// Statements slower than this are logged (at debug level).
const SLOW_STATEMENT: std::time::Duration = std::time::Duration::from_secs(1);

async fn connect_sqlite(url: &str, max: u32) -> Result<Store, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| bad_url("malformed sqlite: URL", Some(e)))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        // Reason: temporary B-trees (sorts, ON CONFLICT bookkeeping) stay in memory.
        .pragma("temp_store", "memory")
        // Reason: a 64 MiB page cache per connection keeps the variant index's upper levels hot.
        .pragma("cache_size", "-65536")
        // Reason: no commit runs a checkpoint: a background task does (`checkpoints`), so no
        // request waits for the WAL to be copied into the database (measured: the p99 of an
        // audited ticket under 200 clients, docs/PERFORMANCE.md).
        .pragma("wal_autocheckpoint", "0")
        // Reason: a WAL grown past this by a burst is cut back to it when the log restarts.
        .pragma("journal_size_limit", WAL_LIMIT_BYTES.to_string())
        // Reason: statements are logged at trace, slow ones at debug: the bulk insert's SQL text
        // is tens of kilobytes, and logs carry ids only.
        .log_statements(log::LevelFilter::Trace)
        .log_slow_statements(log::LevelFilter::Debug, SLOW_STATEMENT);
    let pool = SqlitePoolOptions::new()
        .max_connections(max)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // Reason: a SQLite connection is a file handle on a thread of its own; sqlx's ping on
        // every acquire is one more crossing to that thread and back per store call, and finds
        // nothing a query would not (docs/PERFORMANCE.md).
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Connect {
            backend: Backend::Sqlite,
            source,
        })?;
    let catalogue_writes = std::sync::Arc::default();
    let writer = std::sync::Arc::default();
    tokio::spawn(checkpoints(
        pool.clone(),
        std::sync::Arc::clone(&writer),
        std::sync::Arc::downgrade(&catalogue_writes),
    ));
    Ok(Store {
        pool: Pool::Sqlite(pool),
        catalogue_writes,
        audit_cache: std::sync::Arc::default(),
        writer,
        risk: std::sync::Arc::default(),
        approval_writes: std::sync::Arc::default(),
        audit_pg: None,
    })
}

/// SQLite: what the write turn ([`Store::write_turn`]) holds: the writer's own connection,
/// beside the pool's, opened with the pool's options at the first write. Every write
/// transaction (`with_tx!`) runs on it, so none waits for a pooled connection or pays sqlx's
/// ping of each connection handed back to the pool; and a whole transaction can go in one
/// execute ([`Writer::transaction`], the audit append): one crossing to the connection's
/// thread and back where `BEGIN`, the statements and `COMMIT` take three (docs/PERFORMANCE.md,
/// "One crossing per audit append").
#[derive(Debug, Default)]
pub(crate) struct Writer {
    /// None before the first write, while [`Writer::transaction`] runs, and after a failure
    /// that may have left it unusable.
    conn: Option<sqlx::SqliteConnection>,
    /// The audit writer's own connection to the same file, driven from the thread that holds
    /// the write turn ([`Writer::direct`]); None before its first append and after a failure.
    direct: Option<rusqlite::Connection>,
}

impl Writer {
    /// The writer's own connection, opened if need be.
    ///
    /// # Errors
    /// [`StoreError::Database`]: the store was closed ([`Store::close`]: later calls fail,
    /// this one too), or the connection cannot be opened.
    pub(crate) async fn connection(
        &mut self,
        pool: &sqlx::SqlitePool,
    ) -> Result<&mut sqlx::SqliteConnection, StoreError> {
        use sqlx::ConnectOptions;
        if pool.is_closed() {
            self.close().await;
            return Err(sqlx::Error::PoolClosed.into());
        }
        Ok(match &mut self.conn {
            Some(c) => c,
            empty => empty.insert(pool.connect_options().connect().await?),
        })
    }

    /// Runs `q`, a whole transaction (`BEGIN IMMEDIATE; …; COMMIT;`), in one execute on the
    /// writer's own connection, and returns the rows each of its statements changed, in order
    /// (SQLite's count for a statement that changes nothing, such as `BEGIN`, is the one before
    /// it, perhaps of the transaction before: read only the statements that change rows). The
    /// connection is out of the turn while the transaction runs: if it fails, or its caller
    /// stops waiting for it, the connection is closed with it, and closing rolls back whatever
    /// it left open (the next write opens another).
    ///
    /// # Errors
    /// [`StoreError::Database`]; then nothing of `q` is stored.
    pub(crate) async fn transaction(
        &mut self,
        pool: &sqlx::SqlitePool,
        q: &mut sqlx::QueryBuilder<sqlx::Sqlite>,
    ) -> Result<Vec<u64>, StoreError> {
        use futures_util::TryStreamExt;
        use sqlx::Executor;
        self.connection(pool).await?;
        let Some(mut conn) = self.conn.take() else {
            return Err(sqlx::Error::PoolClosed.into());
        };
        let changed: Vec<u64> = conn
            .execute_many(q.build())
            .map_ok(|done| done.rows_affected())
            .try_collect()
            .await?;
        self.conn = Some(conn);
        Ok(changed)
    }

    /// Closes the writer's own connections, if open.
    pub(crate) async fn close(&mut self) {
        self.close_direct();
        if let Some(c) = self.conn.take() {
            let _ = sqlx::Connection::close(c).await;
        }
    }

    /// The audit writer's direct connection (rusqlite, on the calling thread: no
    /// crossing to a connection thread), opened if need be on the pool's file with the pool's
    /// settings. None for an in-memory database, which another connection would not share.
    /// Only under the write turn, so it never meets the other connections' writes in
    /// SQLite's busy handler.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the store was closed; [`StoreError::Sqlite`] when the
    /// file cannot be opened.
    pub(crate) fn direct(
        &mut self,
        pool: &sqlx::SqlitePool,
    ) -> Result<Option<&mut rusqlite::Connection>, StoreError> {
        if pool.is_closed() {
            self.close_direct();
            return Err(sqlx::Error::PoolClosed.into());
        }
        if self.direct.is_none() {
            let options = pool.connect_options();
            let path = options.get_filename();
            if !path.is_file() {
                return Ok(None);
            }
            let conn = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(direct_error)?;
            conn.busy_timeout(SQLITE_BUSY_TIMEOUT)
                .map_err(direct_error)?;
            // The pool's settings (`connect_sqlite`); WAL is the file's own, set at creation.
            conn.execute_batch(
                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA temp_store = memory; PRAGMA wal_autocheckpoint = 0;",
            )
            .map_err(direct_error)?;
            conn.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES)
                .map_err(direct_error)?;
            // Reason: one cached statement per batch size seen, up to this many.
            conn.set_prepared_statement_cache_capacity(64);
            self.direct = Some(conn);
        }
        Ok(self.direct.as_mut())
    }

    /// Whether the direct connection is open (tests: the direct path was taken).
    #[cfg(test)]
    pub(crate) fn has_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Closes the direct connection (rolling back whatever it left open); the next append
    /// opens another.
    pub(crate) fn close_direct(&mut self) {
        self.direct = None;
    }
}

/// A failure of the direct connection ([`Writer::direct`]) as a store error: SQLite's message,
/// which names tables and constraints, never values.
pub(crate) fn direct_error(e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(e.to_string())
}

/// PostgreSQL: a write transaction of `with_tx!` on a pooled connection that goes back to the
/// pool only once its `COMMIT` is answered; dropped before that (an error, a caller that stops
/// waiting), the connection is closed, and the server rolls the transaction back. sqlx's own
/// `Transaction` is not used here: when its `BEGIN` is abandoned before the server answers it,
/// sqlx 0.9 queues no rollback and returns the connection to the pool inside that transaction,
/// where later statements of other callers would run uncommitted, holding their locks (found
/// by `cancelled_appends`: the test's `DROP SCHEMA` waited on such a connection for good).
#[derive(Debug)]
pub(crate) struct PgTx {
    conn: sqlx::pool::PoolConnection<sqlx::Postgres>,
    committed: bool,
}

impl PgTx {
    /// Takes a pooled connection and begins a transaction on it.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub(crate) async fn begin(pool: &sqlx::PgPool) -> Result<Self, StoreError> {
        let mut tx = Self {
            conn: pool.acquire().await?,
            committed: false,
        };
        sqlx::Executor::execute(&mut *tx.conn, "BEGIN").await?;
        Ok(tx)
    }

    /// Commits; the connection then goes back to the pool.
    ///
    /// # Errors
    /// [`StoreError::Database`]; then the connection is closed, and nothing of the transaction
    /// is stored unless the server committed it before the error.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        sqlx::Executor::execute(&mut *self.conn, "COMMIT").await?;
        self.committed = true;
        Ok(())
    }
}

impl std::ops::Deref for PgTx {
    type Target = sqlx::PgConnection;
    fn deref(&self) -> &sqlx::PgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PgTx {
    fn deref_mut(&mut self) -> &mut sqlx::PgConnection {
        &mut self.conn
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.close_on_drop();
        }
    }
}

/// How often the background task checkpoints a SQLite store's WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// How often the checkpoint task looks at the WAL file's size (a stat; a log past
/// [`WAL_LIMIT_BYTES`] is checkpointed and restarted at once).
const WAL_SIZE_EVERY: Duration = Duration::from_millis(100);

/// Frames (pages) past which the checkpoint task restarts a SQLite store's WAL under the write
/// turn (64 MiB of 4 KiB pages; a thousand in this crate's own tests, so that they restart it
/// often).
const WAL_LIMIT_FRAMES: i64 = if cfg!(test) { 1_000 } else { 16_384 };

/// [`WAL_LIMIT_FRAMES`] in bytes: the size a restarted WAL file is cut back to
/// (`journal_size_limit`).
pub(crate) const WAL_LIMIT_BYTES: i64 = WAL_LIMIT_FRAMES * 4_096;

/// A WAL file's bytes per frame: the frame's header and its 4 KiB page.
const WAL_FRAME_BYTES: u64 = 24 + 4_096;

/// How long the checkpoint task waits for the write turn before leaving the restart to its next
/// round.
const RESTART_TURN_WAIT: Duration = Duration::from_millis(250);

/// Copies a SQLite store's WAL into the database every [`CHECKPOINT_EVERY`], on a connection
/// of its own (`PASSIVE`: it waits for no reader or writer, and none waits for it), so that
/// commits never do (`wal_autocheckpoint` is 0). Ends when every handle of the store is dropped
/// (`alive`) or the pool is closed.
///
/// Under writes that never pause (the audit of a busy gateway), a passive checkpoint never
/// catches up with the log: commits land while it copies, so SQLite never finds the log wholly
/// copied and never starts it over, and the file grows without end (measured: 1.9 GB in four
/// minutes of 4,600 audited requests/s, docs/PERFORMANCE.md, "A WAL that restarts under
/// load"). So once the log holds more than [`WAL_LIMIT_FRAMES`], the task takes the write turn
/// (no writer of this process appends meanwhile) and checkpoints again, which copies the few
/// frames committed since the first pass; the next commit then starts the log over, and cuts
/// the file back to [`WAL_LIMIT_BYTES`]. A reader still on an older snapshot can leave either
/// step for the next round; nothing waits for it.
async fn checkpoints(
    pool: sqlx::SqlitePool,
    writer: std::sync::Arc<tokio::sync::Mutex<Writer>>,
    alive: std::sync::Weak<std::sync::atomic::AtomicU64>,
) {
    let mut wal = pool.connect_options().get_filename().as_os_str().to_owned();
    wal.push("-wal");
    let wal = std::path::PathBuf::from(wal);
    let mut tick = tokio::time::interval(WAL_SIZE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() || pool.is_closed() {
            break;
        }
        // The file's 32-byte header, then its frames.
        let over = std::fs::metadata(&wal)
            .is_ok_and(|m| m.len() > 32 + WAL_LIMIT_FRAMES.unsigned_abs() * WAL_FRAME_BYTES);
        if !over && last.elapsed() < CHECKPOINT_EVERY {
            continue;
        }
        last = tokio::time::Instant::now();
        match checkpoint(&pool).await {
            Ok(frames) if frames > WAL_LIMIT_FRAMES => {
                // The connection first: no writer waits while the pool finds one.
                let Ok(mut conn) = pool.acquire().await else {
                    continue;
                };
                let Ok(turn) = tokio::time::timeout(RESTART_TURN_WAIT, writer.lock()).await else {
                    continue;
                };
                let copied = checkpoint(&mut *conn).await;
                drop(turn);
                tracing::debug!(
                    message = "The WAL was copied under the write turn, to restart it.",
                    frames,
                    ok = copied.is_ok()
                );
            }
            Ok(_) => {}
            Err(e) => {
                if pool.is_closed() {
                    break;
                }
                tracing::debug!(message = "A WAL checkpoint failed; the next one retries.", error = %e);
            }
        }
    }
}

/// One passive checkpoint: how many frames the log held.
async fn checkpoint<'c>(
    on: impl sqlx::Executor<'c, Database = sqlx::Sqlite>,
) -> Result<i64, sqlx::Error> {
    let (_busy, frames, _copied): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(on)
            .await?;
    Ok(frames)
}

impl Store {
    /// Drops the PostgreSQL schema this store works in (set by [`StoreOptions::schema`]) with
    /// everything in it, and closes the pool: the tear-down of test fixtures and temporary
    /// deployments. Refuses the `public` schema; does nothing on SQLite (delete the file).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for the `public` schema; database errors.
    pub async fn drop_schema_and_close(self) -> Result<(), StoreError> {
        if let crate::Pool::Pg(p) = &self.pool {
            let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
                .fetch_one(p)
                .await?;
            if schema == "public" {
                return Err(StoreError::invalid_input(
                    "schema",
                    &schema,
                    "the public schema is never dropped",
                ));
            }
            check_schema(&schema)?;
            let drop: String =
                sqlx::query_scalar("SELECT format('DROP SCHEMA IF EXISTS %I CASCADE', $1::text)")
                    .bind(&schema)
                    .fetch_one(p)
                    .await?;
            sqlx::query(AssertSqlSafe(drop)).execute(p).await?;
        }
        self.close().await;
        Ok(())
    }
}

async fn connect_pg(url: &str, max: u32, schema: Option<String>) -> Result<Store, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| bad_url("malformed PostgreSQL URL", Some(e)))?
        .application_name("gemj-gateway")
        .log_statements(log::LevelFilter::Trace)
        .log_slow_statements(log::LevelFilter::Debug, SLOW_STATEMENT);
    let connect_err = |source| StoreError::Connect {
        backend: Backend::Postgres,
        source,
    };
    if let Some(schema) = &schema {
        // One direct connection first: it fails fast when the server is unreachable, and
        // creates the schema. The server quotes the identifier (format %I).
        let mut conn = options.connect().await.map_err(connect_err)?;
        let create: String =
            sqlx::query_scalar("SELECT format('CREATE SCHEMA IF NOT EXISTS %I', $1::text)")
                .bind(schema)
                .fetch_one(&mut conn)
                .await?;
        sqlx::query(AssertSqlSafe(create))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
    }
    let pool = pg_pool_options(max, schema.clone())
        .connect_with(options.clone())
        .await
        .map_err(connect_err)?;
    // Opened by the audit writer's first append, on its runtime (`Store::audit_pg`).
    let audit_pg = pg_pool_options(1, schema).connect_lazy_with(options);
    Ok(Store {
        pool: Pool::Pg(pool),
        catalogue_writes: std::sync::Arc::default(),
        audit_cache: std::sync::Arc::default(),
        writer: std::sync::Arc::default(),
        risk: std::sync::Arc::default(),
        approval_writes: std::sync::Arc::default(),
        audit_pg: Some(audit_pg),
    })
}

/// A PostgreSQL pool of at most `max` connections, each working in `schema` when given; a
/// connection idle for a while is pinged before use.
fn pg_pool_options(max: u32, schema: Option<String>) -> PgPoolOptions {
    let pool = PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        });
    let Some(schema) = schema else {
        return pool;
    };
    pool.after_connect(move |conn, _meta| {
        let schema = schema.clone();
        Box::pin(async move {
            sqlx::query("SELECT set_config('search_path', $1, false)")
                .bind(schema)
                .execute(conn)
                .await?;
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for (s, ok) in [
            ("gemj", true),
            ("gemj_test_123", true),
            ("_x", true),
            ("", false),
            ("Gemj", false),
            ("1abc", false),
            ("a-b", false),
            ("a;drop", false),
            ("a\"b", false),
        ] {
            assert_eq!(check_schema(s).is_ok(), ok, "{s:?}");
        }
        assert!(check_schema(&"a".repeat(63)).is_ok());
        assert!(check_schema(&"a".repeat(64)).is_err());
    }

    /// The embedded migrations are the ones sqlx itself reads from `migrations/<backend>/`
    /// (what `sqlx::migrate!` embedded before): same versions, descriptions, checksums and
    /// transaction modes, so a database migrated by an earlier build is not refused as
    /// modified, and a new file is not forgotten.
    #[tokio::test]
    async fn embedded_migrations_are_sqlx_own_reading_of_the_folders() {
        for (backend, embedded) in [
            ("sqlite", &*SQLITE_MIGRATIONS),
            ("postgres", &*PG_MIGRATIONS),
        ] {
            let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(backend);
            let read = Migrator::new(folder.as_path())
                .await
                .expect("sqlx reads the folder");
            let shape = |m: &Migrator| -> Vec<_> {
                m.iter()
                    .map(|m| {
                        (
                            m.version,
                            m.description.to_string(),
                            m.migration_type,
                            m.checksum.to_vec(),
                            m.no_tx,
                        )
                    })
                    .collect()
            };
            assert_eq!(shape(embedded), shape(&read), "{backend}");
            assert!(embedded.iter().count() >= 16, "{backend}");
        }
    }
}
