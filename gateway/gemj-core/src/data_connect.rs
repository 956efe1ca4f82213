//! GA4GH Data Connect 1.0 over the catalogue: aggregate tables (datasets, and participants by
//! sex, age band, diagnosis, specimen type, data type and consent scope, and biobank samples),
//! each row one dataset's cell, built per caller from the same consent-filtered discovery views
//! Beacon answers from, and reported at that caller's level of the dataset: exact at record
//! level, rounded with small cells left out at count level, presence only at boolean level
//! (see `docs/PRIVACY.md`). A search is one allow-listed `SELECT` over these tables
//! (`gemj_data_connect::sql`), run in a scratch database holding only the caller's rows
//! (`gemj_store::scratch`), under a deadline and a row cap, and paged: every page re-runs the
//! query under the caller's current rights, so a withdrawal or a revoked approval applies to
//! the next page at once, and any replica can serve any page.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gemj_data_connect::sql::{self, Limits, SqlError};
use gemj_data_connect::{
    ColumnDef, ColumnType, ErrorItem, ListTablesResponse, SearchRequest, Table, TableDef,
    result_model,
};
use gemj_store::scratch::{
    ScratchError, ScratchLimits, ScratchTable, ScratchType, ScratchValue, run_scratch,
};
use serde_json::{Map, Value};

use crate::access::{Principal, RequestContext};
use crate::beacon::network::{BeaconNetwork, MemberTables};
use crate::beacon::privacy::DatasetPrivacy;
use crate::beacon::{Beacon, BeaconFailure};

/// Settings of the Data Connect service (`data_connect` in the configuration).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct DataConnectSettings {
    /// Rows per page.
    pub page_size: usize,
    /// The most rows a query may produce (over every page); more is refused, asking for a
    /// narrower query.
    pub max_rows: usize,
    /// How long one run of a query may take, milliseconds.
    pub deadline_ms: u64,
    /// The longest query, bytes.
    pub max_query_bytes: usize,
    /// Queries run at once on this instance; more wait (at most the deadline, then 503).
    pub max_concurrent: usize,
}

impl Default for DataConnectSettings {
    fn default() -> Self {
        Self {
            page_size: 100,
            max_rows: 10_000,
            deadline_ms: 2_000,
            max_query_bytes: 8 * 1024,
            max_concurrent: 4,
        }
    }
}

/// Why a search was not answered.
#[derive(Debug)]
pub enum DataConnectFailure {
    /// The SQL was refused by the check (400).
    Sql(SqlError),
    /// The engine refused or bounded the query (400).
    Query(ScratchError),
    /// A parameter is not a string, number, boolean or null (400).
    Parameter(usize),
    /// A Beacon-side refusal (the query budget: 429) or the gateway's own failure.
    Beacon(BeaconFailure),
}

impl From<BeaconFailure> for DataConnectFailure {
    fn from(e: BeaconFailure) -> Self {
        Self::Beacon(e)
    }
}

impl From<crate::CoreError> for DataConnectFailure {
    fn from(e: crate::CoreError) -> Self {
        Self::Beacon(BeaconFailure::Core(e))
    }
}

/// The published tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogueTable {
    /// One row per dataset.
    Datasets,
    /// Participants by administrative sex.
    BySex,
    /// Participants by age band.
    ByAgeBand,
    /// Participants by ICD-10 category.
    ByDiagnosis,
    /// Participants and samples by specimen type.
    BySpecimenType,
    /// Participants by sequencing strategy.
    ByDataType,
    /// Participants by consent scope.
    ByConsentScope,
    /// Biobank samples by biobank and specimen type.
    BiobankSamples,
}

const fn col(
    name: &'static str,
    column_type: ColumnType,
    nullable: bool,
    description: &'static str,
) -> ColumnDef {
    ColumnDef {
        name,
        column_type,
        nullable,
        description,
    }
}

