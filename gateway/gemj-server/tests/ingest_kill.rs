//! `gemj-gateway ingest` killed mid-run (SIGKILL, no chance to clean up): what it committed is
//! whole batches only, nothing else; running it again completes the ingest, and the result is
//! exactly that of an uninterrupted run. Also the command's exit codes and report file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gemj_ingest::{ApplyOptions, IngestReport, apply};
use gemj_model::source::{
    Extract, HospitalPatientId, RecordBody, SourceRecord, SubjectFacts, SubjectRef,
};
use gemj_model::{InstitutionId, ParticipantId, Program, Provenance, Sex};
use gemj_store::{Store, StoreOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Res<T> = Result<T, Box<dyn std::error::Error>>;

const BIN: &str = env!("CARGO_BIN_EXE_gemj-gateway");
const PATIENTS: usize = 300;

fn command(data: &Path, args: &[&str], batch: &str) -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("GEMJ_") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("RUST_LOG")
        .env("GEMJ_INGEST__BATCH_FILES", batch)
        .arg("--data-dir")
        .arg(data)
        .args(args);
    cmd
}

async fn store_of(data: &Path) -> Res<Store> {
    let url = format!("sqlite://{}", data.join("gemj.sqlite").display());
    let store = Store::connect(&url, &StoreOptions::default()).await?;
    store.migrate().await?;
    Ok(store)
}

/// Enrols the synthetic patients (each hospital id linked to a participant), as an EDC would.
async fn enrol(store: &Store) -> TestResult {
    let institution = InstitutionId::parse(gemj_ssmix2::synthetic::INSTITUTION)?;
    let mut extract = Extract::default();
    for i in 0..PATIENTS {
        let id = ParticipantId::parse(&format!("GEMJ-KILL-{i:05}"))?;
        extract.records.push(SourceRecord {
            subject: SubjectRef::Participant(id.clone()),
            provenance: Provenance {
                source: "test".to_owned(),
                file: None,
                position: Some(format!("subject {i}")),
                value: None,
            },
            body: RecordBody::Subject(SubjectFacts {
                participant: Some(id),
                hospital_ids: vec![HospitalPatientId {
                    institution: institution.clone(),
                    patient: (gemj_ssmix2::synthetic::FIRST_PATIENT + i as u64).to_string(),
                }],
                institution: Some(institution.clone()),
                sex: Some(Sex::Unknown),
                program: Some(Program::RareDisease),
                ..SubjectFacts::default()
            }),
        });
    }
    let mut report = IngestReport::new("test", false);
    apply(store, extract, &ApplyOptions::default(), &mut report).await?;
    assert_eq!(report.totals.created, PATIENTS as u64);
    Ok(())
}

/// Everything the SS-MIX2 ingest writes, as text.
async fn digest(store: &Store) -> Res<Vec<String>> {
    let mut out = Vec::new();
    for i in 0..PATIENTS {
        let id = ParticipantId::parse(&format!("GEMJ-KILL-{i:05}"))?;
        for d in store.diagnoses_of(&id).await? {
            out.push(serde_json::to_string(&d)?);
        }
        for m in store.measurements_of(&id).await? {
            out.push(serde_json::to_string(&m)?);
        }
    }
    Ok(out)
}

