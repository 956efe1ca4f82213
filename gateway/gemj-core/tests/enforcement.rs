//! The one enforcement call, and the invariant it keeps: data leaves only through
//! [`AccessPoint::enforce`] / [`Enforcement::release`], after one durable audit row per
//! decision, whatever the request did (served, failed, was denied, was abandoned).
//!
//! Two halves: behaviour, against a real store and audit writer (SQLite, and PostgreSQL when
//! `GEMJ_TEST_DATABASE_URL` names one: required under `CI=true`); and the code itself,
//! read from `src/`, so that a new API function that skips the call, or a release function that
//! stops taking a `&Permit`, fails here.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gemj_core::audit::{AuditOptions, AuditSink};
use gemj_core::consent_view::{ConsentView, ConsentViewOptions};
use gemj_core::{
    AccessPoint, Action, Ask, CoreError, OnDenial, Outcome, Permit, PolicySettings, Principal,
    RequestContext, Resource, Verdicts,
};
use gemj_model::{
    AccessDecision, AccessLevel, AuditRecord, DataUseCondition, Dataset, DatasetId, DuoCode,
    ParticipantId,
};
use gemj_store::{Store, StoreOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Fixture {
    backend: &'static str,
    _dir: tempfile::TempDir,
    /// A pool of its own for PostgreSQL, to drop the test's schema at the end.
    cleanup: Option<Store>,
    store: Store,
    access: AccessPoint,
    public: Arc<Dataset>,
    registered: Arc<Dataset>,
}

fn dataset(id: &str, level: AccessLevel) -> Result<Dataset, Box<dyn std::error::Error>> {
    Ok(Dataset {
        id: DatasetId::parse(id)?,
        name: id.into(),
        description: String::new(),
        access_level: level,
        data_use: DataUseCondition {
            permission: DuoCode::parse("DUO:0000042")?,
            modifiers: Vec::new(),
            disease: None,
            countries: Vec::new(),
            institutions: Vec::new(),
            projects: Vec::new(),
            users: Vec::new(),
        },
    })
}

/// One fixture per store the behaviour must hold on: SQLite always, PostgreSQL when configured
/// (each test in a schema of its own).
async fn fixtures() -> Result<Vec<Fixture>, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("gemj.db").display());
    let mut out = vec![fixture("sqlite", &sqlite, StoreOptions::default(), dir).await?];
    match std::env::var("GEMJ_TEST_DATABASE_URL") {
        Ok(url) => {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let options = StoreOptions {
                max_connections: 4,
                schema: Some(format!("gemj_enf_{}_{n}", std::process::id())),
            };
            let mut pg = fixture("postgres", &url, options.clone(), tempfile::tempdir()?).await?;
            pg.cleanup = Some(Store::connect(&url, &options).await?);
            out.push(pg);
        }
        Err(_) => assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true needs GEMJ_TEST_DATABASE_URL: the enforcement tests run on PostgreSQL too"
        ),
    }
    Ok(out)
}

async fn fixture(
    backend: &'static str,
    url: &str,
    options: StoreOptions,
    dir: tempfile::TempDir,
) -> Result<Fixture, Box<dyn std::error::Error>> {
    let store = Store::connect(url, &options).await?;
    store.migrate().await?;
    let public = dataset("T-PUBLIC", AccessLevel::Public)?;
    let registered = dataset("T-REG", AccessLevel::Registered)?;
    store.put_dataset(&public).await?;
    store.put_dataset(&registered).await?;
    let audit = AuditSink::new(store.clone(), AuditOptions::default());
    let consent = ConsentView::start(store.clone(), ConsentViewOptions::default()).await?;
    let access = AccessPoint::new(audit, PolicySettings::default(), store.clone(), consent);
    Ok(Fixture {
        backend,
        _dir: dir,
        cleanup: None,
        store,
        access,
        public: Arc::new(public),
        registered: Arc::new(registered),
    })
}

/// Runs each behaviour case on every configured store, naming the store that failed.
macro_rules! on_every_store {
    ($($test:ident => $case:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() -> TestResult {
            for f in fixtures().await? {
                let result = $case(&f).await;
                if let Some(cleanup) = f.cleanup {
                    cleanup.drop_schema_and_close().await?;
                }
                result.map_err(|e| format!("on {}: {e}", f.backend))?;
            }
            Ok(())
        }
    )*};
}

