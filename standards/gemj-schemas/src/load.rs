//! Reading schema documents from a folder or from the copies compiled in: YAML and JSON
//! parsing, the document cache, `file://` URIs, the map from official URLs to local copies, and
//! the offline retriever that serves `$ref`s to jsonschema.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use crate::{SchemaError, openapi};

/// Absolute URLs that official schemas `$ref`, and the files (relative to the schemas folder)
/// that stand for them offline. An entry ending in `/` maps every URL under it to the same
/// relative path under the folder; any other entry maps one URL.
///
/// Beacon's `main` branch is served by the v2.2.0 copy, as the Beacon `PROVENANCE.md` says.
pub const URL_MAP: &[(&str, &str)] = &[
    (
        "https://raw.githubusercontent.com/ga4gh-discovery/ga4gh-service-info/v1.0.0/service-info.yaml",
        "service-info/service-info.yaml",
    ),
    (
        "https://raw.githubusercontent.com/ga4gh-discovery/ga4gh-service-registry/1.0.0/service-registry.yaml",
        "service-info/service-registry/service-registry.yaml",
    ),
    (
        "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/",
        "beacon-v2/v2.2.0/",
    ),
    (
        "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/v2.2.0/",
        "beacon-v2/v2.2.0/",
    ),
    (
        "https://w3id.org/ga4gh/schema/vrs/1.3/vrs.json",
        "beacon-v2/external/vrs-1.3.0/vrs.json",
    ),
];

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The absolute path that stands for the embedded copy of `schemas/official` in `file://` URIs
/// and messages; nothing is ever read from it.
pub(crate) const EMBEDDED_ROOT: &str = "/gemj-embedded/schemas/official";

/// Where a loader's documents come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Files under the root folder.
    Folder,
    /// The documents compiled into the binary ([`embedded::EMBEDDED`]), under [`EMBEDDED_ROOT`].
    Embedded,
}

/// The documents of one schemas folder, parsed once and kept.
pub(crate) struct Loader {
    root: PathBuf,
    source: Source,
    cache: Mutex<HashMap<PathBuf, Arc<Value>>>,
}

impl Loader {
    /// A loader for the schemas folder at `root` (absolute, ideally canonical).
    pub(crate) fn new(root: PathBuf) -> Self {
        Self {
            root,
            source: Source::Folder,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A loader for the official schemas compiled into the binary.
    pub(crate) fn embedded() -> Self {
        Self {
            root: PathBuf::from(EMBEDDED_ROOT),
            source: Source::Embedded,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the documents are the embedded ones.
    pub(crate) fn is_embedded(&self) -> bool {
        self.source == Source::Embedded
    }

    /// The raw bytes of the document at `path`.
    pub(crate) fn read(&self, path: &Path) -> std::io::Result<std::borrow::Cow<'static, [u8]>> {
        match self.source {
            Source::Folder => fs::read(path).map(std::borrow::Cow::Owned),
            Source::Embedded => {
                let relative = path
                    .strip_prefix(&self.root)
                    .ok()
                    .and_then(|p| p.to_str())
                    .unwrap_or_default();
                embedded_document(relative)
                    .map(std::borrow::Cow::Borrowed)
                    .ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "not among the official schemas shipped with gemj",
                        )
                    })
            }
        }
    }

