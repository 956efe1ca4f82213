//! A scratch database for one query: a fresh in-memory SQLite that holds only the tables handed
//! in (the rows one caller may see), is made read-only once they are loaded, and runs one
//! checked query under a deadline (SQLite's progress handler interrupts it) and a row cap.
//! Data Connect's searches run here; nothing of the store is reachable from it (another
//! connection, another database, no `ATTACH`: the query was checked to be one `SELECT`).
//!
//! The whole run (open, load, query, close) is one blocking task on its own connection
//! (rusqlite, the SQLite the store links): one hand-off from the caller's task and back, where a
//! connection of sqlx's would cost a thread of its own and a round trip per row loaded.

use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, ToSql};

/// A value of a scratch table or result.
#[derive(Debug, Clone, PartialEq)]
pub enum ScratchValue {
    /// SQL NULL.
    Null,
    /// An integer.
    Integer(i64),
    /// A real.
    Real(f64),
    /// Text.
    Text(String),
}

impl ToSql for ScratchValue {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(match self {
            Self::Null => ValueRef::Null,
            Self::Integer(i) => ValueRef::Integer(*i),
            Self::Real(r) => ValueRef::Real(*r),
            Self::Text(t) => ValueRef::Text(t.as_bytes()),
        }))
    }
}

/// The declared type of a scratch column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScratchType {
    /// `INTEGER`.
    Integer,
    /// `REAL`.
    Real,
    /// `TEXT`.
    Text,
}

impl ScratchType {
    fn sql(self) -> &'static str {
        match self {
            Self::Integer => "INTEGER",
            Self::Real => "REAL",
            Self::Text => "TEXT",
        }
    }
}

/// One table to load: its name (an internal name the caller chose: letters, digits and `_`),
/// columns and rows.
#[derive(Debug, Clone)]
pub struct ScratchTable {
    /// The internal name.
    pub name: String,
    /// Column names (letters, digits and `_`) and types.
    pub columns: Vec<(String, ScratchType)>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<ScratchValue>>,
}

/// Bounds of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScratchLimits {
    /// The most result rows.
    pub max_rows: usize,
    /// How long the query may run.
    pub deadline: Duration,
}

/// A query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ScratchResult {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<ScratchValue>>,
}

/// Why a scratch query failed.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    /// The engine refused the query (an unknown column, a type error): its message, which
    /// names the query's own identifiers and never a value of the data.
    #[error("{0}")]
    Query(String),
    /// It ran past the deadline and was interrupted.
    #[error("the query ran longer than {0:?}")]
    Deadline(Duration),
    /// It returned more rows than the cap.
    #[error("the query returned more than {0} rows")]
    TooManyRows(usize),
    /// Every slot for a query stayed taken for as long as a query may run.
    #[error("too many queries are running; retry shortly")]
    Busy,
    /// A name handed in is not a plain identifier, or a row has the wrong width (a defect of the
    /// caller).
    #[error("bad scratch table: {0}")]
    BadTable(&'static str),
    /// SQLite itself failed (opening, loading), or the blocking task was lost.
    #[error("scratch database failed: {0}")]
    Engine(String),
}

fn plain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

fn engine(e: &rusqlite::Error) -> ScratchError {
    ScratchError::Engine(e.to_string())
}

fn load(conn: &mut Connection, tables: &[ScratchTable]) -> Result<(), ScratchError> {
    let tx = conn.transaction().map_err(|e| engine(&e))?;
    for t in tables {
        if !plain(&t.name) || !t.columns.iter().all(|(c, _)| plain(c)) {
            return Err(ScratchError::BadTable("a name is not a plain identifier"));
        }
        let columns: Vec<String> = t
            .columns
            .iter()
            .map(|(c, ty)| format!("\"{c}\" {}", ty.sql()))
            .collect();
        tx.execute_batch(&format!(
            "CREATE TABLE \"{}\" ({})",
            t.name,
            columns.join(", ")
        ))
        .map_err(|e| engine(&e))?;
        let marks = vec!["?"; t.columns.len()].join(", ");
        let mut insert = tx
            .prepare(&format!("INSERT INTO \"{}\" VALUES ({marks})", t.name))
            .map_err(|e| engine(&e))?;
        for row in &t.rows {
            if row.len() != t.columns.len() {
                return Err(ScratchError::BadTable(
                    "a row's width differs from its columns",
                ));
            }
            insert
                .execute(rusqlite::params_from_iter(row))
                .map_err(|e| engine(&e))?;
        }
    }
    tx.commit().map_err(|e| engine(&e))
}

