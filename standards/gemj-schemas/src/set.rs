//! [`SchemaSet`], a set of official schemas (embedded or a folder), and [`Validator`], one compiled
//! sub-schema.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::error::chain;
use crate::load::{
    Loader, OfflineRetriever, file_uri, is_openapi_document, percent_decode, percent_encode,
};
use crate::shared::is_shared_dir;
use crate::{SchemaError, docs, openapi};

const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// Longest validation message kept, in characters; longer ones (which quote the instance) are
/// cut.
const MAX_MESSAGE: usize = 300;

/// A set of official schemas: the copies shipped with the project and compiled into the binary
/// ([`SchemaSet::embedded`]), or a folder of the same layout ([`SchemaSet::open_folder`], for a
/// deployment that updates them, and [`SchemaSet::open`] for a shared folder in tests).
/// Documents are parsed on first use and kept; cloning shares them.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use gemj_schemas::{SchemaSet, docs};
///
/// let schemas = SchemaSet::embedded();
/// let ticket = schemas.openapi_response(docs::HTSGET, "/reads/{id}", "get", "200")?;
/// let body = serde_json::json!({"htsget": {"format": "BAM", "urls": [{"url": "https://x/y"}]}});
/// assert!(ticket.validate(&body).is_ok());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SchemaSet {
    loader: Arc<Loader>,
}

impl SchemaSet {
    /// The official schemas shipped with the project (`<workspace>/schemas/official`, pinned in
    /// `schemas/official-pins.json`), compiled into the binary: nothing is read from disk.
    #[must_use]
    pub fn embedded() -> SchemaSet {
        SchemaSet {
            loader: Arc::new(Loader::embedded()),
        }
    }

    /// The schemas of a folder laid out as `schemas/official` (`fhir/r4/fhir.schema.json`,
    /// `beacon-v2/v2.2.0/...`): a deployment's newer releases.
    ///
    /// # Errors
    ///
    /// [`SchemaError::Read`] when the folder cannot be resolved to an absolute path.
    pub fn open_folder(dir: &Path) -> Result<SchemaSet, SchemaError> {
        let root = dir.canonicalize().map_err(|source| SchemaError::Read {
            path: dir.to_owned(),
            source,
        })?;
        Ok(SchemaSet {
            loader: Arc::new(Loader::new(root)),
        })
    }

    /// The schemas of the shared folder `shared_dir` (the folder that contains `schemas/`), as
    /// tests compare the shipped copies with it.
    ///
    /// # Errors
    ///
    /// [`SchemaError::NotASharedDir`] when `shared_dir` has no `schemas/` sub-folder;
    /// [`SchemaError::Read`] when it cannot be resolved to an absolute path.
    pub fn open(shared_dir: &Path) -> Result<SchemaSet, SchemaError> {
        if !is_shared_dir(shared_dir) {
            return Err(SchemaError::NotASharedDir {
                path: shared_dir.to_owned(),
            });
        }
        Self::open_folder(&shared_dir.join("schemas"))
    }

    /// The folder the documents are named under: canonical for a folder, the placeholder
    /// `/gemj-embedded/schemas/official` (never read) for the embedded set.
    #[must_use]
    pub fn schemas_dir(&self) -> &Path {
        self.loader.root()
    }

    /// Whether these are the schemas compiled into the binary.
    #[must_use]
    pub fn is_embedded(&self) -> bool {
        self.loader.is_embedded()
    }

    /// The raw bytes of a document named relative to the schemas folder, as shipped (embedded)
    /// or read from the folder.
    ///
    /// # Errors
    ///
    /// [`SchemaError::BadDocument`] or [`SchemaError::Read`].
    pub fn document_bytes(&self, doc: &str) -> Result<Vec<u8>, SchemaError> {
        let path = self.loader.doc_path(doc)?;
        self.loader
            .read(&path)
            .map(std::borrow::Cow::into_owned)
            .map_err(|source| SchemaError::Read { path, source })
    }

