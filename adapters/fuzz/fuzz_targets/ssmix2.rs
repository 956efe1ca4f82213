//! SS-MIX2: any bytes as a message (decoding, parsing, mapping), and as a file of a tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gemj_ssmix2::read_bytes("fuzz", data);
    let _ = gemj_ssmix2::read_file(
        "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_1",
        data,
    );
});
