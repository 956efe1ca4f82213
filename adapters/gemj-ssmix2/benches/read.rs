//! Files per second: `read_file` (decode ISO-2022-JP, parse, map) over a synthetic tree, and the
//! plan over its paths. One core.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gemj_ssmix2::{Plan, read_file, synthetic::generate_tree};

const PATIENTS: usize = 200;

fn bench(c: &mut Criterion) {
    let files: Vec<(String, Vec<u8>)> = generate_tree(PATIENTS, 2024).collect();
    let count = u64::try_from(files.len()).unwrap_or(u64::MAX);
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    eprintln!(
        "synthetic tree: {PATIENTS} patients, {} files, {bytes} bytes",
        files.len()
    );

    let mut group = c.benchmark_group("ssmix2");
    group.throughput(Throughput::Elements(count));
    group.bench_function("read_file", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|(path, bytes)| read_file(black_box(path), black_box(bytes)).records.len())
                .sum::<usize>()
        });
    });
    group.bench_function("plan_new", |b| {
        b.iter(|| {
            Plan::new(files.iter().map(|(p, _)| black_box(p.as_str())))
                .files()
                .len()
        });
    });
    group.bench_function("plan_and_extract", |b| {
        b.iter(|| {
            let plan = Plan::new(files.iter().map(|(p, _)| p.as_str()));
            plan.files()
                .iter()
                .zip(&files)
                .map(|(planned, (_, bytes))| planned.extract(bytes).records.len())
                .sum::<usize>()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
