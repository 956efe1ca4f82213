//! Allele records per second of the VCF reader on a generated plain VCF (200,000 records × 4
//! samples, one record in ten multi-allelic), and of the same data as BGZF and BCF.

use std::{hint::black_box, io::Write as _, time::Duration};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gemj_genomes::variants::VariantReader;
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

const RECORDS: usize = 200_000;
const SAMPLES: usize = 4;

/// A plain VCF and its allele count.
fn generate() -> (Vec<u8>, u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut out = Vec::with_capacity(RECORDS * 80);
    out.extend_from_slice(
        b"##fileformat=VCFv4.3\n##contig=<ID=chr20,length=64444167>\n\
          ##INFO=<ID=AC,Number=A,Type=Integer,Description=\"Allele count\">\n\
          ##INFO=<ID=AN,Number=1,Type=Integer,Description=\"Allele number\">\n\
          ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
          ##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Depth\">\n\
          #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT",
    );
    for s in 0..SAMPLES {
        let _ = write!(out, "\tSP-{s:04}");
    }
    out.push(b'\n');
    let bases = [b'A', b'C', b'G', b'T'];
    let mut pos = 60_000_u32;
    let mut alleles = 0;
    for _ in 0..RECORDS {
        pos += rng.random_range(1..300);
        let reference = bases[rng.random_range(0..4)];
        let alt_count = if rng.random_range(0..10) == 0 { 2 } else { 1 };
        let _ = write!(out, "chr20\t{pos}\t.\t{}\t", reference as char);
        let others = bases.iter().filter(|&&b| b != reference);
        for (i, b) in others.take(alt_count).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(*b);
        }
        alleles += alt_count as u64;
        out.extend_from_slice(b"\t50\tPASS\tAC=1;AN=8\tGT:DP");
        for _ in 0..SAMPLES {
            let a = rng.random_range(0..=alt_count);
            let b = rng.random_range(0..=alt_count);
            let sep = if rng.random_range(0..4) == 0 {
                '|'
            } else {
                '/'
            };
            let _ = write!(out, "\t{a}{sep}{b}:{}", rng.random_range(5..60));
        }
        out.push(b'\n');
    }
    (out, alleles)
}

fn bgzf(data: &[u8]) -> Vec<u8> {
    let mut w = noodles::bgzf::io::Writer::new(Vec::new());
    let _ = w.write_all(data);
    w.finish().unwrap_or_default()
}

fn bcf(text: &[u8]) -> Vec<u8> {
    use noodles::vcf::variant::io::Write as _;
    let mut reader = noodles::vcf::io::Reader::new(text);
    let Ok(header) = reader.read_header() else {
        return Vec::new();
    };
    let mut writer = noodles::bcf::io::Writer::new(Vec::new());
    let _ = writer.write_header(&header);
    for record in reader.records().flatten() {
        let _ = writer.write_variant_record(&header, &record);
    }
    writer.into_inner().finish().unwrap_or_default()
}

/// Reads every allele; returns how many.
fn read_all(bytes: &[u8]) -> u64 {
    let Ok(mut reader) = VariantReader::new(bytes, "bench.vcf") else {
        return 0;
    };
    let mut n = 0;
    while let Some(a) = reader.next_allele() {
        black_box(a.copies);
        n += 1;
    }
    n
}

fn bench(c: &mut Criterion) {
    let (plain, alleles) = generate();
    assert_eq!(read_all(&plain), alleles);
    let compressed = bgzf(&plain);
    let binary = bcf(&plain);
    assert_eq!(read_all(&binary), alleles);

    let mut group = c.benchmark_group("variants");
    group.throughput(Throughput::Elements(alleles));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("plain VCF, allele records", |b| {
        b.iter(|| read_all(black_box(&plain)));
    });
    group.bench_function("BGZF VCF, allele records", |b| {
        b.iter(|| read_all(black_box(&compressed)));
    });
    group.bench_function("BCF, allele records", |b| {
        b.iter(|| read_all(black_box(&binary)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
