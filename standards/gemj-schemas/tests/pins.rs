//! The pin list `schemas/official-pins.json` matches, byte for byte, the official schemas shipped
//! with the project (`schemas/official`, and the copies compiled into the binary) and the shared
//! folder's, when there is one: every pinned file exists with the pinned sha256, a `complete`
//! folder holds no file that is not pinned, and nothing unpinned is embedded.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{TestResult, pins_path};
use gemj_schemas::SchemaSet;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn pins() -> Result<Value, Box<dyn std::error::Error>> {
    Ok(serde_json::from_str(
        &std::fs::read_to_string(pins_path())?,
    )?)
}

/// Compares the files under `root` with the pins of the sources `include` selects; returns the
/// problems and the pinned paths checked.
fn check(
    root: &Path,
    include: impl Fn(&Value) -> bool,
) -> Result<(Vec<String>, BTreeSet<String>), Box<dyn std::error::Error>> {
    let pins = pins()?;
    let sources = pins["sources"].as_array().ok_or("no sources array")?;
    let mut problems = Vec::new();
    let mut pinned = BTreeSet::new();
    for source in sources.iter().filter(|s| include(s)) {
        let name = source["name"].as_str().unwrap_or("(unnamed)");
        for key in [
            "name",
            "version",
            "repository",
            "commit",
            "provenance",
            "license",
        ] {
            if source[key].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{name}: no {key}"));
            }
        }
        let provenance = source["provenance"].as_str().unwrap_or_default();
        if !root.join(provenance).is_file() {
            problems.push(format!(
                "{name}: its provenance note {provenance} is missing"
            ));
        }
        for file in source["files"].as_array().ok_or("no files array")? {
            let path = file["path"].as_str().ok_or("no path")?;
            let expect = file["sha256"].as_str().ok_or("no sha256")?;
            if !pinned.insert(path.to_owned()) {
                problems.push(format!("{path}: pinned twice"));
            }
            match std::fs::read(root.join(path)) {
                Ok(bytes) => {
                    let actual = hex::encode(Sha256::digest(&bytes));
                    if actual != expect {
                        problems.push(format!("{path}: sha256 {actual}, pinned {expect}"));
                    }
                }
                Err(e) => problems.push(format!("{path}: {e}")),
            }
        }
    }
    for source in sources.iter().filter(|s| include(s)) {
        for folder in source["complete"].as_array().into_iter().flatten() {
            let folder = folder.as_str().ok_or("complete entry is not a string")?;
            let mut found = Vec::new();
            list(&root.join(folder), root, &mut found)?;
            for path in found.iter().filter(|p| !pinned.contains(*p)) {
                problems.push(format!(
                    "{path}: in the complete folder {folder} but not pinned"
                ));
            }
        }
    }
    Ok((problems, pinned))
}

fn shipped(source: &Value) -> bool {
    source["shipped"].as_bool() == Some(true)
}

#[test]
fn shipped_files_match_the_pins() -> TestResult {
    let root = gemj_schemas::testing::workspace_dir().join("schemas/official");
    let (problems, pinned) = check(&root, shipped)?;
    assert!(
        problems.is_empty(),
        "schemas/official differs from schemas/official-pins.json:\n{}",
        problems.join("\n")
    );
    assert!(pinned.len() > 100, "only {} pinned files", pinned.len());
    // The FHIR R4 schema and every GA4GH document the gateway validates against ship.
    for doc in [
        gemj_schemas::docs::FHIR_R4,
        gemj_schemas::docs::SERVICE_INFO,
        gemj_schemas::docs::DRS,
        gemj_schemas::docs::HTSGET,
        gemj_schemas::docs::WES,
        gemj_schemas::docs::DATA_CONNECT,
    ] {
        assert!(pinned.contains(doc), "{doc} is not shipped");
    }
    Ok(())
}

#[test]
fn embedded_documents_are_the_pinned_bytes() -> TestResult {
    let pins = pins()?;
    let mut expected = std::collections::BTreeMap::new();
    for source in pins["sources"].as_array().ok_or("no sources")? {
        for file in source["files"].as_array().ok_or("no files")? {
            let path = file["path"].as_str().ok_or("no path")?;
            let documents = [".json", ".yaml", ".yml"];
            if shipped(source) && documents.iter().any(|e| path.ends_with(e)) {
                expected.insert(path.to_owned(), file["sha256"].as_str().ok_or("no sha")?);
            }
        }
    }
    let embedded: Vec<&str> = SchemaSet::embedded_documents().collect();
    let set = SchemaSet::embedded();
    let mut problems = Vec::new();
    for doc in &embedded {
        let bytes = set.document_bytes(doc)?;
        match expected.get(*doc) {
            None => problems.push(format!("{doc}: embedded but not pinned")),
            Some(sha) if hex::encode(Sha256::digest(&bytes)) != **sha => {
                problems.push(format!("{doc}: embedded bytes differ from the pin"));
            }
            Some(_) => {}
        }
    }
    for doc in expected.keys() {
        if !embedded.contains(&doc.as_str()) {
            problems.push(format!("{doc}: pinned and shipped but not embedded"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(set.is_embedded());
    assert!(set.document_bytes("fhir/r4/missing.json").is_err());
    Ok(())
}

#[test]
fn pinned_files_match_the_shared_folder() -> TestResult {
    let Some(shared) = gemj_schemas::testing::shared_dir()? else {
        return Ok(());
    };
    let (problems, pinned) = check(&shared.join("schemas"), |_| true)?;
    assert!(
        problems.is_empty(),
        "the shared folder differs from schemas/official-pins.json:\n{}",
        problems.join("\n")
    );
    assert!(pinned.len() > 100, "only {} pinned files", pinned.len());
    Ok(())
}

fn list(dir: &Path, root: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            list(&path, root, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push(relative.to_string_lossy().into_owned());
        }
    }
    Ok(())
}