    /// The names (relative to the schemas folder) of every embedded document, sorted.
    pub fn embedded_documents() -> impl Iterator<Item = &'static str> {
        crate::load::embedded_paths()
    }

    /// A validator for the sub-schema at JSON pointer `pointer` (`""` for the whole document) of
    /// the document `doc`, named relative to `schemas/` (e.g. `"service-info/service-info.yaml"`,
    /// `"/components/schemas/Service"`). Every `$ref` is resolved offline.
    ///
    /// # Errors
    ///
    /// [`SchemaError::BadDocument`], [`SchemaError::Read`], [`SchemaError::Yaml`] or
    /// [`SchemaError::Json`] for the document; [`SchemaError::NoSuchPointer`];
    /// [`SchemaError::Compile`] when a `$ref` does not resolve offline or the schema is invalid.
    pub fn validator(&self, doc: &str, pointer: &str) -> Result<Validator, SchemaError> {
        let file = self.loader.doc_path(doc)?;
        let document = self.loader.load(&file)?;
        if !pointer.is_empty() && (!pointer.starts_with('/') || document.pointer(pointer).is_none())
        {
            return Err(SchemaError::NoSuchPointer {
                doc: doc.to_owned(),
                pointer: pointer.to_owned(),
            });
        }
        self.compile(&file, pointer)
    }

    /// Validates `instance` against the sub-schema at `pointer` of `doc` (see
    /// [`SchemaSet::validator`]).
    ///
    /// # Errors
    ///
    /// One string per violation, `<instance path>: <message>`; a schema that does not compile
    /// gives one string describing that.
    pub fn validate(&self, doc: &str, pointer: &str, instance: &Value) -> Result<(), Vec<String>> {
        match self.validator(doc, pointer) {
            Ok(validator) => validator.validate(instance),
            Err(error) => Err(vec![chain(&error)]),
        }
    }

    /// The GA4GH service-info 1.0 `Service` schema (`components/schemas/Service` of
    /// `service-info.yaml`).
    ///
    /// # Errors
    ///
    /// As [`SchemaSet::validator`].
    pub fn service_info(&self) -> Result<Validator, SchemaError> {
        self.validator(docs::SERVICE_INFO, "/components/schemas/Service")
    }

    /// The body of service-registry 1.0 `GET /services`: an array of `ExternalService`.
    ///
    /// # Errors
    ///
    /// As [`SchemaSet::openapi_response`].
    pub fn service_registry_services(&self) -> Result<Validator, SchemaError> {
        self.openapi_response(docs::SERVICE_REGISTRY, "/services", "get", "200")
    }

    /// A document parsed to JSON (YAML converted; OpenAPI schema objects rewritten to JSON Schema
    /// 2020-12, as for validation).
    ///
    /// # Errors
    ///
    /// [`SchemaError::BadDocument`] for a name outside the folder, and the errors of reading and
    /// parsing it.
    pub fn document(&self, doc: &str) -> Result<Arc<Value>, SchemaError> {
        let path = self.loader.doc_path(doc)?;
        self.loader.load(&path)
    }

    /// The paths of official OpenAPI documents mounted at the gateway's prefixes, with every
    /// schema they reference, in one self-contained OpenAPI 3.1 shape: schemas under
    /// `components/schemas` (OpenAPI 3.0 schema objects already rewritten to JSON Schema
    /// 2020-12), other references inlined, `operationId`s and security schemes prefixed with the
    /// mount's tag, `servers` removed (the paths carry the prefix). `schemas` names more
    /// schemas to bundle (document and JSON pointer); their names are [`crate::Bundle::named`].
    ///
    /// # Errors
    ///
    /// [`SchemaError::BadReference`] for a reference that does not resolve offline, and the
    /// errors of reading a document.
    pub fn bundle_openapi(
        &self,
        mounts: &[crate::Mount<'_>],
        schemas: &[(&str, &str)],
    ) -> Result<crate::Bundle, SchemaError> {
        crate::bundle::bundle(&self.loader, mounts, schemas)
    }

    /// The JSON schema of the response of an OpenAPI operation: `path` is the path template as
    /// written in the document (`"/reads/{id}"`), `method` any case, `status` a code (`"404"`).
    /// An undeclared status falls back to its range (`"4XX"`) and then to `default`, as OpenAPI
    /// does. Path-item and response `$ref`s are followed across files (the multi-file DRS source).
    ///
    /// # Errors
    ///
    /// [`SchemaError::NoSuchOperation`], [`SchemaError::NoSuchResponse`],
    /// [`SchemaError::BadReference`], and those of [`SchemaSet::validator`].
    pub fn openapi_response(
        &self,
        doc: &str,
        path: &str,
        method: &str,
        status: &str,
    ) -> Result<Validator, SchemaError> {
        let file = self.loader.doc_path(doc)?;
        let place = openapi::response_schema(&self.loader, &file, path, method, status)?;
        self.compile(&place.file, &place.pointer)
    }

    fn compile(&self, file: &Path, pointer: &str) -> Result<Validator, SchemaError> {
        let location = format!("{}#{pointer}", self.loader.doc_name(file));
        let compile_error =
            |source: Box<dyn std::error::Error + Send + Sync>| SchemaError::Compile {
                location: location.clone(),
                source,
            };
        self.loader.load(file)?;
        let document_uri = file_uri(file);
        let retriever = OfflineRetriever {
            loader: Arc::clone(&self.loader),
        };
        let preloaded = discover(&self.loader, &document_uri, file, pointer);
        let registry = jsonschema::Registry::new()
            .retriever(retriever.clone())
            .draft(jsonschema::Draft::Draft202012)
            .extend(preloaded)
            .and_then(jsonschema::RegistryBuilder::prepare)
            .map_err(|e| compile_error(Box::new(e)))?;
        let root = serde_json::json!({
            "$schema": DRAFT_2020_12,
            "$ref": format!("{document_uri}#{}", percent_encode(pointer, true)),
        });
        let inner = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_retriever(retriever)
            .with_registry(&registry)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| compile_error(Box::new(e)))?;
        Ok(Validator { inner, location })
    }
}

