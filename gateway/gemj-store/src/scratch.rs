//! A scratch database for one query: a fresh in-memory SQLite that holds only the tables handed
//! in (the rows one caller may see), is made read-only once they are loaded, and runs one
//! checked query under a deadline (SQLite's progress handler interrupts it) and a row cap.
//! Data Connect's searches run here; nothing of the store is reachable from it (another
//! connection, another database, no `ATTACH`: the query was checked to be one `SELECT`).

use std::str::FromStr;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Column, Connection, Row, TypeInfo, ValueRef};

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
    /// SQLite itself failed (connecting, loading).
    #[error("scratch database failed")]
    Engine(#[source] sqlx::Error),
}

fn plain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

async fn load(conn: &mut SqliteConnection, tables: &[ScratchTable]) -> Result<(), ScratchError> {
    let mut tx = conn.begin().await.map_err(ScratchError::Engine)?;
    for t in tables {
        if !plain(&t.name) || !t.columns.iter().all(|(c, _)| plain(c)) {
            return Err(ScratchError::BadTable("a name is not a plain identifier"));
        }
        let columns: Vec<String> = t
            .columns
            .iter()
            .map(|(c, ty)| format!("\"{c}\" {}", ty.sql()))
            .collect();
        let create = format!("CREATE TABLE \"{}\" ({})", t.name, columns.join(", "));
        sqlx::query(AssertSqlSafe(create))
            .execute(&mut *tx)
            .await
            .map_err(ScratchError::Engine)?;
        let marks = vec!["?"; t.columns.len()].join(", ");
        let insert = format!("INSERT INTO \"{}\" VALUES ({marks})", t.name);
        for row in &t.rows {
            if row.len() != t.columns.len() {
                return Err(ScratchError::BadTable(
                    "a row's width differs from its columns",
                ));
            }
            let mut q = sqlx::query(AssertSqlSafe(insert.as_str()));
            for v in row {
                q = bind(q, v);
            }
            q.execute(&mut *tx).await.map_err(ScratchError::Engine)?;
        }
    }
    tx.commit().await.map_err(ScratchError::Engine)
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

fn bind<'q>(q: Query<'q>, v: &ScratchValue) -> Query<'q> {
    match v {
        ScratchValue::Null => q.bind(None::<i64>),
        ScratchValue::Integer(i) => q.bind(*i),
        ScratchValue::Real(r) => q.bind(*r),
        ScratchValue::Text(s) => q.bind(s.clone()),
    }
}

fn value(row: &SqliteRow, i: usize) -> Result<ScratchValue, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(ScratchValue::Null);
    }
    let ty = raw.type_info().name().to_owned();
    Ok(match ty.as_str() {
        "INTEGER" | "BOOLEAN" => ScratchValue::Integer(row.try_get(i)?),
        "REAL" | "NUMERIC" => ScratchValue::Real(row.try_get(i)?),
        "TEXT" => ScratchValue::Text(row.try_get(i)?),
        // A BLOB cannot come from the tables or the allowed functions; shown as its length.
        _ => ScratchValue::Text(format!(
            "<{} bytes>",
            row.try_get::<Vec<u8>, _>(i).map(|b| b.len()).unwrap_or(0)
        )),
    })
}

fn failure(e: sqlx::Error, deadline: Duration) -> ScratchError {
    match e {
        sqlx::Error::Database(db) => {
            let message = db.message().to_owned();
            // SQLITE_INTERRUPT's own message (a column named `interrupted` is another error).
            if message == "interrupted" {
                ScratchError::Deadline(deadline)
            } else {
                ScratchError::Query(message)
            }
        }
        other => ScratchError::Engine(other),
    }
}

/// Loads `tables` into a fresh in-memory SQLite, makes it read-only, and runs `sql` (one
/// checked `SELECT` over those tables) with `parameters` bound to its `?`s.
///
/// # Errors
/// [`ScratchError`]: the engine's refusal, the deadline, the row cap, or a failure of SQLite.
pub async fn run_scratch(
    tables: &[ScratchTable],
    sql: &str,
    parameters: &[ScratchValue],
    limits: ScratchLimits,
) -> Result<ScratchResult, ScratchError> {
    let options = SqliteConnectOptions::from_str("sqlite::memory:")
        .map_err(ScratchError::Engine)?
        .pragma("trusted_schema", "OFF");
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(ScratchError::Engine)?;
    let outcome = run_on(&mut conn, tables, sql, parameters, limits).await;
    let _ = conn.close().await;
    outcome
}

