//! What the catalogue-cache and consent-view tests share: a SQLite store in a temporary folder,
//! two instances over one PostgreSQL schema, the synthetic participant they seed, and waiting
//! (at most 5 s) for a change to reach the second instance.
#![allow(dead_code)]

use std::error::Error;
use std::path::Path;
use std::time::{Duration, Instant};

use gemj_model::{InstitutionId, Participant, ParticipantId, Program, Sex};
use gemj_store::{Store, StoreOptions};

pub(crate) type TestResult = Result<(), Box<dyn Error>>;

/// The URL of a SQLite store in `dir` (for a second pool over the same file), and the store.
pub(crate) async fn sqlite_store(dir: &Path) -> Result<(String, Store), Box<dyn Error>> {
    let url = format!("sqlite:{}", dir.join("g.sqlite").display());
    let store = Store::connect(&url, &StoreOptions::default()).await?;
    Ok((url, store))
}

/// Two instances (pools) over the PostgreSQL schema `{prefix}_{pid}` of `GEMJ_TEST_DATABASE_URL`,
/// or `None` when it is not set: then the two-instance `what` test is skipped, which `CI=true`
/// does not allow.
pub(crate) async fn two_postgres_instances(
    what: &str,
    prefix: &str,
) -> Result<Option<(Store, Store)>, Box<dyn Error>> {
    let Ok(url) = std::env::var("GEMJ_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true needs GEMJ_TEST_DATABASE_URL for the two-instance {what} test"
        );
        eprintln!(
            "gemj-core: two-instance {what} test skipped (set GEMJ_TEST_DATABASE_URL to run it)"
        );
        return Ok(None);
    };
    let opts = StoreOptions {
        max_connections: 4,
        schema: Some(format!("{prefix}_{}", std::process::id())),
    };
    let a = Store::connect(&url, &opts).await?;
    let b = Store::connect(&url, &opts).await?;
    Ok(Some((a, b)))
}

/// Migrates `store` and stores a synthetic hospital with one participant `p` of its own.
pub(crate) async fn seed_participant(store: &Store, p: &ParticipantId) -> TestResult {
    store.migrate().await?;
    let inst = InstitutionId::parse("9999999901")?;
    store.put_institution(&inst, "Synthetic Hospital").await?;
    store
        .upsert_participant(&Participant {
            id: p.clone(),
            institution: inst,
            sex: Sex::Female,
            birth: None,
            program: Program::Cancer,
        })
        .await?;
    Ok(())
}

/// Asks `seen` every 5 ms, for at most 5 s from `started`, whether the second instance serves
/// the change; how long after `started` it first did, `None` when it did not in time.
pub(crate) async fn within_five_seconds(
    started: Instant,
    mut seen: impl AsyncFnMut() -> Result<bool, Box<dyn Error>>,
) -> Result<Option<Duration>, Box<dyn Error>> {
    while started.elapsed() < Duration::from_secs(5) {
        if seen().await? {
            return Ok(Some(started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(None)
}