/// The documents a schema needs, keyed by the URI they are referenced by, to preload into the
/// registry.
///
/// jsonschema's registry finds the documents to fetch by crawling each one from its root and from
/// the fragment it was first referenced with. That misses the schemas of an OpenAPI document,
/// which sit under members that are not keywords (`components`, `paths`), when the document is
/// referenced again with another fragment, or with a fragment that needs percent-decoding
/// (`/paths/~1reads~1%7Bid%7D`). So OpenAPI documents are walked here, from every referenced
/// location; JSON Schema documents are only listed, and jsonschema crawls them itself. A
/// reference that does not resolve is skipped: compiling reports it. The JSON Schema
/// meta-schemas (Data Connect's `data_model` refs draft-07's) come from jsonschema's bundle.
fn discover(loader: &Loader, uri: &str, file: &Path, pointer: &str) -> Vec<(String, Arc<Value>)> {
    let mut documents: BTreeMap<String, Arc<Value>> = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(uri.to_owned(), file.to_owned(), pointer.to_owned())];
    while let Some((uri, file, pointer)) = stack.pop() {
        if !seen.insert((uri.clone(), pointer.clone())) {
            continue;
        }
        let Ok(document) = loader.load(&file) else {
            continue;
        };
        documents
            .entry(uri.clone())
            .or_insert_with(|| Arc::clone(&document));
        if !is_openapi_document(&file, &document) {
            continue;
        }
        let Some(schema) = document.pointer(&pointer) else {
            continue;
        };
        let Ok(base) = jsonschema::uri::from_str(&uri) else {
            continue;
        };
        let mut references = Vec::new();
        openapi::schema_refs(schema, &mut references);
        for reference in references {
            let Ok(resolved) = jsonschema::uri::resolve_against(&base.borrow(), reference) else {
                continue;
            };
            let resolved = resolved.as_str();
            let (target, fragment) = resolved.split_once('#').unwrap_or((resolved, ""));
            if let Some(meta_schema) = meta_schema(target) {
                documents.insert(target.to_owned(), meta_schema);
                continue;
            }
            let Some(fragment) = percent_decode(fragment) else {
                continue;
            };
            let path = if target == uri {
                file.clone()
            } else {
                match loader.path_for_uri(target) {
                    Ok(path) => path,
                    Err(_) => continue,
                }
            };
            stack.push((target.to_owned(), path, fragment));
        }
    }
    documents.into_iter().collect()
}