    /// The `schemas/` folder.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of a document named relative to `schemas/`.
    pub(crate) fn doc_path(&self, doc: &str) -> Result<PathBuf, SchemaError> {
        let bad = || SchemaError::BadDocument {
            doc: doc.to_owned(),
        };
        let relative = Path::new(doc);
        if doc.is_empty()
            || !relative
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(bad());
        }
        let path = normalize(&self.root.join(relative));
        if document_kind(&path).is_none() {
            return Err(bad());
        }
        Ok(path)
    }

    /// The name of a path relative to `schemas/`, for messages.
    pub(crate) fn doc_name(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// The file a reference names, relative to the file `base`. `None` when it leaves `schemas/`.
    pub(crate) fn join(&self, base: &Path, reference: &str) -> Option<PathBuf> {
        let decoded = percent_decode(reference)?;
        let joined = base.parent()?.join(decoded);
        let normal = normalize(&joined);
        (normal.starts_with(&self.root) && document_kind(&normal).is_some()).then_some(normal)
    }

    /// The parsed document at `path` (JSON, OpenAPI schema objects rewritten to JSON Schema).
    pub(crate) fn load(&self, path: &Path) -> Result<Arc<Value>, SchemaError> {
        if let Some(found) = self.lock().get(path) {
            return Ok(Arc::clone(found));
        }
        let bytes = self.read(path).map_err(|source| SchemaError::Read {
            path: path.to_owned(),
            source,
        })?;
        let value = match document_kind(path) {
            Some(Kind::Yaml) => {
                let mut yaml: serde_norway::Value =
                    serde_norway::from_slice(&bytes).map_err(|source| SchemaError::Yaml {
                        path: path.to_owned(),
                        source,
                    })?;
                yaml.apply_merge().map_err(|source| SchemaError::Yaml {
                    path: path.to_owned(),
                    source,
                })?;
                let mut json = yaml_to_json(yaml).map_err(|what| SchemaError::NotJson {
                    path: path.to_owned(),
                    what,
                })?;
                openapi::to_json_schema(&mut json);
                json
            }
            Some(Kind::Json) => {
                let mut json: Value =
                    serde_json::from_slice(&bytes).map_err(|source| SchemaError::Json {
                        path: path.to_owned(),
                        source,
                    })?;
                if openapi::is_openapi(&json) {
                    openapi::to_json_schema(&mut json);
                }
                json
            }
            None => {
                return Err(SchemaError::BadDocument {
                    doc: self.doc_name(path),
                });
            }
        };
        let value = Arc::new(value);
        self.lock().insert(path.to_owned(), Arc::clone(&value));
        Ok(value)
    }

    /// The file an absolute URI stands for: a `file://` URI inside `schemas/`, or an official
    /// URL of [`URL_MAP`]. The fragment and query, if any, are ignored.
    pub(crate) fn path_for_uri(&self, uri: &str) -> Result<PathBuf, String> {
        let uri = uri.split(['#', '?']).next().unwrap_or(uri);
        if let Some(rest) = uri.strip_prefix("file://") {
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            let path = percent_decode(rest)
                .map(|p| normalize(Path::new(&p)))
                .filter(|p| p.is_absolute() && p.starts_with(&self.root))
                .ok_or_else(|| {
                    format!(
                        "{uri} is outside the schemas folder {}",
                        self.root.display()
                    )
                })?;
            return Ok(path);
        }
        for (url, relative) in URL_MAP {
            let mapped = if url.ends_with('/') {
                uri.strip_prefix(url)
                    .map(|rest| format!("{relative}{rest}"))
            } else {
                (uri == *url).then(|| (*relative).to_owned())
            };
            if let Some(mapped) = mapped {
                let decoded = percent_decode(&mapped)
                    .ok_or_else(|| format!("{uri} is not a valid percent-encoded URL"))?;
                return self
                    .doc_path(&decoded)
                    .map_err(|error| format!("{uri} maps to no local document: {error}"));
            }
        }
        Err(format!(
            "{uri} is not available offline: only files under {} and the URLs of \
             gemj_schemas::URL_MAP resolve",
            self.root.display()
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Value>>> {
        // Reason: the cache holds finished values only, so a panic elsewhere cannot leave it
        // half-written.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The embedded document at `relative` (a path under `schemas/official`, `/`-separated).
pub(crate) fn embedded_document(relative: &str) -> Option<&'static [u8]> {
    embedded::EMBEDDED
        .binary_search_by(|(path, _)| (*path).cmp(relative))
        .ok()
        .map(|i| embedded::EMBEDDED[i].1)
}

/// The paths (under `schemas/official`) of every embedded document, sorted.
pub(crate) fn embedded_paths() -> impl Iterator<Item = &'static str> {
    embedded::EMBEDDED.iter().map(|(path, _)| *path)
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("root", &self.root)
            .field("source", &self.source)
            .field("cached_documents", &self.lock().len())
            .finish()
    }
}

/// Serves `$ref` targets from the schema set, never from the network.
#[derive(Debug, Clone)]
pub(crate) struct OfflineRetriever {
    pub(crate) loader: Arc<Loader>,
}

impl jsonschema::Retrieve for OfflineRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn StdError + Send + Sync>> {
        let path = self.loader.path_for_uri(uri.as_str())?;
        let document = self.loader.load(&path)?;
        Ok(Value::clone(&document))
    }
}

/// Whether the document at `path` is an OpenAPI document (or a part of one): YAML, or JSON with
/// a top-level `openapi` or `swagger` member.
pub(crate) fn is_openapi_document(path: &Path, document: &Value) -> bool {
    document_kind(path) == Some(Kind::Yaml) || openapi::is_openapi(document)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Yaml,
    Json,
}

fn document_kind(path: &Path) -> Option<Kind> {
    match path.extension()?.to_str()? {
        "yaml" | "yml" => Some(Kind::Yaml),
        "json" => Some(Kind::Json),
        _ => None,
    }
}

/// Converts a YAML value to JSON. Scalar keys become strings (`200:` becomes `"200"`, as OpenAPI
/// means it); tags are dropped.
fn yaml_to_json(value: serde_norway::Value) -> Result<Value, String> {
    use serde_norway::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("the number {n}"))?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut object = serde_json::Map::new();
            for (key, value) in map {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".to_owned(),
                    other => return Err(format!("the mapping key {other:?}")),
                };
                object.insert(key, yaml_to_json(value)?);
            }
            Value::Object(object)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

