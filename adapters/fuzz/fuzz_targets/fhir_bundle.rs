//! FHIR bundles, mapped without the schema validator (the mapping must hold on its own).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gemj_fhir_import::read_bytes(data);
});