const DATASET_ID: ColumnDef = col(
    "dataset_id",
    ColumnType::String,
    false,
    "The dataset the row counts in.",
);
const PARTICIPANTS: ColumnDef = col(
    "participants",
    ColumnType::Integer,
    true,
    "Participants counted: exact at record level, rounded down to `rounding` at count level, null where withheld (boolean level, or below the small-cell threshold).",
);
const SAMPLES: ColumnDef = col(
    "samples",
    ColumnType::Integer,
    true,
    "Samples counted, reported as `participants` is.",
);
const PRECISION: ColumnDef = col(
    "precision",
    ColumnType::String,
    false,
    "`exact`, `rounded` (down to a multiple of `rounding`) or `withheld`: no count is released at the caller's level (for anonymous callers a category row exists only when its cell holds at least the small-cell threshold; a dataset's row always exists, its count withheld below the threshold or at boolean level).",
);
const ROUNDING: ColumnDef = col(
    "rounding",
    ColumnType::Integer,
    true,
    "The multiple counts were rounded down to, when rounded.",
);

/// The published tables and their definitions, in `/tables` order.
pub const TABLES: [(CatalogueTable, TableDef); 8] = [
    (
        CatalogueTable::Datasets,
        TableDef {
            name: "gemj.catalogue.datasets",
            description: "The datasets of this gateway with their data-use conditions (DUO) and their consented participants at the caller's level.",
            columns: &[
                DATASET_ID,
                col("name", ColumnType::String, false, "The dataset's name."),
                col("description", ColumnType::String, false, "What it holds."),
                col(
                    "access_level",
                    ColumnType::String,
                    false,
                    "PUBLIC, REGISTERED or CONTROLLED.",
                ),
                col(
                    "data_use",
                    ColumnType::String,
                    false,
                    "Its DUO permission and modifiers, space-separated (`DUO:0000042 DUO:0000019`).",
                ),
                PARTICIPANTS,
                PRECISION,
                ROUNDING,
            ],
        },
    ),
    (
        CatalogueTable::BySex,
        TableDef {
            name: "gemj.catalogue.participants_by_sex",
            description: "Consented participants of each dataset by administrative sex.",
            columns: &[
                DATASET_ID,
                col(
                    "sex",
                    ColumnType::String,
                    false,
                    "female, male, other or unknown.",
                ),
                PARTICIPANTS,
                PRECISION,
                ROUNDING,
            ],
        },
    ),
    (
        CatalogueTable::ByAgeBand,
        TableDef {
            name: "gemj.catalogue.participants_by_age_band",
            description: "Consented participants of each dataset by age today in ten-year bands.",
            columns: &[
                DATASET_ID,
                col(
                    "age_band",
                    ColumnType::String,
                    false,
                    "`0-9`, `10-19`, ... `90+`, or `unknown` (no year of birth).",
                ),
                PARTICIPANTS,
                PRECISION,
                ROUNDING,
            ],
        },
    ),
    (
        CatalogueTable::ByDiagnosis,
        TableDef {
            name: "gemj.catalogue.participants_by_diagnosis",
            description: "Consented participants of each dataset by ICD-10 category of their diagnoses (a participant counts once per category).",
            columns: &[
                DATASET_ID,
                col(
                    "icd10_category",
                    ColumnType::String,
                    false,
                    "The three-character ICD-10 category (`C50`).",
                ),
                PARTICIPANTS,
                PRECISION,
                ROUNDING,
            ],
        },
    ),
    (
        CatalogueTable::BySpecimenType,
        TableDef {
            name: "gemj.catalogue.participants_by_specimen_type",
            description: "Consented participants of each dataset with specimens of a type, and those specimens.",
            columns: &[
                DATASET_ID,
                col(
                    "specimen_type",
                    ColumnType::String,
                    false,
                    "whole_blood, tissue, dna, rna, serum, plasma, saliva, buffy_coat or other.",
                ),
                PARTICIPANTS,
                SAMPLES,
                PRECISION,
                ROUNDING,
            ],
        },
    ),
    (
        CatalogueTable::ByDataType,
        TableDef {
            name: "gemj.catalogue.participants_by_data_type",
            description: "Consented participants of each dataset with sequencing of a strategy.",
            columns: &[
                DATASET_ID,
                col(
                    "data_type",
                    ColumnType::String,
                    false,
                    "The sequencing strategy (WGS, WXS, RNA-Seq, Targeted-Capture, ...).",
                ),
                PARTICIPANTS,
                PRECISION,
                ROUNDING,
            ],
        },
    ),
    (
        CatalogueTable::ByConsentScope,
        TableDef {
            name: "gemj.catalogue.participants_by_consent_scope",
            description: "Consented participants of each dataset whose consent includes a scope.",
            columns: &[
                DATASET_ID,
                col(
                    "scope",
                    ColumnType::String,
                    false,
                    "research_use, third_party_academia, third_party_industry, international_transfer, recontact or return_of_secondary_findings.",
                ),
                PARTICIPANTS,
                PRECISION,
                ROUNDING,
            ],
        },
    ),
    (
        CatalogueTable::BiobankSamples,
        TableDef {
            name: "gemj.catalogue.biobank_samples",
            description: "Biobank samples of consented participants of each dataset, by the biobank (institution) holding them and specimen type.",
            columns: &[
                DATASET_ID,
                col(
                    "biobank",
                    ColumnType::String,
                    false,
                    "The holding institution's id.",
                ),
                col(
                    "specimen_type",
                    ColumnType::String,
                    false,
                    "As in participants_by_specimen_type.",
                ),
                PARTICIPANTS,
                SAMPLES,
                PRECISION,
                ROUNDING,
            ],
        },
    ),
];

