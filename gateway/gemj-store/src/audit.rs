//! Audit: the append-only, hash-chained global log of access decisions.
//!
//! [`Store::append_audit`] writes a whole batch in one transaction (group commit), chained after
//! the head this store handle's last append left. The move of the one-row `audit_head`, the rows
//! and their participants go in one round trip, and land only if the stored head is still the
//! one chained after (SQLite: `BEGIN IMMEDIATE`, statements whose inserts check the head they
//! moved, and `COMMIT`, in one execute on the write turn's own connection; PostgreSQL: one
//! statement of data-modifying CTEs). If another writer (a replica, a
//! command-line run) moved it, nothing lands: the append reads the head while holding the write
//! lock (SQLite `BEGIN IMMEDIATE`; PostgreSQL `SELECT … FOR UPDATE`) and chains again (and
//! reads it first for the next 64 appends: a replica is busy on the chain), so concurrent
//! appenders queue up and never fork the chain. Rows are compact (`audit_log`, see
//! [`crate::audit_pack`]): the principal and every participant named are term ids, indexed for
//! "my history" and "who accessed participant X". On PostgreSQL `audit_log` is partitioned by
//! month. There is no update; a row leaves the log only inside a sealed segment
//! ([`Store::seal_audit_segment`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use gemj_model::chain::{GENESIS, link};
use gemj_model::{AuditEvent, AuditRecord};

use crate::audit_pack::{self, TermIds};
use crate::convert::{from_json, page_limit};
use crate::{Store, StoreError, with_pool, with_tx};

/// Audit rows per INSERT statement (6 parameters each).
const AUDIT_ROWS_PER_STATEMENT: usize = 512;

/// Participant rows per INSERT statement (2 parameters each).
const PARTICIPANT_ROWS_PER_STATEMENT: usize = 2048;

/// Terms per INSERT or SELECT of `audit_terms`.
const TERMS_PER_STATEMENT: usize = 500;

/// Legacy rows converted per transaction.
const LEGACY_ROWS_PER_BATCH: usize = 2000;

/// `seq, at_ns, principal, packed, prev_hash, hash` of an `audit_log` row.
pub(crate) type LogRow = (i64, i64, i64, Vec<u8>, Vec<u8>, Vec<u8>);

/// `participant, seq` of an `audit_access` row: a participant named by an audit row.
type Named = (i64, i64);

/// A stored audit record with its JSON exactly as hashed (what a sealed segment keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// The record.
    pub record: AuditRecord,
    /// The event's JSON, the bytes its hash covers.
    pub body: String,
}

/// A sealed segment of the audit chain: rows `first_seq..=last_seq`, exported to object
/// storage and gone from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSegment {
    /// Its first row.
    pub first_seq: i64,
    /// Its last row.
    pub last_seq: i64,
    /// Rows in it (`last_seq - first_seq + 1`).
    pub rows: u64,
    /// The time of its first row (RFC 3339).
    pub first_at: String,
    /// The time of its last row (RFC 3339).
    pub last_at: String,
    /// The hash of the row before it ([`GENESIS`] for the first segment).
    pub prev_hash: String,
    /// The hash of its last row.
    pub head_hash: String,
    /// Where it is stored (its object key).
    pub location: String,
    /// SHA-256 of the stored bytes, lower-case hex.
    pub sha256: String,
    /// Size of the stored bytes.
    pub bytes: u64,
    /// When it was sealed (RFC 3339).
    pub sealed_at: String,
}

/// How the rows of a write are chained.
enum Chain {
    /// After the current head, which moves to the last row.
    Next,
    /// Legacy rows, with their stored `seq, prev_hash, hash` (the head is already past them).
    Given(Vec<(i64, String, String)>),
}

/// `first_seq, last_seq, rows, first_at, last_at, prev_hash, head_hash, location, sha256,
/// bytes, sealed_at` of an `audit_segments` row.
type SegmentRow = (
    i64,
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
);

fn hash_bytes(hex_hash: &str, seq: i64) -> Result<Vec<u8>, StoreError> {
    hex::decode(hex_hash)
        .map_err(|e| StoreError::invalid_input("audit record", &seq.to_string(), e))
}

/// Packs `events` chained as `links` into `audit_log` rows, with the `(participant, seq)` pairs
/// of `audit_access`. `verbatim` bodies (legacy rows) are kept as they were.
fn pack_rows(
    events: &[AuditEvent],
    verbatim: Option<&[Option<String>]>,
    bodies: &[String],
    times: &[i64],
    ids: &TermIds,
    links: &[(i64, String, String)],
) -> Result<(Vec<LogRow>, Vec<Named>), StoreError> {
    if links.len() != events.len() {
        return Err(StoreError::invalid_input(
            "audit batch",
            "legacy",
            "links and events differ in number",
        ));
    }
    #[cfg(debug_assertions)]
    let texts: HashMap<i64, Arc<str>> = ids.iter().map(|(t, id)| (*id, Arc::clone(t))).collect();
    let mut rows: Vec<LogRow> = Vec::with_capacity(events.len());
    for (i, (e, (seq, prev, hash))) in events.iter().zip(links).enumerate() {
        let (principal, packed) = match verbatim.and_then(|v| v.get(i)).and_then(Option::as_deref) {
            Some(body) => (
                ids.get(e.principal.as_str()).copied().unwrap_or_default(),
                audit_pack::pack_verbatim(body)?,
            ),
            None => audit_pack::pack(e, ids)?,
        };
        #[cfg(debug_assertions)]
        if verbatim.is_none() {
            // Debug builds (every test) prove each packed row reads back as hashed.
            let (_, back) =
                audit_pack::decode(*seq, &packed)?
                    .unpack(*seq, times[i], &e.principal, &|id| texts.get(&id).cloned())?;
            debug_assert_eq!(
                back, bodies[i],
                "audit row {seq} does not read back as hashed"
            );
        }
        #[cfg(not(debug_assertions))]
        let _ = bodies;
        rows.push((
            *seq,
            times[i],
            principal,
            packed,
            hash_bytes(prev, *seq)?,
            hash_bytes(hash, *seq)?,
        ));
    }
    let mut named: Vec<Named> = Vec::new();
    for (e, (seq, _, _)) in events.iter().zip(links) {
        for p in &e.participants {
            if let Some(id) = ids.get(p.as_str()) {
                named.push((*id, *seq));
            }
        }
    }
    named.sort_unstable();
    named.dedup();
    Ok((rows, named))
}

/// `(seq, prev_hash, hash)` of each body, chained after `after`.
fn chain_after(after: &(i64, String), bodies: &[String]) -> Vec<(i64, String, String)> {
    let (mut seq, mut prev) = after.clone();
    bodies
        .iter()
        .map(|body| {
            seq += 1;
            let hash = link(&prev, seq, body.as_bytes());
            (seq, std::mem::replace(&mut prev, hash.clone()), hash)
        })
        .collect()
}

/// The head after `links` (`after` when there are none).
fn head_of(links: &[(i64, String, String)], after: &(i64, String)) -> (i64, String) {
    links
        .last()
        .map_or_else(|| after.clone(), |(seq, _, hash)| (*seq, hash.clone()))
}

