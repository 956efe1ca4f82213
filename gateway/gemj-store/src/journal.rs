//! A replica's local audit journal (`audit.journal`, PostgreSQL deployments): the audited
//! answer waits only for its events to be appended to a SQLite file on the replica's own disk,
//! as the embedded default's audit does (WAL, `synchronous = NORMAL`: kept through a kill of
//! the process, not through the loss of the disk or of power before the kernel writes it), and
//! a shipper moves them into the one PostgreSQL chain moments later
//! ([`Store::ship_audit_journal`]).
//!
//! Exactly once: the journal has a random id, and `audit_journals` in PostgreSQL keeps the
//! last journal row shipped, moved in the same transaction as the rows it covers (they land
//! together or not at all), and only from the value the shipper read: a second shipper of the
//! same rows (another process with a copy of the file, or a shipping of a killed process still
//! queued in the server) waits for the first and then writes nothing. Rows at or below the
//! mark are deleted from the file afterwards; a crash in between leaves rows the next shipping
//! skips. One process holds the file at a time (an exclusive lock on `<file>.lock`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};

use gemj_model::AuditEvent;

use crate::connect::direct_error;
use crate::convert::{from_json, to_json};
use crate::{Store, StoreError};

/// Journal rows shipped per statement at most.
pub const SHIP_BATCH: usize = 1024;

/// The size of the journal's WAL past which a shipping checkpoints it so that it starts over.
const WAL_LIMIT_BYTES: i64 = 4 << 20;

/// A replica's local audit journal. See the module documentation.
#[derive(Debug)]
pub struct AuditJournal {
    id: String,
    path: PathBuf,
    /// The audit writer's connection: appends only.
    append: Mutex<rusqlite::Connection>,
    /// The shipper's: reads, deletes and checkpoints.
    ship: Mutex<rusqlite::Connection>,
    /// The last row appended.
    last: AtomicI64,
    /// The last row known shipped (`-1`: read it from the store first).
    shipped: AtomicI64,
    /// Held while the journal is open: one process per file.
    _lock: File,
}

/// A connection to the journal: WAL, `synchronous = NORMAL` (a commit is a write to the WAL,
/// kept through a kill of the process), and no checkpoint at commit: the shipper runs them
/// ([`AuditJournal::forget_through`]), off the answers' path.
fn open_connection(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    let conn = rusqlite::Connection::open(path).map_err(direct_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(direct_error)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(direct_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Sqlite(format!(
            "the audit journal {} cannot use a WAL (journal mode {mode})",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")
        .map_err(direct_error)?;
    conn.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES)
        .map_err(direct_error)?;
    Ok(conn)
}

impl AuditJournal {
    /// Opens (or creates) the journal at `path`, and takes its lock.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when another process holds the journal;
    /// [`StoreError::Sqlite`] when the file cannot be opened or is not a journal.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let lock_path = PathBuf::from(format!("{shown}.lock"));
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::invalid_input("audit journal", &shown, e.to_string()))?;
        lock.try_lock().map_err(|e| {
            StoreError::invalid_input(
                "audit journal",
                &shown,
                format!("another process holds it ({e})"),
            )
        })?;
        let append = open_connection(path)?;
        append
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS journal_meta \
                   (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL); \
                 CREATE TABLE IF NOT EXISTS journal_events \
                   (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);",
            )
            .map_err(direct_error)?;
        append
            .execute(
                "INSERT INTO journal_meta (key, value) VALUES ('id', ?1) \
                 ON CONFLICT (key) DO NOTHING",
                [uuid::Uuid::new_v4().to_string()],
            )
            .map_err(direct_error)?;
        let id: String = append
            .query_row("SELECT value FROM journal_meta WHERE key = 'id'", [], |r| {
                r.get(0)
            })
            .map_err(direct_error)?;
        // AUTOINCREMENT: ids are never reused, even once their rows are deleted.
        let last: i64 = append
            .query_row(
                "SELECT COALESCE((SELECT seq FROM sqlite_sequence \
                   WHERE name = 'journal_events'), 0)",
                [],
                |r| r.get(0),
            )
            .map_err(direct_error)?;
        let ship = open_connection(path)?;
        Ok(Self {
            id,
            path: path.to_owned(),
            append: Mutex::new(append),
            ship: Mutex::new(ship),
            last: AtomicI64::new(last),
            shipped: AtomicI64::new(-1),
            _lock: lock,
        })
    }

    /// The journal's id (its row in `audit_journals`).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last row appended (0: none yet).
    #[must_use]
    pub fn last_appended(&self) -> i64 {
        self.last.load(Ordering::Acquire)
    }

    /// The last row this process knows shipped (`None` before its first shipping).
    #[must_use]
    pub fn last_shipped(&self) -> Option<i64> {
        let shipped = self.shipped.load(Ordering::Acquire);
        (shipped >= 0).then_some(shipped)
    }

    /// Appends `events` in one transaction and returns the id of the last. Nothing of them is
    /// written when it fails.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when an event cannot be serialised; [`StoreError::Sqlite`].
    pub fn append(&self, events: &[AuditEvent]) -> Result<i64, StoreError> {
        let bodies = events
            .iter()
            .map(|e| to_json("audit event", &e.request_id, e))
            .collect::<Result<Vec<_>, _>>()?;
        let mut conn = self.append.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction().map_err(direct_error)?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO journal_events (body) VALUES (?1)")
                .map_err(direct_error)?;
            for body in &bodies {
                insert.execute([body]).map_err(direct_error)?;
            }
        }
        let last = tx.last_insert_rowid();
        tx.commit().map_err(direct_error)?;
        self.last.fetch_max(last, Ordering::AcqRel);
        Ok(last)
    }

    /// Rows after `after`, in order, at most `limit`.
    fn after(&self, after: i64, limit: usize) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        let conn = self.ship.lock().unwrap_or_else(PoisonError::into_inner);
        let mut st = conn
            .prepare_cached(
                "SELECT id, body FROM journal_events WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(direct_error)?;
        let rows = st
            .query_map(
                rusqlite::params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .map_err(direct_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(direct_error)?;
        rows.into_iter()
            .map(|(id, body)| Ok((id, from_json("audit journal row", &id.to_string(), &body)?)))
            .collect()
    }

    /// Deletes the rows up to `through` (shipped), on the appends' own connection, so an
    /// append never waits in SQLite's busy handler for the delete. Once the WAL has grown past
    /// its limit, it is checkpointed: first beside the appends, then, holding them off, the few
    /// frames committed meanwhile, so the next append starts the WAL over (a checkpoint that
    /// never catches up with a log that never pauses would let it grow without end: the
    /// store's own WAL, ARCHITECTURE.md).
    fn forget_through(&self, through: i64) -> Result<(), StoreError> {
        self.append
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .prepare_cached("DELETE FROM journal_events WHERE id <= ?1")
            .and_then(|mut st| st.execute([through]))
            .map_err(direct_error)?;
        let conn = self.ship.lock().unwrap_or_else(PoisonError::into_inner);
        let wal = PathBuf::from(format!("{}-wal", self.path.display()));
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_LIMIT_BYTES.unsigned_abs()) {
            let checkpoint = |conn: &rusqlite::Connection| {
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    .map_err(direct_error)
            };
            checkpoint(&conn)?;
            let _appends = self.append.lock().unwrap_or_else(PoisonError::into_inner);
            checkpoint(&conn)?;
        }
        Ok(())
    }

    /// Rows not yet shipped, as far as this process knows (before its first shipping, every
    /// row in the file: see [`AuditJournal::rows_after`]).
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn pending(&self) -> Result<u64, StoreError> {
        self.rows_after(self.shipped.load(Ordering::Acquire).max(0))
    }

    /// Rows in the file after `mark` (with the store's mark, [`Store::audit_journal_shipped`]:
    /// the rows not yet shipped).
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn rows_after(&self, mark: i64) -> Result<u64, StoreError> {
        let conn = self.ship.lock().unwrap_or_else(PoisonError::into_inner);
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM journal_events WHERE id > ?1",
                [mark],
                |r| r.get(0),
            )
            .map_err(direct_error)?;
        Ok(n.unsigned_abs())
    }
}