fn published() -> [&'static str; 8] {
    TABLES.map(|(_, d)| d.name)
}

fn scratch_type(t: ColumnType) -> ScratchType {
    match t {
        ColumnType::Integer => ScratchType::Integer,
        ColumnType::Number => ScratchType::Real,
        ColumnType::String => ScratchType::Text,
    }
}

fn json_value(v: ScratchValue) -> Value {
    match v {
        ScratchValue::Null => Value::Null,
        ScratchValue::Integer(i) => Value::from(i),
        ScratchValue::Real(r) => serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number),
        ScratchValue::Text(s) => Value::String(s),
    }
}

/// The stack of the thread that checks a query.
const CHECK_STACK_BYTES: usize = 64 * 1024 * 1024;

/// The longest string parameter, bytes.
const MAX_PARAMETER_BYTES: usize = 1024;

fn parameter(i: usize, v: &Value) -> Result<ScratchValue, DataConnectFailure> {
    Ok(match v {
        Value::Null => ScratchValue::Null,
        Value::Bool(b) => ScratchValue::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => ScratchValue::Integer(i),
            None => ScratchValue::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) if s.len() <= MAX_PARAMETER_BYTES => ScratchValue::Text(s.clone()),
        _ => return Err(DataConnectFailure::Parameter(i)),
    })
}

/// The scratch table of `TABLES[i]` with `rows`.
fn scratch_table(i: usize, rows: Vec<Vec<ScratchValue>>) -> ScratchTable {
    ScratchTable {
        name: sql::internal_name(i),
        columns: TABLES[i]
            .1
            .columns
            .iter()
            .map(|c| (c.name.to_owned(), scratch_type(c.column_type)))
            .collect(),
        rows,
    }
}