/// What an append computes before it touches the database ([`Store::prepare_audit`]).
struct Prepared {
    bodies: Vec<String>,
    times: Vec<i64>,
    ids: TermIds,
    missing: Vec<String>,
}

/// Runs `into VALUES (?, …), …tail` for `rows` rows of `columns` parameters each, `params` in
/// order, as a cached statement (one per row count seen).
fn insert_values<'p>(
    tx: &rusqlite::Transaction<'_>,
    into: &str,
    columns: usize,
    rows: usize,
    tail: &str,
    params: impl IntoIterator<Item = &'p dyn rusqlite::ToSql>,
) -> Result<(), StoreError> {
    let one = format!("({})", vec!["?"; columns].join(", "));
    let sql = format!(
        "{into} VALUES {}{tail}",
        vec![one.as_str(); rows].join(", ")
    );
    tx.prepare_cached(&sql)
        .and_then(|mut st| st.execute(rusqlite::params_from_iter(params)))
        .map(drop)
        .map_err(crate::connect::direct_error)
}

/// SQLite, on the audit writer's direct connection: moves the head from `after` to `head` and
/// inserts the rows and their participants, in one `BEGIN IMMEDIATE` transaction; `Ok(false)`
/// (nothing written) when the stored head was not `after`. A failure leaves nothing: the
/// transaction is rolled back when dropped.
fn append_direct(
    conn: &mut rusqlite::Connection,
    after: &(i64, String),
    head: (i64, &str),
    rows: &[LogRow],
    named: &[Named],
) -> Result<bool, StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(crate::connect::direct_error)?;
    let moved = tx
        .prepare_cached(
            "UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1 AND seq = ?3 AND hash = ?4",
        )
        .and_then(|mut st| st.execute(rusqlite::params![head.0, head.1, after.0, after.1]))
        .map_err(crate::connect::direct_error)?;
    if moved != 1 {
        return Ok(false);
    }
    for chunk in rows.chunks(AUDIT_ROWS_PER_STATEMENT) {
        let params = chunk
            .iter()
            .flat_map(|(seq, at, principal, packed, prev, hash)| {
                [
                    seq as &dyn rusqlite::ToSql,
                    at,
                    principal,
                    packed,
                    prev,
                    hash,
                ]
            });
        let into = "INSERT INTO audit_log (seq, at_ns, principal, packed, prev_hash, hash)";
        insert_values(&tx, into, 6, chunk.len(), "", params)?;
    }
    for chunk in named.chunks(PARTICIPANT_ROWS_PER_STATEMENT) {
        let params = chunk
            .iter()
            .flat_map(|(participant, seq)| [participant as &dyn rusqlite::ToSql, seq]);
        let into = "INSERT INTO audit_access (participant, seq)";
        insert_values(&tx, into, 2, chunk.len(), " ON CONFLICT DO NOTHING", params)?;
    }
    tx.commit().map_err(crate::connect::direct_error)?;
    Ok(true)
}

/// PostgreSQL: the append after `after` that moves the head to `head`, as one statement of
/// data-modifying CTEs whose rows land only if the head moved. The rows and their participants
/// go as arrays (`unnest`), so the statement has one shape whatever the batch's size: the
/// audit's connection prepares it once and PostgreSQL plans it once, where a `VALUES` list is
/// a statement of its own per row count (docs/PERFORMANCE.md), and no batch is too large for
/// one statement's parameters. `Ok(false)`: the stored head was not `after`, nothing written.
async fn append_pg<'c>(
    executor: impl sqlx::PgExecutor<'c>,
    append: &Append<'_>,
) -> Result<bool, StoreError> {
    const APPEND: &str = "WITH head AS (UPDATE audit_head SET seq = $1, hash = $2 \
         WHERE id = 1 AND seq = $3 AND hash = $4 RETURNING 1), \
         log AS (INSERT INTO audit_log (seq, at_ns, principal, packed, prev_hash, hash) \
         SELECT * FROM unnest($5::int8[], $6::int8[], $7::int8[], $8::bytea[], $9::bytea[], \
         $10::bytea[]) WHERE EXISTS (SELECT 1 FROM head)), \
         access AS (INSERT INTO audit_access (participant, seq) \
         SELECT * FROM unnest($11::int8[], $12::int8[]) WHERE EXISTS (SELECT 1 FROM head) \
         ON CONFLICT DO NOTHING) \
         SELECT count(*) FROM head";
    let rows = append.rows;
    let column = |f: fn(&LogRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    let bytes = |f: fn(&LogRow) -> &[u8]| rows.iter().map(f).collect::<Vec<&[u8]>>();
    let named = |f: fn(&Named) -> i64| append.named.iter().map(f).collect::<Vec<i64>>();
    let landed: i64 = sqlx::query_scalar(APPEND)
        .bind(append.head.0)
        .bind(append.head.1)
        .bind(append.after.0)
        .bind(append.after.1.as_str())
        .bind(column(|r| r.0))
        .bind(column(|r| r.1))
        .bind(column(|r| r.2))
        .bind(bytes(|r| &r.3))
        .bind(bytes(|r| &r.4))
        .bind(bytes(|r| &r.5))
        .bind(named(|n| n.0))
        .bind(named(|n| n.1))
        .fetch_one(executor)
        .await?;
    Ok(landed == 1)
}

/// SQLite: adds to `q` the append after `after` that moves the head to `head`: the head's
/// conditional move first, then the rows and their participants, which land only if it moved
/// (rows affected: none unless it landed), as statements for one execute.
fn append_statement(q: &mut sqlx::QueryBuilder<sqlx::Sqlite>, append: &Append<'_>) {
    let Append {
        after,
        head,
        rows,
        named,
    } = *append;
    q.push("UPDATE audit_head SET seq = ")
        .push_bind(head.0)
        .push(", hash = ")
        .push_bind(head.1)
        .push(" WHERE id = 1 AND seq = ")
        .push_bind(after.0)
        .push(" AND hash = ")
        .push_bind(after.1.as_str())
        .push(";");
    let chunks = rows
        .chunks(AUDIT_ROWS_PER_STATEMENT)
        .map(|c| (Some(c), None))
        .chain(
            named
                .chunks(PARTICIPANT_ROWS_PER_STATEMENT)
                .map(|c| (None, Some(c))),
        );
    for (log, access) in chunks {
        if let Some(rows) = log {
            push_log_rows(q, rows);
        }
        if let Some(named) = access {
            push_access_rows(q, named);
        }
        q.push(" WHERE EXISTS (SELECT 1 FROM audit_head WHERE id = 1 AND seq = ")
            .push_bind(head.0)
            .push(" AND hash = ")
            .push_bind(head.1)
            .push(")");
        if access.is_some() {
            q.push(" ON CONFLICT DO NOTHING");
        }
        q.push(";");
    }
}

/// One append: the rows (and the participants they name) chained after the stored head
/// `after`, which they move to `head`.
#[derive(Clone, Copy)]
struct Append<'a> {
    after: &'a (i64, String),
    head: (i64, &'a str),
    rows: &'a [LogRow],
    named: &'a [Named],
}

/// A local journal's shipping ([`crate::journal`]): the journal's id, its mark before (the
/// last row shipped) and after these rows.
pub(crate) type Mark<'a> = (&'a str, i64, i64);

