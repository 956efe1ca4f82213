//! Robustness: random byte strings and mutations of the real fixtures through every public
//! parser of `gemj-ssmix2` and `gemj-hl7v2`. Nothing may panic, and what comes out must stay
//! proportional to what went in.

use std::error::Error;

use gemj_hl7v2::{Delimiters, Location, Message, unescape};
use gemj_model::source::Extract;
use gemj_ssmix2::text::normalize_kana;
use gemj_ssmix2::{DataKind, Plan, StoragePath, decode, read_bytes, read_file, read_message};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type TestResult = Result<(), Box<dyn Error>>;

/// A case count, or the value of `GEMJ_FUZZ_CASES` when set (for longer local runs).
fn cases(default: usize) -> usize {
    std::env::var("GEMJ_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Pieces that make random input look like SS-MIX2 often enough to reach the deep paths.
const TOKENS: &[&[u8]] = &[
    b"MSH|^~\\&|HIS|9999999999|GW|GEMJ|20240314153000||OUL^R22^OUL_R22|1|P|2.5||||||~ISO IR87\r",
    b"MSH|^~\\&|HIS|9999999999|GW|GEMJ|20240301090000||ADT^A08^ADT_A01|1|P|2.5\r",
    b"MSH|^~\\&|HIS|9999999999|GW|GEMJ|20240220101500||PPR^ZD1^PPR_ZD1|1|P|2.5\r",
    b"MSH|^~\\&|HIS|9999999999|GW|GEMJ|20240220101500||OML^O33|1|P|2.5||||||UNICODE UTF-8\r",
    b"PID|0001||9000000001^^^^PI||",
    b"EVN||20240301090000\r",
    b"PRB|AD|20240220|20054178^\x1b$BP|:\x1b(B^MDCDX2|1|||20240220|||C169^^I10||||||2005|",
    b"SPM|1|LS-0001||023^\x1b$B7l@6\x1b(B^JC10|||||||||||||20240314090000\r",
    b"ORC|SC|000000000012345|",
    b"ORC|CA|",
    b"OBR|1|000000000012345|||||20240314",
    b"OBX|1|NM|3A015000002327101^^JC10||3.2|g/dL|3.7-5.5|L|||F|||20240314090000\r",
    b"OBX|2|SN|X^^JC10||<^1|||||D\r",
    b"OBX|3|CWE|Y||+^\xd0\xce\xdd",
    b"\x1b$B",
    b"\x1b(B",
    b"\x1b(J",
    b"\x1b",
    b"\x82\xa0",
    b"\x87\x40",
    b"\xef\xbd\xb6\xef\xbe\x9e",
    b"\\X41\\",
    b"\\S\\",
    b"\\.br\\",
    b"\\",
    b"|",
    b"^",
    b"~",
    b"&",
    b"\r",
    b"\n",
    b"\r\n",
    b"\"\"",
    b"0",
    b"2024",
    b"MSH\xc2\xa9^~\xc3\xa9",
    b"\xc3\xa9",
];

const FIXTURES: &[&str] = &[
    "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_1",
    "900/000/9000000001/-/PPR-01/9000000001_-_PPR-01_000000000000001_20240220101500000_01_1",
    "900/000/9000000001/20240314/OML-11/9000000001_20240314_OML-11_000000000012345_20240314153000000_01_1",
    "900/000/9000000001/20240314/OML-11/9000000001_20240314_OML-11_000000000012346_20240314160000000_01_0",
    "900/000/9000000002/-/ADT-00/9000000002_-_ADT-00_000000000000000_20190501090000000_-_1",
    "900/000/9000000002/-/PPR-01/9000000002_-_PPR-01_000000000000002_20190501100000000_01_1",
];

/// An upper bound on what an extract of `len` input bytes may hold: a few entries per segment
/// (each at least two bytes), plus the decoding and per-file diagnostics.
fn check_bounded(extract: &Extract, len: usize) {
    let entries = extract.records.len() + extract.rejected.len() + extract.diagnostics.len();
    assert!(
        entries <= 3 * len + 16,
        "{entries} entries from {len} bytes"
    );
    let size = format!("{extract:?}").len();
    assert!(
        size <= 400 * len + 20_000,
        "{size} bytes of extract from {len} bytes"
    );
}

/// Reads every piece of a message, checking that unescaping never more than doubles a value.
fn traverse(message: &Message<'_>) -> usize {
    let mut total = 0;
    let check = |raw: &str, value: &str| {
        assert!(
            value.len() <= 2 * raw.len(),
            "{raw:?} unescaped to {value:?}"
        );
        value.len()
    };
    for segment in message.segments() {
        total += segment.name().len() + segment.as_str().len();
        for field in segment.fields() {
            total += check(field.as_str(), &field.value());
            for rep in field.repetitions() {
                total += check(rep.as_str(), &rep.value());
                for component in rep.components() {
                    total += check(component.as_str(), &component.value());
                    for sub in component.subcomponents() {
                        total += check(sub.as_str(), &sub.value());
                    }
                }
            }
        }
    }
    total
}

/// Every public parser on one input; how many records `read_bytes` found.
fn exercise(bytes: &[u8], path: &str) -> usize {
    let len = bytes.len();
    let text = String::from_utf8_lossy(bytes);

    // gemj-hl7v2.
    if let Ok(message) = Message::parse(&text) {
        traverse(&message);
        for location in [
            "MSH-9.1",
            "PID-3.1",
            "PID-5[2].1",
            "OBX[2]-5",
            "SPM-2.1.1",
            "MSH-2",
        ] {
            if let Ok(loc) = location.parse::<Location>() {
                let _ = message.get(&loc);
            }
        }
        let _ = unescape(&text, message.delimiters());
    }
    let _ = Location::parse(&text);
    let mut chars = text.chars();
    if let Some(field) = chars.next() {
        let _ = Delimiters::new(field, chars.as_str());
    }
    let _ = unescape(&text, &Delimiters::default());

    // gemj-ssmix2.
    let decoded = decode("fuzz", bytes);
    assert!(decoded.diagnostics.len() <= 2);
    let kana = normalize_kana(&decoded.text);
    assert!(kana.len() <= decoded.text.len());
    let extract = read_bytes("fuzz", bytes);
    check_bounded(&extract, len);
    check_bounded(&read_message("fuzz", &text), len);
    check_bounded(&read_file(path, bytes), len);
    let _ = StoragePath::parse(&text);
    let _ = DataKind::parse(&text);
    extract.records.len()
}

fn random_input(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut out = Vec::new();
    // Most inputs start with a header (the first four tokens) and a patient, so that the
    // mappings behind them are reached; the rest are left to chance.
    if rng.random_bool(0.7) {
        out.extend_from_slice(TOKENS[rng.random_range(0..4)]);
        if rng.random_bool(0.8) {
            out.extend_from_slice(TOKENS[4]);
            out.push(b'\r');
        }
    }
    let pieces = rng.random_range(0..40);
    for _ in 0..pieces {
        if rng.random_bool(0.75) {
            out.extend_from_slice(TOKENS[rng.random_range(0..TOKENS.len())]);
        } else {
            let n = rng.random_range(0..8);
            out.extend((0..n).map(|_| rng.random::<u8>()));
        }
    }
    out
}

fn mutate(rng: &mut ChaCha8Rng, original: &[u8]) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for _ in 0..rng.random_range(1..6) {
        let at = if bytes.is_empty() {
            0
        } else {
            rng.random_range(0..bytes.len())
        };
        match rng.random_range(0..7) {
            0 if !bytes.is_empty() => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => bytes.truncate(at),
            2 => {
                let insert: &[u8] = match rng.random_range(0..4) {
                    0 => b"\x1b",
                    1 => b"\x1b$B",
                    2 => b"\x1b(B",
                    _ => b"\x1b$(D",
                };
                bytes.splice(at..at, insert.iter().copied());
            }
            3 => {
                let separators = b"|^~\\&\r\n";
                let s = separators[rng.random_range(0..separators.len())];
                bytes.insert(at, s);
            }
            4 if !bytes.is_empty() => {
                let end = rng.random_range(at..=bytes.len());
                bytes.drain(at..end);
            }
            5 => {
                let end = rng.random_range(at..=bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
            _ => bytes.insert(at, rng.random::<u8>()),
        }
    }
    bytes
}

fn mutate_path(rng: &mut ChaCha8Rng, path: &str) -> String {
    let mut bytes = path.as_bytes().to_vec();
    let at = rng.random_range(0..bytes.len());
    match rng.random_range(0..4) {
        0 => bytes[at] = b"0123456789_-/\\.AZ"[rng.random_range(0..17)],
        1 => bytes.truncate(at),
        2 => {
            bytes.remove(at);
        }
        _ => bytes.insert(at, b"_/-9"[rng.random_range(0..4)]),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn random_bytes() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5353_4d49_5832);
    let mut with_records = 0;
    let random_cases = cases(5_000);
    for i in 0..random_cases {
        let bytes = random_input(&mut rng);
        if exercise(&bytes, FIXTURES[i % FIXTURES.len()]) > 0 {
            with_records += 1;
        }
    }
    // Enough inputs get past the header to exercise the mappings.
    eprintln!("random inputs with records: {with_records} of {random_cases}");
    assert!(with_records >= random_cases / 50, "{with_records}");
}

#[test]
fn mutated_fixtures() -> TestResult {
    let root = gemj_schemas::testing::examples_dir().join("adapters/ssmix2/standard_root");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut with_records = 0;
    let mutations = cases(500);
    for path in FIXTURES {
        let original = std::fs::read(root.join(path))?;
        exercise(&original, path);
        for _ in 0..mutations {
            let bytes = mutate(&mut rng, &original);
            if exercise(&bytes, path) > 0 {
                with_records += 1;
            }
        }
    }
    let total = FIXTURES.len() * mutations;
    eprintln!("mutated fixtures with records: {with_records} of {total}");
    assert!(with_records >= total / 4, "{with_records}");
    Ok(())
}

#[test]
fn plans_of_mutated_paths() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..cases(300) {
        let mut paths: Vec<String> = FIXTURES
            .iter()
            .map(|p| {
                if rng.random_bool(0.5) {
                    mutate_path(&mut rng, p)
                } else {
                    (*p).to_owned()
                }
            })
            .collect();
        let random = random_input(&mut rng);
        paths.push(String::from_utf8_lossy(&random).into_owned());
        let plan = Plan::new(paths.clone());
        assert_eq!(plan.files().len(), paths.len());
        let extract = plan.extract_with(|_| Ok::<_, std::convert::Infallible>(random.clone()));
        check_bounded(&extract, paths.len() * (random.len() + 64));
        // Every file leaves a trace: a record, a rejection or a diagnostic.
        for path in &paths {
            let accounted = extract
                .records
                .iter()
                .map(|r| r.provenance.file.as_deref())
                .chain(
                    extract
                        .rejected
                        .iter()
                        .map(|r| r.provenance.file.as_deref()),
                )
                .chain(extract.diagnostics.iter().map(|d| Some(d.file.as_str())))
                .any(|f| f == Some(path.as_str()));
            assert!(accounted, "{path:?} not accounted for");
        }
    }
}

/// One value copied onto many results must not multiply: an SPM with a long id, then many OBX.
#[test]
fn shared_values_do_not_multiply() {
    let mut text = String::from(
        "MSH|^~\\&|LIS|9999999999|GW|GEMJ|20240314153000||OUL^R22^OUL_R22|1|P|2.5\rPID|0001||9000000001^^^^PI\r",
    );
    let long = "X".repeat(100_000);
    text.push_str(&format!(
        "SPM|1|{long}||023^{long}^JC10|||||||||||||{}\r",
        "2".repeat(100_000)
    ));
    text.push_str(&format!(
        "ORC|SC|{long}\rOBR|1|{long}|||||{}\r",
        "2".repeat(100_000)
    ));
    for i in 0..5_000 {
        text.push_str(&format!("OBX|{i}|NM|A^a^JC10||1\r"));
    }
    let extract = read_message("big", &text);
    assert_eq!(extract.records.len(), 5_000);
    check_bounded(&extract, text.len());
    let size = format!("{extract:?}").len();
    assert!(size < 5_000_000, "{size}");
}

/// Many distinct garbage lines and segment names: counted, not compared pairwise.
#[test]
fn many_distinct_lines() {
    let mut text = String::from(
        "MSH|^~\\&|HIS|9999999999|GW|GEMJ|20240301090000||ADT^A08^ADT_A01|1|P|2.5\rPID|0001||9000000001^^^^PI\r",
    );
    for i in 0..20_000 {
        text.push_str(&format!("line {i}\rZ{:02}|1\r", i % 100));
    }
    let extract = read_message("many", &text);
    assert_eq!(extract.diagnostics.len(), 101);
}
