//! Crash safety, proved on the real binary: `kill -9` (SIGKILL) in the middle of a burst of
//! audited requests and of a withdrawal, then restart (an ingest killed mid-run is
//! `ingest_kill.rs`), on the embedded SQLite store and on PostgreSQL. Nothing stored is lost or
//! half-written: every request answered with a permit has its audit row, a withdrawal answered
//! 201 is stored, audited and in force, one not answered is stored whole or not at all and its
//! retry lands exactly once, and `audit verify` passes after every kill.
//!
//! Each test starts and kills only its own processes, on free loopback ports, bounded in count
//! and time; a PostgreSQL test works in a schema of its own, dropped at its end.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gemj_store::{Store, StoreOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BIN: &str = env!("CARGO_BIN_EXE_gemj-gateway");

/// Where a test's gateway keeps everything: a data folder, and its store there (SQLite) or in a
/// PostgreSQL schema of its own.
struct Site {
    _dir: tempfile::TempDir,
    data: PathBuf,
    /// The PostgreSQL URL and schema, or `None` for the data folder's SQLite file.
    pg: Option<(String, String)>,
    /// Whether the gateway journals its audit locally (`audit.journal`, PostgreSQL only).
    journal: bool,
}

impl Site {
    /// A fresh site on SQLite, or on PostgreSQL (`GEMJ_TEST_DATABASE_URL`); `None` when
    /// PostgreSQL is asked for and not configured outside CI (under `CI=true` that fails).
    fn new(postgres: bool) -> Result<Option<Self>, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let pg = if postgres {
            let Ok(url) = std::env::var("GEMJ_TEST_DATABASE_URL") else {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true needs GEMJ_TEST_DATABASE_URL for the PostgreSQL kill tests"
                );
                eprintln!("PostgreSQL kill test skipped (set GEMJ_TEST_DATABASE_URL to run it)");
                return Ok(None);
            };
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .subsec_nanos();
            Some((url, format!("gemj_crash_{}_{nanos}", std::process::id())))
        } else {
            None
        };
        Ok(Some(Self {
            _dir: dir,
            data,
            pg,
            journal: false,
        }))
    }

    fn data_s(&self) -> String {
        self.data.to_string_lossy().into_owned()
    }

    /// The binary with no `GEMJ_*` or `RUST_LOG` variables of the test's environment, on this
    /// site's store.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).env_remove("RUST_LOG");
        for (k, _) in std::env::vars() {
            if k.starts_with("GEMJ_") {
                cmd.env_remove(k);
            }
        }
        if let Some((url, schema)) = &self.pg {
            cmd.env("GEMJ_DATABASE__URL", url)
                .env("GEMJ_DATABASE__SCHEMA", schema);
        }
        if self.journal {
            cmd.env("GEMJ_AUDIT__JOURNAL", "audit-journal.sqlite");
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Result<Output, std::io::Error> {
        self.command(args).output()
    }

    /// A small demo cohort.
    fn demo(&self) -> TestResult {
        let data = self.data_s();
        let out = self.run(&[
            "demo",
            "--dir",
            &data,
            "--participants",
            "3",
            "--coverage",
            "0.2",
            "--seed",
            "7",
        ])?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// `audit verify` passes: every hash chain intact. Returns what it printed.
    fn assert_audit_verifies(&self, after: &str) -> Result<String, Box<dyn std::error::Error>> {
        let out = self.run(&["--data-dir", &self.data_s(), "audit", "verify"])?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("all hash chains intact"),
            "after {after}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(stdout.into_owned())
    }

    /// The site's store, opened beside (or after) the gateway.
    fn with_store<T>(
        &self,
        f: impl AsyncFnOnce(Store) -> Result<T, Box<dyn std::error::Error>>,
    ) -> Result<T, Box<dyn std::error::Error>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let store = self.store().await?;
            let out = f(store.clone()).await;
            store.close().await;
            out
        })
    }

    async fn store(&self) -> Result<Store, gemj_store::StoreError> {
        match &self.pg {
            Some((url, schema)) => {
                let options = StoreOptions {
                    schema: Some(schema.clone()),
                    ..StoreOptions::default()
                };
                Store::connect(url, &options).await
            }
            None => {
                let url = format!("sqlite://{}", self.data.join("gemj.sqlite").display());
                Store::connect(&url, &StoreOptions::default()).await
            }
        }
    }

    /// `serve` on `port`, returned once `/readyz` answers 200.
    fn serve(&self, port: u16, demo: bool) -> Result<Served, Box<dyn std::error::Error>> {
        let listen = format!("127.0.0.1:{port}");
        let data = self.data_s();
        let mut args = vec!["--listen", listen.as_str(), "--data-dir", &data, "serve"];
        if demo {
            args.push("--demo");
        }
        let mut child = Served(
            self.command(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        let started = Instant::now();
        loop {
            let ready = ureq::get(&format!("http://{listen}/readyz"))
                .config()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(2)))
                .build()
                .call()
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return Ok(child);
            }
            if let Some(status) = child.0.try_wait()? {
                return Err(format!("the gateway exited before it was ready: {status}").into());
            }
            if started.elapsed() > Duration::from_secs(60) {
                kill_9(&mut child)?;
                return Err("the gateway was not ready within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A PostgreSQL site's schema is dropped when the site is, whether the test passed or not
/// (nothing for SQLite: the folder goes with the site).
impl Drop for Site {
    fn drop(&mut self) {
        if self.pg.is_none() {
            return;
        }
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("the test's PostgreSQL schema was not dropped: {e}");
                return;
            }
        };
        if let Err(e) = rt.block_on(async { self.store().await?.drop_schema_and_close().await }) {
            eprintln!("the test's PostgreSQL schema was not dropped: {e}");
        }
    }
}

/// A gateway process, killed (SIGKILL) and reaped when dropped, so a failed assertion leaves
/// no gateway behind holding its port and connections.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A PostgreSQL session (psql) holding the audit chain's head row (`SELECT … FOR UPDATE` in an
/// open transaction): every append waits for it, as behind a stalled server. Released (rolled
/// back) when dropped.
struct HeadLock(Child);

impl HeadLock {
    fn take(site: &Site) -> Result<Self, Box<dyn std::error::Error>> {
        use std::io::{BufRead, Write};
        let (url, schema) = site.pg.as_ref().ok_or("a PostgreSQL site")?;
        let mut psql = Command::new("psql")
            .args(["-qtA", "-v", "ON_ERROR_STOP=1", url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut stdin = psql.stdin.take().ok_or("psql's stdin")?;
        writeln!(
            stdin,
            "SET search_path TO {schema};\nBEGIN;\nSELECT 'locked' FROM audit_head FOR UPDATE;"
        )?;
        stdin.flush()?;
        psql.stdin = Some(stdin);
        let stdout = psql.stdout.take().ok_or("psql's stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "locked" {
            return Err(format!("psql did not take the head's lock: {line:?}").into());
        }
        Ok(Self(psql))
    }
}

impl Drop for HeadLock {
    fn drop(&mut self) {
        use std::io::Write;
        if let Some(mut stdin) = self.0.stdin.take() {
            let _ = writeln!(stdin, "ROLLBACK;");
        }
        let _ = self.0.wait();
    }
}

/// SIGKILL (std's `Child::kill` on Unix), then reap.
fn kill_9(served: &mut Served) -> std::io::Result<()> {
    served.0.kill()?;
    served.0.wait().map(|_| ())
}

/// A burst of audited requests from four clients, the gateway killed in the middle of it:
/// every request answered 200 has its audit row (found by its `X-Request-Id`), the chains
/// verify, and the restarted gateway serves. On SQLite.
#[test]
fn every_request_answered_before_a_kill_has_its_audit_row() -> TestResult {
    burst_killed(false, false)
}

/// As [`every_request_answered_before_a_kill_has_its_audit_row`], on PostgreSQL.
#[test]
fn every_request_answered_before_a_kill_has_its_audit_row_postgres() -> TestResult {
    burst_killed(true, false)
}

/// As [`every_request_answered_before_a_kill_has_its_audit_row`], on PostgreSQL with a local
/// audit journal, while another session holds the chain's head (no shipping can land): the
/// answers go on from the journal, so at the kill their rows are there and none in the chain;
/// `audit verify` names them; the restarted gateway ships them, and then every answered
/// request has its row in the chain, once.
#[test]
fn every_request_answered_before_a_kill_has_its_audit_row_journal() -> TestResult {
    burst_killed(true, true)
}

/// The permitted requests' ids in the audit chain.
async fn audited_ids(
    s: Store,
) -> Result<std::collections::HashSet<String>, Box<dyn std::error::Error>> {
    let mut ids = std::collections::HashSet::new();
    let mut after = 0;
    loop {
        let page = s.audit_records(after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in page {
            if r.event.decision == gemj_model::AccessDecision::Permit {
                ids.insert(r.event.request_id);
            }
        }
    }
    Ok(ids)
}

/// The burst's rows in the audit chain.
async fn burst_rows(s: Store) -> Result<Vec<gemj_model::AuditRecord>, Box<dyn std::error::Error>> {
    let rows = s.audit_records(0, 100_000).await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.event.request_id.starts_with("crash-"))
        .collect())
}

fn burst_killed(postgres: bool, journal: bool) -> TestResult {
    let Some(mut site) = Site::new(postgres)? else {
        return Ok(());
    };
    site.journal = journal;
    site.demo()?;
    let port = free_port()?;
    let mut server = site.serve(port, false)?;
    let head_lock = if journal {
        Some(HeadLock::take(&site)?)
    } else {
        None
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..4 {
        let stop = Arc::clone(&stop);
        clients.push(std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(5)))
                .build()
                .into();
            let mut answered = Vec::new();
            let mut n = 0_u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let id = format!("crash-{client}-{n}");
                let res = agent
                    .get(&format!("http://127.0.0.1:{port}/catalogue/v1/datasets"))
                    .header("X-Request-Id", &id)
                    .call();
                match res {
                    Ok(mut r) if r.status() == 200 => {
                        // Answered only once the whole body arrived.
                        if r.body_mut().read_to_vec().is_ok() {
                            answered.push(id);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            answered
        }));
    }
    std::thread::sleep(Duration::from_millis(700));
    kill_9(&mut server)?;
    stop.store(true, Ordering::Relaxed);
    let mut answered = Vec::new();
    for c in clients {
        answered.extend(c.join().map_err(|_| "a client panicked")?);
    }
    assert!(answered.len() >= 20, "only {} answers", answered.len());
    let verified = site.assert_audit_verifies("a burst killed")?;
    let mut audited = site.with_store(audited_ids)?;
    let mut restarted = None;
    if journal {
        let waiting: u64 = verified
            .lines()
            .find_map(|l| {
                l.split_once(": ")?.1.strip_suffix(
                    " records not yet in the chain (the gateway ships them when it starts)",
                )
            })
            .ok_or_else(|| format!("`audit verify` names the journal's rows: {verified}"))?
            .parse()?;
        let in_chain = answered.iter().filter(|id| audited.contains(*id)).count();
        eprintln!(
            "{} requests answered from the journal, {in_chain} of them in the chain at the kill, {waiting} records in the journal",
            answered.len()
        );
        assert_eq!(in_chain, 0, "nothing ships while the head is held");
        assert!(
            waiting >= u64::try_from(answered.len())?,
            "every answered request's row is in the journal"
        );
        // The restarted gateway's shipping queues behind the killed one's, still waiting in
        // the server for the held head; released, the killed one's is rolled back (its client
        // is gone before its commit) and the restarted one ships every row.
        restarted = Some(site.serve(port, false)?);
        std::thread::sleep(Duration::from_millis(300));
        drop(head_lock);
        // Every row the journal held (the answered requests' and those cut off by the kill)
        // lands, once.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut rows = site.with_store(burst_rows)?;
        while u64::try_from(rows.len())? < waiting && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            rows = site.with_store(burst_rows)?;
        }
        assert_eq!(
            u64::try_from(rows.len())?,
            waiting,
            "the journal's rows in the chain"
        );
        let mut decisions = std::collections::HashMap::new();
        for r in &rows {
            *decisions
                .entry((r.event.request_id.as_str(), r.event.resource.as_str()))
                .or_insert(0_u32) += 1;
        }
        let twice: Vec<_> = decisions.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "decisions in the chain more than once: {twice:?}"
        );
        audited = site.with_store(audited_ids)?;
    }
    let missing: Vec<&String> = answered
        .iter()
        .filter(|id| !audited.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered requests have no audit row: {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(5)]
    );
    eprintln!(
        "{} requests answered before the kill, every one audited",
        answered.len()
    );
    // The restarted gateway serves, and its chains still verify after more requests.
    let mut server = match restarted {
        Some(server) => server,
        None => site.serve(port, false)?,
    };
    let res = ureq::get(&format!("http://127.0.0.1:{port}/catalogue/v1/datasets")).call()?;
    assert_eq!(res.status(), 200);
    kill_9(&mut server)?;
    site.assert_audit_verifies("the restart").map(drop)
}