/// The conditional append on a transaction's connection, for either backend (`with_tx!` runs
/// one body for both): [`append_pg`] or [`append_statement`]; `Ok(false)` when the stored head
/// was not `after` (nothing written).
trait AppendOn {
    async fn append_on(&mut self, append: &Append<'_>) -> Result<bool, StoreError>;
}

impl AppendOn for sqlx::PgConnection {
    async fn append_on(&mut self, append: &Append<'_>) -> Result<bool, StoreError> {
        append_pg(self, append).await
    }
}

impl AppendOn for sqlx::SqliteConnection {
    async fn append_on(&mut self, append: &Append<'_>) -> Result<bool, StoreError> {
        let mut q = sqlx::QueryBuilder::new("");
        append_statement(&mut q, append);
        // Nothing changes unless the head moved (then at least it did).
        Ok(q.build().execute(self).await?.rows_affected() > 0)
    }
}

/// `INSERT INTO audit_log … SELECT * FROM (VALUES …) AS v`: the caller adds the `WHERE`.
fn push_log_rows<DB: sqlx::Database>(q: &mut sqlx::QueryBuilder<DB>, rows: &[LogRow])
where
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> &'t [u8]: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    q.push(
        "INSERT INTO audit_log (seq, at_ns, principal, packed, prev_hash, hash) SELECT * FROM (",
    );
    q.push_values(rows, |mut b, (seq, at, principal, packed, prev, hash)| {
        b.push_bind(*seq)
            .push_bind(*at)
            .push_bind(*principal)
            .push_bind(packed.as_slice())
            .push_bind(prev.as_slice())
            .push_bind(hash.as_slice());
    });
    q.push(") AS v");
}

/// `INSERT INTO audit_access … SELECT * FROM (VALUES …) AS v`: the caller adds the `WHERE`.
fn push_access_rows<DB: sqlx::Database>(q: &mut sqlx::QueryBuilder<DB>, named: &[Named])
where
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    q.push("INSERT INTO audit_access (participant, seq) SELECT * FROM (");
    q.push_values(named, |mut b, (participant, seq)| {
        b.push_bind(*participant).push_bind(*seq);
    });
    q.push(") AS v");
}

impl Store {
    /// The bodies (as hashed) and times of `events`, and the ids of their terms this handle
    /// knows (`missing`: the others).
    fn prepare_audit(&self, events: &[AuditEvent]) -> Result<Prepared, StoreError> {
        let bodies = events
            .iter()
            .map(|e| crate::convert::to_json("audit event", &e.request_id, e))
            .collect::<Result<Vec<_>, _>>()?;
        let times = events
            .iter()
            .map(audit_pack::at_ns)
            .collect::<Result<Vec<_>, _>>()?;
        let mut wanted: Vec<&str> = events.iter().flat_map(audit_pack::terms_of).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut ids = TermIds::with_capacity_and_hasher(wanted.len(), audit_pack::Keyed::default());
        let missing = self.audit_cache.ids_of(&wanted, &mut ids);
        Ok(Prepared {
            bodies,
            times,
            ids,
            missing,
        })
    }

