//! The cache of opened files: a hit within `RECHECK_AFTER` of the last confirmation is
//! answered without storage; after it, storage is asked again, and a file replaced in place
//! (another size or modification time) is opened afresh rather than sliced with its old index.

use std::sync::Arc;

use gemj_demo::genomes::{DemoGenomeOptions, generate};
use gemj_genomics::slice::{FileCache, Format, RECHECK_AFTER};
use gemj_objects::{LocalFolderStorage, ObjectKey};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn a_recent_entry_is_answered_and_a_replaced_file_reopened() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = DemoGenomeOptions {
        samples: vec!["SP-C01".to_owned(), "SP-C02".to_owned()],
        coverage: 1.0,
        contigs: vec![("chr20".to_owned(), 50_000)],
        ..Default::default()
    };
    let g = generate(&opts, &dir.path().join("demo"))?;
    let storage = LocalFolderStorage::new(dir.path().join("store"));
    let (file, index) = (ObjectKey::parse("a.bam")?, ObjectKey::parse("a.bam.bai")?);
    std::fs::create_dir_all(storage.root())?;
    std::fs::copy(&g.samples[0].bam, storage.path_of(&file))?;
    std::fs::copy(&g.samples[0].bai, storage.path_of(&index))?;

    let cache = FileCache::new(4);
    assert!(
        cache.recent_object(Format::Bam, &storage, &file).is_none(),
        "nothing is cached yet"
    );
    let first = cache.open_object(Format::Bam, &storage, &file, &index)?;
    let hit = cache
        .recent_object(Format::Bam, &storage, &file)
        .ok_or("a file opened a moment ago is answered from the cache")?;
    assert!(Arc::ptr_eq(&first, &hit));
    assert!(
        cache.recent_object(Format::Vcf, &storage, &file).is_none(),
        "the format is part of the key"
    );

    // Past the bound, the cache asks storage again: an unchanged file is the same entry.
    std::thread::sleep(RECHECK_AFTER + std::time::Duration::from_millis(50));
    assert!(cache.recent_object(Format::Bam, &storage, &file).is_none());
    let again = cache.open_object(Format::Bam, &storage, &file, &index)?;
    assert!(Arc::ptr_eq(&first, &again), "unchanged on storage");
    assert!(cache.recent_object(Format::Bam, &storage, &file).is_some());

    // Replaced in place by another sample's file: once the bound has passed, it is reopened.
    std::fs::copy(&g.samples[1].bam, storage.path_of(&file))?;
    std::fs::copy(&g.samples[1].bai, storage.path_of(&index))?;
    std::thread::sleep(RECHECK_AFTER + std::time::Duration::from_millis(50));
    assert!(cache.recent_object(Format::Bam, &storage, &file).is_none());
    let replaced = cache.open_object(Format::Bam, &storage, &file, &index)?;
    assert!(
        !Arc::ptr_eq(&first, &replaced),
        "a replaced file is opened afresh"
    );
    Ok(())
}
