//! The catalogue cache: what a ticket or a DRS lookup reads about an object (its datasets, its
//! participants) is served from memory, yet a change is seen at once when this process wrote it,
//! within the poll interval when another process did (SQLite), and through `NOTIFY` on
//! PostgreSQL without waiting for a poll.

mod support;

use std::time::{Duration, Instant};

use gemj_core::catalogue_cache::{CatalogueCache, CatalogueCacheOptions};
use gemj_model::{
    AccessLevel, Checksums, DataFormat, DataObject, DataUseCondition, Dataset, DatasetId, DuoCode,
    ObjectId, ParticipantId, Specimen, SpecimenId, SpecimenType,
};
use gemj_store::{Store, StoreOptions};
use support::{TestResult, seed_participant, sqlite_store, two_postgres_instances};

fn object(id: &str, specimens: Vec<SpecimenId>) -> Result<DataObject, Box<dyn std::error::Error>> {
    Ok(DataObject {
        id: ObjectId::parse(id)?,
        name: format!("{id}.vcf.gz"),
        format: DataFormat::Vcf,
        size: 1,
        checksums: Checksums::new(&"0".repeat(64), &"0".repeat(32))?,
        storage_uri: format!("file:{id}"),
        index: None,
        participant: None,
        specimens,
        analysis: None,
        description: None,
    })
}

fn dataset(id: &str) -> Result<Dataset, Box<dyn std::error::Error>> {
    Ok(Dataset {
        id: DatasetId::parse(id)?,
        name: format!("Synthetic {id}"),
        description: "A synthetic dataset.".to_owned(),
        access_level: AccessLevel::Registered,
        data_use: DataUseCondition {
            permission: DuoCode::parse("DUO:0000042")?,
            modifiers: vec![],
            disease: None,
            countries: vec![],
            institutions: vec![],
            projects: vec![],
            users: vec![],
        },
    })
}