    /// [`Store::append_audit`] of a batch the caller gives up: the audit writer's, which groups
    /// the requests' events (`gemj-core`'s `AuditSink`). On SQLite, an append whose terms are
    /// all known and whose head guess holds runs in the calling task, on the write turn's
    /// direct connection ([`connect::Writer::direct`]): no crossing to sqlx's connection thread
    /// and back, a write of about a tenth of a millisecond that never waits for a disk flush
    /// (WAL, `synchronous = NORMAL`). Everything else (PostgreSQL, a new term, another writer's
    /// move of the head, an in-memory database) goes through the pool, as [`Store::append_audit`].
    ///
    /// # Errors
    /// As [`Store::append_audit`]; then nothing of the batch is stored.
    pub async fn append_audit_owned(
        &self,
        mut events: Vec<AuditEvent>,
    ) -> Result<Vec<i64>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        events.iter_mut().for_each(audit_pack::canonicalize);
        if let (crate::Pool::Sqlite(pool), Some(after)) = (&self.pool, self.audit_cache.head()) {
            let Prepared {
                bodies,
                times,
                ids,
                missing,
            } = self.prepare_audit(&events)?;
            if missing.is_empty() {
                let links = chain_after(&after, &bodies);
                let (rows, named) = pack_rows(&events, None, &bodies, &times, &ids, &links)?;
                let head = head_of(&links, &after);
                let mut writer = self.write_turn().await?;
                let direct = match writer.direct(pool) {
                    Ok(direct) => direct,
                    // The pool's own connections may still open: append through them.
                    Err(StoreError::Sqlite(error)) => {
                        tracing::warn!(
                            message = "The audit writer's direct connection did not open.",
                            %error
                        );
                        None
                    }
                    Err(e) => return Err(e),
                };
                if let Some(conn) = direct {
                    match append_direct(conn, &after, (head.0, &head.1), &rows, &named) {
                        Ok(true) => {
                            self.audit_cache.set_head(head);
                            return Ok(links.iter().map(|(seq, _, _)| *seq).collect());
                        }
                        // Another writer moved the head: read it under the lock, below.
                        Ok(false) => self.audit_cache.missed(),
                        Err(e) => {
                            writer.close_direct();
                            return Err(e);
                        }
                    }
                }
            }
        }
        // Boxed: the locked append's state would otherwise make every call's future as large
        // (kilobytes, copied at each spawn and poll of the audit writer's task).
        Box::pin(self.write_audit(&events, None, Chain::Next, None)).await
    }

    /// Appends a batch of audit events in one transaction, each chained to the one before, and
    /// returns their sequence numbers in order. An empty batch writes nothing. Times are
    /// stored (and hashed) in UTC.
    ///
    /// # Errors
    /// [`StoreError::Database`]; then nothing of the batch is stored.
    pub async fn append_audit(&self, events: &[AuditEvent]) -> Result<Vec<i64>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut events = events.to_vec();
        events.iter_mut().for_each(audit_pack::canonicalize);
        self.write_audit(&events, None, Chain::Next, None).await
    }

    /// [`Store::append_audit`] of canonical events shipped from a local journal, moving the
    /// journal's mark from `mark.1` to `mark.2` in the same transaction ([`crate::journal`]).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the stored mark is not `mark.1` (another process shipped
    /// the journal, or an earlier shipping landed after all): nothing is written.
    pub(crate) async fn append_audit_marked(
        &self,
        events: &[AuditEvent],
        mark: Mark<'_>,
    ) -> Result<Vec<i64>, StoreError> {
        self.write_audit(events, None, Chain::Next, Some(mark))
            .await
    }

    /// Writes `events` (with `verbatim` bodies for legacy rows that must stay as they were)
    /// into `audit_log` and `audit_access`, chained as `chain` says.
    async fn write_audit(
        &self,
        events: &[AuditEvent],
        verbatim: Option<&[Option<String>]>,
        chain: Chain,
        mark: Option<Mark<'_>>,
    ) -> Result<Vec<i64>, StoreError> {
        let prepared = self.prepare_audit(events)?;
        let months = self.months_missing(&prepared.times);
        if !months.is_empty() {
            Box::pin(self.create_audit_partitions(months)).await?;
        }
        let mut guess = match chain {
            Chain::Next => self.audit_cache.head(),
            Chain::Given(_) => None,
        };
        let Prepared {
            bodies,
            times,
            ids,
            missing,
        } = &prepared;
        let rows_of = |links: &[(i64, String, String)], ids: &TermIds| {
            pack_rows(events, verbatim, bodies, times, ids, links)
        };
        // PostgreSQL, every term known, the head guessed: one statement, atomic on its own, is
        // the whole append (no BEGIN and COMMIT round trips).
        if let (crate::Pool::Pg(pool), Some(after)) = (&self.pool, &guess)
            && missing.is_empty()
            && mark.is_none()
        {
            let links = chain_after(after, bodies);
            let (rows, named) = rows_of(&links, ids)?;
            let head = head_of(&links, after);
            let pool = self.audit_pg.as_ref().unwrap_or(pool);
            let append = Append {
                after,
                head: (head.0, &head.1),
                rows: &rows,
                named: &named,
            };
            if append_pg(pool, &append).await? {
                self.audit_cache.set_head(head);
                return Ok(links.iter().map(|(seq, _, _)| *seq).collect());
            }
            // Another writer moved the head: read it under the lock, below.
            guess = None;
            self.audit_cache.missed();
        }
        // SQLite, every term known, the head guessed: `BEGIN IMMEDIATE`, the append and
        // `COMMIT` in one execute on the write turn's own connection, one crossing to its
        // thread and back (a pooled transaction is three, and the pool pings the connection
        // it gets back: docs/PERFORMANCE.md).
        if let (crate::Pool::Sqlite(pool), Some(after)) = (&self.pool, &guess)
            && missing.is_empty()
            && mark.is_none()
        {
            let links = chain_after(after, bodies);
            let (rows, named) = rows_of(&links, ids)?;
            let head = head_of(&links, after);
            let mut q = sqlx::QueryBuilder::new("BEGIN IMMEDIATE;");
            let append = Append {
                after,
                head: (head.0, &head.1),
                rows: &rows,
                named: &named,
            };
            append_statement(&mut q, &append);
            q.push("COMMIT;");
            let changed = self.write_turn().await?.transaction(pool, &mut q).await?;
            // The statements after `BEGIN`: the head's move first, which the rows follow.
            if changed.get(1) == Some(&1) {
                self.audit_cache.set_head(head);
                return Ok(links.iter().map(|(seq, _, _)| *seq).collect());
            }
            // Another writer moved the head: read it under the lock, below.
            guess = None;
            self.audit_cache.missed();
        }
        // Boxed: the rare path (a new term, a moved head, legacy rows) holds a transaction across
        // many awaits; inline, its state would make every append's future that large.
        Box::pin(self.write_audit_locked(events, verbatim, chain, prepared, guess, mark)).await
    }

    /// The rest of [`Store::write_audit`]: in one transaction holding the write lock, the new
    /// terms, then the rows after `guess` or else the stored head.
    async fn write_audit_locked(
        &self,
        events: &[AuditEvent],
        verbatim: Option<&[Option<String>]>,
        chain: Chain,
        prepared: Prepared,
        mut guess: Option<(i64, String)>,
        mark: Option<Mark<'_>>,
    ) -> Result<Vec<i64>, StoreError> {
        let Prepared {
            bodies,
            times,
            mut ids,
            missing,
        } = prepared;
        let rows_of = |links: &[(i64, String, String)], ids: &TermIds| {
            pack_rows(events, verbatim, &bodies, &times, ids, links)
        };
        let (seqs, head, fresh) = with_tx!(self, |tx, pg| {
            // A journal's shipping: its mark moves first, from the value this shipper read, or
            // nothing is written. The row stays locked until the commit, so a second shipper
            // of the same journal (or a shipping of a process since killed, still queued in
            // the server) waits, then finds the mark moved.
            if let Some((journal, before, after)) = mark {
                let moved = sqlx::query(
                    "UPDATE audit_journals SET shipped = $1 WHERE journal = $2 AND shipped = $3",
                )
                .bind(after)
                .bind(journal)
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if moved != 1 {
                    // Its mark moved: these rows were shipped already.
                    return Err(StoreError::Conflict {
                        entity: "audit journal mark",
                        id: journal.to_owned(),
                    });
                }
            }
            // Terms first: insert the unknown ones, then read their ids.
            let mut fresh: Vec<(i64, String)> = Vec::new();
            for chunk in missing.chunks(TERMS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new("INSERT INTO audit_terms (term) ");
                q.push_values(chunk, |mut b, t| {
                    b.push_bind(t.as_str());
                });
                q.push(" ON CONFLICT (term) DO NOTHING");
                q.build().execute(&mut *tx).await?;
                let mut q =
                    sqlx::QueryBuilder::new("SELECT id, term FROM audit_terms WHERE term IN (");
                let mut list = q.separated(", ");
                for t in chunk {
                    list.push_bind(t.as_str());
                }
                q.push(")");
                let got: Vec<(i64, String)> = q.build_query_as().fetch_all(&mut *tx).await?;
                fresh.extend(got);
            }
            ids.extend(fresh.iter().map(|(id, t)| (Arc::from(t.as_str()), *id)));
            let (seqs, head, fresh, legacy_log, legacy_named) = match &chain {
                Chain::Given(given) => {
                    // Legacy rows: the head is already past them.
                    let (rows, named) = rows_of(given, &ids)?;
                    let seqs = given.iter().map(|(seq, _, _)| *seq).collect();
                    (seqs, None, fresh, rows, named)
                }
                Chain::Next => {
                    // After the guessed head, else the stored one, read under the write lock
                    // (SQLite `BEGIN IMMEDIATE`; PostgreSQL `FOR UPDATE`). The head's move, the
                    // rows and their participants go in one round trip (a statement per table
                    // costs one each; docs/PERFORMANCE.md), and land only if the stored head is
                    // the one chained after.
                    let mut read = false;
                    loop {
                        let after: (i64, String) = match guess.take() {
                            Some(head) => head,
                            None => {
                                read = true;
                                sqlx::query_as(if pg {
                                    "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
                                } else {
                                    "SELECT seq, hash FROM audit_head WHERE id = 1"
                                })
                                .fetch_one(&mut *tx)
                                .await?
                            }
                        };
                        let links = chain_after(&after, &bodies);
                        let (rows, named) = rows_of(&links, &ids)?;
                        let head = head_of(&links, &after);
                        let append = Append {
                            after: &after,
                            head: (head.0, &head.1),
                            rows: &rows,
                            named: &named,
                        };
                        let landed = AppendOn::append_on(&mut *tx, &append).await?;
                        if landed {
                            break (
                                links.iter().map(|(seq, _, _)| *seq).collect::<Vec<i64>>(),
                                Some(head),
                                fresh,
                                Vec::new(),
                                Vec::new(),
                            );
                        }
                        if read {
                            return Err(StoreError::invalid_input(
                                "audit batch",
                                &after.0.to_string(),
                                "the audit head moved while this append held the write lock",
                            ));
                        }
                        // Another writer (a replica, a command-line run) appended: read the head.
                        self.audit_cache.missed();
                    }
                }
            };
            // Legacy rows (kept as they were; any a crashed run already converted is skipped).
            for chunk in legacy_log.chunks(AUDIT_ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new("");
                push_log_rows(&mut q, chunk);
                q.push(" WHERE true ON CONFLICT DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            for chunk in legacy_named.chunks(PARTICIPANT_ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new("");
                push_access_rows(&mut q, chunk);
                q.push(" WHERE true ON CONFLICT DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            (seqs, head, fresh)
        });
        self.audit_cache.remember(fresh);
        if let Some(head) = head {
            self.audit_cache.set_head(head);
        }
        Ok(seqs)
    }

    /// PostgreSQL: the months of rows at `times` (ns) whose partitions of `audit_log` this
    /// handle has not seen yet. SQLite: none.
    fn months_missing(&self, times: &[i64]) -> BTreeSet<i64> {
        if !matches!(self.pool, crate::Pool::Pg(_)) {
            return BTreeSet::new();
        }
        let known = self.audit_cache.months.read();
        times
            .iter()
            .map(|t| month_of(*t))
            .filter(|month| !known.as_ref().is_ok_and(|m| m.contains(month)))
            .collect()
    }

    /// PostgreSQL: creates the monthly partitions of `audit_log` for `months`
    /// ([`Store::months_missing`]).
    async fn create_audit_partitions(&self, months: BTreeSet<i64>) -> Result<(), StoreError> {
        let crate::Pool::Pg(pool) = &self.pool else {
            return Ok(());
        };
        for month in months {
            let (name, from, to) = partition_of(month);
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF audit_log \
                 FOR VALUES FROM ({from}) TO ({to})"
            );
            if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await {
                // Another replica may have created it at the same moment.
                let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                    .bind(&name)
                    .fetch_one(pool)
                    .await?;
                if !exists {
                    return Err(error.into());
                }
            }
            if let Ok(mut m) = self.audit_cache.months.write() {
                m.insert(month);
            }
        }
        Ok(())
    }

    /// Converts the rows of the pre-0014 `audit_records` table into `audit_log`, then drops it
    /// (with `audit_participants`). Idempotent and resumable: a crash leaves rows to convert
    /// again. Each row keeps its sequence number and hashes; one whose JSON the current model
    /// writes back byte for byte is packed, any other is kept verbatim.
    pub(crate) async fn convert_legacy_audit(&self) -> Result<u64, StoreError> {
        let legacy: bool = with_pool!(self, |p, pg| {
            sqlx::query_scalar(if pg {
                "SELECT to_regclass('audit_records') IS NOT NULL"
            } else {
                "SELECT EXISTS (SELECT 1 FROM sqlite_master \
                 WHERE type = 'table' AND name = 'audit_records')"
            })
            .fetch_one(p)
            .await?
        });
        if !legacy {
            return Ok(0);
        }
        let mut after = 0_i64;
        let mut converted = 0_u64;
        loop {
            let rows: Vec<(i64, String, String, String)> = with_pool!(self, |p| {
                sqlx::query_as(
                    "SELECT seq, body, prev_hash, hash FROM audit_records \
                     WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(i64::try_from(LEGACY_ROWS_PER_BATCH).unwrap_or(i64::MAX))
                .fetch_all(p)
                .await?
            });
            let Some(last) = rows.last() else { break };
            after = last.0;
            let mut events = Vec::with_capacity(rows.len());
            let mut verbatim = Vec::with_capacity(rows.len());
            let mut links = Vec::with_capacity(rows.len());
            for (seq, body, prev, hash) in rows {
                let event: AuditEvent = from_json("audit record", &seq.to_string(), &body)?;
                let same = serde_json::to_string(&event).is_ok_and(|b| b == body);
                verbatim.push((!same).then(|| body.clone()));
                events.push(event);
                links.push((seq, prev, hash));
            }
            converted += u64::try_from(events.len()).unwrap_or(0);
            self.write_audit(&events, Some(&verbatim), Chain::Given(links), None)
                .await?;
        }
        with_tx!(self, |tx| {
            sqlx::query("DROP TABLE audit_participants")
                .execute(&mut *tx)
                .await?;
            sqlx::query("DROP TABLE audit_records")
                .execute(&mut *tx)
                .await?;
        });
        tracing::info!(
            message = "Audit records converted to the compact log.",
            rows = converted
        );
        Ok(converted)
    }

    /// Audit records with `seq > after_seq`, in order, at most `limit` (rows still in the
    /// database: sealed segments are read through their archive).
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored record no longer parses.
    pub async fn audit_records(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        Ok(self
            .audit_rows(after_seq, limit)
            .await?
            .into_iter()
            .map(|r| r.record)
            .collect())
    }

    /// [`Store::audit_records`] with each record's JSON exactly as hashed.
    ///
    /// # Errors
    /// As [`Store::audit_records`].
    pub async fn audit_rows(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<LogRow> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT seq, at_ns, principal, packed, prev_hash, hash FROM audit_log \
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after_seq)
            .bind(page_limit(limit))
            .fetch_all(p)
            .await?
        });
        self.unpack_rows(rows).await
    }

    /// Audit records of one principal (`iss#sub` or `anonymous`) with `seq > after_seq`, in
    /// order, at most `limit`: a researcher's own history.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored record no longer parses.
    pub async fn audit_records_of_principal(
        &self,
        principal: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.audit_page_by_term(
            "SELECT seq, at_ns, principal, packed, prev_hash, hash FROM audit_log \
             WHERE principal = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            principal,
            after_seq,
            limit,
        )
        .await
    }

    /// Audit records whose response carried data of `participant`, with `seq > after_seq`, in
    /// order, at most `limit`: who accessed a participant's data. Rows in sealed segments are
    /// not here: [`Store::audit_archived_seqs_for_participant`] names them.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored record no longer parses.
    pub async fn audit_records_for_participant(
        &self,
        participant: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.audit_page_by_term(
            "SELECT r.seq, r.at_ns, r.principal, r.packed, r.prev_hash, r.hash \
             FROM audit_access a JOIN audit_log r ON r.seq = a.seq \
             WHERE a.participant = $1 AND a.seq > $2 ORDER BY a.seq LIMIT $3",
            participant,
            after_seq,
            limit,
        )
        .await
    }

    /// The records `sql` selects (a `LogRow`) for the id of `term`, `after_seq` and `limit`;
    /// none when no row names the term.
    async fn audit_page_by_term(
        &self,
        sql: &'static str,
        term: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let Some(id) = self.audit_term_id(term).await? else {
            return Ok(Vec::new());
        };
        let rows: Vec<LogRow> = with_pool!(self, |p| {
            sqlx::query_as(sql)
                .bind(id)
                .bind(after_seq)
                .bind(page_limit(limit))
                .fetch_all(p)
                .await?
        });
        Ok(self
            .unpack_rows(rows)
            .await?
            .into_iter()
            .map(|r| r.record)
            .collect())
    }

    /// The sequence numbers, `> after_seq`, in order, at most `limit`, of sealed (archived)
    /// audit rows whose response carried data of `participant`.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn audit_archived_seqs_for_participant(
        &self,
        participant: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        let Some(id) = self.audit_term_id(participant).await? else {
            return Ok(Vec::new());
        };
        Ok(with_pool!(self, |p| {
            sqlx::query_scalar(
                "SELECT seq FROM audit_access WHERE participant = $1 AND seq > $2 \
                 AND seq <= (SELECT COALESCE(MAX(last_seq), 0) FROM audit_segments) \
                 ORDER BY seq LIMIT $3",
            )
            .bind(id)
            .bind(after_seq)
            .bind(page_limit(limit))
            .fetch_all(p)
            .await?
        }))
    }

    /// The id of a term, or `None` when no audit row names it.
    async fn audit_term_id(&self, term: &str) -> Result<Option<i64>, StoreError> {
        if let Some(id) = self.audit_cache.id(term) {
            return Ok(Some(id));
        }
        let id: Option<i64> = with_pool!(self, |p| {
            sqlx::query_scalar("SELECT id FROM audit_terms WHERE term = $1")
                .bind(term)
                .fetch_optional(p)
                .await?
        });
        if let Some(id) = id {
            self.audit_cache.remember([(id, term.to_owned())]);
        }
        Ok(id)
    }

    /// Rebuilds stored rows into records, reading the terms this handle does not know yet.
    async fn unpack_rows(&self, rows: Vec<LogRow>) -> Result<Vec<AuditRow>, StoreError> {
        let mut packed = Vec::with_capacity(rows.len());
        let mut unknown: BTreeSet<i64> = BTreeSet::new();
        for (seq, at, principal, bytes, prev, hash) in rows {
            let p = audit_pack::decode(seq, &bytes)?;
            unknown.extend(
                p.term_ids()
                    .into_iter()
                    .chain([principal])
                    .filter(|id| self.audit_cache.text(*id).is_none()),
            );
            packed.push((seq, at, principal, p, prev, hash));
        }
        let unknown: Vec<i64> = unknown.into_iter().collect();
        let mut found: HashMap<i64, Arc<str>> = HashMap::new();
        for chunk in unknown.chunks(TERMS_PER_STATEMENT) {
            let got: Vec<(i64, String)> = with_pool!(self, |p| {
                let mut q =
                    sqlx::QueryBuilder::new("SELECT id, term FROM audit_terms WHERE id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(")");
                q.build_query_as().fetch_all(p).await?
            });
            found.extend(got.iter().map(|(id, t)| (*id, Arc::from(t.as_str()))));
            self.audit_cache.remember(got);
        }
        let text = |id: i64| {
            found
                .get(&id)
                .cloned()
                .or_else(|| self.audit_cache.text(id))
        };
        packed
            .into_iter()
            .map(|(seq, at, principal, p, prev, hash)| {
                let name = text(principal).ok_or_else(|| {
                    StoreError::invalid_data("audit record", &seq.to_string(), "no principal")
                })?;
                let (event, body) = p.unpack(seq, at, &name, &text)?;
                Ok(AuditRow {
                    record: AuditRecord {
                        seq,
                        event,
                        prev_hash: hex::encode(prev),
                        hash: hex::encode(hash),
                    },
                    body,
                })
            })
            .collect()
    }

    /// Every audit term, by id (for verification, which reads every row).
    pub(crate) async fn audit_terms(&self) -> Result<HashMap<i64, Arc<str>>, StoreError> {
        let rows: Vec<(i64, String)> = with_pool!(self, |p| {
            sqlx::query_as("SELECT id, term FROM audit_terms")
                .fetch_all(p)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, t)| (id, Arc::from(t.as_str())))
            .collect())
    }

    /// How many audit records are in the database (sealed segments not counted).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn audit_count(&self) -> Result<u64, StoreError> {
        self.count_rows("SELECT COUNT(*) FROM audit_log").await
    }

    /// The sealed segments, in chain order.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn audit_segments(&self) -> Result<Vec<AuditSegment>, StoreError> {
        let rows: Vec<SegmentRow> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT first_seq, last_seq, rows, first_at, last_at, prev_hash, head_hash, \
                 location, sha256, bytes, sealed_at FROM audit_segments ORDER BY first_seq",
            )
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(
                    first_seq,
                    last_seq,
                    rows,
                    first_at,
                    last_at,
                    prev_hash,
                    head_hash,
                    location,
                    sha256,
                    bytes,
                    sealed_at,
                )| {
                    AuditSegment {
                        first_seq,
                        last_seq,
                        rows: rows.unsigned_abs(),
                        first_at,
                        last_at,
                        prev_hash,
                        head_hash,
                        location,
                        sha256,
                        bytes: bytes.unsigned_abs(),
                        sealed_at,
                    }
                },
            )
            .collect())
    }

    /// The last row in the database whose time is before `before`, or `None`.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn audit_last_seq_before(
        &self,
        before: time::OffsetDateTime,
    ) -> Result<Option<i64>, StoreError> {
        let ns = i64::try_from(before.unix_timestamp_nanos()).unwrap_or(i64::MAX);
        Ok(with_pool!(self, |p| {
            sqlx::query_scalar("SELECT MAX(seq) FROM audit_log WHERE at_ns < $1")
                .bind(ns)
                .fetch_one(p)
                .await?
        }))
    }

    /// Records `segment` as sealed and removes its rows from the database, in one
    /// transaction; on PostgreSQL then drops the monthly partitions it emptied. The segment
    /// must continue the chain: it starts right after the last sealed one (or at row 1), its
    /// rows are all in the database, its first row follows `prev_hash` and its last row has
    /// `head_hash`. Store the segment's bytes first: a crash in between leaves them unused,
    /// and sealing again overwrites them.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when the segment does not fit the stored chain (nothing is
    /// changed); [`StoreError::Database`].
    pub async fn seal_audit_segment(&self, segment: &AuditSegment) -> Result<(), StoreError> {
        let id = segment.first_seq.to_string();
        let bad = |why: &str| StoreError::invalid_input("audit segment", &id, why.to_owned());
        with_tx!(self, |tx| {
            let sealed: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(last_seq), 0) FROM audit_segments")
                    .fetch_one(&mut *tx)
                    .await?;
            if segment.first_seq != sealed + 1 || segment.last_seq < segment.first_seq {
                return Err(bad("it does not start right after the last sealed segment"));
            }
            let (rows, first_prev, last_hash): (i64, Option<Vec<u8>>, Option<Vec<u8>>) =
                sqlx::query_as(
                    "SELECT COUNT(*), \
                       (SELECT prev_hash FROM audit_log WHERE seq = $1), \
                       (SELECT hash FROM audit_log WHERE seq = $2) \
                     FROM audit_log WHERE seq BETWEEN $1 AND $2",
                )
                .bind(segment.first_seq)
                .bind(segment.last_seq)
                .fetch_one(&mut *tx)
                .await?;
            if rows.unsigned_abs() != segment.rows
                || segment.rows != (segment.last_seq - segment.first_seq + 1).unsigned_abs()
            {
                return Err(bad("its rows are not all in the database"));
            }
            if first_prev.map(hex::encode).as_deref() != Some(segment.prev_hash.as_str())
                || last_hash.map(hex::encode).as_deref() != Some(segment.head_hash.as_str())
            {
                return Err(bad("its chain heads are not the stored ones"));
            }
            if segment.first_seq == 1 && segment.prev_hash != GENESIS {
                return Err(bad("the first segment must start at the genesis hash"));
            }
            sqlx::query(
                "INSERT INTO audit_segments (first_seq, last_seq, rows, first_at, last_at, \
                   prev_hash, head_hash, location, sha256, bytes, sealed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(segment.first_seq)
            .bind(segment.last_seq)
            .bind(rows)
            .bind(&segment.first_at)
            .bind(&segment.last_at)
            .bind(&segment.prev_hash)
            .bind(&segment.head_hash)
            .bind(&segment.location)
            .bind(&segment.sha256)
            .bind(i64::try_from(segment.bytes).unwrap_or(i64::MAX))
            .bind(if segment.sealed_at.is_empty() {
                crate::convert::now_rfc3339()
            } else {
                segment.sealed_at.clone()
            })
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM audit_log WHERE seq BETWEEN $1 AND $2")
                .bind(segment.first_seq)
                .bind(segment.last_seq)
                .execute(&mut *tx)
                .await?;
        });
        self.drop_empty_audit_partitions().await
    }

    /// PostgreSQL: drops the monthly partitions of `audit_log` that sealing emptied (months
    /// before the current one with no row left). SQLite: nothing.
    async fn drop_empty_audit_partitions(&self) -> Result<(), StoreError> {
        let crate::Pool::Pg(pool) = &self.pool else {
            return Ok(());
        };
        let current = month_of(
            i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos())
                .unwrap_or(i64::MAX),
        );
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'audit_log'::regclass ORDER BY 1",
        )
        .fetch_all(pool)
        .await?;
        for name in names {
            let Some(month) = month_of_partition(&name) else {
                continue;
            };
            if month >= current {
                continue;
            }
            let empty: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT NOT EXISTS (SELECT 1 FROM {name})"
            )))
            .fetch_one(pool)
            .await?;
            if empty {
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {name}")))
                    .execute(pool)
                    .await?;
                if let Ok(mut m) = self.audit_cache.months.write() {
                    m.remove(&month);
                }
            }
        }
        Ok(())
    }

    /// Rows of the database as verification reads them: `seq, body, prev_hash, hash` in
    /// order, `seq <= up_to`, streamed to `each`.
    pub(crate) async fn for_each_audit_row(
        &self,
        up_to: i64,
        mut each: impl FnMut(i64, String, String, String),
    ) -> Result<(), StoreError> {
        use futures_util::TryStreamExt;
        let terms = self.audit_terms().await?;
        let text = |id: i64| terms.get(&id).cloned();
        with_pool!(self, |p| {
            let mut rows = sqlx::query_as::<_, LogRow>(
                "SELECT seq, at_ns, principal, packed, prev_hash, hash FROM audit_log \
                 WHERE seq <= $1 ORDER BY seq",
            )
            .bind(up_to)
            .fetch(p);
            while let Some((seq, at, principal, packed, prev, hash)) = rows.try_next().await? {
                // A row that no longer unpacks is reported as altered (its body is empty).
                let body = text(principal)
                    .ok_or_else(|| {
                        StoreError::invalid_data("audit record", &seq.to_string(), "no principal")
                    })
                    .and_then(|name| {
                        audit_pack::decode(seq, &packed)?.unpack(seq, at, &name, &text)
                    })
                    .map(|(_, body)| body)
                    .unwrap_or_default();
                each(seq, body, hex::encode(prev), hex::encode(hash));
            }
        });
        Ok(())
    }
}

