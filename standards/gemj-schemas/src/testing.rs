//! Test support for every crate of the workspace that checks against the official schemas: open
//! the shared folder, skip when it is absent on a developer machine, fail under CI.

use crate::{SchemaError, SchemaSet, shared_dir};

/// Whether the environment says this is a CI run (`CI=true` or `CI=1`, as CI services set it).
#[must_use]
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The schemas of the shared folder found by [`shared_dir`], for tests.
///
/// Returns `Ok(None)` (and says so on stderr) when no shared folder was found and this is not a
/// CI run, so the calling test can return early; under `CI=true` a missing folder is an error,
/// so the test fails loudly. A `GEMJ_SHARED_DIR` that points nowhere is always an error.
///
/// # Errors
///
/// [`SchemaError::SharedDirNotFound`] under CI, and any error of [`SchemaSet::open`].
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let Some(schemas) = gemj_schemas::testing::schema_set()? else {
///     return Ok(()); // Skipped: no shared folder on this machine.
/// };
/// assert!(schemas.schemas_dir().is_dir());
/// # Ok(())
/// # }
/// ```
pub fn schema_set() -> Result<Option<SchemaSet>, SchemaError> {
    match shared_dir() {
        Ok(dir) => SchemaSet::open(&dir).map(Some),
        Err(error @ SchemaError::SharedDirNotFound { .. }) if !is_ci() => {
            eprintln!("skipped: {error} (set CI=true to make this an error)");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}
