//! The 204 examples of the Genomics Reporting IG 3.0.0 round-trip through the model unchanged
//! (every element kept, every value equal), and each is valid against the R4 JSON Schema of its
//! type through the incoming validator. Read from the shared corpus (`GEMJ_SHARED_DIR`):
//! skipped without it, failing under `CI=true`.

use gemj_fhir::model::{IncomingValidator, typed};

#[test]
fn the_ig_examples_round_trip_through_the_model() -> Result<(), Box<dyn std::error::Error>> {
    let Some(shared) = gemj_schemas::testing::shared_dir()? else {
        return Ok(());
    };
    let dir = shared.join("schemas/fhir/genomics-reporting/examples");
    let validator = IncomingValidator::new(&gemj_schemas::SchemaSet::embedded());
    let mut n = 0;
    let mut failures = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
    paths.sort_by_key(std::fs::DirEntry::path);
    for entry in paths {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        let example: serde_json::Value = serde_json::from_slice(&bytes)?;
        n += 1;
        let name = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("?")
            .to_owned();
        if let Err(e) = typed(&example) {
            failures.push(format!("{name}: {e}"));
            continue;
        }
        if let Err(e) = validator.validate(&example, Some(&bytes)) {
            failures.push(format!("{name}: {:?}", e.issues));
        }
    }
    assert_eq!(n, 204, "the IG ships 204 examples");
    assert!(
        failures.is_empty(),
        "{} of {n} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}
