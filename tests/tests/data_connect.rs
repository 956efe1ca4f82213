//! End-to-end: GA4GH Data Connect 1.0 under `/data-connect` over HTTP, against a real gateway
//! over the demo cohort. Every answer (table lists, tables, pages, errors, service-info) is
//! validated against the official schemas and every row against its page's data model; counts
//! are checked against an oracle computed here from the store (dataset members, consent states,
//! participants' sex), at each caller's level; the PyPI clients (DNAstack's
//! `dnastack-client-library` anonymously, `search-python-client` with a passport) read the
//! tables and page through searches unmodified.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use gemj_e2e::http::{Http, Reply};
use gemj_e2e::names::{CANCER, HOSPITAL_A, PREFIX};
use gemj_e2e::{Res, TestGateway, TestResult, broker_trust, network_trust, visas};
use gemj_model::{DatasetId, ParticipantId};
use gemj_passport::VisaType;
use gemj_schemas::{SchemaSet, Validator};
use serde_json::{Value, json};

const DC: &str = "/data-connect";
const TABLES: [&str; 8] = [
    "gemj.catalogue.datasets",
    "gemj.catalogue.participants_by_sex",
    "gemj.catalogue.participants_by_age_band",
    "gemj.catalogue.participants_by_diagnosis",
    "gemj.catalogue.participants_by_specimen_type",
    "gemj.catalogue.participants_by_data_type",
    "gemj.catalogue.participants_by_consent_scope",
    "gemj.catalogue.biobank_samples",
];

fn schemas() -> SchemaSet {
    gemj_schemas::testing::schemas()
}

/// `r` has `status` and is a valid instance of the Data Connect component `component`.
fn valid(set: &SchemaSet, r: &Reply, status: u16, component: &str, what: &str) -> Value {
    assert_eq!(r.status, status, "{what}: {}", r.json);
    if let Err(e) = set.validate(
        gemj_schemas::docs::DATA_CONNECT,
        &format!("/components/schemas/{component}"),
        &r.json,
    ) {
        panic!("{what}: not a valid {component}: {e:?}\n{:#}", r.json);
    }
    if component == "TableData" {
        let model = Validator::standalone(&r.json["data_model"])
            .unwrap_or_else(|e| panic!("{what}: the data model does not compile: {e}"));
        for row in r.json["data"].as_array().into_iter().flatten() {
            if let Err(e) = model.validate(row) {
                panic!("{what}: a row does not match the data model: {e:?}\n{row}");
            }
        }
    }
    r.json.clone()
}

/// An error answer: its status, a valid `ErrorResponse`, a title.
fn error(set: &SchemaSet, r: &Reply, status: u16, what: &str) -> String {
    let v = valid(set, r, status, "ErrorResponse", what);
    let e = &v["errors"][0];
    assert!(e["title"].as_str().is_some_and(|t| !t.is_empty()), "{what}");
    assert!(
        e.get("source").is_none(),
        "{what}: a bad request names no source"
    );
    e["detail"].as_str().unwrap_or_default().to_owned()
}

fn search(http: &Http, bearer: Option<&str>, query: &str, parameters: &[Value]) -> Res<Reply> {
    Ok(http.post(
        &format!("{DC}/search"),
        bearer,
        &json!({"query": query, "parameters": parameters}),
    )?)
}

/// Every row of a search, following its pages; each page validated.
fn all_rows(
    set: &SchemaSet,
    http: &Http,
    bearer: Option<&str>,
    first: Reply,
    what: &str,
) -> Res<(Vec<Value>, usize)> {
    let mut page = valid(set, &first, 200, "TableData", what);
    let mut rows: Vec<Value> = Vec::new();
    let mut pages = 1;
    let model = page["data_model"].clone();
    loop {
        rows.extend(page["data"].as_array().cloned().unwrap_or_default());
        let Some(next) = page["pagination"]["next_page_url"].as_str() else {
            assert!(
                page.get("pagination").is_none(),
                "{what}: the last page has no pagination"
            );
            break;
        };
        let path = next
            .strip_prefix(&http.base)
            .ok_or("next_page_url is absolute, on this gateway")?;
        page = valid(set, &http.get(path, bearer)?, 200, "TableData", what);
        assert_eq!(
            page["data_model"], model,
            "{what}: one data model on every page"
        );
        pages += 1;
        assert!(pages < 1_000, "{what}: paging does not end");
    }
    Ok((rows, pages))
}

struct Callers {
    registered: String,
    approved: String,
}