on_every_store! {
    a_permit_leaves_one_row_with_what_was_served => permit_case,
    a_denial_serves_nothing_and_leaves_one_row => denial_case,
    a_failing_service_still_leaves_one_row_that_served_nothing => failing_case,
    several_decisions_are_audited_in_one_append_in_the_order_asked => several_case,
    an_abandoned_request_still_leaves_its_rows => abandoned_case,
    a_query_over_datasets_is_audited_in_one_row => one_row_case,
    refused_credentials_past_an_addresss_limit_leave_one_row => refusal_limit_case,
}

fn ctx(request_id: &str) -> RequestContext {
    ctx_from(request_id, None)
}

/// A context whose caller came from `client`.
fn ctx_from(request_id: &str, client: Option<IpAddr>) -> RequestContext {
    RequestContext {
        request_id: request_id.to_owned(),
        api: "test",
        endpoint: "/test".to_owned(),
        client,
    }
}

/// The audit rows of one request, in order.
async fn rows_of(store: &Store, request_id: &str) -> Result<Vec<AuditRecord>, CoreError> {
    Ok(store
        .audit_records(0, 10_000)
        .await?
        .into_iter()
        .filter(|r| r.event.request_id == request_id)
        .collect())
}

async fn permit_case(f: &Fixture) -> TestResult {
    let ask = Ask::new(Action::ReadData, Resource::Dataset(Arc::clone(&f.public)));
    let answer = f
        .access
        .enforce(
            &ctx("r1"),
            &Principal::Anonymous,
            ask,
            OnDenial::Explain,
            async |permit: &Permit| {
                // Reading data is answered under a consent snapshot.
                let epoch = permit.consent()?.epoch;
                let outcome = Outcome {
                    consent_epoch: Some(epoch),
                    returned: Some(3),
                    filtered: Some(1),
                    ..Outcome::default()
                };
                Ok::<_, CoreError>(("served", outcome))
            },
        )
        .await?;
    assert_eq!(answer, "served");
    let rows = rows_of(&f.store, "r1").await?;
    assert_eq!(rows.len(), 1);
    let e = &rows[0].event;
    assert_eq!(e.decision, AccessDecision::Permit);
    assert_eq!(e.resource, "dataset:T-PUBLIC");
    assert_eq!((e.records_returned, e.records_filtered), (Some(3), Some(1)));
    assert!(e.consent_epoch.is_some());
    Ok(())
}

async fn denial_case(f: &Fixture) -> TestResult {
    let called = AtomicBool::new(false);
    let ask = Ask::new(
        Action::ReadData,
        Resource::Dataset(Arc::clone(&f.registered)),
    );
    let answer = f
        .access
        .enforce(
            &ctx("r2"),
            &Principal::Anonymous,
            ask,
            OnDenial::Explain,
            async |_: &Permit| {
                called.store(true, Ordering::SeqCst);
                Ok::<_, CoreError>(((), Outcome::default()))
            },
        )
        .await;
    match answer {
        Err(CoreError::Denied(d)) => {
            assert!(d.unauthenticated);
            assert_eq!(d.code(), "anonymous_not_permitted");
        }
        other => panic!("expected a denial, got {other:?}"),
    }
    assert!(
        !called.load(Ordering::SeqCst),
        "a denied request reached the service"
    );
    let rows = rows_of(&f.store, "r2").await?;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].event.decision, AccessDecision::Deny);
    // Hidden: the same decision, answered as not found.
    let ask = Ask::new(
        Action::ReadData,
        Resource::Dataset(Arc::clone(&f.registered)),
    );
    let hidden = f
        .access
        .enforce(
            &ctx("r2b"),
            &Principal::Anonymous,
            ask,
            OnDenial::Hide,
            async |_: &Permit| Ok::<_, CoreError>(((), Outcome::default())),
        )
        .await;
    assert!(matches!(hidden, Err(CoreError::NotFound)));
    assert_eq!(rows_of(&f.store, "r2b").await?.len(), 1);
    Ok(())
}

async fn failing_case(f: &Fixture) -> TestResult {
    let ask = Ask::new(Action::ReadData, Resource::Dataset(Arc::clone(&f.public)));
    let answer = f
        .access
        .enforce(
            &ctx("r3"),
            &Principal::Anonymous,
            ask,
            OnDenial::Explain,
            async |_: &Permit| -> Result<((), Outcome), CoreError> {
                Err(CoreError::InvalidInput("bad range".to_owned()))
            },
        )
        .await;
    assert!(matches!(answer, Err(CoreError::InvalidInput(_))));
    let rows = rows_of(&f.store, "r3").await?;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].event.decision, AccessDecision::Permit);
    assert_eq!(rows[0].event.records_returned, Some(0));
    Ok(())
}