fn value(v: ValueRef<'_>) -> ScratchValue {
    match v {
        ValueRef::Null => ScratchValue::Null,
        ValueRef::Integer(i) => ScratchValue::Integer(i),
        ValueRef::Real(r) => ScratchValue::Real(r),
        ValueRef::Text(t) => ScratchValue::Text(String::from_utf8_lossy(t).into_owned()),
        // A BLOB cannot come from the tables or the allowed functions; shown as its length.
        ValueRef::Blob(b) => ScratchValue::Text(format!("<{} bytes>", b.len())),
    }
}

/// A failure of the query itself: the engine's message, or the deadline.
fn failure(e: rusqlite::Error, deadline: Duration) -> ScratchError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            ScratchError::Deadline(deadline)
        }
        rusqlite::Error::SqliteFailure(_, Some(message)) => ScratchError::Query(message),
        rusqlite::Error::MultipleStatement => {
            ScratchError::Query("a search is one statement".to_owned())
        }
        rusqlite::Error::InvalidParameterCount(given, wanted) => ScratchError::Query(format!(
            "the query has {wanted} placeholders and {given} parameters were given"
        )),
        other => ScratchError::Engine(other.to_string()),
    }
}

/// Loads `tables` into a fresh in-memory SQLite, makes it read-only, and runs `sql` (one
/// checked `SELECT` over those tables) with `parameters` bound to its `?`s, on a blocking
/// thread.
///
/// # Errors
/// [`ScratchError`]: the engine's refusal, the deadline, the row cap, or a failure of SQLite.
pub async fn run_scratch(
    tables: Vec<ScratchTable>,
    sql: String,
    parameters: Vec<ScratchValue>,
    limits: ScratchLimits,
) -> Result<ScratchResult, ScratchError> {
    tokio::task::spawn_blocking(move || run_blocking(&tables, &sql, &parameters, limits))
        .await
        .map_err(|e| ScratchError::Engine(format!("the scratch task ended: {e}")))?
}

