//! Robustness: random text, date-shaped noise and mutations of real date spellings through every
//! public function. Nothing may panic, and the output stays bounded by the input's size.

#[path = "../../testing/robustness.rs"]
mod robustness;

use gemj_japanese::{era, kana};
use rand::Rng;
use robustness::{flip_bit, seeded};

const SPELLINGS: [&str; 12] = [
    "S50.04.01",
    "S64.01.07",
    "H13.02.03",
    "H31.04.30",
    "R6.03.15",
    "R1/5/7",
    "令和6年3月18日",
    "令和元年5月1日",
    "昭和50年",
    "2024/03/15",
    "20240315",
    "ﾐﾎﾝ^ﾊﾅｺ",
];

fn exercise(text: &str) {
    if let Ok(date) = era::parse(text) {
        // A date is at most "YYYY-MM-DD".
        assert!(date.to_string().len() <= 10);
        let year = date.year_value();
        assert!((1800..=9999).contains(&year), "{text:?}");
    }
    let full = kana::to_full_width(text);
    // Each character becomes at most one character of at most 3 UTF-8 bytes (half-width kana
    // are 3 bytes too), so the output is never longer than the input.
    assert!(full.len() <= text.len(), "{text:?}");
}

#[test]
fn random_bytes_as_text() {
    let mut rng = seeded(0x6a61_706e);
    for _ in 0..5000 {
        let bytes = robustness::random_bytes(&mut rng, 128);
        exercise(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn date_shaped_noise() {
    let pieces = [
        "S", "H", "R", "M", "T", "s", "令和", "平成", "昭和", "大正", "明治", "元", "年", "月",
        "日", "㍻", "㋿", ".", "/", "-", "．", "／", "0", "1", "9", "12", "31", "64", "０", "１",
        "９", " ", "\u{3000}", "ﾊ", "ﾟ", "ﾞ", "ｳ", "2024", "99999",
    ];
    let mut rng = seeded(0x0da7_e500);
    for _ in 0..20_000 {
        let mut text = String::new();
        for _ in 0..rng.random_range(0..12) {
            text.push_str(pieces[rng.random_range(0..pieces.len())]);
        }
        exercise(&text);
    }
}

#[test]
fn mutations_of_real_spellings() {
    let mut rng = seeded(0x6d75_7433);
    for spelling in SPELLINGS {
        for end in 0..=spelling.len() {
            if let Some(prefix) = spelling.get(..end) {
                exercise(prefix);
            }
        }
        for _ in 0..500 {
            let mut bytes = spelling.as_bytes().to_vec();
            flip_bit(&mut rng, &mut bytes);
            exercise(&String::from_utf8_lossy(&bytes));
        }
        exercise(&spelling.repeat(1000));
    }
    // Huge inputs are refused unread, and converted in linear time.
    let huge = "ﾊﾟ".repeat(1 << 20);
    assert!(era::parse(&huge).is_err());
    assert_eq!(kana::to_full_width(&huge).chars().count(), 1 << 20);
}
