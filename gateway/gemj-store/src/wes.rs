//! WES runs (migration 0011): the rows behind `/ga4gh/wes/v1`, and the owners of objects only
//! one caller may see (a run's outputs).

use crate::{Store, StoreError, with_pool, with_tx, with_write};

/// A stored run. JSON columns are kept as text: their shape is the service's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WesRunRow {
    /// Paging order (increasing with creation).
    pub seq: i64,
    /// The run's id.
    pub run_id: String,
    /// Who owns it (`issuer#subject`).
    pub owner: String,
    /// Its WES state.
    pub state: String,
    /// The `RunRequest`, as JSON.
    pub request: String,
    /// The engine that runs it.
    pub engine: String,
    /// The gateway instance whose process runs it.
    pub instance: String,
    /// Its inputs (JSON).
    pub inputs: String,
    /// When it was accepted (RFC 3339).
    pub created_at: String,
    /// When its engine started.
    pub start_time: Option<String>,
    /// When it stopped.
    pub end_time: Option<String>,
    /// The engine's exit code.
    pub exit_code: Option<i32>,
    /// Its outputs (JSON).
    pub outputs: Option<String>,
    /// Its log and tasks (JSON).
    pub log: String,
    /// When its instance last said it runs it (seconds since the epoch).
    pub heartbeat: i64,
}

/// The owner of an object only it may see (a WES output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectOwner {
    /// The object.
    pub object: String,
    /// Its owner (`issuer#subject`).
    pub owner: String,
    /// The run that made it.
    pub run_id: String,
    /// The project it belongs to (migration 0013): callers with an approval in force for it
    /// read it too. `None`: its owner alone.
    pub project: Option<String>,
    /// Held until the committee releases it.
    pub held: bool,
    /// Who released it.
    pub released_by: Option<String>,
    /// When.
    pub released_at: Option<String>,
}

/// `sqlx::FromRow` for a row struct whose fields are read by their column names, on either
/// backend (what `#[derive(sqlx::FromRow)]` writes, without sqlx's proc macros: see
/// `build.rs`).
macro_rules! from_row {
    ($row:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for $row
        where
            &'r str: sqlx::ColumnIndex<R>,
            $($ty: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,)*
        {
            fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
                Ok(Self {
                    $($field: row.try_get(stringify!($field))?,)*
                })
            }
        }
    };
}

from_row!(WesRunRow {
    seq: i64,
    run_id: String,
    owner: String,
    state: String,
    request: String,
    engine: String,
    instance: String,
    inputs: String,
    created_at: String,
    start_time: Option<String>,
    end_time: Option<String>,
    exit_code: Option<i32>,
    outputs: Option<String>,
    log: String,
    heartbeat: i64,
});

from_row!(ObjectOwner {
    object: String,
    owner: String,
    run_id: String,
    project: Option<String>,
    held: bool,
    released_by: Option<String>,
    released_at: Option<String>,
});

/// What a state change also sets (each `None` keeps the stored value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WesRunChange {
    /// The start time.
    pub start_time: Option<String>,
    /// The end time.
    pub end_time: Option<String>,
    /// The exit code.
    pub exit_code: Option<i32>,
    /// The outputs (JSON).
    pub outputs: Option<String>,
    /// The log (JSON).
    pub log: Option<String>,
}

/// The columns of [`WesRunRow`], for `concat!` (queries are static strings).
macro_rules! columns {
    () => {
        "seq, run_id, owner, state, request, engine, instance, inputs, created_at, start_time, \
         end_time, exit_code, outputs, log, heartbeat"
    };
}