async fn callers(gw: &TestGateway, http: &Http) -> Res<Callers> {
    let broker = gemj_demo::broker::load(gw.data_dir(), &gw.base_url)?;
    let now = gemj_auth::now_unix();
    let hour = Duration::from_secs(3600);
    let status = visas::researcher_status(&broker, "so", now);
    let grant = visas::visa(
        &broker,
        VisaType::ControlledAccessGrants,
        &format!("{PREFIX}{CANCER}"),
        "dac",
        now,
    );
    let admin = broker.issue_passport(gemj_demo::broker::ADMINISTRATOR, &[], hour, now)?;
    let approval = visas::cancer_approval("APR-DC", broker.issuer(), "alice", &[CANCER]);
    let r = http.post("/admin/v1/approvals", Some(&admin), &approval)?;
    assert_eq!(r.status, 201, "{}", r.json);
    Ok(Callers {
        registered: broker.issue_passport("reg", std::slice::from_ref(&status), hour, now)?,
        approved: broker.issue_passport("alice", &[status, grant], hour, now)?,
    })
}

/// The members of `dataset` a caller may be served, by sex: an approved Japanese academic
/// (`academia`), or below record level at the strictest scope (industry and abroad allowed).
async fn oracle_by_sex(
    gw: &TestGateway,
    dataset: &str,
    academia: bool,
) -> Res<BTreeMap<String, u64>> {
    let members: BTreeSet<ParticipantId> = gw
        .store
        .dataset_participants(&DatasetId::parse(dataset)?)
        .await?
        .into_iter()
        .collect();
    let servable = gemj_e2e::servable(&gw.store, academia).await?;
    let mut out = BTreeMap::new();
    for (p, _) in gw.store.catalogue_snapshot().await?.participants {
        if members.contains(&p.id) && servable.contains(&p.id) {
            *out.entry(p.sex.as_str().to_owned()).or_default() += 1;
        }
    }
    Ok(out)
}

fn by_key(rows: &[Value], key: &str) -> BTreeMap<String, Value> {
    rows.iter()
        .map(|r| (r[key].as_str().unwrap_or_default().to_owned(), r.clone()))
        .collect()
}

/// The participants the cancer dataset counts for `bearer` (in the datasets table).
fn cancer_count(set: &SchemaSet, http: &Http, bearer: &str) -> Res<u64> {
    let q = "SELECT participants FROM gemj.catalogue.datasets WHERE dataset_id = ?";
    let page = valid(
        set,
        &search(http, Some(bearer), q, &[json!(CANCER)])?,
        200,
        "TableData",
        q,
    );
    Ok(page["data"][0]["participants"].as_u64().ok_or("a count")?)
}

