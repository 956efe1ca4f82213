//! Genome files: format detection and the VCF/BCF allele reader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gemj_genomes::detect::detect_bytes(data);
    let _ = gemj_genomes::variants::read_variants_bytes(data);
});