/// The month (`year * 12 + month - 1`) of a time in ns since 1970, UTC.
fn month_of(at_ns: i64) -> i64 {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ns))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1
}

/// The partition of a month: its name and its bounds in ns.
fn partition_of(month: i64) -> (String, i64, i64) {
    let start = |m: i64| -> i64 {
        let year = i32::try_from(m.div_euclid(12)).unwrap_or(1970);
        let month = u8::try_from(m.rem_euclid(12) + 1).unwrap_or(1);
        time::Month::try_from(month)
            .and_then(|mo| time::Date::from_calendar_date(year, mo, 1))
            .map(|d| d.midnight().assume_utc().unix_timestamp_nanos())
            .ok()
            .and_then(|ns| i64::try_from(ns).ok())
            .unwrap_or(if m < 0 { i64::MIN } else { i64::MAX })
    };
    let name = format!(
        "audit_log_p{:04}{:02}",
        month.div_euclid(12),
        month.rem_euclid(12) + 1
    );
    (name, start(month), start(month + 1))
}

/// The month of a partition name written by [`partition_of`].
fn month_of_partition(name: &str) -> Option<i64> {
    let digits = name.strip_prefix("audit_log_p")?;
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i64 = digits[..4].parse().ok()?;
    let month: i64 = digits[4..].parse().ok()?;
    Some(year * 12 + month - 1)
}

