//! Robustness: random bytes, CSV-shaped noise and mutations of the real manifest through every
//! public entry point. Nothing may panic, and the output stays bounded by the input's size.

use std::error::Error;

use gemj_biobank::{ManifestOptions, read_bytes, read_manifest};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FILE: &str = "sample-manifest-miabis.csv";

/// The synthetic manifest shipped in `examples/adapters`.
fn manifest() -> Result<Vec<u8>, Box<dyn Error>> {
    Ok(std::fs::read(
        gemj_schemas::testing::examples_dir()
            .join("adapters/biobank")
            .join(FILE),
    )?)
}

/// Runs every entry point on `bytes` and checks the output bound.
fn exercise(bytes: &[u8]) {
    let extract = read_bytes(bytes);
    check_bound(bytes, &format!("{extract:?}"));
    let options = ManifestOptions { file: FILE.into() };
    if let Ok(extract) = read_manifest(bytes, &options) {
        check_bound(bytes, &format!("{extract:?}"));
    }
}

/// Output (as debug text) at most a fixed multiple of the input, plus the capped diagnostics.
fn check_bound(input: &[u8], output: &str) {
    let limit = 64 * input.len() + 400_000;
    assert!(
        output.len() <= limit,
        "{} bytes of output for {} bytes of input",
        output.len(),
        input.len()
    );
}

#[test]
fn random_bytes() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x6e6d_6a62);
    for _ in 0..3000 {
        let len = rng.random_range(0..512);
        let mut bytes = vec![0u8; len];
        rng.fill(&mut bytes[..]);
        exercise(&bytes);
    }
}

#[test]
fn csv_shaped_noise() -> Result<(), Box<dyn Error>> {
    let manifest = manifest()?;
    let header_end = manifest
        .iter()
        .position(|&b| b == b'\n')
        .map_or(manifest.len(), |i| i + 1);
    let header = &manifest[..header_end];
    let tokens: &[&[u8]] = &[
        b",",
        b",",
        b",",
        b"\n",
        b"\r\n",
        b"\"",
        b"\"\"",
        b";",
        b"GEMJ-TEST-0001",
        b"SP-0001-B",
        b"DNA",
        b"Whole blood",
        b"R1/5/7",
        b"S64.01.08",
        "令和元年5月1日".as_bytes(),
        "\u{b5}g".as_bytes(),
        b"withdrawn",
        b"Male",
        b"C16.9",
        b"ICD-O-3",
        b"0.2",
        b"\xEF\xBB\xBF",
        b"\xff\xfe",
        b" ",
        b"",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(0x00c5_7000);
    for _ in 0..3000 {
        let mut bytes = if rng.random_bool(0.7) {
            header.to_vec()
        } else {
            Vec::new()
        };
        for _ in 0..rng.random_range(0..200) {
            bytes.extend_from_slice(tokens[rng.random_range(0..tokens.len())]);
        }
        exercise(&bytes);
    }
    Ok(())
}

#[test]
fn mutations_of_the_real_manifest() -> Result<(), Box<dyn Error>> {
    let manifest = manifest()?;
    let mut rng = ChaCha8Rng::seed_from_u64(0xb10b_a4c0);
    // Bit flips.
    for _ in 0..2000 {
        let mut bytes = manifest.clone();
        for _ in 0..rng.random_range(1..8) {
            let i = rng.random_range(0..bytes.len());
            bytes[i] ^= 1 << rng.random_range(0..8);
        }
        exercise(&bytes);
    }
    // Every truncation.
    for end in 0..manifest.len() {
        exercise(&manifest[..end]);
    }
    // Duplicated rows: the same samples many times.
    let lines: Vec<&[u8]> = manifest.split_inclusive(|&b| b == b'\n').collect();
    let mut duplicated = manifest.clone();
    for _ in 0..500 {
        duplicated.extend_from_slice(lines[rng.random_range(1..lines.len())]);
    }
    let extract = read_bytes(&duplicated);
    check_bound(&duplicated, &format!("{extract:?}"));
    assert!(extract.diagnostics.len() <= 1001, "diagnostics are capped");
    // Huge fields: one cell of 2 MB, one quoted cell with embedded newlines.
    let huge = "x".repeat(2 << 20);
    for replacement in [huge.clone(), format!("\"{}\n{}\"", huge, huge)] {
        let text = String::from_utf8_lossy(&manifest).replacen("Whole blood", &replacement, 1);
        exercise(text.as_bytes());
        let text = String::from_utf8_lossy(&manifest).replacen("R6.03.15", &replacement, 1);
        exercise(text.as_bytes());
    }
    // Many rows of one donor: one subject record, linear time.
    let mut many = String::from_utf8_lossy(header_of(&manifest)).into_owned();
    many.push('\n');
    let width = many.split(',').count();
    for i in 0..20_000 {
        let mut cells = vec![String::new(); width];
        cells[0] = format!("S-{i}");
        cells[2] = "GEMJ-1".into();
        cells[5] = "DNA".into();
        many.push_str(&cells.join(","));
        many.push('\n');
    }
    let started = std::time::Instant::now();
    let extract = read_bytes(many.as_bytes());
    assert_eq!(
        extract.records.len(),
        20_001,
        "{:?}",
        extract.diagnostics.first()
    );
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    // Many columns.
    let wide = format!(
        "{}{}\n",
        String::from_utf8_lossy(header_of(&manifest)),
        ",x".repeat(100_000)
    );
    exercise(wide.as_bytes());
    Ok(())
}

fn header_of(manifest: &[u8]) -> &[u8] {
    let end = manifest
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(manifest.len());
    &manifest[..end]
}
