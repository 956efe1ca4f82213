//! Finding the shared folder (`<workspace>/../shared`) that holds the official schemas.

use std::env;
use std::path::{Path, PathBuf};

use crate::SchemaError;

/// The environment variable naming the shared folder (the folder that contains `schemas/`).
pub const SHARED_DIR_ENV: &str = "GEMJ_SHARED_DIR";

/// Finds the shared folder: `GEMJ_SHARED_DIR`, else `../shared` from the current directory, else
/// the sibling `shared` folder of each ancestor of `CARGO_MANIFEST_DIR` (see the crate
/// documentation for the full rule).
///
/// # Errors
///
/// [`SchemaError::NotASharedDir`] when `GEMJ_SHARED_DIR` is set but has no `schemas/`
/// sub-folder; [`SchemaError::SharedDirNotFound`] when no candidate has one.
///
/// # Examples
///
/// ```no_run
/// # fn main() -> Result<(), gemj_schemas::SchemaError> {
/// let shared = gemj_schemas::shared_dir()?;
/// assert!(shared.join("schemas").is_dir());
/// # Ok(())
/// # }
/// ```
pub fn shared_dir() -> Result<PathBuf, SchemaError> {
    if let Some(value) = env::var_os(SHARED_DIR_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(value);
        return if is_shared_dir(&path) {
            Ok(path)
        } else {
            Err(SchemaError::NotASharedDir { path })
        };
    }
    let mut tried = Vec::new();
    if let Ok(cwd) = env::current_dir() {
        tried.push(cwd.join("..").join("shared"));
    }
    if let Some(manifest) = env::var_os("CARGO_MANIFEST_DIR") {
        let manifest = PathBuf::from(manifest);
        for ancestor in manifest.ancestors() {
            if let Some(parent) = ancestor.parent() {
                tried.push(parent.join("shared"));
            }
        }
    }
    let mut seen = Vec::new();
    for candidate in tried {
        if seen.contains(&candidate) {
            continue;
        }
        if is_shared_dir(&candidate) {
            return Ok(candidate);
        }
        seen.push(candidate);
    }
    Err(SchemaError::SharedDirNotFound { tried: seen })
}

/// Whether `path` has a `schemas/` sub-folder.
pub(crate) fn is_shared_dir(path: &Path) -> bool {
    path.join("schemas").is_dir()
}