fn tree() -> Res<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("standard_root");
    for (path, bytes) in gemj_ssmix2::synthetic::generate_tree(PATIENTS, 11) {
        let target = root.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, bytes)?;
    }
    Ok((dir, root))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_ingest_leaves_whole_batches_and_a_rerun_completes_it() -> TestResult {
    let (_tree_dir, root) = tree()?;
    let root_s = root.to_string_lossy().into_owned();

    // The reference: one uninterrupted run.
    let clean = tempfile::tempdir()?;
    let clean_store = store_of(clean.path()).await?;
    enrol(&clean_store).await?;
    let report = clean.path().join("report.json");
    let out = command(
        clean.path(),
        &[
            "ingest",
            "ssmix2",
            &root_s,
            "--report",
            &report.to_string_lossy(),
        ],
        "10",
    )
    .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report)?)?;
    let totals = &json["totals"];
    // Superseded files and the results of deleted orders are accounted for as quarantined, with
    // their reason; nothing else is.
    let quarantined = json["quarantined"].as_array().ok_or("quarantined")?;
    assert_eq!(
        totals["quarantined"].as_u64(),
        Some(quarantined.len() as u64)
    );
    assert!(
        quarantined.iter().all(|q| q["reason"]
            .as_str()
            .is_some_and(|r| r.contains("superseded") || r.contains("order was deleted"))),
        "{json:#}"
    );
    assert!(
        totals["created"].as_u64() > Some(PATIENTS as u64),
        "{json:#}"
    );
    let expected = digest(&clean_store).await?;

    // The same, killed as soon as the first batches are committed.
    let killed = tempfile::tempdir()?;
    let store = store_of(killed.path()).await?;
    enrol(&store).await?;
    let mut child = command(killed.path(), &["ingest", "ssmix2", &root_s], "10")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let started = Instant::now();
    let partial = loop {
        let rows = digest(&store).await?;
        if !rows.is_empty()
            || started.elapsed() > Duration::from_secs(60)
            || child.try_wait()?.is_some()
        {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    child.kill()?;
    let status = child.wait()?;
    let after_kill = digest(&store).await?;
    assert!(
        !status.success(),
        "the run must be killed before it finishes (it committed {} rows first)",
        partial.len()
    );
    assert!(
        after_kill.len() < expected.len(),
        "the kill came too late to test anything"
    );
    // What the killed run committed is part of the complete result, nothing else.
    for row in &after_kill {
        assert!(
            expected.contains(row),
            "a row the clean run never wrote: {row}"
        );
    }
    assert!(store.verify_chains().await?.is_intact());
    // And as an operator would check it after the crash: `audit verify`.
    let out = command(killed.path(), &["audit", "verify"], "10").output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("all hash chains intact"),
        "audit verify after the kill: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "ingest killed after {} of {} rows were committed; the rerun completed it",
        after_kill.len(),
        expected.len()
    );

    // Running it again completes it: the same result as the uninterrupted run.
    let out = command(killed.path(), &["ingest", "ssmix2", &root_s], "10").output()?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(digest(&store).await?, expected);

    // And once more changes nothing.
    let out = command(killed.path(), &["ingest", "ssmix2", &root_s], "10").output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(" 0 created, 0 merged,"), "{stdout}");
    assert_eq!(digest(&store).await?, expected);
    Ok(())
}

#[test]
fn ingest_exit_codes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    // Quarantined records: the run succeeds, the summary lists them.
    let fixtures = gemj_schemas::testing::examples_dir().join("adapters");
    let out = command(
        &data,
        &[
            "ingest",
            "ssmix2",
            &fixtures.join("ssmix2/standard_root").to_string_lossy(),
        ],
        "256",
    )
    .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("not linked to a GeMJ participant"),
        "{stdout}"
    );
    // Bad input: exit code 2, one line.
    let out = command(&data, &["ingest", "genome", "/no/such/file.vcf"], "256").output()?;
    assert_eq!(out.status.code(), Some(2));
    let out = command(
        &data,
        &[
            "ingest",
            "genome",
            &fixtures
                .join("vcf/GEMJ-TEST-0002.germline.vcf")
                .to_string_lossy(),
        ],
        "256",
    )
    .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--dataset"), "{stderr}");
    let out = command(
        &data,
        &[
            "ingest",
            "redcap",
            &fixtures
                .join("redcap/rd-registry_records_raw.csv")
                .to_string_lossy(),
        ],
        "256",
    )
    .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("data dictionary"), "{stderr}");
    Ok(())
}
