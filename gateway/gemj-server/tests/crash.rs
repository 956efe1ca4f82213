//! Crash safety, proved on the real binary: `kill -9` (SIGKILL) in the middle of a burst of
//! audited requests and of a withdrawal, then restart (an ingest killed mid-run is
//! `ingest_kill.rs`). Nothing stored is lost or half-written: every request answered with a
//! permit has its audit row, a withdrawal is stored whole or not at all and its retry lands
//! exactly once, and `audit verify` passes after every kill.
//!
//! Each test starts and kills only its own processes, on free loopback ports, bounded in count
//! and time.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gemj_store::{Store, StoreOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BIN: &str = env!("CARGO_BIN_EXE_gemj-gateway");

/// The binary with no `GEMJ_*` or `RUST_LOG` variables of the test's environment.
fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("GEMJ_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn run(args: &[&str]) -> Result<Output, std::io::Error> {
    command(args).output()
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A small demo cohort in `data`.
fn demo(data: &str) -> TestResult {
    let out = run(&[
        "demo",
        "--dir",
        data,
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

/// `audit verify` on `data` passes: every hash chain intact.
fn assert_audit_verifies(data: &str, after: &str) -> TestResult {
    let out = run(&["--data-dir", data, "audit", "verify"])?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("all hash chains intact"),
        "after {after}: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The store of a data folder, opened beside (or after) the gateway.
fn with_store<T>(
    data: &Path,
    f: impl AsyncFnOnce(Store) -> Result<T, Box<dyn std::error::Error>>,
) -> Result<T, Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let url = format!("sqlite://{}", data.join("gemj.sqlite").display());
        let store = Store::connect(&url, &StoreOptions::default()).await?;
        let out = f(store.clone()).await;
        store.close().await;
        out
    })
}

/// SIGKILL (std's `Child::kill` on Unix), then reap.
fn kill_9(child: &mut Child) -> std::io::Result<()> {
    child.kill()?;
    child.wait().map(|_| ())
}

/// `serve` on `port`, returned once `/readyz` answers 200.
fn serve(data: &str, port: u16, demo: bool) -> Result<Child, Box<dyn std::error::Error>> {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["--listen", listen.as_str(), "--data-dir", data, "serve"];
    if demo {
        args.push("--demo");
    }
    let mut child = command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
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
        if let Some(status) = child.try_wait()? {
            return Err(format!("the gateway exited before it was ready: {status}").into());
        }
        if started.elapsed() > Duration::from_secs(60) {
            kill_9(&mut child)?;
            return Err("the gateway was not ready within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A burst of audited requests from four clients, the gateway killed in the middle of it:
/// every request answered 200 has its audit row (found by its `X-Request-Id`), the chains
/// verify, and the restarted gateway serves.
#[test]
fn every_request_answered_before_a_kill_has_its_audit_row() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    demo(&data_s)?;
    let port = free_port()?;
    let mut server = serve(&data_s, port, false)?;
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
    assert_audit_verifies(&data_s, "a burst killed")?;
    let audited = with_store(&data, async |s| {
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
    })?;
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
    let mut server = serve(&data_s, port, false)?;
    let res = ureq::get(&format!("http://127.0.0.1:{port}/catalogue/v1/datasets")).call()?;
    assert_eq!(res.status(), 200);
    kill_9(&mut server)?;
    assert_audit_verifies(&data_s, "the restart")?;
    Ok(())
}

/// A withdrawal posted and the gateway killed a few milliseconds later, at several delays:
/// the event is stored whole or not at all, the chains verify, and after a restart the retry
/// (same `event_id`) lands exactly once and the participant is withdrawn.
#[test]
fn a_withdrawal_killed_midway_lands_exactly_once_on_retry() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    demo(&data_s)?;
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let token = |institution: &str| -> Result<String, Box<dyn std::error::Error>> {
        let out = run(&[
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
    let people = with_store(&data, async |s| Ok(s.list_participants(None, 100).await?))?;
    let post = |token: &str, body: &serde_json::Value| -> Result<u16, ureq::Error> {
        ureq::post(&format!("http://{listen}/consent/v1/events"))
            .config()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(body)
            .map(|r| r.status().as_u16())
    };
    for (delay_ms, person) in [0_u64, 3, 15].into_iter().zip(&people) {
        let institution = person.institution.to_string();
        let token = token(&institution)?;
        let event_id = format!("crash-withdrawal-{delay_ms}");
        let body = serde_json::json!({
            "event_id": event_id, "participant": person.id.to_string(),
            "institution": institution, "effective_at": "2026-01-01T00:00:00Z",
            "kind": "withdrawal", "level": "stop_all_use"
        });
        let mut server = serve(&data_s, port, true)?;
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
        let stored_first = with_store(&data, async |s| {
            Ok(s.consent_events(&person.id)
                .await?
                .into_iter()
                .filter(|e| e.event.event_id == event_id)
                .count())
        })?;
        assert!(stored_first <= 1, "the event stored {stored_first} times");
        assert_audit_verifies(&data_s, &format!("a withdrawal killed after {delay_ms} ms"))?;
        // The retry after a restart: created, or already there (the same contents).
        let mut server = serve(&data_s, port, true)?;
        let status = post(&token, &body)?;
        assert!(matches!(status, 200 | 201), "retry answered {status}");
        kill_9(&mut server)?;
        let events = with_store(&data, async |s| Ok(s.consent_events(&person.id).await?))?;
        assert_eq!(
            events
                .iter()
                .filter(|e| e.event.event_id == event_id)
                .count(),
            1,
            "the withdrawal after its retry (killed after {delay_ms} ms; stored before the retry: {stored_first})"
        );
        assert_audit_verifies(&data_s, "the retry")?;
    }
    Ok(())
}
