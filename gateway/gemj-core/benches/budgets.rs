//! What Beacon's shared budgets cost one query (issue 21): taking the caller's and the
//! address's query budgets (one transaction) and reading the caller's spent risk ledger
//! (`take_and_read`, every query), and that plus charging a small answer to three participants
//! (`with_a_charge`, the worst case: most answers charge nothing). With 1 and 16 concurrent callers, on SQLite (a temporary file, WAL as the store
//! sets it) and, when `GEMJ_TEST_DATABASE_URL` is set, on PostgreSQL (a fresh schema, dropped
//! afterwards). One criterion element is one query's budget work.
//!
//! Run: `cargo bench -p gemj-core --bench budgets`.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use gemj_core::beacon::privacy::{BudgetSettings, Budgets};
use gemj_store::{Store, StoreOptions};
use roaring::RoaringBitmap;

const CALLERS: [u64; 2] = [1, 16];

/// One query's budget work for caller `n % 64`; `charge`: also charge a small answer.
async fn one_query(budgets: &Budgets, n: u64, charge: bool) {
    let caller = format!("https://broker.example#researcher{}", n % 64);
    let ip: IpAddr = [192, 0, 2, u8::try_from(n % 200).unwrap_or(1)].into();
    budgets
        .take(Some(&caller), Some(ip))
        .await
        .expect("store")
        .expect("the budget is high enough");
    let spent = budgets.exhausted(&caller).await.expect("store");
    assert!(spent.len() < 1_000_000);
    if !charge {
        return;
    }
    let answer: RoaringBitmap = [
        u32::try_from(n % 500).unwrap_or(0),
        u32::try_from((n + 1) % 500).unwrap_or(0),
        u32::try_from((n + 2) % 500).unwrap_or(0),
    ]
    .into_iter()
    .collect();
    budgets.charge(&caller, &answer).await.expect("store");
}

async fn run(
    budgets: &Arc<Budgets>,
    next: &Arc<AtomicU64>,
    (callers, charge): (u64, bool),
    total: u64,
) -> Duration {
    let end = next.load(Ordering::Relaxed) + total;
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let budgets = Arc::clone(budgets);
            let next = Arc::clone(next);
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= end {
                        break;
                    }
                    one_query(&budgets, n, charge).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("caller task");
    }
    let elapsed = start.elapsed();
    next.store(end, Ordering::Relaxed);
    elapsed
}

fn bench_store(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, store: &Store) {
    let settings = BudgetSettings {
        per_caller: u32::MAX,
        per_ip: u32::MAX,
        risk_budget: u32::MAX,
        ..BudgetSettings::default()
    };
    let budgets = Arc::new(Budgets::new(settings, store.clone()));
    let next = Arc::new(AtomicU64::new(0));
    let mut group = c.benchmark_group(format!("beacon_budgets/{name}"));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1));
    for callers in CALLERS {
        for (charge, label) in [(false, "take_and_read"), (true, "with_a_charge")] {
            group.bench_function(format!("{label}/callers_{callers}"), |b| {
                b.iter_custom(|iters| rt.block_on(run(&budgets, &next, (callers, charge), iters)));
            });
        }
    }
    group.finish();
}

fn budgets(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!(
        "sqlite:{}",
        dir.path().join("budgets-bench.sqlite").display()
    );
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
            let schema = format!("gemj_bench_budgets_{}", std::process::id());
            let opts = StoreOptions {
                max_connections: 8,
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

criterion_group!(benches, budgets);
criterion_main!(benches);
