//! Arbitrary input through `read_bundle` without a validator (as a fuzzer would call it): random
//! bytes, random edits of a real bundle that keep it JSON-ish, truncations, wrong JSON types in
//! every place, and deep nesting. Nothing may panic or overflow the stack, and the output stays
//! bounded by the input.

use std::error::Error;

use gemj_fhir_import::{FhirImportError, read_bundle, read_bytes};
use gemj_model::source::Extract;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn Error>>;

/// Most diagnostics an extract carries (the crate's cap, plus the line that counts the rest).
const MAX_DIAGNOSTICS: usize = 1001;

/// A small bundle with every resource type read, a seed beside the shipped fixture.
const SEED: &str = r#"{
  "resourceType": "Bundle", "type": "transaction",
  "entry": [
    {"fullUrl": "urn:uuid:p", "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:oid:1.2.392.100495.20.3.51.19999999999|9000000001"},
     "resource": {"resourceType": "Patient", "id": "p1",
       "identifier": [{"system": "urn:oid:1.2.392.100495.20.3.51.19999999999", "value": "9000000001"},
                      {"system": "http://gemj.example.jp/id/subject", "value": "GEMJ-TEST-0001"}],
       "name": [{"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "SYL"}],
                 "family": "シケン", "given": ["タロウ"]}],
       "gender": "male", "birthDate": "1975-04-01", "address": [{"text": "東京都", "postalCode": "100-0001"}]}},
    {"request": {"method": "POST", "url": "Condition"},
     "resource": {"resourceType": "Condition", "subject": {"reference": "urn:uuid:p"},
       "code": {"coding": [{"system": "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full", "code": "Q874"}], "text": "x"},
       "onsetDateTime": "2005", "recordedDate": "2019-05-01"}},
    {"fullUrl": "urn:uuid:s", "request": {"method": "POST", "url": "Specimen"},
     "resource": {"resourceType": "Specimen", "identifier": [{"system": "http://gemj.example.jp/id/specimen", "value": "SP-1"}],
       "subject": {"reference": "Patient/p1"}, "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0487", "code": "BLD"}]},
       "collection": {"collectedDateTime": "2024-03-15T09:00:00+09:00"}}},
    {"request": {"method": "PUT", "url": "Specimen/d"},
     "resource": {"resourceType": "Specimen", "id": "d", "identifier": [{"system": "http://gemj.example.jp/id/specimen", "value": "SP-1-DNA"}],
       "subject": {"identifier": {"system": "http://gemj.example.jp/id/subject", "value": "GEMJ-TEST-0001"}},
       "parent": [{"reference": "urn:uuid:s"}]}},
    {"request": {"method": "POST", "url": "Consent"},
     "resource": {"resourceType": "Consent", "status": "active", "patient": {"reference": "urn:uuid:p"},
       "dateTime": "2024-03-01T14:00:00+09:00", "policy": [{"uri": "http://gemj.example.jp/policy/p"}],
       "provision": {"type": "permit", "period": {"start": "2024-03-01"}, "purpose": [{"code": "HRESCH"}]}}},
    {"request": {"method": "POST", "url": "Observation"},
     "resource": {"resourceType": "Observation", "status": "final", "subject": {"reference": "urn:uuid:p"},
       "code": {"coding": [{"system": "http://loinc.org", "code": "1751-7"}]},
       "valueQuantity": {"value": 3.2, "system": "http://unitsofmeasure.org", "code": "g/dL"},
       "referenceRange": [{"low": {"value": 3.7}, "high": {"value": 5.5}}],
       "specimen": {"reference": "urn:uuid:lab"}}},
    {"fullUrl": "urn:uuid:lab", "request": {"method": "POST", "url": "Specimen"},
     "resource": {"resourceType": "Specimen", "identifier": [{"value": "LS-1"}]}},
    {"request": {"method": "DELETE", "url": "Patient/9"}}
  ]
}"#;

/// The built-in bundle and the synthetic one shipped in `examples/adapters`.
fn seeds() -> Result<Vec<Vec<u8>>, Box<dyn Error>> {
    let shipped =
        gemj_schemas::testing::examples_dir().join("adapters/fhir/ehr-transaction-bundle.json");
    Ok(vec![SEED.as_bytes().to_vec(), std::fs::read(shipped)?])
}

