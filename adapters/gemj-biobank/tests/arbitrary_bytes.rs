//! Robustness: random bytes, CSV-shaped noise and mutations of the real manifest through every
//! public entry point. Nothing may panic, and the output stays bounded by the input's size.

#[path = "../../testing/robustness.rs"]
mod robustness;

use std::error::Error;

use gemj_biobank::{ManifestOptions, read_bytes, read_manifest};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use robustness::{check_bound, duplicate_rows, flips_and_truncations, seeded, token_noise};

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

#[test]
fn random_bytes() {
    robustness::random_inputs(0x6e6d_6a62, 3000, 512, exercise);
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
    let start = |rng: &mut ChaCha8Rng| {
        if rng.random_bool(0.7) {
            header.to_vec()
        } else {
            Vec::new()
        }
    };
    token_noise(0x00c5_7000, 3000, start, tokens, 200, exercise);
    Ok(())
}

#[test]
fn mutations_of_the_real_manifest() -> Result<(), Box<dyn Error>> {
    let manifest = manifest()?;
    let mut rng = seeded(0xb10b_a4c0);
    flips_and_truncations(&mut rng, &manifest, 2000, exercise);
    // Duplicated rows: the same samples many times.
    let duplicated = duplicate_rows(&mut rng, &manifest);
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
