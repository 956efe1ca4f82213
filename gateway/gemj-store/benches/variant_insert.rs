//! Rows per second of `Store::insert_variants`: batches of 100,000 synthetic rows (sorted SNVs
//! and short indels on one chromosome, each with a small roaring bitmap of 1 to 6 carriers
//! among 10,000 participants), on SQLite (a temporary file) and, when
//! `GEMJ_TEST_DATABASE_URL` is set, on PostgreSQL (a fresh schema, dropped afterwards).
//!
//! `insert` writes new keys (a fresh dataset per iteration, so the table grows as in a real
//! load); `upsert` writes the same keys again (the replace path).
//!
//! Run: `cargo bench -p gemj-store --bench variant_insert`.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gemj_model::{
    AccessLevel, DataUseCondition, Dataset, DatasetId, DuoCode, ModelError, VariantKey,
};
use gemj_store::{Store, StoreOptions, VariantRow};
use roaring::RoaringBitmap;

const ROWS: usize = 100_000;

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u32 {
        u32::try_from(self.next() % n).unwrap_or(0)
    }
}

fn rows(n: usize) -> Result<Vec<VariantRow>, ModelError> {
    const BASES: [&str; 4] = ["A", "C", "G", "T"];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut pos = 60_000_u32;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        pos += 1 + rng.below(400);
        let r = rng.below(4) as usize;
        let (reference, alternate) = match rng.below(10) {
            0 => (
                format!("{}{}", BASES[r], BASES[(r + 1) % 4]),
                BASES[r].to_owned(),
            ),
            1 => (
                BASES[r].to_owned(),
                format!("{}{}", BASES[r], BASES[(r + 2) % 4]),
            ),
            _ => (
                BASES[r].to_owned(),
                BASES[(r + 1 + rng.below(3) as usize) % 4].to_owned(),
            ),
        };
        let carriers: RoaringBitmap = (0..1 + rng.below(6)).map(|_| rng.below(10_000)).collect();
        let carrier_count = u32::try_from(carriers.len()).unwrap_or(u32::MAX);
        out.push(VariantRow {
            key: VariantKey::parse("chr20", pos, &reference, &alternate)?,
            allele_count: carrier_count + rng.below(2),
            carrier_count,
            callsets: Some(carriers.iter().map(|c| c * 2).collect()),
            carriers,
        });
    }
    Ok(out)
}

fn dataset(n: usize) -> Result<Dataset, ModelError> {
    Ok(Dataset {
        id: DatasetId::parse(&format!("BENCH-{n}"))?,
        name: "Synthetic benchmark dataset".to_owned(),
        description: "Synthetic.".to_owned(),
        access_level: AccessLevel::Controlled,
        data_use: DataUseCondition {
            permission: DuoCode::parse("DUO:0000042")?,
            modifiers: Vec::new(),
            disease: None,
            countries: vec![],
            institutions: vec![],
            projects: vec![],
            users: vec![],
        },
    })
}

fn bench_store(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, store: &Store) {
    let data = rows(ROWS).expect("synthetic rows are valid");
    let mut group = c.benchmark_group(format!("insert_variants/{name}"));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(ROWS as u64));
    let mut next = 0_usize;
    group.bench_function("insert_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                next += 1;
                let ds = dataset(next).expect("valid dataset");
                rt.block_on(store.put_dataset(&ds)).expect("put_dataset");
                let t = Instant::now();
                let n = rt
                    .block_on(store.insert_variants(&ds.id, &data))
                    .expect("insert_variants");
                total += t.elapsed();
                assert_eq!(n, ROWS as u64);
            }
            total
        });
    });
    let ds = dataset(0).expect("valid dataset");
    rt.block_on(store.put_dataset(&ds)).expect("put_dataset");
    rt.block_on(store.insert_variants(&ds.id, &data))
        .expect("insert_variants");
    group.bench_function("upsert_100k", |b| {
        b.iter(|| {
            rt.block_on(store.insert_variants(&ds.id, &data))
                .expect("insert_variants")
        });
    });
    group.finish();
}

fn variant_insert(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite:{}", dir.path().join("bench.db").display());
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
            let schema = format!("gemj_bench_{}", std::process::id());
            let opts = StoreOptions {
                max_connections: 4,
                schema: Some(schema.clone()),
            };
            let store = rt
                .block_on(async {
                    let s = Store::connect(&url, &opts).await?;
                    s.migrate().await?;
                    Ok::<_, gemj_store::StoreError>(s)
                })
                .expect("PostgreSQL store");
            bench_store(c, "postgres", &rt, &store);
            rt.block_on(store.close());
            rt.block_on(async {
                let pool = sqlx::PgPool::connect(&url).await?;
                let drop: String = sqlx::query_scalar(
                    "SELECT format('DROP SCHEMA IF EXISTS %I CASCADE', $1::text)",
                )
                .bind(&schema)
                .fetch_one(&pool)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(drop))
                    .execute(&pool)
                    .await?;
                Ok::<_, sqlx::Error>(())
            })
            .expect("drop the benchmark schema");
        }
        _ => println!("PostgreSQL benchmark skipped (set GEMJ_TEST_DATABASE_URL to run it)"),
    }
}

criterion_group!(benches, variant_insert);
criterion_main!(benches);
