//! The one error type of the crate: a schema that cannot be found, read or compiled.

use std::path::PathBuf;

use crate::shared::SHARED_DIR_ENV;

/// Why a schema could not be found, read or compiled.
///
/// `Display` names what failed; the cause, when there is one, is the error's `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// No candidate of the shared-folder rule (see the crate documentation) has a `schemas/`
    /// sub-folder.
    #[error("the shared folder was not found (tried {}); set {SHARED_DIR_ENV}", list(.tried))]
    SharedDirNotFound {
        /// Every candidate, in the order tried.
        tried: Vec<PathBuf>,
    },
    /// A folder given explicitly (argument or `GEMJ_SHARED_DIR`) has no `schemas/` sub-folder.
    #[error("{} is not a shared folder: it has no schemas/ sub-folder", .path.display())]
    NotASharedDir {
        /// The folder given.
        path: PathBuf,
    },
    /// A document name is not a relative path inside `schemas/`, or has an unknown extension
    /// (only `.yaml`, `.yml` and `.json` are documents).
    #[error("{doc:?} is not a schema document inside the schemas folder")]
    BadDocument {
        /// The name given.
        doc: String,
    },
    /// A document could not be read.
    #[error("cannot read {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A YAML document does not parse.
    #[error("{} is not valid YAML", .path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_norway::Error,
    },
    /// A JSON document does not parse.
    #[error("{} is not valid JSON", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A YAML document holds a value JSON cannot represent (a non-finite number, a complex key).
    #[error("{} has a YAML value with no JSON form: {what}", .path.display())]
    NotJson {
        /// The file.
        path: PathBuf,
        /// Which value.
        what: String,
    },
    /// A JSON pointer names no value of a document (RFC 6901).
    #[error("{doc} has no value at JSON pointer {pointer:?}")]
    NoSuchPointer {
        /// The document.
        doc: String,
        /// The pointer.
        pointer: String,
    },
    /// An OpenAPI document has no such operation (OpenAPI 3.0 "Paths Object").
    #[error("{doc} has no operation {method} {path}")]
    NoSuchOperation {
        /// The document.
        doc: String,
        /// The path template, e.g. `/reads/{id}`.
        path: String,
        /// The method, lower case.
        method: String,
    },
    /// An OpenAPI operation has no response for the status (nor a `2XX`-style range, nor
    /// `default`) with an `application/json` (or `+json`) schema (OpenAPI 3.0 "Responses Object").
    #[error("{doc} {method} {path} has no {status} response with a JSON schema")]
    NoSuchResponse {
        /// The document.
        doc: String,
        /// The path template.
        path: String,
        /// The method, lower case.
        method: String,
        /// The status asked for.
        status: String,
    },
    /// An OpenAPI `$ref` (to a path item or a response) cannot be followed.
    #[error("cannot follow $ref {reference:?} in {doc}")]
    BadReference {
        /// The document holding the reference.
        doc: String,
        /// The reference.
        reference: String,
    },
    /// The schema does not compile: a `$ref` that does not resolve offline, or an invalid schema.
    #[error("cannot compile the schema at {location}")]
    Compile {
        /// `<document>#<pointer>`.
        location: String,
        /// What jsonschema reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn list(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error and its causes, joined with `": "`.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