#[cfg(test)]
impl Store {
    /// Test only: alters one audit row behind the store's back, as an intruder with database
    /// access would (dropping the append-only trigger first): the last byte of its packed
    /// event is flipped.
    pub(crate) async fn tamper_audit_row_for_tests(&self, seq: i64) -> Result<(), StoreError> {
        with_pool!(self, |p, pg| {
            sqlx::query(if pg {
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard"
            } else {
                "DROP TRIGGER audit_log_no_update"
            })
            .execute(p)
            .await?;
            // Flip the record's `records_returned` (the last byte of most packed rows).
            let bytes: Vec<u8> = sqlx::query_scalar("SELECT packed FROM audit_log WHERE seq = $1")
                .bind(seq)
                .fetch_one(p)
                .await?;
            let mut bytes = bytes;
            if let Some(last) = bytes.last_mut() {
                *last ^= 1;
            }
            sqlx::query("UPDATE audit_log SET packed = $1 WHERE seq = $2")
                .bind(bytes)
                .bind(seq)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Test only: rewrites a term's text behind the store's back.
    pub(crate) async fn tamper_audit_term_for_tests(
        &self,
        from: &str,
        to: &str,
    ) -> Result<(), StoreError> {
        with_pool!(self, |p, pg| {
            sqlx::query(if pg {
                "ALTER TABLE audit_terms DISABLE TRIGGER audit_terms_append_only"
            } else {
                "DROP TRIGGER audit_terms_no_update"
            })
            .execute(p)
            .await?;
            sqlx::query("UPDATE audit_terms SET term = $1 WHERE term = $2")
                .bind(to)
                .bind(from)
                .execute(p)
                .await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_partitions_agree() {
        // 2026-11-25T00:00:00Z
        let ns = 1_795_564_800_000_000_000;
        let m = month_of(ns);
        let (name, from, to) = partition_of(m);
        assert_eq!(name, "audit_log_p202611");
        assert!(from <= ns && ns < to);
        assert_eq!(month_of_partition(&name), Some(m));
        assert_eq!(month_of(from), m);
        assert_eq!(month_of(to), m + 1);
        assert_eq!(month_of(to - 1), m);
        let (dec, _, dec_end) = partition_of(2026 * 12 + 11);
        assert_eq!(dec, "audit_log_p202612");
        assert_eq!(partition_of(2027 * 12).1, dec_end);
        assert_eq!(month_of_partition("audit_log_p2026"), None);
        assert_eq!(month_of_partition("audit_log_default"), None);
    }

    fn event(n: usize, participant: &str) -> AuditEvent {
        AuditEvent {
            at: time::OffsetDateTime::now_utc(),
            request_id: format!("req-{n}"),
            api: "htsget".to_owned(),
            endpoint: "/htsget/reads/{id}".to_owned(),
            principal: "https://issuer.example#alice".to_owned(),
            action: "read_data".to_owned(),
            resource: "object:OBJ1".to_owned(),
            decision: gemj_model::AccessDecision::Permit,
            reasons: vec!["registered_access".to_owned()],
            credential_hashes: Vec::new(),
            approval: None,
            consent_epoch: Some(1),
            participants: vec![participant.to_owned()],
            records_returned: Some(1),
            records_filtered: None,
        }
    }

    /// Appends that never pause, from two writers, with a reader beside them: a passive
    /// checkpoint alone never catches up with such a log, so SQLite never starts it over and
    /// the file only grows. The checkpoint task restarts it under the write turn once it passes
    /// its limit (a thousand frames in this crate's tests), and the restart cuts the file back:
    /// the WAL must shrink while the writes go on, and stay within a small multiple of the limit
    /// (without the restart it reached fifty).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_restarts_under_writes_that_never_pause()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("gemj.db");
        let store = Store::connect(
            &format!("sqlite:{}", path.display()),
            &crate::StoreOptions::default(),
        )
        .await?;
        store.migrate().await?;
        let wal = dir.path().join("gemj.db-wal");
        let limit = crate::connect::WAL_LIMIT_BYTES.unsigned_abs();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(4);
        let mut tasks = Vec::new();
        for w in 0..2 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0;
                while std::time::Instant::now() < until {
                    n += 1;
                    let batch = vec![event(w * 1_000_000 + n, "P1"), event(n, "P2")];
                    store.append_audit(&batch).await?;
                }
                Ok::<usize, StoreError>(n)
            }));
        }
        let reader = {
            let store = store.clone();
            tokio::spawn(async move {
                while std::time::Instant::now() < until {
                    store.audit_records_for_participant("P1", 0, 5).await?;
                }
                Ok::<usize, StoreError>(0)
            })
        };
        let (mut largest, mut last, mut shrank) = (0u64, 0u64, 0u32);
        while std::time::Instant::now() < until {
            let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
            if size < last {
                shrank += 1;
            }
            (largest, last) = (largest.max(size), size);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let mut appends = 0;
        for t in tasks {
            appends += t.await??;
        }
        reader.await??;
        assert!(
            appends > 1_000,
            "the writers kept writing ({appends} appends)"
        );
        assert!(
            shrank > 0,
            "the WAL never started over: {largest} bytes after {appends} appends"
        );
        assert!(
            largest < 16 * limit,
            "the WAL reached {largest} bytes (limit {limit}) in {appends} appends"
        );
        assert!(store.verify_chains().await?.is_intact());
        Ok(())
    }

    /// `first`, then `pairs` (appends of two rows each, in any order), are the rows
    /// `1..=rows`, each once, each pair's two rows consecutive.
    fn every_row_once(first: Vec<i64>, pairs: Vec<Vec<i64>>, rows: i64) {
        let mut all = first;
        for written in pairs {
            assert_eq!(written.len(), 2);
            assert_eq!(written[1], written[0] + 1, "a batch's rows are consecutive");
            all.extend(written);
        }
        all.sort_unstable();
        assert_eq!(
            all,
            (1..=rows).collect::<Vec<i64>>(),
            "every row once, no gap"
        );
    }

    /// Two handles on one SQLite file (two processes, as the CLI beside a serving gateway),
    /// writing in turn and at once: each batch chains after the real head (read under the
    /// write lock), so the result is one intact chain with every row once and no gap.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_handles_on_one_file_keep_one_chain() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite:{}", dir.path().join("gemj.db").display());
        let a = Store::connect(&url, &crate::StoreOptions::default()).await?;
        a.migrate().await?;
        let b = Store::connect(&url, &crate::StoreOptions::default()).await?;
        let mut n = 0;
        let mut next = |p: &str| {
            n += 1;
            event(n, p)
        };
        // In turn: every write follows a head the other handle moved.
        let mut seqs = Vec::new();
        for round in 0..6 {
            let store = if round % 2 == 0 { &a } else { &b };
            seqs.extend(store.append_audit(&[next("P1"), next("P2")]).await?);
        }
        assert_eq!(seqs, (1..=12).collect::<Vec<i64>>());
        // At once, from both handles.
        let batches: Vec<Vec<AuditEvent>> = (0..40).map(|_| vec![next("P3"), next("P1")]).collect();
        let writes = batches
            .iter()
            .enumerate()
            .map(|(i, batch)| if i % 2 == 0 { &a } else { &b }.append_audit(batch));
        let pairs = futures_util::future::join_all(writes)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        every_row_once(seqs, pairs, 92);
        assert!(a.verify_chains().await?.is_intact());
        assert!(b.verify_chains().await?.is_intact());
        assert_eq!(a.audit_rows(0, 1000).await?.len(), 92);
        Ok(())
    }

    /// The audit writer's path (`append_audit_owned`: the direct connection when the head guess
    /// holds and every term is known, else the pool's) and the pool's path of a second handle on the same file keep one chain: each misses the other's moves of the head
    /// and chains again, in turn and at once. A closed store refuses the direct path.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_appends_keep_one_chain_with_another_writer()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite:{}", dir.path().join("gemj.db").display());
        let a = Store::connect(&url, &crate::StoreOptions::default()).await?;
        a.migrate().await?;
        let b = Store::connect(&url, &crate::StoreOptions::default()).await?;
        let direct = |batch: Vec<AuditEvent>| {
            let a = a.clone();
            tokio::spawn(async move { a.append_audit_owned(batch).await })
        };
        let mut n = 0;
        let mut next = |p: &str| {
            n += 1;
            event(n, p)
        };
        // In turn with the other handle: every append of `a` misses its guess.
        let mut seqs = Vec::new();
        for round in 0..8 {
            let batch = vec![next("P1"), next("P2")];
            seqs.extend(if round % 2 == 0 {
                direct(batch).await??
            } else {
                b.append_audit(&batch).await?
            });
        }
        // In a row: the guess holds and the terms are known, so the direct connection writes.
        for _ in 0..5 {
            seqs.extend(direct(vec![next("P1"), next("P2")]).await??);
        }
        assert!(
            a.writer.lock().await.has_direct(),
            "the direct path was taken"
        );
        // A participant not seen before: a new term, through the async path.
        seqs.extend(direct(vec![next("P9")]).await??);
        assert_eq!(seqs, (1..=27).collect::<Vec<i64>>());
        // At once, from both handles.
        let mut waiting = Vec::new();
        for i in 0..30 {
            let batch = vec![next("P3"), next("P1")];
            waiting.push(if i % 2 == 0 {
                direct(batch)
            } else {
                let b = b.clone();
                tokio::spawn(async move { b.append_audit(&batch).await })
            });
        }
        let mut pairs = Vec::new();
        for w in waiting {
            pairs.push(w.await??);
        }
        every_row_once(seqs, pairs, 87);
        assert!(a.verify_chains().await?.is_intact());
        assert_eq!(b.audit_rows(0, 1000).await?.len(), 87);
        let p1 = b.audit_records_for_participant("P1", 0, 1000).await?;
        assert_eq!(p1.len(), 8 + 5 + 30, "each append named its participants");
        a.close().await;
        assert!(direct(vec![next("P1")]).await?.is_err());
        Ok(())
    }
}
