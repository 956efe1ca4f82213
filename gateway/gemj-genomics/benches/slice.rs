//! The cost of a slice on an opened (cached) file: what an htsget ticket spends in
//! gemj-genomics. A two-sample cohort at 30x on one 1.2 Mb contig is generated once.
//!
//! `cargo bench -p gemj-genomics --bench slice`

use criterion::{Criterion, criterion_group, criterion_main};
use gemj_demo::genomes::{DemoGenomeOptions, generate};
use gemj_genomics::slice::{Class, Format, IndexedFile, Region, SliceQuery};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let opts = DemoGenomeOptions {
        samples: vec!["SP-B01".to_owned(), "SP-B02".to_owned()],
        coverage: 30.0,
        contigs: vec![("chr20".to_owned(), 1_200_000)],
        ..Default::default()
    };
    let g = generate(&opts, dir.path()).unwrap_or_else(|e| panic!("generate: {e}"));
    let s = &g.samples[0];
    let open = |f: Format, p: &std::path::Path, i: &std::path::Path| {
        IndexedFile::open(f, p, i).unwrap_or_else(|e| panic!("open: {e}"))
    };
    let files = [
        ("bam", open(Format::Bam, &s.bam, &s.bai)),
        ("cram", open(Format::Cram, &s.cram, &s.crai)),
        (
            "joint_vcf",
            open(Format::Vcf, &g.joint_vcf, &g.joint_vcf_tbi),
        ),
    ];
    let mut group = c.benchmark_group("slice");
    group.sample_size(30);
    group.measurement_time(std::time::Duration::from_secs(3));
    for (name, file) in &files {
        for (label, start, end) in [
            ("1kb", 600_000, 601_000),
            ("100kb", 500_000, 600_000),
            ("1Mb", 100_000, 1_100_000),
        ] {
            let query = SliceQuery {
                class: Class::Body,
                regions: vec![Region::new("chr20", start, Some(end))],
            };
            group.bench_function(format!("{name}/{label}"), |b| {
                b.iter(|| file.slice(&query).unwrap_or_else(|e| panic!("slice: {e}")));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
