//! The one owner of jsonschema: the official GA4GH and HL7 schemas shipped with the project,
//! compiled into the binary, and validators with every `$ref` resolved offline.
//!
//! # Where the schemas are
//!
//! The official schemas ship in `<workspace>/schemas/official` (byte-identical to upstream, each
//! standard's `PROVENANCE.md` beside its files, pinned in `schemas/official-pins.json`). The build
//! script compiles every `.json` and `.yaml` file there into the crate:
//! [`SchemaSet::embedded`] reads nothing from disk, so a binary validates from any working
//! directory and installed alone. [`SchemaSet::open_folder`] opens a folder of the same layout
//! (a deployment's newer releases), [`SchemaSet::open`] a shared folder holding `schemas/`.
//!
//! Tests find the shared folder of large corpora with [`shared_dir`] (or
//! [`testing::shared_dir`], which skips outside CI):
//!
//! 1. `GEMJ_SHARED_DIR` when it is set and not empty (an explicit setting that points nowhere
//!    is an error, never a fallback);
//! 2. otherwise `../shared` relative to the current directory (the workspace root's sibling when
//!    run from the workspace root);
//! 3. otherwise, when cargo set `CARGO_MANIFEST_DIR` (tests, `cargo run`), the sibling `shared`
//!    folder of each ancestor of that directory, nearest first, which finds `<workspace>/../shared`
//!    from any crate.
//!
//! A candidate counts only when it has a `schemas/` sub-folder.
//!
//! # How references resolve
//!
//! [`SchemaSet::validator`] compiles a validator for one sub-schema of one document, named by a
//! path relative to `schemas/` and a JSON pointer. Documents are YAML or JSON. Nothing is fetched
//! from the network:
//!
//! - relative file references (`./Checksum.yaml`, `../common/ontologyTerm.json`) and in-document
//!   references (`#/components/schemas/ServiceType`) resolve against the document's `file://` URI;
//! - absolute URLs of the official repositories map to their copies (see [`URL_MAP`]): the
//!   service-info `v1.0.0` YAML, Beacon v2 `main` (= v2.2.0 here) and the VRS 1.3 schema;
//! - the JSON Schema meta-schemas come from jsonschema's bundle;
//! - anything else fails to compile, with the URL in the error.
//!
//! The documents a schema needs are preloaded into a jsonschema registry, and a custom retriever
//! (jsonschema's `Retrieve`) serves every further reference jsonschema finds. OpenAPI documents
//! are walked by this crate from each referenced location, because jsonschema's crawler only
//! looks for references from a document's root (an OpenAPI document's schemas sit under
//! `components` and `paths`, which are not keywords) and from the first fragment it saw. The
//! `$ref`s themselves are never rewritten.
//!
//! # OpenAPI 3.0 schema objects
//!
//! YAML documents, and JSON documents with a top-level `openapi` or `swagger` member, are OpenAPI
//! documents. Their schema objects are rewritten to JSON Schema 2020-12 before use:
//! `nullable: true` adds `"null"` to an explicit `type` (the OpenAPI 3.0.3 rule: without `type`
//! it has no effect), and boolean `exclusiveMinimum`/`exclusiveMaximum` become numeric.
//! OpenAPI-only keywords (`example`, `discriminator`, `xml`, `externalDocs`, `deprecated`,
//! `readOnly`, `writeOnly`) are left in place: a 2020-12 validator ignores or only annotates them.
//! JSON Schema documents (Beacon, VRS, FHIR) are used as published.
//!
//! Validators check `format` (`uri`, `date-time`, ...) too: the conformance checker wants the
//! strict reading. Formats a validator does not know (`int64`, `binary`) are ignored.
//!
//! # Examples
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let schemas = gemj_schemas::SchemaSet::embedded();
//! let service = serde_json::json!({
//!     "id": "org.example.gateway",
//!     "name": "Example gateway",
//!     "type": {"group": "org.ga4gh", "artifact": "service-registry", "version": "1.0.0"},
//!     "organization": {"name": "Example", "url": "https://example.org"},
//!     "version": "0.1.0"
//! });
//! assert!(schemas.service_info()?.is_valid(&service));
//! # Ok(())
//! # }
//! ```

mod bundle;
mod error;
pub mod literals;
mod load;
mod openapi;
mod set;
mod shared;
pub mod testing;

pub use bundle::{Bundle, Mount, references};
pub use error::SchemaError;
pub use load::URL_MAP;
pub use set::{SchemaSet, Validator};
pub use shared::{SHARED_DIR_ENV, shared_dir};

/// Paths (relative to `schemas/official`, and to `<shared>/schemas`) of the official documents the project checks against.
pub mod docs {
    /// GA4GH service-info 1.0.0 (OpenAPI 3.0.2).
    pub const SERVICE_INFO: &str = "service-info/service-info.yaml";
    /// GA4GH service-registry 1.0.0 (OpenAPI 3.0.2).
    pub const SERVICE_REGISTRY: &str = "service-info/service-registry/service-registry.yaml";
    /// htsget OpenAPI description (labelled 1.2.0; the protocol text `htsget.md` is 1.3.0).
    pub const HTSGET: &str = "htsget/htsget-openapi.yaml";
    /// DRS 1.5.0, multi-file OpenAPI source (entry file).
    pub const DRS: &str = "drs/openapi/data_repository_service.openapi.yaml";
    /// DRS 1.5.0, single-file bundle with every `$ref` inlined.
    pub const DRS_BUNDLED: &str = "drs/bundled/openapi.yaml";
    /// WES 1.1.0 (OpenAPI 3.0.0).
    pub const WES: &str = "wes/workflow_execution_service.openapi.yaml";
    /// TES 1.1.0 (OpenAPI 3.0.1).
    pub const TES: &str = "tes/task_execution_service.openapi.yaml";
    /// Data Connect 1.0.0 (OpenAPI 3.0.2).
    pub const DATA_CONNECT: &str = "data-connect/spec/api.yaml";
    /// Beacon v2.2.0 framework schemas (JSON Schema 2020-12); append `/<file>.json`.
    pub const BEACON_FRAMEWORK: &str = "beacon-v2/v2.2.0/framework/json";
    /// Beacon v2.2.0 default model schemas (JSON Schema 2020-12); append `/<entry>/...`.
    pub const BEACON_MODEL: &str = "beacon-v2/v2.2.0/models/json/beacon-v2-default-model";
    /// The folders of the Beacon v2.2.0 default model's entry types under [`BEACON_MODEL`].
    pub const BEACON_ENTRY_TYPES: [&str; 7] = [
        "analyses",
        "biosamples",
        "cohorts",
        "datasets",
        "genomicVariations",
        "individuals",
        "runs",
    ];

    /// Beacon v2.2.0's OpenAPI documents: the framework's `endpoints.json` (the informational
    /// endpoints) and each entry type's, all relative to the API's root (`/beacon/v2` here).
    #[must_use]
    pub fn beacon_endpoints() -> Vec<String> {
        std::iter::once(format!("{BEACON_FRAMEWORK}/endpoints.json"))
            .chain(
                BEACON_ENTRY_TYPES
                    .iter()
                    .map(|entry| format!("{BEACON_MODEL}/{entry}/endpoints.json")),
            )
            .collect()
    }

    /// FHIR R4 (4.0.1) JSON Schema (draft-06); use `/definitions/<Resource>`.
    pub const FHIR_R4: &str = "fhir/r4/fhir.schema.json";
    /// FHIR R4B (4.3.0) JSON Schema (draft-06); use `/definitions/<Resource>`.
    pub const FHIR_R4B: &str = "fhir/r4b/fhir.schema.json";
}