async fn several_case(f: &Fixture) -> TestResult {
    let principal = Principal::Anonymous;
    let c = ctx("r4");
    let mut enforcement = f.access.begin(&c, &principal);
    let mut indexes = Vec::new();
    for d in [&f.public, &f.registered, &f.public] {
        let ask = Ask::new(Action::ReadMetadata, Resource::Dataset(Arc::clone(d)));
        indexes.push(enforcement.ask(ask).await?.index());
    }
    assert_eq!(indexes, [0, 1, 2]);
    let released = enforcement
        .release(async |verdicts: &Verdicts| -> Result<_, CoreError> {
            let permitted: Vec<bool> = verdicts.iter().map(Result::is_ok).collect();
            let outcomes = (0..verdicts.len())
                .map(|i| Outcome {
                    returned: Some(u64::try_from(i).unwrap_or_default()),
                    ..Outcome::default()
                })
                .collect();
            Ok((permitted, outcomes))
        })
        .await?;
    assert_eq!(released.value, [true, false, true]);
    let rows = rows_of(&f.store, "r4").await?;
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, released.audit_seqs);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let got: Vec<(&str, AccessDecision, Option<u64>)> = rows
        .iter()
        .map(|r| {
            (
                r.event.resource.as_str(),
                r.event.decision,
                r.event.records_returned,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("dataset:T-PUBLIC", AccessDecision::Permit, Some(0)),
            ("dataset:T-REG", AccessDecision::Deny, Some(1)),
            ("dataset:T-PUBLIC", AccessDecision::Permit, Some(2)),
        ]
    );
    Ok(())
}

/// A query's discovery decisions (Beacon's) audited in one row: the datasets in the order
/// asked, the reasons they share once and the others under their dataset, the participants
/// united, the counts summed, and every decision given the row's sequence number. A request
/// with a denial keeps one row per decision.
async fn one_row_case(f: &Fixture) -> TestResult {
    let principal = Principal::Anonymous;
    let c = ctx("r6");
    let mut enforcement = f.access.begin(&c, &principal).one_row();
    for d in [&f.public, &f.registered, &f.public] {
        let ask = Ask::new(Action::Discover, Resource::Dataset(Arc::clone(d)));
        enforcement.ask(ask).await?;
    }
    let p1 = ParticipantId::parse("GEMJ-T-0001")?;
    let p2 = ParticipantId::parse("GEMJ-T-0002")?;
    let released = enforcement
        .release(async |verdicts: &Verdicts| -> Result<_, CoreError> {
            assert!(verdicts.iter().all(Result::is_ok));
            let outcome = |returned: u64, participants: Vec<ParticipantId>| Outcome {
                returned: Some(returned),
                filtered: Some(1),
                participants,
                answer: Some("count".to_owned()),
                ..Outcome::default()
            };
            let outcomes = vec![
                outcome(2, vec![p1.clone()]),
                outcome(3, vec![p2.clone(), p1.clone()]),
                outcome(0, Vec::new()),
            ];
            Ok(((), outcomes))
        })
        .await?;
    let rows = rows_of(&f.store, "r6").await?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0].event;
    assert_eq!(released.audit_seqs, [rows[0].seq; 3]);
    assert_eq!(row.resource, "datasets:T-PUBLIC,T-REG,T-PUBLIC");
    assert_eq!(row.decision, AccessDecision::Permit);
    assert_eq!(row.action, "discover");
    assert!(
        row.reasons.iter().any(|r| r == "answer:count"),
        "{:?}",
        row.reasons
    );
    assert!(
        !row.reasons.iter().any(|r| r.starts_with("T-")),
        "{:?}",
        row.reasons
    );
    assert_eq!(row.participants, ["GEMJ-T-0001", "GEMJ-T-0002"]);
    assert_eq!(
        (row.records_returned, row.records_filtered),
        (Some(5), Some(3))
    );

    // A denial among the decisions: one row each, as always.
    let c = ctx("r7");
    let mut enforcement = f.access.begin(&c, &principal).one_row();
    for d in [&f.public, &f.registered] {
        let ask = Ask::new(Action::ReadMetadata, Resource::Dataset(Arc::clone(d)));
        enforcement.ask(ask).await?;
    }
    let released = enforcement
        .release(async |verdicts: &Verdicts| -> Result<_, CoreError> {
            Ok(((), vec![Outcome::default(); verdicts.len()]))
        })
        .await?;
    let rows = rows_of(&f.store, "r7").await?;
    let got: Vec<(&str, AccessDecision)> = rows
        .iter()
        .map(|r| (r.event.resource.as_str(), r.event.decision))
        .collect();
    assert_eq!(
        got,
        [
            ("dataset:T-PUBLIC", AccessDecision::Permit),
            ("dataset:T-REG", AccessDecision::Deny),
        ]
    );
    assert_eq!(released.audit_seqs.len(), 2);
    Ok(())
}

