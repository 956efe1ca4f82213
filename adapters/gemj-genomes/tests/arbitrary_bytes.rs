//! Random bytes and mutated fixtures (bit flips, truncations, corrupted gzip blocks, lying length
//! fields) through detection, the variant reader and the indexer: nothing panics, and the
//! process's peak memory stays small.
//!
//! The fuzz entry point is [`gemj_genomes::variants::read_variants_bytes`].

use std::{error::Error, io::Write as _, path::PathBuf};

use gemj_genomes::{detect::detect_bytes, index::build_index, variants::read_variants_bytes};
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

type TestResult = Result<(), Box<dyn Error>>;

/// Peak resident memory of this process (Linux), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Far below what a trusted 4 GiB length field would cost.
const MEMORY_LIMIT: u64 = 1 << 30;

fn assert_memory_bounded() {
    if let Some(peak) = peak_rss() {
        assert!(peak < MEMORY_LIMIT, "peak RSS {peak} bytes");
    }
}

/// Runs every entry point on `bytes`; only a panic fails.
fn exercise(bytes: &[u8]) {
    let _ = detect_bytes(bytes);
    let (alleles, diagnostics) = read_variants_bytes(bytes);
    // The reader stops at what the bytes can hold.
    assert!(
        alleles <= bytes.len(),
        "{alleles} alleles from {} bytes",
        bytes.len()
    );
    assert!(diagnostics.len() <= gemj_genomes::variants::MAX_DIAGNOSTICS + 3);
}

fn bgzf(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut w = noodles::bgzf::io::Writer::new(Vec::new());
    w.write_all(data)?;
    w.finish()
}

const VCF: &str = "##fileformat=VCFv4.3\n\
##contig=<ID=chr1,length=1000000>\n\
##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\n\
chr1\t10\t.\tA\tG,T\t.\tPASS\t.\tGT\t0/1\t1|2\n\
chr1\t20\t.\tAC\tA,*,<DEL>\t.\tPASS\t.\tGT\t./.\t0/2\n\
chr1\t30\t.\tG\tGTT\t.\tPASS\t.\tGT\t1\t0/0\n";

fn bcf(text: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    use noodles::vcf::variant::io::Write as _;
    let mut reader = noodles::vcf::io::Reader::new(text.as_bytes());
    let header = reader.read_header()?;
    let mut writer = noodles::bcf::io::Writer::new(Vec::new());
    writer.write_header(&header)?;
    for record in reader.records() {
        writer.write_variant_record(&header, &record?)?;
    }
    Ok(writer.into_inner().finish()?)
}

/// The seeds: small valid files of every kind this crate reads, plain and compressed.
fn seeds() -> Result<Vec<Vec<u8>>, Box<dyn Error>> {
    let bcf_bytes = bcf(VCF)?;
    let mut plain_bcf = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(&bcf_bytes[..]),
        &mut plain_bcf,
    )?;
    // The synthetic VCF shipped in `examples/adapters`.
    let somatic =
        gemj_schemas::testing::examples_dir().join("adapters/vcf/GEMJ-TEST-0001.somatic.vcf");
    let mut seeds = vec![
        VCF.as_bytes().to_vec(),
        bgzf(VCF.as_bytes())?,
        bcf_bytes,
        plain_bcf,
        b"BAI\x01\x00\x00\x00\x00".to_vec(),
        b"CRAM\x03\x00".to_vec(),
        std::fs::read(somatic)?,
    ];
    // The shared real files too, when present.
    if let Some(shared) = gemj_schemas::testing::shared_dir()? {
        let data = shared.join("data");
        for f in [
            "htsget/spec-v4.3.vcf.gz",
            "htsget/spec-v4.3.bcf",
            "htsget/sample1-bcbio-cancer.bcf",
            "htsget/spec-v4.3.vcf.gz.tbi",
            "htsget/htsnexus_test_NA12878.cram.crai",
        ] {
            seeds.push(std::fs::read(data.join(f))?);
        }
    }
    Ok(seeds)
}

#[test]
fn random_bytes() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let prefixes: [&[u8]; 7] = [
        b"",
        b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00",
        b"\x1f\x8b\x08",
        b"##fileformat=VCFv4.3\n",
        b"##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n",
        b"BCF\x02\x02",
        b"CRAM\x03\x00",
    ];
    for i in 0..3_000 {
        let len = rng.random_range(0..2_000);
        let mut bytes = prefixes[i % prefixes.len()].to_vec();
        bytes.extend((0..len).map(|_| rng.random::<u8>()));
        exercise(&bytes);
        // Text-like: mostly tabs, digits, bases, separators, new lines.
        let alphabet = b"\t\n0123456789ACGTN./|:,*<>chr#";
        let mut text = prefixes[i % prefixes.len()].to_vec();
        text.extend((0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())]));
        exercise(&text);
    }
    assert_memory_bounded();
}