impl Store {
    /// Stores a new run (its `seq` is assigned; the one given is ignored).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the id is taken.
    pub async fn insert_wes_run(&self, run: &WesRunRow) -> Result<(), StoreError> {
        let done = with_write!(self, |p| {
            sqlx::query(
                "INSERT INTO wes_runs (run_id, owner, state, request, engine, instance, inputs, \
                   created_at, start_time, end_time, exit_code, outputs, log, heartbeat) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (run_id) DO NOTHING",
            )
            .bind(&run.run_id)
            .bind(&run.owner)
            .bind(&run.state)
            .bind(&run.request)
            .bind(&run.engine)
            .bind(&run.instance)
            .bind(&run.inputs)
            .bind(&run.created_at)
            .bind(&run.start_time)
            .bind(&run.end_time)
            .bind(run.exit_code)
            .bind(&run.outputs)
            .bind(&run.log)
            .bind(run.heartbeat)
            .execute(p)
            .await?
            .rows_affected()
        });
        if done == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                entity: "wes run",
                id: run.run_id.clone(),
            })
        }
    }

    /// A run by id.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn wes_run(&self, run_id: &str) -> Result<Option<WesRunRow>, StoreError> {
        Ok(with_pool!(self, |p| {
            sqlx::query_as::<_, WesRunRow>(concat!(
                "SELECT ",
                columns!(),
                " FROM wes_runs WHERE run_id = $1"
            ))
            .bind(run_id)
            .fetch_optional(p)
            .await?
        }))
    }

    /// An owner's runs, newest first, those before `before_seq` when given, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn wes_runs_of(
        &self,
        owner: &str,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<WesRunRow>, StoreError> {
        Ok(with_pool!(self, |p| {
            sqlx::query_as::<_, WesRunRow>(concat!(
                "SELECT ",
                columns!(),
                " FROM wes_runs WHERE owner = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
            ))
            .bind(owner)
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(p)
            .await?
        }))
    }

    /// The runs in one of `states`, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn wes_runs_in(&self, states: &[&str]) -> Result<Vec<WesRunRow>, StoreError> {
        let list = crate::convert::json_list(states.iter().copied());
        Ok(with_pool!(self, |p, pg| {
            let sql = if pg {
                concat!(
                    "SELECT ",
                    columns!(),
                    " FROM wes_runs WHERE state IN (SELECT json_array_elements_text($1::json)) \
                     ORDER BY seq"
                )
            } else {
                concat!(
                    "SELECT ",
                    columns!(),
                    " FROM wes_runs WHERE state IN (SELECT value FROM json_each($1)) ORDER BY seq"
                )
            };
            sqlx::query_as::<_, WesRunRow>(sql)
                .bind(list)
                .fetch_all(p)
                .await?
        }))
    }

    /// Records that this instance still runs `run_ids`, at `now` (seconds since the epoch).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn touch_wes_runs(&self, run_ids: &[String], now: i64) -> Result<(), StoreError> {
        if run_ids.is_empty() {
            return Ok(());
        }
        let list = crate::convert::json_list(run_ids.iter().map(String::as_str));
        with_write!(self, |p, pg| {
            sqlx::query(if pg {
                "UPDATE wes_runs SET heartbeat = $1 \
                 WHERE run_id IN (SELECT json_array_elements_text($2::json))"
            } else {
                "UPDATE wes_runs SET heartbeat = $1 WHERE run_id IN (SELECT value FROM json_each($2))"
            })
            .bind(now)
            .bind(list)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// How many runs an owner has in each state.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn wes_state_counts(&self, owner: &str) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT state, COUNT(*) FROM wes_runs WHERE owner = $1 GROUP BY state \
                 ORDER BY state",
            )
            .bind(owner)
            .fetch_all(p)
            .await?
        }))
    }

    /// Moves a run to `to` if it is in one of `from` (so two instances, or a cancel and the
    /// engine's exit, never both win), setting what `change` sets; `false` when it was not in
    /// one of them.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn change_wes_run(
        &self,
        run_id: &str,
        from: &[&str],
        to: &str,
        change: &WesRunChange,
    ) -> Result<bool, StoreError> {
        let list = crate::convert::json_list(from.iter().copied());
        let n = with_write!(self, |p, pg| {
            macro_rules! update {
                ($states:literal) => {
                    concat!(
                        "UPDATE wes_runs SET state = $1, start_time = COALESCE($2, start_time), \
                           end_time = COALESCE($3, end_time), \
                           exit_code = COALESCE($4, exit_code), \
                           outputs = COALESCE($5, outputs), log = COALESCE($6, log) \
                         WHERE run_id = $7 AND state IN ",
                        $states
                    )
                };
            }
            let sql = if pg {
                update!("(SELECT json_array_elements_text($8::json))")
            } else {
                update!("(SELECT value FROM json_each($8))")
            };
            sqlx::query(sql)
                .bind(to)
                .bind(&change.start_time)
                .bind(&change.end_time)
                .bind(change.exit_code)
                .bind(&change.outputs)
                .bind(&change.log)
                .bind(run_id)
                .bind(list)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Records that `object` belongs to `owner` (an output of `run_id`) and, when given, to
    /// the members of `project`, `held` until released when it derives from analysis-only
    /// inputs. Call it before the object is stored: an owned object is never visible to
    /// anyone else.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the object has another owner.
    pub async fn set_object_owner(
        &self,
        object: &gemj_model::ObjectId,
        owner: &str,
        project: Option<&str>,
        run_id: &str,
        held: bool,
    ) -> Result<(), StoreError> {
        with_write!(self, |p| {
            sqlx::query(
                "INSERT INTO object_owners (object, owner, project, run_id, held) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (object) DO NOTHING",
            )
            .bind(object.as_str())
            .bind(owner)
            .bind(project)
            .bind(run_id)
            .bind(held)
            .execute(p)
            .await?;
        });
        match self.object_owner(object).await? {
            Some(o) if o.owner == owner && o.project.as_deref() == project => Ok(()),
            _ => Err(StoreError::Conflict {
                entity: "object owner",
                id: object.as_str().to_owned(),
            }),
        }
    }

    /// The owner of an object only one caller may see; `None` for every other object.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn object_owner(
        &self,
        object: &gemj_model::ObjectId,
    ) -> Result<Option<ObjectOwner>, StoreError> {
        Ok(with_pool!(self, |p| {
            sqlx::query_as::<_, ObjectOwner>(
                "SELECT object, owner, run_id, project, held, released_by, released_at FROM object_owners \
                 WHERE object = $1",
            )
            .bind(object.as_str())
            .fetch_optional(p)
            .await?
        }))
    }

    /// The owned objects still held for the committee's release, in id order.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn held_objects(&self) -> Result<Vec<ObjectOwner>, StoreError> {
        Ok(with_pool!(self, |p| {
            sqlx::query_as::<_, ObjectOwner>(
                "SELECT object, owner, run_id, project, held, released_by, released_at FROM object_owners \
                 WHERE held ORDER BY object",
            )
            .fetch_all(p)
            .await?
        }))
    }

    /// Releases a held object (recording who released it, and when) and moves the catalogue
    /// epoch with it, so every instance's cache sees it at once; `false` when it was not held.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn release_object(
        &self,
        object: &gemj_model::ObjectId,
        by: &str,
    ) -> Result<bool, StoreError> {
        let now = crate::convert::now_rfc3339();
        let released = with_tx!(self, |tx| {
            let n = sqlx::query(
                "UPDATE object_owners SET held = FALSE, released_by = $2, released_at = $3 \
                 WHERE object = $1 AND held",
            )
            .bind(object.as_str())
            .bind(by)
            .bind(now.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                // The catalogue triggers bump the epoch on any change to the object's row.
                sqlx::query("UPDATE data_objects SET updated_at = $2 WHERE id = $1")
                    .bind(object.as_str())
                    .bind(now.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            n == 1
        });
        if released {
            self.catalogue_written();
        }
        Ok(released)
    }
}
