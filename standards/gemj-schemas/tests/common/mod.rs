//! Shared helpers of the integration tests: the shipped schema set and the pin list at the
//! workspace root.

#![allow(dead_code)] // Reason: each test binary uses a different subset of these helpers.

use std::error::Error;
use std::path::PathBuf;

use gemj_schemas::SchemaSet;

/// The test result type.
pub(crate) type TestResult = Result<(), Box<dyn Error>>;

/// The official schemas shipped with the project (compiled in).
pub(crate) fn schemas() -> SchemaSet {
    gemj_schemas::testing::schemas()
}

/// `<workspace>/schemas/official-pins.json`.
pub(crate) fn pins_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/official-pins.json")
}

/// Every pinned file path (relative to `schemas/official`).
pub(crate) fn pinned_paths() -> Result<Vec<String>, Box<dyn Error>> {
    let text = std::fs::read_to_string(pins_path())?;
    let pins: serde_json::Value = serde_json::from_str(&text)?;
    let mut out = Vec::new();
    for source in pins["sources"].as_array().ok_or("no sources array")? {
        for file in source["files"].as_array().ok_or("no files array")? {
            out.push(file["path"].as_str().ok_or("no path")?.to_owned());
        }
    }
    Ok(out)
}