async fn abandoned_case(f: &Fixture) -> TestResult {
    let principal = Principal::Anonymous;
    let c = ctx("r5");
    {
        let mut enforcement = f.access.begin(&c, &principal);
        for d in [&f.public, &f.registered] {
            let ask = Ask::new(Action::ReadMetadata, Resource::Dataset(Arc::clone(d)));
            enforcement.ask(ask).await?;
        }
        // Dropped here, as when an early `?` or a vanished client ends the request.
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let rows = rows_of(&f.store, "r5").await?;
        if rows.len() >= 2 || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert!(r.event.reasons.iter().any(|x| x == "answer:abandoned"));
        assert_eq!(r.event.records_returned, Some(0));
    }
    Ok(())
}

// The code itself: every API goes through the call, and release functions need a permit.

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The functions of a file: name → (signature, body), by brace matching from each `fn NAME`.
fn functions(text: &str) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    let mut rest = text;
    while let Some(at) = rest.find("fn ") {
        let before = &rest[..at];
        let boundary = before
            .chars()
            .last()
            .is_none_or(|c| c.is_whitespace() || c == '(');
        let after = &rest[at + 3..];
        rest = after;
        if !boundary {
            continue;
        }
        let name: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let Some(open) = after.find('{') else { break };
        if name.is_empty() || after[..open].contains(';') {
            continue;
        }
        let signature = after[..open].to_owned();
        let mut depth = 0usize;
        let mut end = open;
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let line_start = before.rfind('\n').map_or(0, |n| n + 1);
        let public = before[line_start..].contains("pub");
        let signature = if public {
            format!("pub {signature}")
        } else {
            signature
        };
        // Methods of several types may share a name (`new`): their bodies are read together.
        let body = &after[open..=end];
        out.entry(name)
            .and_modify(|(_, bodies): &mut (String, String)| bodies.push_str(body))
            .or_insert_with(|| (signature, body.to_owned()));
    }
    out
}

/// The service modules: every API's business rules.
const SERVICES: &[&str] = &[
    "approvals_api.rs",
    "audit_api.rs",
    "beacon/mod.rs",
    "beacon/network.rs",
    "catalogue.rs",
    "consent_api.rs",
    "data.rs",
    "drs.rs",
    "htsget.rs",
    "../../gemj-ingest/src/api.rs",
    "phenopacket.rs",
    "recontact.rs",
    "revocations.rs",
    "wes/mod.rs",
    "data_connect.rs",
    "beacon/catalogue_tables.rs",
];

#[test]
fn every_api_function_goes_through_the_one_enforcement_call() -> TestResult {
    let mut missing = Vec::new();
    let mut checked = 0;
    for file in SERVICES {
        let text = std::fs::read_to_string(src().join(file))?;
        let fns = functions(&text);
        // A function enforces when it makes the call, or calls a function of its file that does
        // (to a fixpoint).
        let mut enforcing: Vec<&str> = fns
            .iter()
            .filter(|(_, (_, body))| {
                [".enforce(", ".begin("]
                    .iter()
                    .any(|call| body.contains(call))
            })
            .map(|(name, _)| name.as_str())
            .collect();
        loop {
            let more: Vec<&str> = fns
                .iter()
                .filter(|(name, (_, body))| {
                    !enforcing.contains(&name.as_str())
                        && enforcing.iter().any(|e| {
                            body.contains(&format!("{e}(")) || body.contains(&format!("::{e}("))
                        })
                })
                .map(|(name, _)| name.as_str())
                .collect();
            if more.is_empty() {
                break;
            }
            enforcing.extend(more);
        }
        for (name, (signature, _)) in &fns {
            // An API function: public, asked on behalf of a caller, answering something (not
            // a helper that only says how a refusal is answered).
            if !signature.starts_with("pub ")
                || !signature.contains("&Principal")
                || signature.contains("-> OnDenial")
            {
                continue;
            }
            checked += 1;
            // (`as_manager` and `on_own_trail` enforce for functions of other files.)
            let delegates = [
                "administer",
                "catalogue_search",
                "as_manager",
                "get_objects",
                "issue_url",
                "issue_url_explained",
                "manage_institution",
                "on_own_trail",
            ];
            if !enforcing.contains(&name.as_str())
                && !delegates.iter().any(|d| {
                    fns.get(name.as_str())
                        .is_some_and(|(_, body)| body.contains(&format!("{d}(")))
                })
            {
                missing.push(format!("{file}: {name}"));
            }
        }
    }
    assert!(checked >= 20, "only {checked} API functions found");
    assert!(
        missing.is_empty(),
        "API functions that do not go through AccessPoint::enforce: {missing:?}"
    );
    Ok(())
}