/// The bundled JSON Schema meta-schema named by `uri` (without fragment), if any.
fn meta_schema(uri: &str) -> Option<Arc<Value>> {
    use referencing::meta;
    let schema = match uri.trim_end_matches('#') {
        "http://json-schema.org/draft-04/schema" => &meta::DRAFT4,
        "http://json-schema.org/draft-06/schema" => &meta::DRAFT6,
        "http://json-schema.org/draft-07/schema" => &meta::DRAFT7,
        "https://json-schema.org/draft/2019-09/schema" => &meta::DRAFT201909,
        "https://json-schema.org/draft/2020-12/schema" => &meta::DRAFT202012,
        _ => return None,
    };
    Some(Arc::clone(schema))
}

/// One compiled sub-schema of an official document.
///
/// # Examples
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let schemas = gemj_schemas::SchemaSet::embedded();
/// let service = schemas.service_info()?;
/// let errors = service.validate(&serde_json::json!({"id": "x"})).unwrap_err();
/// assert!(errors.iter().any(|e| e.contains("organization")));
/// # Ok(())
/// # }
/// ```
pub struct Validator {
    inner: jsonschema::Validator,
    location: String,
}

impl Validator {
    /// A validator for a self-contained schema handed in (a Data Connect `data_model`, say): its
    /// `$schema` picks the draft (2020-12 when absent), and a `$ref` outside it is a compile
    /// error (nothing is fetched).
    ///
    /// # Errors
    ///
    /// [`SchemaError::Compile`] when the schema is invalid or refers outside itself.
    pub fn standalone(schema: &Value) -> Result<Self, SchemaError> {
        let location = "(standalone)".to_owned();
        let inner = jsonschema::options()
            .should_validate_formats(true)
            .build(schema)
            .map_err(|e| SchemaError::Compile {
                location: location.clone(),
                source: Box::new(e),
            })?;
        Ok(Self { inner, location })
    }

    /// Where the schema is: `<document>#<pointer>`, the document relative to `schemas/`.
    #[must_use]
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Whether `instance` is valid.
    #[must_use]
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.inner.is_valid(instance)
    }

    /// Checks `instance` and names each violation by where it is in the schema and the keyword
    /// that failed (`query.pagination.limit: minimum`), never by anything taken from the
    /// instance: no value, and no member name the instance chose. For answers to callers, whose
    /// input must not be echoed.
    ///
    /// # Errors
    ///
    /// The violations, one per line, deduplicated.
    pub fn violations(&self, instance: &Value) -> Result<(), Vec<String>> {
        let mut found: Vec<String> = self
            .inner
            .iter_errors(instance)
            .map(|error| {
                let evaluation = error.evaluation_path().to_string();
                let tokens: Vec<&str> = evaluation.split('/').collect();
                let place: Vec<&str> = tokens
                    .windows(2)
                    .filter(|pair| pair[0] == "properties")
                    .map(|pair| pair[1])
                    .collect();
                let place = if place.is_empty() {
                    "(root)".to_owned()
                } else {
                    place.join(".")
                };
                format!("{place}: {}", error.kind().keyword())
            })
            .collect();
        found.dedup();
        if found.is_empty() { Ok(()) } else { Err(found) }
    }

    /// Validates `instance`.
    ///
    /// # Errors
    ///
    /// One string per violation, `<instance path>: <message>`, the path a JSON pointer (`(root)`
    /// for the whole instance); messages longer than 300 characters are cut.
    pub fn validate(&self, instance: &Value) -> Result<(), Vec<String>> {
        let errors: Vec<String> = self
            .inner
            .iter_errors(instance)
            .map(|error| {
                let path = error.instance_path().to_string();
                let path = if path.is_empty() {
                    "(root)".to_owned()
                } else {
                    path
                };
                format!("{path}: {}", cut(&error.to_string()))
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn cut(message: &str) -> String {
    if message.chars().count() <= MAX_MESSAGE {
        message.to_owned()
    } else {
        let mut out: String = message.chars().take(MAX_MESSAGE).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shareable_between_threads() {
        fn check<T: Send + Sync + Clone>() {}
        check::<SchemaSet>();
        fn check_validator<T: Send + Sync>() {}
        check_validator::<Validator>();
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(cut("short"), "short");
        let long = "x".repeat(400);
        let out = cut(&long);
        assert_eq!(out.chars().count(), MAX_MESSAGE + 1);
        assert!(out.ends_with('…'));
    }
}