/// A gateway whose small demo datasets have cells worth reporting: small cells under 2, counts
/// rounded to 2, booleans from 3 participants; pages of 4 rows.
async fn gateway() -> Res<TestGateway> {
    Ok(TestGateway::start_with(24, |c| {
        c.beacon.privacy.small_cell = 2;
        c.beacon.privacy.round_to = 2;
        c.beacon.privacy.min_cohort_public = 3;
        c.data_connect.page_size = 4;
        c.data_connect.deadline_ms = 500;
    })
    .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_and_searches_follow_each_callers_level_and_consent() -> TestResult {
    let gw = gateway().await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let set = schemas();
    let who = callers(&gw, &http).await?;

    // The tables: the same list for everyone, each with a full draft-07 data model.
    let list = valid(
        &set,
        &http.get(&format!("{DC}/tables"), None)?,
        200,
        "ListTablesResponse",
        "tables",
    );
    let names: Vec<&str> = list["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, TABLES);
    for name in TABLES {
        let t = valid(
            &set,
            &http.get(&format!("{DC}/table/{name}/info"), None)?,
            200,
            "Table",
            name,
        );
        assert_eq!(
            t["data_model"]["$schema"],
            "http://json-schema.org/draft-07/schema#"
        );
        assert_eq!(
            t["data_model"]["properties"]["dataset_id"]["type"],
            "string"
        );
        Validator::standalone(&t["data_model"])?;
    }
    let r = http.get(&format!("{DC}/table/gemj.catalogue.nothing/info"), None)?;
    error(&set, &r, 404, "unknown table");
    let r = http.get(&format!("{DC}/table/gemj.catalogue.nothing/data"), None)?;
    error(&set, &r, 404, "unknown table's data");
    let info = valid(
        &set,
        &http.get(&format!("{DC}/service-info"), None)?,
        200,
        "Service",
        "service-info",
    );
    assert_eq!(info["type"]["artifact"], "data-connect");
    assert_eq!(info["type"]["version"], "1.0.0");

    // At record level (alice, approved on the cancer dataset) counts are exact and equal the
    // oracle: members the caller's consent scope serves, by sex.
    let expected = oracle_by_sex(&gw, CANCER, true).await?;
    assert!(
        expected.values().sum::<u64>() >= 4,
        "the demo's cancer dataset has members: {expected:?}"
    );
    let q = "SELECT sex, participants, precision FROM gemj.catalogue.participants_by_sex WHERE dataset_id = ? ORDER BY sex";
    let (rows, _) = all_rows(
        &set,
        &http,
        Some(&who.approved),
        search(&http, Some(&who.approved), q, &[json!(CANCER)])?,
        "alice by sex",
    )?;
    let got: BTreeMap<String, u64> = rows
        .iter()
        .map(|r| {
            (
                r["sex"].as_str().unwrap_or_default().to_owned(),
                r["participants"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got, expected, "record level: exact counts");
    assert!(rows.iter().all(|r| r["precision"] == "exact"));

    // At count level (a registered researcher) cells under the small-cell threshold have no
    // row and the others are rounded down to a multiple of 2.
    let (rows, _) = all_rows(
        &set,
        &http,
        Some(&who.registered),
        search(&http, Some(&who.registered), q, &[json!(CANCER)])?,
        "registered by sex",
    )?;
    let reg = by_key(&rows, "sex");
    let strict = oracle_by_sex(&gw, CANCER, false).await?;
    assert!(
        reg.keys().all(|k| strict.contains_key(k)),
        "{reg:?} {strict:?}"
    );
    assert!(
        !reg.is_empty(),
        "a registered researcher sees some cell: {strict:?}"
    );
    for (sex, n) in &strict {
        match reg.get(sex) {
            Some(r) => {
                assert!(*n >= 2, "{sex}: a small cell has a row");
                assert_eq!(r["participants"].as_u64(), Some(n - n % 2), "{sex}");
                assert_eq!(r["precision"], "rounded");
            }
            None => assert!(*n < 2, "{sex}: a cell of {n} is missing"),
        }
    }
    // Anonymous callers see rows (cells of at least 2, datasets of at least 3), never a count.
    let (rows, _) = all_rows(
        &set,
        &http,
        None,
        search(
            &http,
            None,
            "SELECT * FROM gemj.catalogue.participants_by_sex",
            &[],
        )?,
        "anonymous by sex",
    )?;
    assert!(
        rows.iter()
            .all(|r| r["participants"].is_null() && r["precision"] == "withheld")
    );
    let (rows, _) = all_rows(
        &set,
        &http,
        None,
        http.get(&format!("{DC}/table/gemj.catalogue.datasets/data"), None)?,
        "anonymous datasets",
    )?;
    assert_eq!(rows.len(), 4, "every demo dataset is listed: {rows:?}");
    assert!(rows.iter().all(|r| r["participants"].is_null()));

    // Aggregates, joins and paging: the cross-biobank count equals the sum of its rows, and
    // the pages of a table's data add up to its count.
    let (rows, pages) = all_rows(
        &set,
        &http,
        Some(&who.approved),
        http.get(
            &format!("{DC}/table/gemj.catalogue.participants_by_diagnosis/data"),
            Some(&who.approved),
        )?,
        "diagnoses",
    )?;
    assert!(
        pages > 1,
        "pages of 4 rows: {pages} for {} rows",
        rows.len()
    );
    let count = search(
        &http,
        Some(&who.approved),
        "SELECT count(*) AS n FROM gemj.catalogue.participants_by_diagnosis",
        &[],
    )?;
    let count = valid(&set, &count, 200, "TableData", "count");
    assert_eq!(count["data"][0]["n"].as_u64(), Some(rows.len() as u64));
    let per_biobank = "SELECT b.biobank, sum(b.samples) AS samples, count(DISTINCT b.dataset_id) AS datasets \
                       FROM gemj.catalogue.biobank_samples b JOIN gemj.catalogue.datasets d ON d.dataset_id = b.dataset_id \
                       WHERE d.access_level = 'CONTROLLED' GROUP BY b.biobank ORDER BY b.biobank";
    let (biobanks, _) = all_rows(
        &set,
        &http,
        Some(&who.approved),
        search(&http, Some(&who.approved), per_biobank, &[])?,
        "cross-biobank",
    )?;
    let (samples, _) = all_rows(
        &set,
        &http,
        Some(&who.approved),
        search(
            &http,
            Some(&who.approved),
            &format!(
                "SELECT biobank, samples FROM gemj.catalogue.biobank_samples WHERE dataset_id = '{CANCER}'"
            ),
            &[],
        )?,
        "biobank rows",
    )?;
    let total: u64 = biobanks.iter().filter_map(|r| r["samples"].as_u64()).sum();
    assert!(
        total > 0,
        "the cancer dataset's members have biobank samples: {biobanks:?}"
    );
    assert!(
        samples
            .iter()
            .filter_map(|r| r["samples"].as_u64())
            .sum::<u64>()
            <= total
    );

    // A withdrawal applies to the next search at once.
    let before = cancer_count(&set, &http, &who.approved)?;
    let members = gw
        .store
        .dataset_participants(&DatasetId::parse(CANCER)?)
        .await?;
    let states = gw.store.all_consent_states().await?;
    let institutions: BTreeMap<String, String> = gw
        .store
        .catalogue_snapshot()
        .await?
        .participants
        .into_iter()
        .map(|(p, _)| (p.id.to_string(), p.institution.to_string()))
        .collect();
    let victim = members
        .iter()
        .find(|m| {
            institutions.get(m.as_str()).map(String::as_str) == Some(HOSPITAL_A)
                && states.iter().any(|s| {
                    &s.participant == *m && s.permits_research() && s.scopes.third_party_academia
                })
        })
        .ok_or("a served cancer participant of hospital A")?;
    let base = gw.base_url.clone();
    let inst = gemj_demo::broker::institutions(gw.data_dir(), &base)?;
    let token = gemj_e2e::institution_token(
        &inst,
        HOSPITAL_A,
        "consent-system",
        &base,
        gemj_auth::now_unix(),
    )?;
    let withdrawal = json!({"event_id": "dc-w-1", "participant": victim, "institution": HOSPITAL_A,
        "effective_at": "2026-01-01T00:00:00Z", "kind": "withdrawal", "level": "stop_all_use"});
    let r = http.post("/consent/v1/events", Some(&token), &withdrawal)?;
    assert_eq!(r.status, 201, "{}", r.json);
    let after = cancer_count(&set, &http, &who.approved)?;
    assert_eq!(
        after + 1,
        before,
        "the withdrawn participant is no longer counted"
    );

    // Every search is audited per dataset: alice's at record level on the cancer dataset, with
    // the rows it contributed and no participant named (aggregates only).
    let audited: Vec<_> = gw
        .store
        .audit_records(0, 100_000)
        .await?
        .into_iter()
        .map(|r| r.event)
        .filter(|e| e.api == "data-connect" && e.principal.ends_with("#alice"))
        .collect();
    assert!(
        audited.iter().any(|e| e.resource.contains(CANCER)
            && e.reasons.iter().any(|r| r == "answer:aggregate:record")
            && e.records_returned.is_some_and(|n| n > 0)),
        "{audited:?}"
    );
    assert!(audited.iter().all(|e| e.participants.is_empty()));

    gw.stop_with_intact_chains().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sql_bad_requests_and_spent_budgets_get_data_connect_errors() -> TestResult {
    // Every cell has a row for anyone, so the tables the queries join are not empty.
    let gw = TestGateway::start_with(12, |c| {
        c.beacon.privacy.min_cohort_public = 1;
        c.beacon.privacy.small_cell = 1;
        c.data_connect.deadline_ms = 300;
        c.data_connect.max_rows = 50;
        c.beacon.budgets.per_ip = 40;
    })
    .await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let set = schemas();
    for (q, needle) in [
        ("SELEC 1", "parse"),
        ("DROP TABLE gemj.catalogue.datasets", "SELECT"),
        ("SELECT * FROM sqlite_master", "sqlite_master"),
        ("SELECT * FROM t0", "t0"),
        ("SELECT load_extension('/tmp/x')", "load_extension"),
        ("SELECT readfile('/etc/passwd')", "readfile"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("ATTACH DATABASE '/tmp/x' AS x", "SELECT"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH"),
        ("SELECT nothing FROM gemj.catalogue.datasets", "nothing"),
        ("SELECT ?", "placeholders"),
        // What the printer would turn into other statements, or a comment.
        (
            "SELECT CAST(1 AS x('1)) WHERE 0; PRAGMA query_only=OFF; ATTACH DATABASE ''/tmp/x.db'' AS s; --'))",
            "type",
        ),
        ("SELECT - -1", "sign"),
        ("SELECT @a", "identifier"),
        (
            "SELECT a.dataset_id, b.dataset_id FROM gemj.catalogue.datasets a, gemj.catalogue.datasets b",
            "distinct aliases",
        ),
    ] {
        let detail = error(&set, &search(&http, None, q, &[])?, 400, q);
        assert!(detail.contains(needle), "{q}: {detail}");
    }
    // A query that would run away is interrupted; one that returns too much is refused.
    let t = "gemj.catalogue.participants_by_diagnosis";
    let runaway =
        format!("SELECT count(*) FROM {t} a, {t} b, {t} c, {t} d, {t} e, {t} f, {t} g, {t} h");
    let started = std::time::Instant::now();
    let detail = error(&set, &search(&http, None, &runaway, &[])?, 400, "runaway");
    assert!(detail.contains("longer than"), "{detail}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let detail = error(
        &set,
        &search(
            &http,
            None,
            &format!("SELECT * FROM {t} a, {t} b, {t} c"),
            &[],
        )?,
        400,
        "too many rows",
    );
    assert!(detail.contains("more than 50 rows"), "{detail}");
    // Bodies and pages.
    for (body, status) in [
        (json!({"query": 1}), 400),
        (json!({"query": "SELECT 1", "extra": true}), 400),
        (json!({"query": "SELECT ?", "parameters": [[1]]}), 400),
        (json!({"query": "x".repeat(70_000)}), 413),
    ] {
        error(
            &set,
            &http.post(&format!("{DC}/search"), None, &body)?,
            status,
            &body.to_string()[..40.min(body.to_string().len())],
        );
    }
    error(
        &set,
        &http.get(&format!("{DC}/search/not-a-page"), None)?,
        400,
        "bad page",
    );
    error(
        &set,
        &http.get(&format!("{DC}/nowhere"), None)?,
        404,
        "no endpoint",
    );
    let r = http.get(&format!("{DC}/tables"), Some("not.a.jwt"))?;
    error(&set, &r, 401, "bad bearer");
    assert!(r.header("www-authenticate").is_some());
    // A search spends the caller's Beacon budget: the address's 40 are spent by now.
    let mut last = None;
    for _ in 0..40 {
        let r = search(&http, None, "SELECT 1 AS one", &[])?;
        if r.status != 200 {
            last = Some(r);
            break;
        }
    }
    let r = last.ok_or("the budget was never spent")?;
    error(&set, &r, 429, "spent budget");
    assert!(
        r.header("retry-after")
            .is_some_and(|s| s.parse::<u64>().is_ok())
    );
    gw.stop_with_intact_chains().await?;
    Ok(())
}

fn client_venv() -> Option<PathBuf> {
    let venv = std::env::var_os("DATA_CONNECT_CLIENT_VENV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-data-connect"),
        PathBuf::from,
    );
    if venv.join("bin/python").is_file() {
        return Some(venv);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true needs the Data Connect clients in {} (.ci/run installs them)",
        venv.display()
    );
    eprintln!("skipped: no Data Connect clients in {}", venv.display());
    None
}

/// Runs `script` with `args` in the clients' venv (a fresh `HOME`, quiet logs) and reads the
/// JSON it prints; fails on a non-zero exit.
fn python(venv: &Path, script: &str, args: &[&str]) -> Res<Value> {
    let home = tempfile::tempdir()?;
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(venv.join("bin/python"))
            .arg("-c")
            .arg(script)
            .args(args)
            .env("HOME", home.path())
            .env("DNASTACK_LOG_LEVEL", "WARNING")
            .env("DNASTACK_NO_UPDATE_CHECK", "1")
            .output()
    })?;
    assert!(
        out.status.success(),
        "the clients failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// DNAstack's `dnastack-client-library` (anonymously: it authenticates only through OAuth
/// flows) and `search-python-client` (with a passport as its bearer "wallet"), both from PyPI
/// and unmodified, list the tables, read a table's info and data, and page through searches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypi_data_connect_clients_read_tables_and_page_through_searches() -> TestResult {
    let Some(venv) = client_venv() else {
        return Ok(());
    };
    let gw = gateway().await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let who = callers(&gw, &http).await?;
    let script = r#"
import json, sys
from dnastack import DataConnectClient, ServiceEndpoint
from search_python_client.search import SearchClient
base, token = sys.argv[1], sys.argv[2]
client = DataConnectClient.make(ServiceEndpoint(url=base))
tables = [t.name for t in client.list_tables()]
info = client.table("gemj.catalogue.participants_by_diagnosis").info
anonymous = list(client.table("gemj.catalogue.participants_by_diagnosis").data)
queried = list(client.query("SELECT dataset_id, icd10_category FROM gemj.catalogue.participants_by_diagnosis"))
try:
    list(client.query("SELEC nonsense"))
    refused = None
except Exception as e:
    refused = type(e).__name__
wallet = SearchClient(base, wallet=token)
approved = list(wallet.search_table("SELECT biobank, sum(samples) AS samples FROM gemj.catalogue.biobank_samples GROUP BY biobank ORDER BY biobank"))
diagnoses = list(wallet.get_table_data("gemj.catalogue.participants_by_diagnosis"))
print(json.dumps({"tables": tables, "info": info.name, "properties": list(info.data_model["properties"]),
    "anonymous": anonymous, "queried": len(queried), "refused": refused, "approved": approved,
    "diagnoses": diagnoses}, default=str))
"#;
    let got = python(
        &venv,
        script,
        &[&format!("{}{DC}", gw.base_url), &who.approved],
    )?;
    assert_eq!(got["tables"], json!(TABLES));
    assert_eq!(got["info"], "gemj.catalogue.participants_by_diagnosis");
    assert_eq!(got["properties"][0], "dataset_id");
    let anonymous = got["anonymous"].as_array().ok_or("rows")?;
    assert!(anonymous.iter().all(|r| r["participants"].is_null()));
    assert_eq!(
        got["queried"].as_u64(),
        Some(anonymous.len() as u64),
        "every page of the search"
    );
    assert_eq!(got["refused"], "InvalidQueryError");
    let approved = got["approved"].as_array().ok_or("rows")?;
    assert!(
        !approved.is_empty()
            && approved
                .iter()
                .all(|r| r["samples"].as_u64().is_some_and(|n| n > 0)),
        "{approved:?}"
    );
    let diagnoses = got["diagnoses"].as_array().ok_or("rows")?;
    assert!(
        diagnoses.len() > 4,
        "more than one page: {}",
        diagnoses.len()
    );
    assert!(diagnoses.iter().any(|r| r["precision"] == "exact"));
    gw.stop().await;
    Ok(())
}

/// A loopback server that accepts connections and never answers. Runs until the test process
/// ends.
fn hanging_member() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    Ok(port)
}

/// A loopback Data Connect member whose every table is endless: each page is `page_bytes` of
/// one padded row and names a next page of its own origin. Counts the pages asked of it.
fn endless_member(
    page_bytes: usize,
) -> std::io::Result<(u16, std::sync::Arc<std::sync::atomic::AtomicUsize>)> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut byte = [0_u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = json!({
                "data": [{"dataset_id": "D", "pad": "x".repeat(page_bytes)}],
                "pagination": {"next_page_url": format!("http://127.0.0.1:{port}{DC}/next/{n}")}
            })
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok((port, asked))
}

/// A network gateway (A) searches its own catalogue and a second gateway's (B) through their
/// Data Connect APIs, with a member that hangs and one that is down: the answer comes within the
/// member limit, holds both members' rows (dataset ids prefixed by member), counts through the
/// network's rule, and names the members that gave nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_network_search_merges_member_catalogues_and_names_the_missing() -> TestResult {
    use gemj_core::beacon::network::MemberSettings;
    let set = schemas();
    let [port_a, port_b] = gemj_e2e::free_ports()?;
    let public = format!("http://127.0.0.1:{port_a}");
    let slow = hanging_member()?;
    let down = gemj_e2e::RefusingPort::bind()?;
    // Pages just under the answer cap (256 KiB here), without end.
    let (endless, endless_asked) = endless_member(250 * 1024)?;
    let dc = |port: u16| Some(format!("http://127.0.0.1:{port}{DC}"));
    let member = |id: &str, port: u16| MemberSettings {
        id: id.to_owned(),
        name: format!("member {id}"),
        url: format!("http://127.0.0.1:{port}/beacon/v2"),
        timeout_ms: None,
        forward_passport: true,
        passport_visas: vec!["ResearcherStatus".to_owned()],
        audience: Some(format!("urn:gemj:test:{id}")),
        data_connect_url: dc(port),
        forward_client_address: false,
    };
    // The gateways answer within 30 s however loaded the machine (every page of a network
    // search reads all of a member's pages anew); the fakes keep the network's 2 s.
    let gateway = |id: &str, port: u16| MemberSettings {
        timeout_ms: Some(30_000),
        ..member(id, port)
    };
    let members = vec![
        gateway("a", port_a),
        gateway("b", port_b),
        member("slow", slow),
        member("down", down.port),
        member("endless", endless),
    ];
    let privacy = |c: &mut gemj_server::config::Config| {
        c.beacon.privacy.small_cell = 2;
        c.beacon.privacy.round_to = 2;
        // Every page re-runs a search and charges its small cells again: a risk budget this
        // test's repeated reads do not spend, so each member's cells stay the same throughout
        // (the budget itself: `small_cells_spend_their_participants_risk_budget`).
        c.beacon.budgets.risk_budget = 10_000;
    };
    // Both members (A is one of its own) accept the network's passports.
    let a = TestGateway::start_with(24, |c| {
        c.public_url = public.clone();
        c.listen = format!("127.0.0.1:{port_a}");
        c.beacon.network.members = members;
        c.beacon.network.timeout_ms = 2_000;
        c.beacon.network.max_response_bytes = 256 * 1024;
        // Small pages, so the network's answers page too.
        c.data_connect.page_size = 4;
        c.auth
            .trusted_issuers
            .push(network_trust(&public, port_a, "urn:gemj:test:a"));
        privacy(c);
    })
    .await?;
    let data_dir = a.data_dir().to_path_buf();
    // B holds a catalogue of its own (another cohort, another data folder): a second biobank.
    let b = TestGateway::start_with(12, |c| {
        c.listen = format!("127.0.0.1:{port_b}");
        c.auth
            .trusted_issuers
            .push(network_trust(&public, port_a, "urn:gemj:test:b"));
        c.auth.trusted_issuers.push(broker_trust(&public, port_a));
        privacy(c);
    })
    .await?;
    let broker = gemj_demo::broker::load(&data_dir, &public)?;
    let bob = visas::registered_passport(&broker, "bob", gemj_auth::now_unix())?;
    let http = Http {
        base: format!("http://127.0.0.1:{port_a}"),
    };
    let q = "SELECT dataset_id, sum(participants) AS n FROM gemj.catalogue.participants_by_sex GROUP BY dataset_id ORDER BY dataset_id";
    let started = std::time::Instant::now();
    let r = http.post(
        &format!("{}/search", "/data-connect-network"),
        Some(&bob),
        &json!({"query": q}),
    )?;
    let took = started.elapsed();
    let page = valid(&set, &r, 200, "TableData", "network search");
    assert!(
        took < Duration::from_secs(4),
        "answered in {took:?} with a hanging member"
    );
    eprintln!(
        "network search with a hanging member answered in {} ms",
        took.as_millis()
    );
    let errors: Vec<String> = page["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["detail"].as_str().map(str::to_owned))
        .collect();
    let has = |e: &str| errors.iter().any(|x| x == e);
    assert!(has("member slow: timeout"), "{errors:?}");
    assert!(has("member down: unreachable"), "{errors:?}");
    // A member that never stops paging is cut off by what one search may read of it in all
    // (16 answers' worth: 4 MiB here), not by its pages (100 of them, 25 MB here).
    assert!(has("member endless: too_large"), "{errors:?}");
    let pages = endless_asked.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (16..=17).contains(&pages),
        "{pages} pages read of the endless member"
    );
    // Every page of the network's answer (each re-runs the search over the members).
    let (rows, network_pages) = all_rows(&set, &http, Some(&bob), r, "network search")?;
    assert!(network_pages > 1, "{} rows in one page of 4", rows.len());
    let of = |prefix: &str| -> BTreeMap<String, Value> {
        rows.iter()
            .filter_map(|r| {
                let id = r["dataset_id"].as_str()?.strip_prefix(prefix)?;
                Some((id.to_owned(), r["n"].clone()))
            })
            .collect()
    };
    let (from_a, from_b) = (of("a:"), of("b:"));
    assert!(!from_a.is_empty() && !from_b.is_empty(), "{rows:?}");
    assert_ne!(from_a, from_b, "two members over two cohorts");
    // What each member reports to bob directly, through the network's rule (the same rule
    // here): the network never answers more than a member would.
    let http_b = Http {
        base: format!("http://127.0.0.1:{port_b}"),
    };
    let local = |http: &Http, q: &str| -> Res<Vec<Value>> {
        Ok(all_rows(
            &set,
            http,
            Some(&bob),
            search(http, Some(&bob), q, &[])?,
            "local",
        )?
        .0)
    };
    let by_dataset = |rows: Vec<Value>| -> BTreeMap<String, Value> {
        rows.into_iter()
            .filter_map(|r| Some((r["dataset_id"].as_str()?.to_owned(), r["n"].clone())))
            .collect()
    };
    assert_eq!(from_a, by_dataset(local(&http, q)?), "member a");
    assert_eq!(from_b, by_dataset(local(&http_b, q)?), "member b");
    // The cross-biobank count: one row per holding biobank over both members' catalogues,
    // the sum of what each member answers bob for itself.
    let q = "SELECT biobank, sum(samples) AS samples, count(DISTINCT dataset_id) AS datasets FROM gemj.catalogue.biobank_samples GROUP BY biobank";
    let r = http.post(
        "/data-connect-network/search",
        Some(&bob),
        &json!({"query": q}),
    )?;
    let (network, _) = all_rows(&set, &http, Some(&bob), r, "cross-biobank")?;
    let by_biobank = |rows: Vec<Value>| -> BTreeMap<String, (u64, u64)> {
        rows.into_iter()
            .filter_map(|r| {
                Some((
                    r["biobank"].as_str()?.to_owned(),
                    (r["samples"].as_u64().unwrap_or(0), r["datasets"].as_u64()?),
                ))
            })
            .collect()
    };
    let (of_a, of_b) = (by_biobank(local(&http, q)?), by_biobank(local(&http_b, q)?));
    assert!(
        of_a.values().any(|v| v.0 > 0) && of_b.values().any(|v| v.0 > 0),
        "samples at both members: {of_a:?} {of_b:?}"
    );
    let mut expected = of_a.clone();
    for (biobank, (samples, datasets)) in &of_b {
        let e = expected.entry(biobank.clone()).or_default();
        e.0 += samples;
        e.1 += datasets;
    }
    assert_eq!(
        by_biobank(network),
        expected,
        "the network's cross-biobank count against the members' own ({of_a:?} + {of_b:?})"
    );
    eprintln!("cross-biobank count over two members: {expected:?}");
    // The same count through the network by the PyPI clients, unmodified: DNAstack's lists the
    // network's tables, and search-python-client (bob's passport as its wallet) pages through
    // the search.
    if let Some(venv) = client_venv() {
        let script = r#"
import json, sys
from dnastack import DataConnectClient, ServiceEndpoint
from search_python_client.search import SearchClient
base, token, q = sys.argv[1], sys.argv[2], sys.argv[3]
tables = [t.name for t in DataConnectClient.make(ServiceEndpoint(url=base)).list_tables()]
rows = list(SearchClient(base, wallet=token).search_table(q))
print(json.dumps({"tables": tables, "rows": rows}, default=str))
"#;
        let base = format!("http://127.0.0.1:{port_a}/data-connect-network");
        let got = python(&venv, script, &[&base, &bob, q])?;
        assert_eq!(got["tables"], json!(TABLES));
        let rows = got["rows"].as_array().cloned().ok_or("rows")?;
        assert_eq!(
            by_biobank(rows),
            expected,
            "the PyPI client's network count"
        );
    }
    // Without a network the endpoints answer 404.
    let r = http_b.post(
        "/data-connect-network/search",
        None,
        &json!({"query": "SELECT 1"}),
    )?;
    error(&set, &r, 404, "no network");
    b.stop().await;
    a.stop().await;
    Ok(())
}

/// A small cell singles out its participants as a small Beacon answer does: every search that
/// shows one charges them to the caller's risk ledger, and once their budget is spent they
/// count no more for that caller (their cells shrink or go), while other callers still see them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_cells_spend_their_participants_risk_budget() -> TestResult {
    let gw = TestGateway::start_with(24, |c| {
        c.beacon.privacy.small_cell = 2;
        c.beacon.privacy.round_to = 1;
        c.beacon.budgets.risk_budget = 2;
        c.beacon.budgets.risk_set_size = 5;
    })
    .await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let set = schemas();
    let who = callers(&gw, &http).await?;
    let q = "SELECT dataset_id, sex, participants FROM gemj.catalogue.participants_by_sex";
    let read = |bearer: &str| -> Res<BTreeMap<String, u64>> {
        let first = search(&http, Some(bearer), q, &[])?;
        let (rows, _) = all_rows(&set, &http, Some(bearer), first, q)?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    format!(
                        "{}/{}",
                        r["dataset_id"].as_str().unwrap_or_default(),
                        r["sex"].as_str().unwrap_or_default()
                    ),
                    r["participants"].as_u64().unwrap_or_default(),
                )
            })
            .collect())
    };
    let first = read(&who.registered)?;
    let small: Vec<String> = first
        .iter()
        .filter(|(_, n)| **n <= 5)
        .map(|(k, _)| k.clone())
        .collect();
    assert!(!small.is_empty(), "the demo has small cells: {first:?}");
    assert_eq!(
        read(&who.registered)?,
        first,
        "the second search spends the budget and still shows them"
    );
    let third = read(&who.registered)?;
    for key in &small {
        assert!(
            !third.contains_key(key),
            "{key}: its participants' budget is spent: {third:?}"
        );
    }
    for (key, n) in &third {
        assert!(
            first.get(key).is_some_and(|was| n <= was),
            "{key}: {third:?}"
        );
    }
    // Another caller has a ledger of its own.
    let other = read(&who.approved)?;
    assert!(
        small.iter().any(|k| other.contains_key(k)),
        "another caller still sees them: {other:?}"
    );
    gw.stop_with_intact_chains().await?;
    Ok(())
}
