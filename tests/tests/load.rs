//! Issue 21's load with withdrawals, bounded for CI: the audited loads of
//! `scripts/bench-tail.sh` (an htsget ticket, a DRS object and a Beacon count, with a
//! registered researcher's passport) from [`CLIENTS`] keep-alive connections, each pausing
//! [`PAUSE`] between requests, for [`LOAD_FOR`], on the embedded SQLite store and then on
//! PostgreSQL (`GEMJ_TEST_DATABASE_URL`; `CI=true` requires it), while the participants' own
//! institutions withdraw two of them through the consent API.
//!
//! What it proves under that load: no request fails (every answer 200, no transport error);
//! every answered request has its permit in the audit (found by its `X-Request-Id`); each
//! withdrawal is answered 201 in the middle of the load, and from the moment it returns its
//! participant's file is gone from DRS and htsget (404) while the others' are served; the audit
//! chains verify afterwards. The latency percentiles are printed (docs/PERFORMANCE.md records
//! them), never asserted: speed is the bench script's to measure, on a release build.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gemj_e2e::{TestGateway, TestResult, visas};
use gemj_model::{AccessDecision, DatasetId, ObjectId, ParticipantId};

/// Connections, each a client thread with its own keep-alive agent.
const CLIENTS: usize = 16;
/// Each connection's pause between a response and its next request (the bench's 40 ms, shorter:
/// fewer connections on a debug build).
const PAUSE: Duration = Duration::from_millis(20);
/// How long the load runs on each store.
const LOAD_FOR: Duration = Duration::from_secs(4);
/// The demo cohort's size.
const PARTICIPANTS: usize = 24;
/// The REGISTERED dataset whose files are read.
const DATASET: &str = "GEMJ-DEMO-RD-REG";

/// One of the three loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    Ticket,
    Object,
    Beacon,
}

impl Load {
    const ALL: [Self; 3] = [Self::Ticket, Self::Object, Self::Beacon];

    fn name(self) -> &'static str {
        match self {
            Self::Ticket => "htsget ticket",
            Self::Object => "DRS object",
            Self::Beacon => "Beacon count",
        }
    }
}

/// A BAM of the dataset and the participant it holds.
#[derive(Debug, Clone)]
struct Bam {
    object: ObjectId,
    participant: ParticipantId,
}

impl Bam {
    fn path(&self, load: Load) -> String {
        match load {
            Load::Ticket => format!(
                "/htsget/reads/{}?format=BAM&referenceName=chr20&start=100000&end=101000",
                self.object
            ),
            Load::Object => format!("/ga4gh/drs/v1/objects/{}", self.object),
            Load::Beacon => {
                "/beacon/v2/individuals?filters=ICD10:C34&requestedGranularity=count".to_owned()
            }
        }
    }
}

/// What one request got.
#[derive(Debug)]
struct Answer {
    load: Load,
    request_id: String,
    /// The status, or the transport error.
    status: Result<u16, String>,
    latency: Duration,
}

