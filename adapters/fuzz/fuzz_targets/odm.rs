//! CDISC ODM 1.3.2 documents.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gemj_cdisc_odm::read_bytes(data);
});