/// A member's row of `table` as the network reports it: values of the published columns only
/// (a wrong type is null; no row without a text `dataset_id`), `dataset_id` prefixed with the
/// member's id, and counts through the network's rule: a count under its small-cell threshold,
/// withheld or not a count leaves a cell out (the network cannot tell by which rule a member
/// withheld it) and leaves a dataset's row withheld; none at all where the rule answers
/// booleans; the others are rounded down. `None`: no row.
fn member_row(
    table: &TableDef,
    member: &str,
    row: &Map<String, Value>,
    privacy: &DatasetPrivacy,
) -> Option<Vec<ScratchValue>> {
    // A row that does not say which of the member's datasets it is of would read as no
    // member's: none.
    if !row.get("dataset_id").is_some_and(Value::is_string) {
        return None;
    }
    let step = privacy.round_to.max(1);
    let round = |n: u64| (n - n % step).max(step);
    let counts = privacy.max_granularity >= gemj_beacon::Granularity::Count;
    let count = match row.get("participants").and_then(Value::as_u64) {
        Some(n) if counts && privacy.count_exists(n) => Some(round(n)),
        _ if table.name.ends_with(".datasets") => None,
        _ => return None,
    };
    let int = |n: u64| ScratchValue::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    Some(
        table
            .columns
            .iter()
            .map(|c| {
                let v = row.get(c.name).unwrap_or(&Value::Null);
                match (c.name, c.column_type, v) {
                    ("dataset_id", _, Value::String(s)) => {
                        ScratchValue::Text(format!("{member}:{s}"))
                    }
                    ("participants", _, _) => count.map_or(ScratchValue::Null, int),
                    ("samples", _, v) => match (count, v.as_u64()) {
                        (Some(_), Some(n)) => int(round(n)),
                        _ => ScratchValue::Null,
                    },
                    ("precision", _, v) => ScratchValue::Text(match (count, v.as_str()) {
                        (None, _) => "withheld".to_owned(),
                        (Some(_), Some(p)) if step == 1 && p != "withheld" => p.to_owned(),
                        (Some(_), _) if step == 1 => "exact".to_owned(),
                        (Some(_), _) => "rounded".to_owned(),
                    }),
                    ("rounding", _, v) => match count {
                        None => ScratchValue::Null,
                        Some(_) if step > 1 => int(step),
                        Some(_) => v.as_u64().map_or(ScratchValue::Null, int),
                    },
                    (_, ColumnType::Integer, Value::Number(n)) => {
                        n.as_i64().map_or(ScratchValue::Null, ScratchValue::Integer)
                    }
                    (_, ColumnType::Number, Value::Number(n)) => {
                        n.as_f64().map_or(ScratchValue::Null, ScratchValue::Real)
                    }
                    (_, ColumnType::String, Value::String(s)) => ScratchValue::Text(s.clone()),
                    _ => ScratchValue::Null,
                }
            })
            .collect(),
    )
}

/// One page of a search.
#[derive(Debug, Clone)]
pub struct SearchPage {
    /// The data model of the rows.
    pub data_model: Value,
    /// The rows of this page.
    pub data: Vec<Map<String, Value>>,
    /// Where the next page starts, if there is one.
    pub next_offset: Option<usize>,
    /// For a network search: the members that gave nothing, and why.
    pub errors: Vec<ErrorItem>,
}

/// The Data Connect service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DataConnect {
    beacon: Arc<Beacon>,
    settings: DataConnectSettings,
    /// Queries running at once (each is a SQLite connection on a blocking thread).
    running: Arc<tokio::sync::Semaphore>,
    /// Network searches reading their members at once (each may hold up to
    /// [`MEMBER_SEARCH_RESPONSES`](crate::beacon::network::MEMBER_SEARCH_RESPONSES) answers'
    /// worth per member until its query has run), so what members send is bounded in all, not
    /// per search.
    fetching: Arc<tokio::sync::Semaphore>,
    /// The requesters with a network search in flight: one each at a time, so one caller
    /// cannot hold every `fetching` slot while its members answer.
    in_flight: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// Checks queries, keeping the checks made.
    checker: Arc<Checker>,
}

/// A requester's network search in flight, forgotten when dropped.
struct OneAtATime<'a> {
    set: &'a std::sync::Mutex<std::collections::HashSet<String>>,
    requester: String,
}

impl<'a> OneAtATime<'a> {
    /// `requester`'s turn, or `None` while it has a search in flight.
    fn enter(
        set: &'a std::sync::Mutex<std::collections::HashSet<String>>,
        requester: String,
    ) -> Option<Self> {
        // The guard ends with this statement: no lock is held when `Self` is built, and none is
        // built (whose drop would forget the search in flight) when the requester has one.
        let entered = set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(requester.clone());
        entered.then(|| Self { set, requester })
    }
}

impl Drop for OneAtATime<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.requester);
    }
}

/// The most checks [`CheckCache`] keeps; past it, it starts over.
const CHECKS_KEPT: usize = 512;

/// Checks already made. A check is a function of the query's text and the number of parameters
/// given alone (the published names and the limits are fixed per instance), and clients repeat
/// their queries (every page re-runs one, and a portal or a dashboard sends the same few), so a
/// repeated query is neither parsed again nor sent to a thread of its own. Bounded: at most
/// [`CHECKS_KEPT`] queries of at most `max_query_bytes` each, forgotten all at once when full.
type CheckCache = HashMap<(String, usize), Result<sql::Checked, SqlError>>;