/// A withdrawal posted and the gateway killed a few milliseconds later, at several delays:
/// the event is stored whole or not at all, the chains verify, and after a restart the retry
/// (same `event_id`) lands exactly once and the participant is withdrawn.
#[test]
fn a_withdrawal_killed_midway_lands_exactly_once_on_retry() -> TestResult {
    withdrawal_killed(false)
}

/// As [`a_withdrawal_killed_midway_lands_exactly_once_on_retry`], on PostgreSQL.
#[test]
fn a_withdrawal_killed_midway_lands_exactly_once_on_retry_postgres() -> TestResult {
    withdrawal_killed(true)
}

fn withdrawal_killed(postgres: bool) -> TestResult {
    let Some(site) = Site::new(postgres)? else {
        return Ok(());
    };
    site.demo()?;
    let data_s = site.data_s();
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let token = |institution: &str| -> Result<String, Box<dyn std::error::Error>> {
        let out = site.run(&[
            "--listen",
            &listen,
            "--data-dir",
            &data_s,
            "institution",
            "token",
            "--institution",
            institution,
        ])?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    };
    let people = site.with_store(async |s| Ok(s.list_participants(None, 100).await?))?;
    // The status and the request id the gateway answered with.
    let post = |token: &str, body: &serde_json::Value| -> Result<(u16, String), ureq::Error> {
        ureq::post(&format!("http://{listen}/consent/v1/events"))
            .config()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(body)
            .map(|r| {
                let id = r
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                (r.status().as_u16(), id)
            })
    };
    // The permitted audit rows of `participant` made by request `id` on the consent API.
    let audited = |participant: &str, id: &str| -> Result<usize, Box<dyn std::error::Error>> {
        let (participant, id) = (participant.to_owned(), id.to_owned());
        site.with_store(async move |s| {
            Ok(s.audit_records_for_participant(&participant, 0, 10_000)
                .await?
                .into_iter()
                .filter(|r| {
                    r.event.request_id == id
                        && r.event.api == "consent"
                        && r.event.decision == gemj_model::AccessDecision::Permit
                })
                .count())
        })
    };
    let withdrawn =
        |participant: &gemj_model::ParticipantId| -> Result<bool, Box<dyn std::error::Error>> {
            site.with_store(async |s| Ok(s.withdrawn_participants().await?.contains(participant)))
        };
    let mut outcomes = Vec::new();
    for (delay_ms, person) in [0_u64, 3, 15].into_iter().zip(&people) {
        let institution = person.institution.to_string();
        let token = token(&institution)?;
        let event_id = format!("crash-withdrawal-{delay_ms}");
        let body = serde_json::json!({
            "event_id": event_id, "participant": person.id.to_string(),
            "institution": institution, "effective_at": "2026-01-01T00:00:00Z",
            "kind": "withdrawal", "level": "stop_all_use"
        });
        let mut server = site.serve(port, true)?;
        let sent = {
            let (token, body) = (token.clone(), body.clone());
            let poster = post;
            std::thread::scope(|scope| {
                let handle = scope.spawn(move || poster(&token, &body));
                std::thread::sleep(Duration::from_millis(delay_ms));
                let killed = kill_9(&mut server);
                (handle.join(), killed)
            })
        };
        sent.1?;
        // What the first post was told before the kill, if anything.
        let answered = match sent.0 {
            Ok(Ok(answer)) => Some(answer),
            _ => None,
        };
        let stored_first = site.with_store(async |s| {
            Ok(s.consent_events(&person.id)
                .await?
                .into_iter()
                .filter(|e| e.event.event_id == event_id)
                .count())
        })?;
        assert!(stored_first <= 1, "the event stored {stored_first} times");
        if let Some((status, id)) = &answered {
            // An accepted withdrawal is never lost: stored, audited and in force.
            assert_eq!(*status, 201, "the first post answered {status}");
            assert_eq!(
                stored_first, 1,
                "a withdrawal answered 201 was lost by the kill"
            );
            assert_eq!(
                audited(person.id.as_str(), id)?,
                1,
                "a withdrawal answered 201 has no audit row"
            );
            assert!(
                withdrawn(&person.id)?,
                "a withdrawal answered 201 is not in force"
            );
        }
        outcomes.push(match (&answered, stored_first) {
            (Some(_), _) => "answered",
            (None, 1) => "stored, unanswered",
            _ => "not stored",
        });
        site.assert_audit_verifies(&format!("a withdrawal killed after {delay_ms} ms"))?;
        // The retry after a restart: created, or already there (the same contents).
        let mut server = site.serve(port, true)?;
        let (status, id) = post(&token, &body)?;
        // Already there (200) when the first was answered or seen stored; either when it was
        // not: a commit PostgreSQL received before the kill may land after the look above.
        let expected: &[u16] = if answered.is_some() || stored_first == 1 {
            &[200]
        } else {
            &[200, 201]
        };
        assert!(
            expected.contains(&status),
            "the retry answered {status} (stored before it: {stored_first})"
        );
        kill_9(&mut server)?;
        assert_eq!(
            audited(person.id.as_str(), &id)?,
            1,
            "the retry has no audit row"
        );
        assert!(
            withdrawn(&person.id)?,
            "the participant is not withdrawn after the retry"
        );
        let events = site.with_store(async |s| Ok(s.consent_events(&person.id).await?))?;
        assert_eq!(
            events
                .iter()
                .filter(|e| e.event.event_id == event_id)
                .count(),
            1,
            "the withdrawal after its retry (killed after {delay_ms} ms; stored before the retry: {stored_first})"
        );
        site.assert_audit_verifies("the retry")?;
    }
    eprintln!("first posts killed after 0, 3 and 15 ms: {outcomes:?}");
    Ok(())
}
