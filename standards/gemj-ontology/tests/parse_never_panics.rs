//! Property-style checks: `Ontology::parse_obo` and `Icd10` never panic, whatever the input:
//! every prefix of a small OBO text, random mutations of it, random token soups and random
//! bytes, from a small deterministic PRNG (so a failure reproduces).

use std::panic::{AssertUnwindSafe, catch_unwind};

use gemj_ontology::{Icd10, Ontology};

const SAMPLE: &str = "\
format-version: 1.2
data-version: x/1
[Term]
id: HP:0000001
name: All \\! root {mod=1}
alt_id: HP:0000000

[Term]
id: HP:0000118
name: Phenotypic abnormality ! comment
is_a: HP:0000001 {source=\"a\"} ! All
is_a: HP:0000119

[Term]
id: HP:0000119
is_a: HP:0000118 ! a cycle
replaced_by: HP:0000000
is_obsolete: true

[Typedef]
id: part_of
";

/// xorshift64*: tiny, deterministic, good enough to pick bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

/// Parses `bytes` (lossily as UTF-8) and exercises every query on the result; on a panic,
/// fails with the input.
fn check(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let result = catch_unwind(AssertUnwindSafe(|| {
        match Ontology::parse_obo(&text) {
            Ok(o) => {
                let ids: Vec<String> = o.ids().map(str::to_owned).collect();
                assert_eq!(ids.len(), o.len());
                let probes = ids.iter().map(String::as_str).chain([
                    "HP:0000000",
                    "HP:0000001",
                    "",
                    "\u{fffd}",
                ]);
                for id in probes {
                    let _ = (o.label(id), o.is_obsolete(id), o.contains(id));
                    let _ = o.resolve(id);
                    let below = o.descendants(id);
                    let above = o.ancestors(id);
                    assert!(below.len() <= o.len() && above.len() <= o.len());
                    let _ = (o.parents(id).count(), o.children(id).count());
                }
                let _ = (o.warnings().len(), o.data_version(), format!("{o:?}"));
            }
            Err(e) => {
                let _ = (e.to_string(), e.line());
            }
        }
        for line in text.lines().take(8) {
            let _ = Icd10::normalize(line);
            let _ = Icd10::is_within(line, line);
            let _ = Icd10::is_within("C34.1", line);
        }
    }));
    assert!(result.is_ok(), "panicked on {text:?}");
}

#[test]
fn every_prefix_of_a_small_text() {
    let bytes = SAMPLE.as_bytes();
    for end in 0..=bytes.len() {
        check(&bytes[..end]);
        check(&bytes[end..]);
    }
    assert!(Ontology::parse_obo(SAMPLE).is_ok());
}

#[test]
fn random_mutations_of_a_small_text() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let interesting = b"[]!:{}\\\n\r \t\xff\xc3";
    for _ in 0..3_000 {
        let mut bytes = SAMPLE.as_bytes().to_vec();
        for _ in 0..=rng.below(6) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(4) {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, interesting[rng.below(interesting.len())]),
                2 if at < bytes.len() => bytes[at] = u8::try_from(rng.below(256)).unwrap(),
                _ => bytes.truncate(at),
            }
        }
        check(&bytes);
    }
}

#[test]
fn random_token_soups_and_bytes() {
    let mut rng = Rng(42);
    let tokens: [&[u8]; 22] = [
        b"[Term]\n",
        b"[Typedef]\n",
        b"[",
        b"]",
        b"\n",
        b"id: ",
        b"name: ",
        b"is_a: ",
        b"alt_id: ",
        b"replaced_by: ",
        b"is_obsolete: true\n",
        b"is_obsolete: ",
        b"A:1",
        b"A:2",
        b"A:3",
        b" ! ",
        b"\\",
        b"{x}",
        b":",
        b"\xe2\x82",
        b"C34.1",
        b"ICD10:",
    ];
    for _ in 0..3_000 {
        let mut bytes = Vec::new();
        for _ in 0..rng.below(40) {
            bytes.extend_from_slice(tokens[rng.below(tokens.len())]);
        }
        check(&bytes);
    }
    for _ in 0..2_000 {
        let len = rng.below(120);
        let bytes: Vec<u8> = (0..len)
            .map(|_| u8::try_from(rng.below(256)).unwrap())
            .collect();
        check(&bytes);
    }
}