/// Reads `bytes` both ways and checks that the output is bounded by the input.
fn check(bytes: &[u8]) -> TestResult {
    let extract = read_bytes(bytes);
    bounded(bytes, &extract)?;
    match read_bundle(bytes, "fuzz.json", None) {
        Ok(other) => bounded(bytes, &other)?,
        Err(FhirImportError::Invalid { .. }) => {
            return Err("no validator, so no schema errors".into());
        }
        Err(_) => {}
    }
    Ok(())
}

fn bounded(bytes: &[u8], extract: &Extract) -> TestResult {
    let entries = serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get("entry").and_then(Value::as_array).map(Vec::len))
        .unwrap_or(0);
    let items = extract.records.len() + extract.rejected.len();
    if items > entries {
        return Err(format!("{items} records and rejections from {entries} entries").into());
    }
    if extract.diagnostics.len() > MAX_DIAGNOSTICS {
        return Err(format!("{} diagnostics", extract.diagnostics.len()).into());
    }
    let out = serde_json::to_vec(extract)?.len();
    let limit = 8 * bytes.len() + 2048 * (entries + 1);
    if out > limit {
        return Err(format!("{out} bytes of output from {} bytes of input", bytes.len()).into());
    }
    Ok(())
}

#[test]
fn random_bytes() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(0x6e6d_6a01);
    for _ in 0..2_000 {
        let len = rng.random_range(0..512);
        let mut bytes = vec![0; len];
        rng.fill_bytes(&mut bytes);
        if rng.random_bool(0.5) {
            // Mostly JSON punctuation, so that the parser goes further.
            const ALPHABET: &[u8] = b"{}[]\":,0123456789-.eEtruefalsnl \\/u";
            for b in &mut bytes {
                *b = ALPHABET[usize::from(*b) % ALPHABET.len()];
            }
        }
        check(&bytes)?;
    }
    Ok(())
}

/// Byte-level edits that keep the text JSON-ish.
fn mutate_bytes(rng: &mut ChaCha8Rng, seed: &[u8]) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b":",
        b",",
        b"null",
        b"true",
        b"0",
        b"-1e999",
        b"1.5",
        b"\"\"",
        b"\"urn:uuid:p\"",
        b"\"Patient/p1\"",
        b"\"2005\"",
        b"\"DELETE\"",
        b"\"PUT\"",
        b"\"Patient\"",
        b"\"Specimen\"",
        b"\"#x\"",
        b"\"\\u0000\"",
        b"\"\\ud800\"",
        "\"試験\"".as_bytes(),
        b"\"resourceType\"",
        b"\"reference\"",
        b"\"identifier\"",
        b"\"entry\"",
        b"[[[[[[[[",
    ];
    let mut bytes = seed.to_vec();
    for _ in 0..rng.random_range(1..8) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..5) {
            0 => bytes.truncate(at),
            1 => {
                bytes.remove(at);
            }
            2 => {
                let piece = PIECES[rng.random_range(0..PIECES.len())];
                bytes.splice(at..at, piece.iter().copied());
            }
            3 => {
                let end = (at + rng.random_range(1..64)).min(bytes.len());
                let slice = bytes[at..end].to_vec();
                bytes.splice(at..at, slice);
            }
            _ => bytes[at] = rng.random(),
        }
    }
    bytes
}

/// Value-level edits: a random node gets a value of another JSON type, or goes away. The
/// result is valid JSON with wrong types, which only the mapping's defences catch.
fn mutate_value(rng: &mut ChaCha8Rng, value: &mut Value) {
    let replacement = || -> Vec<Value> {
        vec![
            Value::Null,
            json!(true),
            json!(-0.0),
            json!(1e300),
            json!(u64::MAX),
            json!(""),
            json!("urn:uuid:p"),
            json!("Patient/p1"),
            json!("Patient?identifier=http://gemj.example.jp/id/subject|GEMJ-TEST-0002"),
            json!("2024-02-30T25:61:00+15:00"),
            json!("C169"),
            json!("x".repeat(10_000)),
            json!([]),
            json!({}),
            json!([{"resourceType": "Patient"}]),
        ]
    };
    let mut node = value;
    loop {
        let children = match node {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            _ => 0,
        };
        if children == 0 || rng.random_bool(0.25) {
            break;
        }
        let i = rng.random_range(0..children);
        node = match node {
            Value::Array(a) => &mut a[i],
            Value::Object(o) => match o.values_mut().nth(i) {
                Some(child) => child,
                None => return,
            },
            _ => return,
        };
    }
    match rng.random_range(0..3) {
        0 => {
            let choices = replacement();
            *node = choices[rng.random_range(0..choices.len())].clone();
        }
        1 => {
            if let Value::Object(o) = node
                && let Some(key) = o.keys().nth(rng.random_range(0..o.len().max(1))).cloned()
            {
                o.remove(&key);
            }
        }
        _ => *node = Value::Array(vec![node.take()]),
    }
}