/// Removes `.` and `..` segments without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The `file://` URI of an absolute path, each segment percent-encoded.
pub(crate) fn file_uri(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let text = if text.starts_with('/') {
        text
    } else {
        format!("/{text}")
    };
    format!("file://{}", percent_encode(&text, false))
}

/// Percent-encodes everything but RFC 3986 `pchar` and `/` (and `?` when `fragment`).
pub(crate) fn percent_encode(text: &str, fragment: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=:@/".contains(&byte)
            || (fragment && byte == b'?');
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_round_trip() {
        for text in [
            "/a/b.yaml",
            "/x/objects@{object_id}.yaml",
            "/sp ace/ü",
            "/~1a",
        ] {
            let encoded = percent_encode(text, false);
            assert!(!encoded.contains(['{', ' ']), "{encoded}");
            assert_eq!(percent_decode(&encoded).as_deref(), Some(text));
        }
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }

    #[test]
    fn yaml_keys_become_strings() -> Result<(), Box<dyn StdError>> {
        let yaml: serde_norway::Value =
            serde_norway::from_str("responses:\n  200: {a: 1.5}\n  default: ~\n")?;
        let json = yaml_to_json(yaml)?;
        assert_eq!(
            json,
            serde_json::json!({"responses": {"200": {"a": 1.5}, "default": null}})
        );
        Ok(())
    }

    #[test]
    fn uris_map_to_files() {
        let loader = Loader::new(PathBuf::from("/s/schemas"));
        let check = |uri: &str, expect: Option<&str>| {
            assert_eq!(
                loader.path_for_uri(uri).ok(),
                expect.map(PathBuf::from),
                "{uri}"
            );
        };
        check("file:///s/schemas/a/b.yaml", Some("/s/schemas/a/b.yaml"));
        check(
            "file:///s/schemas/a/../c/%7Bx%7D.json#/p",
            Some("/s/schemas/c/{x}.json"),
        );
        check("file:///s/other.json", None);
        check("file:///s/schemas/../other.json", None);
        check(
            "https://raw.githubusercontent.com/ga4gh-discovery/ga4gh-service-info/v1.0.0/service-info.yaml",
            Some("/s/schemas/service-info/service-info.yaml"),
        );
        check(
            "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/common/ontologyTerm.json",
            Some("/s/schemas/beacon-v2/v2.2.0/framework/json/common/ontologyTerm.json"),
        );
        check(
            "https://w3id.org/ga4gh/schema/vrs/1.3/vrs.json",
            Some("/s/schemas/beacon-v2/external/vrs-1.3.0/vrs.json"),
        );
        check(
            "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/../../x.json",
            None,
        );
        check("https://example.org/schema.json", None);
    }

    #[test]
    fn document_names() {
        let loader = Loader::new(PathBuf::from("/s/schemas"));
        let check = |doc: &str, ok: bool| assert_eq!(loader.doc_path(doc).is_ok(), ok, "{doc}");
        check("service-info/service-info.yaml", true);
        check("./drs/bundled/openapi.json", true);
        check("", false);
        check("/etc/passwd.json", false);
        check("../x.yaml", false);
        check("drs/tags/Auth.md", false);
    }
}
