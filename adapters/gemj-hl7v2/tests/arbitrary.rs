//! Robustness: random text, built from HL7 pieces and random characters, through every public
//! parser. Nothing may panic; the index and every unescaped value stay proportional to the input.

use gemj_hl7v2::{Delimiters, Location, Message, unescape};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How many cases: 20,000 unless `GEMJ_FUZZ_CASES` says otherwise (for longer local runs).
fn cases() -> usize {
    std::env::var("GEMJ_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

const PIECES: &[&str] = &[
    "MSH|^~\\&|",
    "MSH#*!/$#",
    "FHS|^~\\&",
    "MSH|^~\\&#|",
    "PID",
    "OBX",
    "|",
    "^",
    "~",
    "\\",
    "&",
    "#",
    "\r",
    "\n",
    "\r\n",
    "\\X",
    "\\.br\\",
    "\\S\\",
    "0A",
    "ff",
    "試験",
    "ﾐﾎﾝ",
    "\u{FFFD}",
    "\0",
    " ",
    "\"\"",
    "MSH©",
    "MSH\u{80}",
    "é",
    "\u{A9}",
];

fn random_text(rng: &mut ChaCha8Rng) -> String {
    let mut out = String::new();
    for _ in 0..rng.random_range(0..60) {
        if rng.random_bool(0.8) {
            out.push_str(PIECES[rng.random_range(0..PIECES.len())]);
        } else {
            out.push(rng.random::<char>());
        }
    }
    out
}

fn check(text: &str) {
    let _ = Location::parse(text);
    let mut chars = text.chars();
    if let Some(first) = chars.next() {
        let _ = Delimiters::new(first, chars.as_str());
    }
    let default = Delimiters::default();
    assert!(unescape(text, &default).len() <= 2 * text.len());
    let Ok(message) = Message::parse(text) else {
        return;
    };
    assert!(message.segment_count() <= text.len());
    let mut pieces = 0;
    for segment in message.segments() {
        assert!(segment.field_count() <= segment.as_str().len() + 1);
        for field in segment.fields() {
            assert!(field.value().len() <= 2 * field.as_str().len());
            for rep in field.repetitions() {
                for component in rep.components() {
                    for sub in component.subcomponents() {
                        pieces += 1;
                        assert!(sub.value().len() <= 2 * sub.as_str().len());
                    }
                }
            }
        }
    }
    assert!(pieces <= text.len());
    for location in ["MSH-1", "MSH-2", "MSH-9.1", "PID[2]-3[2].1.1", "OBX-5"] {
        if let Ok(loc) = location.parse::<Location>() {
            let _ = message.get(&loc);
        }
    }
}

#[test]
fn random_text_never_panics() {
    let mut rng = ChaCha8Rng::seed_from_u64(25);
    let mut parsed = 0;
    let cases = cases();
    for _ in 0..cases {
        let text = random_text(&mut rng);
        if Message::parse(&text).is_ok() {
            parsed += 1;
        }
        check(&text);
    }
    // Enough of the cases get past the header to exercise the index and the splitting.
    assert!(parsed >= cases / 20, "{parsed}");
}