#[test]
fn mutated_bundles() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(0x6e6d_6a02);
    for seed in seeds()? {
        check(&seed)?;
        let parsed: Value = serde_json::from_slice(&seed)?;
        for _ in 0..1_500 {
            check(&mutate_bytes(&mut rng, &seed))?;
            let mut value = parsed.clone();
            for _ in 0..rng.random_range(1..6) {
                mutate_value(&mut rng, &mut value);
            }
            check(&serde_json::to_vec(&value)?)?;
        }
        for cut in (0..seed.len()).step_by(7) {
            check(&seed[..cut])?;
        }
    }
    Ok(())
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() -> TestResult {
    let deep = |open: &str, close: &str, depth: usize| -> Vec<u8> {
        format!("{}{}", open.repeat(depth), close.repeat(depth)).into_bytes()
    };
    for bytes in [
        deep("[", "]", 100_000),
        b"[".repeat(100_000),
        deep("{\"a\":", "}", 100_000),
        format!(
            r#"{{"resourceType": "Bundle", "type": "transaction", "entry": [{{"request": {{"method": "POST"}}, "resource": {{"resourceType": "Patient", "name": {}}}}}]}}"#,
            String::from_utf8(deep("[", "]", 100_000))?
        )
        .into_bytes(),
    ] {
        let result = read_bundle(&bytes, "deep.json", None);
        assert!(matches!(result, Err(FhirImportError::Json { .. })), "{result:?}");
        check(&bytes)?;
    }
    // Just inside the limit, nesting inside a resource is read (and the entry rejected).
    let nested = String::from_utf8(deep("[", "]", 100))?;
    let bundle = format!(
        r#"{{"resourceType": "Bundle", "type": "transaction", "entry": [{{"request": {{"method": "POST", "url": "Patient"}}, "resource": {{"resourceType": "Patient", "name": {nested}, "extension": [{{"valueCodeableConcept": {nested}}}]}}}}]}}"#
    );
    let extract = read_bundle(bundle.as_bytes(), "deep.json", None)?;
    assert_eq!(extract.rejected.len(), 1);
    check(bundle.as_bytes())?;
    Ok(())
}

#[test]
fn one_long_text_is_not_multiplied() -> TestResult {
    let long = "x".repeat(100_000);
    let mut entries = vec![json!({
        "fullUrl": "urn:uuid:lab", "request": {"method": "POST", "url": "Specimen"},
        "resource": {"resourceType": "Specimen", "identifier": [{"value": "LS-1"}],
                     "type": {"coding": [{"system": "http://example.org", "code": "023", "display": long}]}}
    })];
    for _ in 0..300 {
        entries.push(json!({
            "request": {"method": "POST", "url": "Observation"},
            "resource": {"resourceType": "Observation",
                         "subject": {"identifier": {"system": "http://gemj.example.jp/id/subject", "value": "GEMJ-TEST-0001"}},
                         "code": {"coding": [{"system": "http://loinc.org", "code": "1751-7"}]},
                         "valueString": "x", "specimen": {"reference": "urn:uuid:lab"}}
        }));
    }
    let bytes =
        serde_json::to_vec(&json!({"resourceType": "Bundle", "type": "batch", "entry": entries}))?;
    let extract = read_bundle(&bytes, "long.json", None)?;
    assert_eq!(extract.records.len(), 300);
    check(&bytes)?;
    let out = serde_json::to_vec(&extract)?.len();
    assert!(
        out < bytes.len(),
        "{out} bytes of output from {} bytes",
        bytes.len()
    );
    Ok(())
}
