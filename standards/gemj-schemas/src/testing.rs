//! Test support for every crate of the workspace: the official schemas shipped with the project,
//! the synthetic example inputs of `<workspace>/examples`, and the shared folder's large corpora
//! (real htsget files, the FHIR Genomics IG examples), which tests may read when it is present
//! and must fail loudly without under CI.

use std::path::PathBuf;

use crate::{SchemaError, SchemaSet, shared_dir as find_shared_dir};

/// Whether the environment says this is a CI run (`CI=true` or `CI=1`, as CI services set it).
#[must_use]
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// An error and its causes, joined with `": "`: the whole story of a failure, on one line.
#[must_use]
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    crate::error::chain(error)
}

/// The official schemas shipped with the project ([`SchemaSet::embedded`]): always there.
#[must_use]
pub fn schemas() -> SchemaSet {
    SchemaSet::embedded()
}

/// The workspace root (`<workspace>`), from this crate's location.
#[must_use]
pub fn workspace_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `<workspace>/examples`: the synthetic example inputs shipped with the project (the adapters'
/// fixtures under `adapters/`, whose README fixes their canonical meaning).
#[must_use]
pub fn examples_dir() -> PathBuf {
    workspace_dir().join("examples")
}

/// The shared folder (found as [`crate::shared_dir`] says), for the large corpora that do not
/// ship with the project.
///
/// Returns `Ok(None)` (and says so on stderr) when no shared folder was found and this is not a
/// CI run, so the calling test can return early; under `CI=true` a missing folder is an error,
/// so the test fails loudly. A `GEMJ_SHARED_DIR` that points nowhere is always an error.
///
/// # Errors
///
/// [`SchemaError::SharedDirNotFound`] under CI, and [`SchemaError::NotASharedDir`].
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let Some(shared) = gemj_schemas::testing::shared_dir()? else {
///     return Ok(()); // Skipped: no shared folder on this machine.
/// };
/// assert!(shared.join("schemas").is_dir());
/// # Ok(())
/// # }
/// ```
pub fn shared_dir() -> Result<Option<PathBuf>, SchemaError> {
    match find_shared_dir() {
        Ok(dir) => Ok(Some(dir)),
        Err(error @ SchemaError::SharedDirNotFound { .. }) if !is_ci() => {
            eprintln!("skipped: {error} (set CI=true to make this an error)");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}
