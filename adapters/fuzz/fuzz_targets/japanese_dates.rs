//! Japanese-era and Gregorian dates, and half-width kana.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = gemj_japanese::era::parse(&text);
    let _ = gemj_japanese::kana::to_full_width(&text);
});
