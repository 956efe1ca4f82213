//! No acknowledged audit record is lost when the process is killed.
//!
//! Each test re-runs its own test binary as a child (selected by `GEMJ_AUDIT_CHILD_DB`): the
//! child writes audit events through [`AuditSink`] from 64 concurrent tasks and prints
//! `ACK <seq> <request_id>` after each acknowledgement. The parent reads at least 3,000
//! acknowledgements, kills the child with SIGKILL mid-write, then opens the same store and
//! checks that every acknowledged record is stored at its acknowledged sequence number and that
//! the hash chain is intact. SQLite always; PostgreSQL when `GEMJ_TEST_DATABASE_URL` is set
//! (required with `CI=true`).

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gemj_core::audit::{AuditOptions, AuditSink};
use gemj_model::{AccessDecision, AuditEvent};
use gemj_store::{Store, StoreOptions};

type TestResult = Result<(), Box<dyn Error>>;

/// The child's database URL; its presence makes the test binary act as the child.
const CHILD_DB: &str = "GEMJ_AUDIT_CHILD_DB";
/// The child's PostgreSQL schema, if any.
const CHILD_SCHEMA: &str = "GEMJ_AUDIT_CHILD_SCHEMA";
/// Concurrent writers in the child.
const WRITERS: usize = 64;
/// Acknowledgements the parent reads before it kills the child.
const ACKS_BEFORE_KILL: usize = 3_000;
/// How long the parent waits for those acknowledgements.
const ACK_DEADLINE: Duration = Duration::from_secs(120);
/// The child gives up after this long, should its parent vanish without killing it.
const CHILD_LIFETIME: Duration = Duration::from_secs(300);

fn event(writer: usize, n: u64) -> AuditEvent {
    AuditEvent {
        at: time::OffsetDateTime::now_utc(),
        request_id: format!("w{writer}-{n}"),
        api: "audit-durability-test".to_owned(),
        endpoint: "/test/{id}".to_owned(),
        principal: format!("https://issuer.example#user{}", writer % 8),
        action: "read_metadata".to_owned(),
        resource: format!("dataset:D{}", n % 16),
        decision: AccessDecision::Permit,
        reasons: vec!["public_metadata".to_owned()],
        credential_hashes: Vec::new(),
        approval: None,
        consent_epoch: Some(1),
        participants: vec![format!("GEMJ-T-{:04}", writer)],
        records_returned: Some(1),
        records_filtered: Some(0),
    }
}

/// The child: writes audit events from [`WRITERS`] tasks forever (until killed), printing each
/// acknowledgement. Never returns.
fn run_child(url: &str) -> ! {
    let schema = std::env::var(CHILD_SCHEMA).ok().filter(|s| !s.is_empty());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| child_fail(&format!("runtime: {e}")));
    rt.block_on(async move {
        let opts = StoreOptions {
            max_connections: 4,
            schema,
        };
        let store = Store::connect(url, &opts)
            .await
            .unwrap_or_else(|e| child_fail(&format!("connect: {e}")));
        store
            .migrate()
            .await
            .unwrap_or_else(|e| child_fail(&format!("migrate: {e}")));
        let sink = AuditSink::new(store, AuditOptions::default());
        let mut tasks = Vec::with_capacity(WRITERS);
        for w in 0..WRITERS {
            let sink = sink.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0_u64.. {
                    let e = event(w, n);
                    let id = e.request_id.clone();
                    let seq = sink
                        .record(e)
                        .await
                        .unwrap_or_else(|e| child_fail(&format!("record {id}: {e}")));
                    // One write call per line, so a kill cannot leave half a line but a whole
                    // one or none; a write error means the parent is gone.
                    let line = format!("ACK {seq} {id}\n");
                    let mut out = std::io::stdout().lock();
                    if out
                        .write_all(line.as_bytes())
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        std::process::exit(3);
                    }
                }
            }));
        }
        tokio::time::sleep(CHILD_LIFETIME).await;
        child_fail("not killed in time");
    })
}

fn child_fail(what: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "audit durability child: {what}");
    std::process::exit(2)
}

/// Kills the child when dropped, so a failing parent leaves no writer behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the parent saw: the acknowledgements (request id → seq) and how many were read before
/// the kill.
struct Acks {
    by_id: HashMap<String, i64>,
    before_kill: usize,
}