#[test]
fn mutated_fixtures() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for seed in seeds()? {
        exercise(&seed);
        for _ in 0..300 {
            let mut bytes = seed.clone();
            match rng.random_range(0..4) {
                // Bit flips.
                0 => {
                    for _ in 0..rng.random_range(1..8) {
                        let i = rng.random_range(0..bytes.len().max(1));
                        if let Some(b) = bytes.get_mut(i) {
                            *b ^= 1 << rng.random_range(0..8);
                        }
                    }
                }
                // Truncation.
                1 => bytes.truncate(rng.random_range(0..=bytes.len())),
                // A run of corrupted bytes (inside a gzip block for compressed seeds).
                2 => {
                    let start = rng.random_range(0..bytes.len().max(1));
                    let end = (start + rng.random_range(1..64)).min(bytes.len());
                    for b in bytes.get_mut(start..end).unwrap_or_default() {
                        *b = rng.random();
                    }
                }
                // A 32-bit field made huge (a length, a count, an ISIZE).
                _ => {
                    if bytes.len() >= 4 {
                        let i = rng.random_range(0..=bytes.len() - 4);
                        bytes[i..i + 4].copy_from_slice(&u32::MAX.to_le_bytes());
                    }
                }
            }
            exercise(&bytes);
        }
    }
    assert_memory_bounded();
    Ok(())
}

#[test]
fn lying_lengths_allocate_nothing_big() -> TestResult {
    // A BCF record claiming 4 GiB of shared data, plain and in BGZF.
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(&bcf(VCF)?[..]),
        &mut plain,
    )?;
    let text_len = u32::from_le_bytes([plain[5], plain[6], plain[7], plain[8]]) as usize;
    let mut lying = plain[..9 + text_len].to_vec();
    lying.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    lying.extend([0_u8; 64]);
    for bytes in [lying.clone(), bgzf(&lying)?] {
        let (n, diagnostics) = read_variants_bytes(&bytes);
        assert_eq!(n, 0);
        assert!(diagnostics.iter().any(|d| d.message.contains("cut short")));
    }
    // A VCF line with no end.
    let mut long = VCF.as_bytes().to_vec();
    long.extend(std::iter::repeat_n(b'A', 5_000_000));
    let (n, _) = read_variants_bytes(&long);
    assert_eq!(n, 4);
    assert_memory_bounded();
    Ok(())
}

#[test]
fn mutated_files_through_the_indexer() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let dir = tempfile::tempdir()?;
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("x.vcf.gz".to_owned(), bgzf(VCF.as_bytes())?),
        ("x.bcf".to_owned(), bcf(VCF)?),
    ];
    if let Some(shared) = gemj_schemas::testing::shared_dir()? {
        let data = shared.join("data");
        for f in [
            "htsget/htslib/range.bam",
            "htsget/htslib/range.cram",
            "htsget/spec-v4.3.bcf",
        ] {
            let name = PathBuf::from(f);
            let name = name
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("x")
                .to_owned();
            files.push((name, std::fs::read(data.join(f))?));
        }
    }
    for (name, seed) in files {
        let path = dir.path().join(&name);
        for round in 0..60 {
            let mut bytes = seed.clone();
            if round > 0 {
                match rng.random_range(0..3) {
                    0 => {
                        for _ in 0..rng.random_range(1..4) {
                            let i = rng.random_range(0..bytes.len());
                            bytes[i] ^= 1 << rng.random_range(0..8);
                        }
                    }
                    1 => bytes.truncate(rng.random_range(0..bytes.len())),
                    _ => {
                        if bytes.len() >= 4 {
                            let i = rng.random_range(0..=bytes.len() - 4);
                            bytes[i..i + 4].copy_from_slice(&u32::MAX.to_le_bytes());
                        }
                    }
                }
            }
            std::fs::write(&path, &bytes)?;
            let result = build_index(&path);
            if round == 0 {
                assert!(result.is_ok(), "{name}: {result:?}");
            }
        }
    }
    assert_memory_bounded();
    Ok(())
}