async fn run_on(
    conn: &mut SqliteConnection,
    tables: &[ScratchTable],
    sql: &str,
    parameters: &[ScratchValue],
    limits: ScratchLimits,
) -> Result<ScratchResult, ScratchError> {
    load(conn, tables).await?;
    sqlx::query("PRAGMA query_only = ON")
        .execute(&mut *conn)
        .await
        .map_err(ScratchError::Engine)?;
    let deadline = Instant::now() + limits.deadline;
    conn.lock_handle()
        .await
        .map_err(ScratchError::Engine)?
        .set_progress_handler(1_000, move || Instant::now() < deadline);
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for p in parameters {
        q = bind(q, p);
    }
    let mut stream = q.fetch(&mut *conn);
    let mut columns: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    while let Some(row) = stream
        .try_next()
        .await
        .map_err(|e| failure(e, limits.deadline))?
    {
        if rows.len() == limits.max_rows {
            return Err(ScratchError::TooManyRows(limits.max_rows));
        }
        if columns.is_none() {
            columns = Some(row.columns().iter().map(|c| c.name().to_owned()).collect());
        }
        let values = (0..row.len())
            .map(|i| value(&row, i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failure(e, limits.deadline))?;
        rows.push(values);
    }
    drop(stream);
    let columns = match columns {
        Some(c) => c,
        // No row: the statement's own column names.
        None => {
            use sqlx::{Executor as _, Statement as _};
            conn.prepare(sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(sql)))
                .await
                .map_err(|e| failure(e, limits.deadline))?
                .columns()
                .iter()
                .map(|c| c.name().to_owned())
                .collect()
        }
    };
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
            &[table()],
            "SELECT sex, participants * 2 AS twice FROM t0 WHERE sex <> ? ORDER BY sex",
            &[ScratchValue::Text("other".into())],
            LIMITS,
        )
        .await;
        let r = r?;
        assert_eq!(r.columns, ["sex", "twice"]);
        assert_eq!(r.rows[0][1], ScratchValue::Integer(20));
        assert_eq!(r.rows.len(), 2);
        let r = run_scratch(
            &[table()],
            "SELECT sum(participants) AS n, avg(participants) AS a FROM t0 WHERE 0",
            &[],
            LIMITS,
        )
        .await?;
        assert_eq!(r.rows, [vec![ScratchValue::Null, ScratchValue::Null]]);
        let r = run_scratch(&[table()], "SELECT sex FROM t0 WHERE 0", &[], LIMITS).await?;
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
            let e = run_scratch(&[table()], sql, &[], LIMITS).await;
            assert!(matches!(e, Err(ScratchError::Query(_))), "{sql}: {e:?}");
        }
        // load_extension is not enabled.
        let e = run_scratch(
            &[table()],
            "SELECT load_extension('/nonexistent')",
            &[],
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
            std::slice::from_ref(&big),
            "SELECT count(*) FROM t0 a, t0 b, t0 c, t0 d WHERE a.participants + b.participants + c.participants + d.participants = -1",
            &[],
            ScratchLimits {
                deadline: Duration::from_millis(200),
                ..LIMITS
            },
        )
        .await;
        assert!(matches!(e, Err(ScratchError::Deadline(_))), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let e = run_scratch(&[big], "SELECT * FROM t0", &[], LIMITS).await;
        assert!(matches!(e, Err(ScratchError::TooManyRows(100))), "{e:?}");
    }

    #[tokio::test]
    async fn names_that_are_not_plain_are_refused() {
        let mut t = table();
        t.name = "t0\"; DROP".into();
        assert!(matches!(
            run_scratch(&[t], "SELECT 1", &[], LIMITS).await,
            Err(ScratchError::BadTable(_))
        ));
    }
}
