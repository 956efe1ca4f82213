//! Audit records written per second through [`AuditSink`] (group commit), with 1, 16 and 256
//! concurrent writers each awaiting its acknowledgement before the next record, on SQLite (a
//! temporary file, WAL as the store sets it) and, when `GEMJ_TEST_DATABASE_URL` is set, on
//! PostgreSQL (a fresh schema, dropped afterwards). One criterion element is one durable,
//! acknowledged record.
//!
//! Run: `cargo bench -p gemj-core --bench audit`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use gemj_core::audit::{AuditOptions, AuditSink};
use gemj_model::{AccessDecision, AuditEvent};
use gemj_store::{Store, StoreOptions};

const WRITERS: [u64; 3] = [1, 16, 256];

fn event(n: u64) -> AuditEvent {
    AuditEvent {
        at: time::OffsetDateTime::now_utc(),
        request_id: format!("bench-{n}"),
        api: "htsget".to_owned(),
        endpoint: "/ga4gh/htsget/v1/reads/{id}".to_owned(),
        principal: format!("https://broker.example#researcher{}", n % 64),
        action: "read_data".to_owned(),
        resource: format!("object:OBJ-{}", n % 1000),
        decision: AccessDecision::Permit,
        reasons: vec!["registered_access".to_owned()],
        credential_hashes: vec![
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
        ],
        approval: None,
        consent_epoch: Some(7),
        participants: vec![format!("GEMJ-T-{:04}", n % 500)],
        records_returned: Some(1),
        records_filtered: Some(0),
    }
}

/// Writes `total` records from `writers` concurrent tasks and returns the elapsed time.
async fn write(sink: &AuditSink, next: &Arc<AtomicU64>, writers: u64, total: u64) -> Duration {
    let end = next.load(Ordering::Relaxed) + total;
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let sink = sink.clone();
            let next = Arc::clone(next);
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= end {
                        break;
                    }
                    sink.record(event(n)).await.expect("audit record written");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task");
    }
    let elapsed = start.elapsed();
    // Writers overshoot `end` by one fetch each; start the next run from a clean number.
    next.store(end, Ordering::Relaxed);
    elapsed
}

fn bench_store(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, store: &Store) {
    let sink = AuditSink::new(store.clone(), AuditOptions::default());
    let next = Arc::new(AtomicU64::new(0));
    let mut group = c.benchmark_group(format!("audit_group_commit/{name}"));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1));
    for writers in WRITERS {
        group.bench_function(format!("writers_{writers}"), |b| {
            b.iter_custom(|iters| rt.block_on(write(&sink, &next, writers, iters)));
        });
    }
    group.finish();
    drop(sink);
    let report = rt.block_on(store.verify_chains()).expect("verify chains");
    assert!(
        report.is_intact(),
        "audit chain broken: {:?}",
        report.broken
    );
    println!(
        "audit_group_commit/{name}: {} records written, chain intact",
        report.audit_rows
    );
}

fn audit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite:{}", dir.path().join("audit-bench.sqlite").display());
    let store = rt
        .block_on(async {
            let s = Store::connect(&url, &StoreOptions::default()).await?;
            s.migrate().await?;
            Ok::<_, gemj_store::StoreError>(s)
        })
        .expect("SQLite store");
    bench_store(c, "sqlite", &rt, &store);
    rt.block_on(store.close());

    match std::env::var("GEMJ_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let schema = format!("gemj_bench_audit_{}", std::process::id());
            let opts = StoreOptions {
                max_connections: 4,
                schema: Some(schema),
            };
            let store = rt
                .block_on(async {
                    let s = Store::connect(&url, &opts).await?;
                    s.migrate().await?;
                    Ok::<_, gemj_store::StoreError>(s)
                })
                .expect("PostgreSQL store");
            bench_store(c, "postgres", &rt, &store);
            rt.block_on(store.drop_schema_and_close())
                .expect("drop the benchmark schema");
        }
        _ => println!("PostgreSQL benchmark skipped (set GEMJ_TEST_DATABASE_URL to run it)"),
    }
}

criterion_group!(benches, audit);
criterion_main!(benches);
