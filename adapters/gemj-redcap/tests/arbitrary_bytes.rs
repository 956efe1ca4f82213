//! Robustness: random bytes, CSV-shaped noise and mutations of the real dictionary and record
//! export through every public entry point. Nothing may panic, and the output stays bounded by
//! the input's size.

#[path = "../../testing/robustness.rs"]
mod robustness;

use std::error::Error;

use gemj_redcap::{DataDictionary, ReadOptions, read_bytes, read_records};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use robustness::{
    check_bound, duplicate_rows, flip_bits, flips_and_truncations, seeded, token_noise,
};

/// A small record export (the base of the many-rows case).
const BUILT_IN: &str = "\u{feff}record_id,redcap_repeat_instrument,redcap_repeat_instance,gemj_id,hosp_patient_id,birth_date,sex,consent_date,consent_withdrawn,withdrawal_date,enrolment_complete,dx_icd10,dx_label,dx_onset_year,hpo___1,hpo___2,hpo___3,hpo___4,diagnosis_complete,specimen_id,specimen_type,specimen_collected,specimen_complete\r\n\
1,,,GEMJ-TEST-0002,9000000002,1989-01-07,2,2019-04-30,0,,2,Q87.4,x,2005,1,1,1,0,2,,,,\r\n\
1,specimen,1,,,,,,,,,,,,,,,,,SP-0002-B,1,2019-05-01,2\r\n\
2,,,GEMJ-TEST-0003,9000000003,2001-02-03,1,2018-06-01,1,2023-01-10,2,Q87.4,x,2010,1,0,0,0,0,,,,\r\n";

/// The real files shipped in `examples/adapters`: (dictionary, records).
fn fixtures() -> Result<(Vec<u8>, Vec<u8>), Box<dyn Error>> {
    let dir = gemj_schemas::testing::examples_dir().join("adapters/redcap");
    Ok((
        std::fs::read(dir.join("rd-registry_DataDictionary.csv"))?,
        std::fs::read(dir.join("rd-registry_records_raw.csv"))?,
    ))
}

/// Runs every entry point on `bytes` (as a dictionary and as records) and checks the bound.
fn exercise(dict: &DataDictionary, bytes: &[u8]) {
    let extract = read_bytes(bytes);
    check_bound(bytes, &format!("{extract:?}"));
    let options = ReadOptions {
        file: "records.csv".into(),
        institution: "9999999999".parse().ok(),
        ..ReadOptions::default()
    };
    if let Ok(extract) = read_records(dict, bytes, &options) {
        check_bound(bytes, &format!("{extract:?}"));
    }
    if let Ok(parsed) = DataDictionary::parse(bytes) {
        check_bound(bytes, &format!("{parsed:?}"));
        check_bound(bytes, &format!("{:?}", parsed.diagnostics("dd.csv")));
        // The dictionary read from the noise, applied to the noise.
        if let Ok(extract) = read_records(&parsed, bytes, &options) {
            check_bound(bytes, &format!("{extract:?}"));
        }
    }
}

#[test]
fn random_bytes() -> Result<(), Box<dyn Error>> {
    let (dict, _) = fixtures()?;
    let dict = DataDictionary::parse(&dict)?;
    robustness::random_inputs(0x7265_6463, 3000, 512, |bytes| exercise(&dict, bytes));
    Ok(())
}

#[test]
fn csv_shaped_noise() -> Result<(), Box<dyn Error>> {
    let (dict_bytes, records) = fixtures()?;
    let dict = DataDictionary::parse(&dict_bytes)?;
    let header_end = records
        .iter()
        .position(|&b| b == b'\n')
        .map_or(records.len(), |i| i + 1);
    let dict_header_end = dict_bytes
        .iter()
        .position(|&b| b == b'\n')
        .map_or(dict_bytes.len(), |i| i + 1);
    let tokens: &[&[u8]] = &[
        b",",
        b",",
        b",",
        b",,,,,,,,",
        b"\r\n",
        b"\n",
        b"\"",
        b"|",
        b"1",
        b"2",
        b"0",
        b"specimen",
        b"GEMJ-TEST-0002",
        b"SP-0002-B",
        b"1989-01-07",
        b"Q87.4",
        b"HP:0001166 x",
        b"radio",
        b"checkbox",
        b"1, a | 2, b",
        b"\xEF\xBB\xBF",
        b"\xff",
        b" ",
    ];
    let start = |rng: &mut ChaCha8Rng| match rng.random_range(0..3) {
        0 => records[..header_end].to_vec(),
        1 => dict_bytes[..dict_header_end].to_vec(),
        _ => Vec::new(),
    };
    token_noise(0x0c5f_0001, 3000, start, tokens, 200, |bytes| {
        exercise(&dict, bytes);
    });
    Ok(())
}

#[test]
fn mutations_of_the_real_files() -> Result<(), Box<dyn Error>> {
    let (dict_bytes, records) = fixtures()?;
    let dict = DataDictionary::parse(&dict_bytes)?;
    let mut rng = seeded(0x4d75_7461);
    for original in [&records, &dict_bytes] {
        flips_and_truncations(&mut rng, original, 1500, |bytes| exercise(&dict, bytes));
        // Duplicated rows.
        let duplicated = duplicate_rows(&mut rng, original);
        exercise(&dict, &duplicated);
        let extract = read_bytes(&duplicated);
        assert!(extract.diagnostics.len() <= 1001, "diagnostics are capped");
    }
    // A mutated dictionary applied to the real records.
    for _ in 0..500 {
        if let Ok(mutated) = DataDictionary::parse(&flip_bits(&mut rng, &dict_bytes)) {
            exercise(&mutated, &records);
        }
    }
    // Huge fields: a 2 MB label, a 2 MB quoted cell with line ends, a 2 MB record id.
    let huge = "x".repeat(2 << 20);
    let text = String::from_utf8_lossy(&records).into_owned();
    for (from, to) in [
        ("マルファン症候群", huge.clone()),
        ("SP-0002-B,", format!("\"{huge}\r\n{huge}\",")),
        ("\r\n1,", format!("\r\n{huge},")),
        ("Q87.4", huge.clone()),
    ] {
        exercise(&dict, text.replacen(from, &to, 1).as_bytes());
    }
    let dict_text = String::from_utf8_lossy(&dict_bytes).into_owned();
    exercise(&dict, dict_text.replacen("男性", &huge, 1).as_bytes());
    // One record with many repeat rows: merged in linear time.
    let mut many = String::from(BUILT_IN);
    for i in 1..=20_000 {
        many.push_str(&format!(
            "1,specimen,{},,,,,,,,,,,,,,,,,SP-{i},2,2019-05-01,2\r\n",
            i + 1
        ));
    }
    let started = std::time::Instant::now();
    let extract = read_records(&dict, many.as_bytes(), &ReadOptions::default())?;
    assert!(extract.records.len() > 20_000);
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    // Many columns, many checkbox choices.
    let wide = format!(
        "record_id{}\r\n1{}\r\n",
        ",hpo___9".repeat(50_000),
        ",1".repeat(50_000)
    );
    exercise(&dict, wide.as_bytes());
    Ok(())
}