/// One participant with one DNA specimen, one dataset, and an object naming no specimen.
async fn seed(store: &Store) -> Result<(ParticipantId, SpecimenId), Box<dyn std::error::Error>> {
    let p = ParticipantId::parse("GEMJ-T-0001")?;
    seed_participant(store, &p).await?;
    let s = SpecimenId::parse("SP-T-0001-DNA")?;
    store
        .upsert_specimen(&Specimen {
            id: s.clone(),
            participant: p.clone(),
            specimen_type: SpecimenType::Dna,
            parent: None,
            collected: None,
            tumour: None,
            biobank_sample: true,
            details: Default::default(),
        })
        .await?;
    store.put_dataset(&dataset("GEMJ-T-DS")?).await?;
    store.put_object(&object("OBJ-1", vec![])?).await?;
    Ok((p, s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_at_once_other_processes_within_the_poll_interval() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (url, here) = sqlite_store(dir.path()).await?;
    let (p, s) = seed(&here).await?;
    // Another process on the same file: a second pool with its own write counter.
    let elsewhere = Store::connect(&url, &StoreOptions::default()).await?;
    let options = CatalogueCacheOptions {
        poll_interval: Duration::from_millis(100),
        ..CatalogueCacheOptions::default()
    };
    let cache = CatalogueCache::start(here.clone(), options).await?;
    let id = ObjectId::parse("OBJ-1")?;
    let ds = DatasetId::parse("GEMJ-T-DS")?;

    let first = cache.object(&id).await?.ok_or("OBJ-1 is stored")?;
    assert!(first.datasets.is_empty() && first.participants.is_empty());
    assert_eq!(cache.len(), 1, "the lookup is kept");
    let again = cache.object(&id).await?.ok_or("OBJ-1")?;
    assert!(
        std::sync::Arc::ptr_eq(&first, &again),
        "a second lookup is served from memory"
    );
    let missing = ObjectId::parse("OBJ-2")?;
    assert!(cache.object(&missing).await?.is_none());

    // A write through this process is seen by the very next lookup.
    here.add_dataset_objects(&ds, std::slice::from_ref(&id))
        .await?;
    let after = cache.object(&id).await?.ok_or("OBJ-1")?;
    assert_eq!(
        after
            .datasets
            .iter()
            .map(|d| d.id.clone())
            .collect::<Vec<_>>(),
        vec![ds.clone()],
        "own write seen at once"
    );

    // Another process registers OBJ-2 and gives OBJ-1 a specimen: the epoch moves, and the
    // cache forgets what it held within one poll interval.
    elsewhere.put_object(&object("OBJ-2", vec![])?).await?;
    elsewhere.put_object(&object("OBJ-1", vec![s])?).await?;
    let started = Instant::now();
    loop {
        let one = cache.object(&id).await?.ok_or("OBJ-1")?;
        let two = cache.object(&missing).await?;
        if one.participants == vec![p.clone()] && two.is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "another process's change not seen after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "a change by another process was served {} ms after it committed (poll 100 ms)",
        started.elapsed().as_millis()
    );
    // Once current, the answer is kept again.
    let a = cache.object(&id).await?.ok_or("OBJ-1")?;
    let b = cache.object(&id).await?.ok_or("OBJ-1")?;
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(a.participants, vec![p]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_that_cannot_confirm_its_epoch_reads_the_store() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (url, here) = sqlite_store(dir.path()).await?;
    seed(&here).await?;
    let elsewhere = Store::connect(&url, &StoreOptions::default()).await?;
    // The poller never runs within the test: after max_staleness the cache may not answer
    // from memory, so another process's change is seen by the next lookup.
    let options = CatalogueCacheOptions {
        poll_interval: Duration::from_secs(3600),
        max_staleness: Duration::from_millis(200),
        ..CatalogueCacheOptions::default()
    };
    let cache = CatalogueCache::start(here.clone(), options).await?;
    let id = ObjectId::parse("OBJ-1")?;
    assert!(cache.object(&id).await?.is_some());
    let ds = DatasetId::parse("GEMJ-T-DS")?;
    elsewhere
        .add_dataset_objects(&ds, std::slice::from_ref(&id))
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = cache.object(&id).await?.ok_or("OBJ-1")?;
    assert_eq!(seen.datasets.len(), 1, "a stale cache is bypassed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_postgres_instance_hears_the_change_without_polling() -> TestResult {
    let Some((a, b)) = two_postgres_instances("catalogue", "gemj_cc").await? else {
        return Ok(());
    };
    let (p, s) = seed(&a).await?;
    // B polls once a minute: only the notification can make it see A's change in time.
    let options = CatalogueCacheOptions {
        poll_interval: Duration::from_secs(60),
        ..CatalogueCacheOptions::default()
    };
    let cache_b = CatalogueCache::start(b.clone(), options).await?;
    let id = ObjectId::parse("OBJ-1")?;
    assert!(
        cache_b
            .object(&id)
            .await?
            .ok_or("OBJ-1")?
            .participants
            .is_empty()
    );
    // Let the listener connect before the change is made.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    a.put_object(&object("OBJ-1", vec![s])?).await?;
    let seen = support::within_five_seconds(started, async || {
        Ok(cache_b.object(&id).await?.ok_or("OBJ-1")?.participants == vec![p.clone()])
    })
    .await?
    .ok_or("instance B still serves the old object after 5 s")?;
    eprintln!(
        "a catalogue change reached the second instance in {} ms",
        seen.as_millis()
    );
    // The cache's background task holds a listening connection of B's pool; it ends when it
    // next wakes with no cache handle left, which one more announced change makes immediate.
    drop(cache_b);
    a.put_object(&object("OBJ-3", vec![])?).await?;
    tokio::time::timeout(Duration::from_secs(10), b.close()).await?;
    a.drop_schema_and_close().await?;
    Ok(())
}
