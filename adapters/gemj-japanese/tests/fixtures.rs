//! The Japanese spellings of the synthetic fixtures shipped in `examples/adapters`: every era and
//! Gregorian date of the biobank manifest (README §3) and the half-width kana name of the CP932
//! SS-MIX2 file (README §4).

use std::error::Error;
use std::path::PathBuf;

use gemj_japanese::{era, kana};
use gemj_model::Precision;

/// The synthetic adapter fixtures shipped in `examples/adapters`.
fn adapters() -> PathBuf {
    gemj_schemas::testing::examples_dir().join("adapters")
}

/// The manifest's cells of one column, by header name (the fixture has no quoted cells).
fn column(manifest: &str, name: &str) -> Result<Vec<String>, Box<dyn Error>> {
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().ok_or("empty manifest")?.split(',').collect();
    let index = header
        .iter()
        .position(|h| *h == name)
        .ok_or(format!("no column {name}"))?;
    lines
        .map(|line| {
            line.split(',')
                .nth(index)
                .map(str::to_owned)
                .ok_or_else(|| "short row".into())
        })
        .collect()
}

#[test]
fn manifest_creation_dates() -> Result<(), Box<dyn Error>> {
    let dir = adapters();
    let manifest = std::fs::read_to_string(dir.join("biobank/sample-manifest-miabis.csv"))?;
    let raw = column(&manifest, "sample_creation_date_raw")?;
    assert_eq!(
        raw,
        [
            "R6.03.15",
            "2024/03/15",
            "令和6年3月18日",
            "令和元年5月1日",
            "R1/5/7",
            "H31.04.30"
        ]
    );
    let expected = [
        "2024-03-15",
        "2024-03-15",
        "2024-03-18",
        "2019-05-01",
        "2019-05-07",
        "2019-04-30",
    ];
    for (raw, expected) in raw.iter().zip(expected) {
        let date = era::parse(raw)?;
        assert_eq!(date.to_string(), expected, "{raw}");
        assert_eq!(date.precision(), Precision::Day, "{raw}");
    }
    Ok(())
}

#[test]
fn manifest_donor_birth_dates() -> Result<(), Box<dyn Error>> {
    let dir = adapters();
    let manifest = std::fs::read_to_string(dir.join("biobank/sample-manifest-miabis.csv"))?;
    let mut raw = column(&manifest, "donor_birth_date_raw")?;
    raw.dedup();
    assert_eq!(raw, ["S50.04.01", "S64.01.07", "H13.02.03"]);
    let expected = ["1975-04-01", "1989-01-07", "2001-02-03"];
    for (raw, expected) in raw.iter().zip(expected) {
        assert_eq!(era::parse(raw)?.to_string(), expected, "{raw}");
    }
    // 1989-01-07 is the last day of Shōwa: the next day in Shōwa is refused.
    assert!(era::parse("S64.01.08").is_err());
    assert_eq!(era::parse("H1.01.08")?.to_string(), "1989-01-08");
    Ok(())
}

#[test]
fn half_width_kana_of_the_cp932_adt() -> Result<(), Box<dyn Error>> {
    let dir = adapters();
    let path = dir.join(
        "ssmix2/standard_root/900/000/9000000002/-/ADT-00/9000000002_-_ADT-00_000000000000000_20190501090000000_-_1",
    );
    let bytes = std::fs::read(path)?;
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!had_errors);
    let pid = text
        .split('\r')
        .find(|segment| segment.starts_with("PID|"))
        .ok_or("no PID segment")?;
    let names = pid.split('|').nth(5).ok_or("no PID-5")?;
    let kana_name = names
        .split('~')
        .find(|name| name.ends_with("^P"))
        .ok_or("no phonetic name")?;
    let mut parts = kana_name.split('^');
    let (family, given) = (
        parts.next().ok_or("no family name")?,
        parts.next().ok_or("no given name")?,
    );
    assert_eq!((family, given), ("ﾐﾎﾝ", "ﾊﾅｺ"));
    let full = format!(
        "{} {}",
        kana::to_full_width(family),
        kana::to_full_width(given)
    );
    assert_eq!(full, "ミホン ハナコ");
    // The kanji name and the address are left as they are.
    assert_eq!(kana::to_full_width("見本^花子"), "見本^花子");
    assert_eq!(
        kana::to_full_width("東京都千代田区見本町４－５－６ ①号室"),
        "東京都千代田区見本町４－５－６ ①号室"
    );
    Ok(())
}