impl Store {
    /// The last row of journal `id` shipped into the chain (0: none; the journal is then
    /// registered at 0).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn audit_journal_shipped(&self, id: &str) -> Result<i64, StoreError> {
        Ok(crate::with_pool!(self, |p| {
            // Read first: the committed mark, never waiting for a shipping under way.
            let read = "SELECT shipped FROM audit_journals WHERE journal = $1";
            match sqlx::query_scalar::<_, i64>(read)
                .bind(id)
                .fetch_optional(p)
                .await?
            {
                Some(shipped) => shipped,
                None => {
                    sqlx::query(
                        "INSERT INTO audit_journals (journal, shipped) VALUES ($1, 0) \
                         ON CONFLICT (journal) DO NOTHING",
                    )
                    .bind(id)
                    .execute(p)
                    .await?;
                    sqlx::query_scalar::<_, i64>(read)
                        .bind(id)
                        .fetch_one(p)
                        .await?
                }
            }
        }))
    }

    /// Ships up to `limit` rows of `journal` into the audit chain, in order, in one transaction
    /// that also moves the journal's mark from the value read; then deletes them from the
    /// file. Returns how many were shipped (0: nothing was waiting).
    ///
    /// # Errors
    /// As [`Store::append_audit`], and [`StoreError::Conflict`] when the mark had moved; then
    /// nothing is shipped, and the next call reads the mark from the store again (an append
    /// may have landed without its answer arriving).
    pub async fn ship_audit_journal(
        &self,
        journal: &AuditJournal,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let shipped = match journal.last_shipped() {
            Some(shipped) => shipped,
            None => {
                let shipped = self.audit_journal_shipped(journal.id()).await?;
                // Rows a crash left in the file after their shipping, if any.
                journal.forget_through(shipped)?;
                journal.shipped.store(shipped, Ordering::Release);
                shipped
            }
        };
        let rows = journal.after(shipped, limit.clamp(1, SHIP_BATCH))?;
        let Some(&(through, _)) = rows.last() else {
            return Ok(0);
        };
        let n = rows.len();
        let mut events: Vec<AuditEvent> = rows.into_iter().map(|(_, e)| e).collect();
        events.iter_mut().for_each(crate::audit_pack::canonicalize);
        let mark = (journal.id(), shipped, through);
        if let Err(e) = Box::pin(self.append_audit_marked(&events, mark)).await {
            journal.shipped.store(-1, Ordering::Release);
            return Err(e);
        }
        journal.shipped.store(through, Ordering::Release);
        journal.forget_through(through)?;
        Ok(n)
    }
}
