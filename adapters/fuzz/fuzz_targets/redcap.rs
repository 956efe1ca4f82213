//! REDCap raw record exports against the GeMJ template dictionary, and dictionaries.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gemj_redcap::read_bytes(data);
    let _ = gemj_redcap::DataDictionary::parse(data);
});