/// Runs this test binary as the child (test `name`, writing to `url`), kills it with SIGKILL
/// after [`ACKS_BEFORE_KILL`] acknowledgements and returns every acknowledgement it printed.
fn run_and_kill(name: &str, url: &str, schema: Option<&str>) -> Result<Acks, Box<dyn Error>> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, url)
        .env(CHILD_SCHEMA, schema.unwrap_or(""))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = KillOnDrop(cmd.spawn()?);
    let stdout = child.0.stdout.take().ok_or("no child stdout")?;

    // Lines are read on a thread so the parent can give up on a silent child.
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                // A line cut by the kill (no newline) is not an acknowledgement we can read.
                Ok(0) | Err(_) => break,
                Ok(_) if !line.ends_with('\n') => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });

    let mut by_id: HashMap<String, i64> = HashMap::new();
    let mut take = |line: &str| -> Result<(), Box<dyn Error>> {
        let Some(rest) = line.strip_prefix("ACK ") else {
            return Ok(()); // the test harness's own lines
        };
        let (seq, id) = rest
            .trim_end()
            .split_once(' ')
            .ok_or("malformed ACK line")?;
        let seq: i64 = seq.parse()?;
        if let Some(old) = by_id.insert(id.to_owned(), seq) {
            return Err(format!("{id} acknowledged twice (seq {old} and {seq})").into());
        }
        Ok(())
    };

    let deadline = Instant::now() + ACK_DEADLINE;
    let mut acks = 0_usize;
    while acks < ACKS_BEFORE_KILL {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!("only {acks} acknowledgements within {ACK_DEADLINE:?}").into());
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.0.wait()?;
                return Err(format!(
                    "the child ended ({status}) after only {acks} acknowledgements"
                )
                .into());
            }
        };
        if line.starts_with("ACK ") {
            acks += 1;
        }
        take(&line)?;
    }
    let before_kill = acks;

    // SIGKILL: no destructor, no flush, no orderly shutdown of the writer or the pool.
    child.0.kill()?;
    let status = child.0.wait()?;
    {
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(
            status.signal(),
            Some(9),
            "the child must die of SIGKILL, not exit on its own ({status})"
        );
    }
    // What the child wrote before it died is still in the pipe.
    for line in rx {
        take(&line)?;
    }
    reader.join().map_err(|_| "reader thread panicked")?;
    Ok(Acks { by_id, before_kill })
}

/// Checks the store after the kill: every acknowledged record at its seq, the chain intact.
async fn check_store(store: &Store, acks: &Acks) -> TestResult {
    assert!(
        acks.before_kill >= ACKS_BEFORE_KILL && acks.by_id.len() >= ACKS_BEFORE_KILL,
        "too few acknowledgements read: {} before the kill, {} in all",
        acks.before_kill,
        acks.by_id.len()
    );
    let mut stored: HashMap<i64, String> = HashMap::new();
    let mut ids: HashSet<String> = HashSet::new();
    let mut after = 0_i64;
    loop {
        let page = store.audit_records(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in page {
            assert!(
                ids.insert(r.event.request_id.clone()),
                "request id {} stored twice",
                r.event.request_id
            );
            stored.insert(r.seq, r.event.request_id);
        }
    }
    let mut missing = Vec::new();
    for (id, seq) in &acks.by_id {
        match stored.get(seq) {
            Some(found) if found == id => {}
            other => missing.push(format!("{id} acknowledged at seq {seq}, stored: {other:?}")),
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged audit records lost or moved, e.g. {:?}",
        missing.len(),
        acks.by_id.len(),
        &missing[..missing.len().min(5)]
    );
    let report = store.verify_chains().await?;
    assert!(
        report.is_intact(),
        "audit chain broken: {:?}",
        report.broken
    );
    assert_eq!(
        report.audit_rows,
        u64::try_from(stored.len())?,
        "verify_chains must read every stored row"
    );
    assert_eq!(store.audit_count().await?, report.audit_rows);
    eprintln!(
        "audit durability: {} acknowledged ({} before SIGKILL), all stored at their seq; \
         {} rows stored, chain intact",
        acks.by_id.len(),
        acks.before_kill,
        stored.len()
    );
    Ok(())
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

#[test]
fn sigkill_loses_no_acknowledged_audit_record_sqlite() -> TestResult {
    if let Ok(url) = std::env::var(CHILD_DB) {
        run_child(&url);
    }
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("audit.sqlite").display());
    let rt = runtime()?;
    // Migrated before the child starts, so the child's migrate is a no-op.
    rt.block_on(async {
        let store = Store::connect(&url, &StoreOptions::default()).await?;
        store.migrate().await?;
        store.close().await;
        Ok::<_, Box<dyn Error>>(())
    })?;
    let acks = run_and_kill(
        "sigkill_loses_no_acknowledged_audit_record_sqlite",
        &url,
        None,
    )?;
    rt.block_on(async {
        let store = Store::connect(&url, &StoreOptions::default()).await?;
        check_store(&store, &acks).await?;
        store.close().await;
        Ok(())
    })
}

#[test]
fn sigkill_loses_no_acknowledged_audit_record_postgres() -> TestResult {
    if let Ok(url) = std::env::var(CHILD_DB) {
        run_child(&url);
    }
    let url = match std::env::var("GEMJ_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true needs GEMJ_TEST_DATABASE_URL for the PostgreSQL audit durability test"
            );
            eprintln!(
                "gemj-core: PostgreSQL audit durability test skipped \
                 (set GEMJ_TEST_DATABASE_URL to run it)"
            );
            return Ok(());
        }
    };
    let opts = StoreOptions::fresh_schema("gemj_test_audit", 4);
    let schema = opts.schema.clone().unwrap_or_default();
    let rt = runtime()?;
    let store = rt.block_on(async {
        let store = Store::connect(&url, &opts).await?;
        store.migrate().await?;
        Ok::<_, Box<dyn Error>>(store)
    })?;
    // Checked in full before the schema is dropped, then the verdict is given.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let acks = run_and_kill(
            "sigkill_loses_no_acknowledged_audit_record_postgres",
            &url,
            Some(&schema),
        )?;
        rt.block_on(check_store(&store, &acks))
    }));
    rt.block_on(store.drop_schema_and_close())?;
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