/// Checks a search's query and converts its parameters, keeping the checks made
/// ([`CheckCache`]).
#[derive(Debug)]
struct Checker {
    max_query_bytes: usize,
    checks: std::sync::Mutex<CheckCache>,
    /// Check threads running at once: a flood of distinct queries waits here (a future each),
    /// never a thread each.
    threads: Arc<tokio::sync::Semaphore>,
}

/// Check threads at once per instance.
const CHECK_THREADS: usize = 2;

impl Checker {
    fn new(max_query_bytes: usize) -> Self {
        Self {
            max_query_bytes,
            checks: std::sync::Mutex::default(),
            threads: Arc::new(tokio::sync::Semaphore::new(CHECK_THREADS)),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, CheckCache> {
        self.checks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The request's query checked and rewritten, and its parameters.
    async fn checked(
        &self,
        request: &SearchRequest,
    ) -> Result<(sql::Checked, Vec<ScratchValue>), DataConnectFailure> {
        let given = request.parameters.len();
        // Refused before the cache, which keeps only queries of a bounded length.
        if request.query.len() > self.max_query_bytes {
            return Err(DataConnectFailure::Sql(SqlError::TooLong {
                max: self.max_query_bytes,
            }));
        }
        let key = (request.query.clone(), given);
        let known = self.cache().get(&key).cloned();
        let outcome = match known {
            Some(known) => known,
            None => {
                let outcome = self.check(request.query.clone(), given).await?;
                let mut cache = self.cache();
                if cache.len() >= CHECKS_KEPT {
                    cache.clear();
                }
                cache.insert(key, outcome.clone());
                outcome
            }
        };
        let checked = outcome.map_err(DataConnectFailure::Sql)?;
        let parameters = request
            .parameters
            .iter()
            .enumerate()
            .map(|(i, v)| parameter(i, v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((checked, parameters))
    }

    /// Checks a query not seen before. The check walks trees as deep as the query nests: on a
    /// thread of its own with a stack that holds the deepest a query within the token limit can
    /// make, awaited without holding up the caller's worker.
    async fn check(
        &self,
        query: String,
        given: usize,
    ) -> Result<Result<sql::Checked, SqlError>, DataConnectFailure> {
        let limits = Limits {
            max_query_bytes: self.max_query_bytes,
            ..Limits::default()
        };
        let lost =
            || DataConnectFailure::Query(ScratchError::BadTable("the query check could not run"));
        let permit = Arc::clone(&self.threads)
            .acquire_owned()
            .await
            .map_err(|_| lost())?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("data-connect-check".to_owned())
            .stack_size(CHECK_STACK_BYTES)
            .spawn(move || {
                let _ = tx.send(sql::check(&query, given, &published(), &limits));
                drop(permit);
            })
            .map_err(|_| lost())?;
        rx.await.map_err(|_| lost())
    }
}

impl DataConnect {
    /// The service over this gateway's Beacon (its discovery views, budgets and consent).
    #[must_use]
    pub fn new(beacon: Arc<Beacon>, settings: DataConnectSettings) -> Self {
        Self {
            beacon,
            running: Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent.max(1))),
            fetching: Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent.max(1))),
            in_flight: Arc::default(),
            checker: Arc::new(Checker::new(settings.max_query_bytes)),
            settings,
        }
    }

    /// Runs a checked query over `tables`, once a slot is free (waiting at most the deadline:
    /// then [`ScratchError::Busy`]).
    async fn run(
        &self,
        tables: Vec<ScratchTable>,
        checked: &sql::Checked,
        parameters: &[ScratchValue],
    ) -> Result<gemj_store::scratch::ScratchResult, ScratchError> {
        let deadline = Duration::from_millis(self.settings.deadline_ms);
        let Ok(Ok(_slot)) = tokio::time::timeout(deadline, self.running.acquire()).await else {
            return Err(ScratchError::Busy);
        };
        run_scratch(
            tables,
            checked.sql.clone(),
            parameters.to_vec(),
            ScratchLimits {
                max_rows: self.settings.max_rows,
                deadline,
            },
        )
        .await
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &DataConnectSettings {
        &self.settings
    }

    /// `GET /tables`: every published table (the list is the same for every caller; what the
    /// rows hold is not).
    #[must_use]
    pub fn tables() -> ListTablesResponse {
        ListTablesResponse {
            tables: TABLES.iter().map(|(_, d)| d.table()).collect(),
            pagination: None,
        }
    }

    /// `GET /table/{name}/info`.
    #[must_use]
    pub fn table(name: &str) -> Option<Table> {
        TABLES
            .iter()
            .find(|(_, d)| d.name == name)
            .map(|(_, d)| d.table())
    }

    /// The query `/table/{name}/data` runs.
    #[must_use]
    pub fn table_query(name: &str) -> Option<String> {
        TABLES
            .iter()
            .find(|(_, d)| d.name == name)
            .map(|(_, d)| format!("SELECT * FROM {}", d.name))
    }

    /// Runs one page of a search for the caller: the query is checked, the tables it reads are
    /// built from the caller's discovery views (every dataset's decision audited), and the
    /// query runs over them alone.
    ///
    /// # Errors
    /// [`DataConnectFailure`]: the SQL refused, the engine's refusal or bounds, a spent query
    /// budget, or the gateway's failure.
    pub async fn search(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        request: &SearchRequest,
        offset: usize,
    ) -> Result<SearchPage, DataConnectFailure> {
        let (checked, parameters) = self.checker.checked(request).await?;
        let wanted: Vec<CatalogueTable> = checked.tables.iter().map(|&i| TABLES[i].0).collect();
        let result = self
            .beacon
            .catalogue_search(
                ctx,
                principal,
                &wanted,
                async |rows: Vec<Vec<Vec<ScratchValue>>>| {
                    let tables: Vec<ScratchTable> = checked
                        .tables
                        .iter()
                        .zip(rows)
                        .map(|(&i, rows)| scratch_table(i, rows))
                        .collect();
                    Ok(self.run(tables, &checked, &parameters).await)
                },
            )
            .await?
            .map_err(DataConnectFailure::Query)?;
        self.page(&checked, result, offset, Vec::new())
    }

    /// One page of a query's result.
    fn page(
        &self,
        checked: &sql::Checked,
        result: gemj_store::scratch::ScratchResult,
        offset: usize,
        errors: Vec<ErrorItem>,
    ) -> Result<SearchPage, DataConnectFailure> {
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = result.columns.iter().find(|c| !seen.insert(c.as_str())) {
            return Err(DataConnectFailure::Query(ScratchError::Query(format!(
                "two result columns are named `{dup}`: give them distinct aliases"
            ))));
        }
        let total = result.rows.len();
        let page_size = self.settings.page_size.max(1);
        let all: Vec<Map<String, Value>> = result
            .rows
            .into_iter()
            .map(|row| {
                result
                    .columns
                    .iter()
                    .cloned()
                    .zip(row.into_iter().map(json_value))
                    .collect()
            })
            .collect();
        // One data model for every page: it is read off all the rows.
        let read: Vec<&TableDef> = checked.tables.iter().map(|&i| &TABLES[i].1).collect();
        let data_model = result_model(&result.columns, &read, &all);
        let data: Vec<Map<String, Value>> = all.into_iter().skip(offset).take(page_size).collect();
        let next = offset.saturating_add(page_size);
        Ok(SearchPage {
            errors,
            data_model,
            data,
            next_offset: (next < total).then_some(next),
        })
    }

    /// One page of a search across the Beacon network's members with a Data Connect API: the
    /// query is checked here, each table it reads is the union of the members' rows (each
    /// member reports at the level it gives the caller, or an anonymous caller where the
    /// passport does not go; `dataset_id` is prefixed with the member's id), every count goes
    /// through the network's own small-cell and rounding rule, and members that gave nothing are
    /// listed in `errors`.
    ///
    /// # Errors
    /// As [`DataConnect::search`].
    pub async fn network_search(
        &self,
        network: &BeaconNetwork,
        ctx: &RequestContext,
        principal: &Principal,
        request: &SearchRequest,
        offset: usize,
    ) -> Result<SearchPage, DataConnectFailure> {
        let (checked, parameters) = self.checker.checked(request).await?;
        let names: Vec<&str> = checked.tables.iter().map(|&i| TABLES[i].1.name).collect();
        let privacy = *network.privacy();
        // One network search per requester at a time (a second is 429 at once) ...
        let requester = principal.requester(ctx.client);
        let Some(_one) = OneAtATime::enter(&self.in_flight, requester) else {
            return Err(DataConnectFailure::Beacon(BeaconFailure::Beacon(
                gemj_beacon::BeaconError::too_many_requests(
                    "one network search at a time per caller: retry once the first has answered",
                ),
                Some(1),
            )));
        };
        // ... and one of `max_concurrent` network searches at once, from the members' first
        // byte to the query's last row, waiting at most the deadline (then busy, before any
        // budget).
        let deadline = Duration::from_millis(self.settings.deadline_ms);
        let Ok(Ok(_fetching)) = tokio::time::timeout(deadline, self.fetching.acquire()).await
        else {
            return Err(DataConnectFailure::Query(ScratchError::Busy));
        };
        let (result, errors) = network
            .catalogue_search(
                ctx,
                principal,
                &names,
                async |members: Vec<MemberTables>| {
                    let mut errors = Vec::new();
                    let mut tables: Vec<ScratchTable> = checked
                        .tables
                        .iter()
                        .map(|&i| scratch_table(i, Vec::new()))
                        .collect();
                    for m in members {
                        match m.tables {
                            Ok(member_tables) => {
                                for ((table, &i), rows) in
                                    tables.iter_mut().zip(&checked.tables).zip(member_tables)
                                {
                                    table.rows.extend(rows.iter().filter_map(|row| {
                                        member_row(&TABLES[i].1, &m.id, row, &privacy)
                                    }));
                                }
                            }
                            Err(why) => errors.push(ErrorItem {
                                title: "Member unavailable".to_owned(),
                                detail: Some(format!("member {}: {why}", m.id)),
                                details: Some(format!("member {}: {why}", m.id)),
                                source: None,
                            }),
                        }
                    }
                    Ok((self.run(tables, &checked, &parameters).await, errors))
                },
            )
            .await?;
        let result = result.map_err(DataConnectFailure::Query)?;
        self.page(&checked, result, offset, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap_or_default()
    }

    fn search(query: &str, parameters: Vec<Value>) -> SearchRequest {
        SearchRequest {
            query: query.to_owned(),
            parameters,
        }
    }

    #[test]
    fn a_requester_has_one_network_search_in_flight() {
        let set = std::sync::Mutex::default();
        let first = OneAtATime::enter(&set, "ip:192.0.2.1".to_owned());
        assert!(first.is_some());
        assert!(OneAtATime::enter(&set, "ip:192.0.2.1".to_owned()).is_none());
        assert!(
            OneAtATime::enter(&set, "ip:192.0.2.1".to_owned()).is_none(),
            "a refused second search forgets nothing of the first"
        );
        let other = OneAtATime::enter(&set, "https://broker#alice".to_owned());
        assert!(other.is_some(), "another requester is not held up");
        drop(first);
        assert!(OneAtATime::enter(&set, "ip:192.0.2.1".to_owned()).is_some());
    }

    #[tokio::test]
    async fn checks_are_kept_by_query_and_parameter_count_within_bounds() {
        let checker = Checker::new(200);
        let q = "SELECT sex, sum(participants) AS n FROM gemj.catalogue.participants_by_sex WHERE dataset_id = ? GROUP BY sex";
        let (first, p) = checker
            .checked(&search(q, vec![Value::from("D")]))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(p, [ScratchValue::Text("D".into())]);
        assert_eq!(checker.cache().len(), 1);
        // The same query again: the kept check, the new parameters.
        let (again, p) = checker
            .checked(&search(q, vec![Value::from("E")]))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(again, first);
        assert_eq!(p, [ScratchValue::Text("E".into())]);
        assert_eq!(checker.cache().len(), 1);
        // Another parameter count is another check, refused, and the refusal is kept.
        for _ in 0..2 {
            let r = checker.checked(&search(q, Vec::new())).await;
            assert!(matches!(r, Err(DataConnectFailure::Sql(_))), "{r:?}");
        }
        assert_eq!(checker.cache().len(), 2);
        // A query over the length limit is refused before the cache.
        let long = format!("{q} {}", " ".repeat(200));
        let r = checker
            .checked(&search(&long, vec![Value::from("D")]))
            .await;
        assert!(
            matches!(
                r,
                Err(DataConnectFailure::Sql(SqlError::TooLong { max: 200 }))
            ),
            "{r:?}"
        );
        assert_eq!(checker.cache().len(), 2);
        // Past its bound the cache starts over.
        for i in 0..CHECKS_KEPT {
            let q = format!("SELECT {i} AS n FROM gemj.catalogue.datasets");
            assert!(checker.checked(&search(&q, Vec::new())).await.is_ok());
            assert!(checker.cache().len() <= CHECKS_KEPT);
        }
        assert!(checker.cache().len() < CHECKS_KEPT);
    }

    #[test]
    fn member_rows_follow_the_networks_rule() {
        let privacy = DatasetPrivacy::default();
        let by_sex = &TABLES[1].1;
        let datasets = &TABLES[0].1;
        // Rounded down to 5, dataset prefixed.
        let r = member_row(
            by_sex,
            "m",
            &row(
                serde_json::json!({"dataset_id": "D", "sex": "female", "participants": 13, "precision": "exact", "rounding": null}),
            ),
            &privacy,
        );
        assert_eq!(
            r,
            Some(vec![
                ScratchValue::Text("m:D".into()),
                ScratchValue::Text("female".into()),
                ScratchValue::Integer(10),
                ScratchValue::Text("rounded".into()),
                ScratchValue::Integer(5),
            ])
        );
        // A cell under the threshold, withheld, or not a count: no row.
        for p in [
            serde_json::json!(3),
            Value::Null,
            serde_json::json!("13"),
            serde_json::json!(-13),
            serde_json::json!(13.5),
        ] {
            let r = member_row(
                by_sex,
                "m",
                &row(
                    serde_json::json!({"dataset_id": "D", "sex": "male", "participants": p, "precision": "withheld"}),
                ),
                &privacy,
            );
            assert_eq!(r, None);
        }
        // A dataset under the threshold stays, withheld.
        let r = member_row(
            datasets,
            "m",
            &row(
                serde_json::json!({"dataset_id": "D", "name": "n", "description": "d", "access_level": "PUBLIC", "data_use": "DUO:0000042", "participants": 2, "precision": "exact", "rounding": null}),
            ),
            &privacy,
        );
        let r = r.unwrap_or_default();
        assert_eq!(
            r[5..],
            [
                ScratchValue::Null,
                ScratchValue::Text("withheld".into()),
                ScratchValue::Null
            ]
        );
        // A row without a dataset id of text is no row.
        for id in [Value::Null, serde_json::json!(7), serde_json::json!(["D"])] {
            let r = member_row(
                by_sex,
                "m",
                &row(serde_json::json!({"dataset_id": id, "sex": "female", "participants": 130})),
                &privacy,
            );
            assert_eq!(r, None, "{id}");
        }
        // A network whose strictest dataset answers booleans reports no member's count.
        let boolean = DatasetPrivacy {
            max_granularity: gemj_beacon::Granularity::Boolean,
            ..privacy
        };
        let big = serde_json::json!({"dataset_id": "D", "sex": "female", "participants": 130, "precision": "exact", "rounding": null});
        assert!(member_row(by_sex, "m", &row(big.clone()), &privacy).is_some());
        assert_eq!(member_row(by_sex, "m", &row(big), &boolean), None);
        let listed = member_row(
            datasets,
            "m",
            &row(
                serde_json::json!({"dataset_id": "D", "name": "n", "description": "d", "access_level": "PUBLIC", "data_use": "DUO:0000042", "participants": 130, "precision": "exact", "rounding": null}),
            ),
            &boolean,
        )
        .unwrap_or_default();
        assert_eq!(listed[5], ScratchValue::Null, "{listed:?}");
        assert_eq!(listed[6], ScratchValue::Text("withheld".into()));
    }
}