/// The functions that compute what leaves the gateway, each of which must take a `&Permit` (or
/// the request's `&Verdicts`). A permit exists only inside the enforcement call, so none of
/// them can run outside it.
const RELEASES: &[(&str, &str)] = &[
    ("audit_api.rs", "own_page"),
    ("audit_api.rs", "participant_page"),
    ("beacon/mod.rs", "collections"),
    ("beacon/mod.rs", "entries"),
    ("beacon/mod.rs", "terms"),
    ("catalogue.rs", "summaries"),
    ("catalogue.rs", "summary"),
    ("consent_api.rs", "append"),
    ("consent_api.rs", "history"),
    ("data.rs", "object_outcome"),
    ("data.rs", "open_bytes"),
    ("data.rs", "open_slice"),
    ("data.rs", "served_members"),
    ("data.rs", "sign_url"),
    ("data.rs", "stream_slice"),
    ("drs.rs", "visible"),
    ("htsget.rs", "compute"),
    ("htsget.rs", "issue"),
    ("phenopacket.rs", "packet_of"),
    ("recontact.rs", "check_outcomes"),
    ("recontact.rs", "inbox_of"),
    ("recontact.rs", "own_status"),
    ("recontact.rs", "select"),
    ("wes/mod.rs", "grant"),
];