/// `GET base + path` with `token` and an `X-Request-Id`, on `agent`: the status and how long
/// the whole answer took.
fn get(
    agent: &ureq::Agent,
    url: &str,
    token: &str,
    request_id: &str,
) -> (Result<u16, String>, Duration) {
    let started = Instant::now();
    let status = agent
        .get(url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("X-Request-Id", request_id)
        .call()
        .map_err(|e| e.to_string())
        .and_then(|mut r| {
            // Answered only once the whole body arrived.
            r.body_mut()
                .read_to_vec()
                .map(|_| r.status().as_u16())
                .map_err(|e| e.to_string())
        });
    (status, started.elapsed())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// The BAMs of [`DATASET`] whose participants the researcher is served now (one to read under
/// load, the others to withdraw), each answered 200 by DRS before the load.
async fn served_bams(
    gw: &TestGateway,
    token: &str,
) -> Result<Vec<Bam>, Box<dyn std::error::Error>> {
    let mut bams = Vec::new();
    for object in gw
        .store
        .dataset_objects(&DatasetId::parse(DATASET)?)
        .await?
    {
        if !object.as_str().ends_with(".bam") {
            continue;
        }
        let Some(participant) = gw
            .store
            .get_object(&object)
            .await?
            .and_then(|o| o.participant)
        else {
            continue;
        };
        let bam = Bam {
            object,
            participant,
        };
        let url = format!("{}{}", gw.base_url, bam.path(Load::Object));
        let (status, _) = tokio::task::block_in_place(|| get(&agent(), &url, token, "load-before"));
        if status == Ok(200) && bams.iter().all(|b: &Bam| b.participant != bam.participant) {
            bams.push(bam);
        }
    }
    Ok(bams)
}

/// The load on `gw` (whose store is named `store` in what is printed), with two withdrawals in
/// its middle, and everything the module promises checked.
async fn load_with_withdrawals(gw: TestGateway, store: &'static str) -> TestResult {
    let now = gemj_auth::now_unix();
    let token = visas::registered_passport(&gw.demo_broker()?, "load", now)?;
    let bams = served_bams(&gw, &token).await?;
    assert!(
        bams.len() >= 3,
        "{DATASET} serves {} participants' BAMs; the test reads one and withdraws two",
        bams.len()
    );
    let (read, withdrawn) = (bams[0].clone(), bams[1..3].to_vec());
    let base = gw.base_url.clone();

    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (stop, token, base, read) =
            (Arc::clone(&stop), token.clone(), base.clone(), read.clone());
        clients.push(std::thread::spawn(move || {
            let agent = agent();
            let mut answers = Vec::new();
            let mut n = 0_usize;
            while !stop.load(Ordering::Relaxed) {
                let load = Load::ALL[(client + n) % Load::ALL.len()];
                n += 1;
                let request_id = format!("load-{store}-{client}-{n}");
                let url = format!("{base}{}", read.path(load));
                let (status, latency) = get(&agent, &url, &token, &request_id);
                answers.push(Answer {
                    load,
                    request_id,
                    status,
                    latency,
                });
                std::thread::sleep(PAUSE);
            }
            answers
        }));
    }

    // Two withdrawals in the middle of the load, each by the participant's own institution.
    let started = Instant::now();
    let institutions = gemj_demo::broker::institutions(gw.data_dir(), &base)?;
    let consent = agent();
    for (i, bam) in withdrawn.iter().enumerate() {
        let at = LOAD_FOR * u32::try_from(i + 1)? / 3;
        tokio::time::sleep(at.saturating_sub(started.elapsed())).await;
        let institution = gw
            .store
            .get_participant(&bam.participant)
            .await?
            .ok_or("the withdrawn participant")?
            .institution;
        let (_, signer) = institutions
            .iter()
            .find(|(id, _)| *id == institution)
            .ok_or("the participant's institution")?;
        let consent_token =
            signer.issue_token("consent-system", &base, Duration::from_secs(300), now)?;
        let withdrawal = serde_json::json!({
            "event_id": format!("load-{store}-w-{i}"), "participant": bam.participant.to_string(),
            "institution": institution.to_string(), "effective_at": "2026-01-01T00:00:00Z",
            "kind": "withdrawal", "level": "stop_all_use"
        });
        let (status, after) = tokio::task::block_in_place(|| {
            let status = consent
                .post(&format!("{base}/consent/v1/events"))
                .header("Authorization", &format!("Bearer {consent_token}"))
                .send_json(&withdrawal)
                .map(|r| r.status().as_u16());
            // At once after the withdrawal returned: its participant's file is gone.
            let after: Vec<_> = [Load::Object, Load::Ticket]
                .into_iter()
                .map(|load| {
                    let url = format!("{base}{}", bam.path(load));
                    (load, get(&consent, &url, &token, "load-after").0)
                })
                .collect();
            (status, after)
        });
        assert_eq!(status?, 201, "{store}: withdrawal {i} under load");
        for (load, status) in after {
            assert_eq!(
                status,
                Ok(404),
                "{store}: the {} of a participant withdrawn under load",
                load.name()
            );
        }
    }
    tokio::time::sleep(LOAD_FOR.saturating_sub(started.elapsed())).await;
    stop.store(true, Ordering::Relaxed);
    let mut answers = Vec::new();
    for c in clients {
        answers.extend(
            tokio::task::block_in_place(|| c.join()).map_err(|_| "a load client panicked")?,
        );
    }
    let elapsed = started.elapsed();

    let failed: Vec<&Answer> = answers.iter().filter(|a| a.status != Ok(200)).collect();
    assert!(
        failed.is_empty(),
        "{store}: {} of {} requests failed under load, e.g. {:?}",
        failed.len(),
        answers.len(),
        &failed[..failed.len().min(5)]
    );
    for load in Load::ALL {
        assert!(
            answers.iter().filter(|a| a.load == load).count() >= 20,
            "{store}: too few {} requests to say anything",
            load.name()
        );
    }

    // Every answer has its permit in the audit.
    let mut permitted = HashSet::new();
    let mut after = 0;
    loop {
        let page = gw.store.audit_records(after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in page {
            if r.event.decision == AccessDecision::Permit {
                permitted.insert(r.event.request_id);
            }
        }
    }
    let unaudited: Vec<&str> = answers
        .iter()
        .map(|a| a.request_id.as_str())
        .filter(|id| !permitted.contains(*id))
        .collect();
    assert!(
        unaudited.is_empty(),
        "{store}: {} of {} answered requests have no permit in the audit, e.g. {:?}",
        unaudited.len(),
        answers.len(),
        &unaudited[..unaudited.len().min(5)]
    );

    // The figures (a debug build, the test's own clients on the same two cores).
    for load in Load::ALL {
        let mut ms: Vec<f64> = answers
            .iter()
            .filter(|a| a.load == load)
            .map(|a| a.latency.as_secs_f64() * 1e3)
            .collect();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1;
            ms[i]
        };
        eprintln!(
            "{store}: {}: {} answered, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            load.name(),
            ms.len(),
            at(0.50),
            at(0.99),
            at(1.0)
        );
    }
    let rate = answers.len() as f64 / elapsed.as_secs_f64();
    eprintln!(
        "{store}: {} requests in {:.1} s ({rate:.0}/s) from {CLIENTS} connections pausing {} ms, \
         2 withdrawals, every answer 200 and audited",
        answers.len(),
        elapsed.as_secs_f64(),
        PAUSE.as_millis()
    );
    gw.stop_with_intact_chains().await?;
    Ok(())
}

/// Beacon budgets far above the load, as the bench script sets them.
fn budgets(c: &mut gemj_server::Config) {
    c.beacon.budgets.per_caller = 1_000_000_000;
    c.beacon.budgets.per_ip = 1_000_000_000;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_under_load_with_withdrawals_is_answered_and_audited() -> TestResult {
    let gw = TestGateway::start_with(PARTICIPANTS, budgets).await?;
    load_with_withdrawals(gw, "SQLite").await?;

    let Ok(url) = std::env::var("GEMJ_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true needs GEMJ_TEST_DATABASE_URL for the load on PostgreSQL"
        );
        eprintln!("PostgreSQL load skipped (set GEMJ_TEST_DATABASE_URL to run it)");
        return Ok(());
    };
    let opts = gemj_store::StoreOptions::fresh_schema("gemj_load", 4);
    let schema = opts.schema.clone().ok_or("a schema")?;
    let gw = TestGateway::start_with(PARTICIPANTS, |c| {
        budgets(c);
        c.database.url.clone_from(&url);
        c.database.schema.clone_from(&schema);
    })
    .await?;
    let outcome = load_with_withdrawals(gw, "PostgreSQL").await;
    // A pool of this test's own runtime drops the schema, whatever the load's outcome.
    let store = gemj_store::Store::connect(&url, &opts).await?;
    store.drop_schema_and_close().await?;
    outcome
}
