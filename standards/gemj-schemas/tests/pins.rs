//! The pin list `schemas/official-pins.json` matches the shared folder byte for byte: every pinned
//! file exists with the pinned sha256, and a `complete` folder holds no file that is not pinned.
//! A change to the shared folder is noticed here.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{TestResult, pins_path, schemas};
use serde_json::Value;
use sha2::{Digest, Sha256};

#[test]
fn pinned_files_match_the_shared_folder() -> TestResult {
    let Some(set) = schemas()? else {
        return Ok(());
    };
    let root = set.schemas_dir();
    let pins: Value = serde_json::from_str(&std::fs::read_to_string(pins_path())?)?;
    let sources = pins["sources"].as_array().ok_or("no sources array")?;
    let mut problems = Vec::new();
    let mut pinned = BTreeSet::new();
    for source in sources {
        let name = source["name"].as_str().unwrap_or("(unnamed)");
        for key in ["name", "version", "repository", "commit", "provenance"] {
            if source[key].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{name}: no {key}"));
            }
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
    for source in sources {
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