fn run_blocking(
    tables: &[ScratchTable],
    sql: &str,
    parameters: &[ScratchValue],
    limits: ScratchLimits,
) -> Result<ScratchResult, ScratchError> {
    let mut conn = Connection::open_in_memory_with_flags(
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| engine(&e))?;
    conn.execute_batch("PRAGMA trusted_schema = OFF")
        .map_err(|e| engine(&e))?;
    load(&mut conn, tables)?;
    conn.execute_batch("PRAGMA query_only = ON")
        .map_err(|e| engine(&e))?;
    let deadline = Instant::now() + limits.deadline;
    conn.progress_handler(1_000, Some(move || Instant::now() >= deadline))
        .map_err(|e| engine(&e))?;
    let mut statement = conn.prepare(sql).map_err(|e| failure(e, limits.deadline))?;
    let columns: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let width = columns.len();
    let mut cursor = statement
        .query(rusqlite::params_from_iter(parameters))
        .map_err(|e| failure(e, limits.deadline))?;
    let mut rows = Vec::new();
    while let Some(row) = cursor.next().map_err(|e| failure(e, limits.deadline))? {
        if rows.len() == limits.max_rows {
            return Err(ScratchError::TooManyRows(limits.max_rows));
        }
        let values = (0..width)
            .map(|i| row.get_ref(i).map(value))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failure(e, limits.deadline))?;
        rows.push(values);
    }
    Ok(ScratchResult { columns, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> ScratchTable {
        ScratchTable {
            name: "t0".into(),
            columns: vec![
                ("sex".into(), ScratchType::Text),
                ("participants".into(), ScratchType::Integer),
            ],
            rows: vec![
                vec![
                    ScratchValue::Text("female".into()),
                    ScratchValue::Integer(10),
                ],
                vec![ScratchValue::Text("male".into()), ScratchValue::Integer(5)],
                vec![ScratchValue::Text("other".into()), ScratchValue::Null],
            ],
        }
    }

    const LIMITS: ScratchLimits = ScratchLimits {
        max_rows: 100,
        deadline: Duration::from_secs(2),
    };

    #[tokio::test]
    async fn a_query_runs_over_the_rows_handed_in() -> Result<(), ScratchError> {
        let r = run_scratch(
            vec![table()],
            "SELECT sex, participants * 2 AS twice FROM t0 WHERE sex <> ? ORDER BY sex".into(),
            vec![ScratchValue::Text("other".into())],
            LIMITS,
        )
        .await;
        let r = r?;
        assert_eq!(r.columns, ["sex", "twice"]);
        assert_eq!(r.rows[0][1], ScratchValue::Integer(20));
        assert_eq!(r.rows.len(), 2);
        let r = run_scratch(
            vec![table()],
            "SELECT sum(participants) AS n, avg(participants) AS a FROM t0 WHERE 0".into(),
            vec![],
            LIMITS,
        )
        .await?;
        assert_eq!(r.rows, [vec![ScratchValue::Null, ScratchValue::Null]]);
        let r = run_scratch(
            vec![table()],
            "SELECT sex FROM t0 WHERE 0".into(),
            vec![],
            LIMITS,
        )
        .await?;
        assert_eq!(r.columns, ["sex"]);
        assert!(r.rows.is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn the_scratch_database_is_read_only_and_alone() {
        for sql in [
            "INSERT INTO t0 VALUES ('x', 1)",
            "DROP TABLE t0",
            "SELECT * FROM nowhere",
            "SELECT nothing FROM t0",
        ] {
            let e = run_scratch(vec![table()], sql.into(), vec![], LIMITS).await;
            assert!(matches!(e, Err(ScratchError::Query(_))), "{sql}: {e:?}");
        }
        // load_extension is not enabled.
        let e = run_scratch(
            vec![table()],
            "SELECT load_extension('/nonexistent')".into(),
            vec![],
            LIMITS,
        )
        .await;
        assert!(matches!(e, Err(ScratchError::Query(_))), "{e:?}");
    }

    #[tokio::test]
    async fn a_runaway_query_is_interrupted_and_a_large_one_capped() {
        let big = ScratchTable {
            rows: (0..300)
                .map(|i| {
                    vec![
                        ScratchValue::Text(format!("s{i}")),
                        ScratchValue::Integer(i),
                    ]
                })
                .collect(),
            ..table()
        };
        let started = Instant::now();
        let e = run_scratch(
            vec![big.clone()],
            "SELECT count(*) FROM t0 a, t0 b, t0 c, t0 d WHERE a.participants + b.participants + c.participants + d.participants = -1".into(),
            vec![],
            ScratchLimits {
                deadline: Duration::from_millis(200),
                ..LIMITS
            },
        )
        .await;
        assert!(matches!(e, Err(ScratchError::Deadline(_))), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let e = run_scratch(vec![big], "SELECT * FROM t0".into(), vec![], LIMITS).await;
        assert!(matches!(e, Err(ScratchError::TooManyRows(100))), "{e:?}");
    }

    #[tokio::test]
    async fn names_that_are_not_plain_are_refused() {
        let mut t = table();
        t.name = "t0\"; DROP".into();
        assert!(matches!(
            run_scratch(vec![t], "SELECT 1".into(), vec![], LIMITS).await,
            Err(ScratchError::BadTable(_))
        ));
    }
}