#[test]
fn every_release_function_takes_a_permit() -> TestResult {
    let mut wrong = Vec::new();
    for (file, name) in RELEASES {
        let text = std::fs::read_to_string(src().join(file))?;
        match functions(&text).get(*name) {
            Some((signature, _))
                if signature.contains("&Permit") || signature.contains("&Verdicts") => {}
            Some(_) => wrong.push(format!("{file}: {name} takes no &Permit")),
            None => wrong.push(format!("{file}: {name} is gone (update this list)")),
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
    Ok(())
}

#[test]
fn only_the_access_point_writes_the_audit_chain() -> TestResult {
    let mut files = Vec::new();
    rust_files(&src(), &mut files)?;
    let server = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gemj-server/src");
    rust_files(&server, &mut files)?;
    let allowed = ["access.rs", "audit.rs"];
    let mut writers = Vec::new();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if allowed.contains(&name) && path.starts_with(src()) {
            continue;
        }
        let text = std::fs::read_to_string(path)?;
        for needle in [
            "record_many(",
            "AuditEvent {",
            "AuditSink::record",
            ".audit.record(",
        ] {
            if text.contains(needle) {
                writers.push(format!("{}: {needle}", path.display()));
            }
        }
    }
    assert!(files.len() > 40, "only {} files read", files.len());
    assert!(
        writers.is_empty(),
        "audit written outside the access point: {writers:?}"
    );
    Ok(())
}

/// Refused credentials are audited one by one up to the limit per address and window, counted
/// over two instances on one store; past it, each instance writes one row for the address
/// (`refusals_limited` first, then its own code, with the address's hash) and nothing more. A
/// verified credential's refusal, other addresses, refusals without an address and an instance
/// without the limit are audited one by one; an IPv6 /64 counts as one address.
async fn refusal_limit_case(f: &Fixture) -> TestResult {
    async fn limited(store: &Store) -> Result<AccessPoint, Box<dyn std::error::Error>> {
        let audit = AuditSink::new(store.clone(), AuditOptions::default());
        let consent = ConsentView::start(store.clone(), ConsentViewOptions::default()).await?;
        let settings = PolicySettings {
            refusals: gemj_core::access::RefusalLimit {
                per_address: 3,
                window_secs: 600,
            },
            ..PolicySettings::default()
        };
        Ok(AccessPoint::new(audit, settings, store.clone(), consent))
    }
    fn reason(r: &AuditRecord) -> &str {
        r.event.reasons.first().map_or("", String::as_str)
    }
    let count =
        |rows: &[AuditRecord], want: &str| rows.iter().filter(|r| reason(r) == want).count();
    let (a, b) = (limited(&f.store).await?, limited(&f.store).await?);
    let flood: IpAddr = "192.0.2.7".parse()?;
    for i in 0..10 {
        let on = if i % 2 == 0 { &a } else { &b };
        on.refuse_credential(
            &ctx_from("flood", Some(flood)),
            format!("forged-{i}").as_bytes(),
            "bad_signature",
        )
        .await?;
    }
    let rows = rows_of(&f.store, "flood").await?;
    let reasons: Vec<&str> = rows.iter().map(reason).collect();
    let one_by_one = count(&rows, "credential_refused:bad_signature");
    let summaries: Vec<&gemj_model::AuditEvent> = rows
        .iter()
        .filter(|r| reason(r) == "credential_refused:refusals_limited")
        .map(|r| &r.event)
        .collect();
    assert_eq!(one_by_one, 3, "{reasons:?}");
    assert_eq!(summaries.len(), 2, "one per instance: {reasons:?}");
    for s in &summaries {
        assert_eq!(s.decision, AccessDecision::Deny);
        assert_eq!(
            s.reasons,
            [
                "credential_refused:refusals_limited",
                "credential_refused:bad_signature"
            ]
        );
        assert_eq!(s.principal, "unauthenticated");
        assert!(
            s.credential_hashes
                .iter()
                .any(|h| h.starts_with("address:") && !h.contains("192.0.2.7")),
            "{:?}",
            s.credential_hashes
        );
    }
    assert_eq!(rows.len(), 5, "{reasons:?}");
    // A credential whose signature verified (revoked, expired, replayed) is audited one by
    // one whatever its address has sent: a flood of forgeries cannot hide its use.
    for i in 0..3_u8 {
        b.refuse_credential(&ctx_from("verified", Some(flood)), &[i], "subject_revoked")
            .await?;
    }
    assert_eq!(
        count(
            &rows_of(&f.store, "verified").await?,
            "credential_refused:subject_revoked"
        ),
        3
    );

    // Another address, no address, and an instance without the limit: every refusal audited.
    for i in 0..5 {
        a.refuse_credential(
            &ctx_from("other", Some("198.51.100.1".parse()?)),
            &[i],
            "unknown_kid",
        )
        .await?;
        a.refuse_credential(&ctx_from("unknown", None), &[i], "unknown_kid")
            .await?;
        f.access
            .refuse_credential(&ctx_from("unlimited", Some(flood)), &[i], "unknown_kid")
            .await?;
    }
    assert_eq!(
        count(
            &rows_of(&f.store, "other").await?,
            "credential_refused:unknown_kid"
        ),
        3
    );
    assert_eq!(
        count(
            &rows_of(&f.store, "unknown").await?,
            "credential_refused:unknown_kid"
        ),
        5
    );
    assert_eq!(
        count(
            &rows_of(&f.store, "unlimited").await?,
            "credential_refused:unknown_kid"
        ),
        5
    );

    // An IPv6 /64 is one address; the next /64 is another.
    for i in 0..4_u8 {
        let host: IpAddr = format!("2001:db8:0:1::{}", i + 1).parse()?;
        a.refuse_credential(&ctx_from("v6", Some(host)), &[i], "unknown_kid")
            .await?;
    }
    a.refuse_credential(
        &ctx_from("v6-next", Some("2001:db8:0:2::1".parse()?)),
        b"x",
        "unknown_kid",
    )
    .await?;
    let v6 = rows_of(&f.store, "v6").await?;
    assert_eq!(count(&v6, "credential_refused:unknown_kid"), 3);
    assert_eq!(count(&v6, "credential_refused:refusals_limited"), 1);
    assert_eq!(
        count(
            &rows_of(&f.store, "v6-next").await?,
            "credential_refused:unknown_kid"
        ),
        1
    );
    let report = f.store.verify_chains().await?;
    assert!(report.is_intact(), "{:?}", report.broken);
    Ok(())
}
