//! Biobank manifests (MIABIS-flavoured CSV).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gemj_biobank::read_bytes(data);
});
