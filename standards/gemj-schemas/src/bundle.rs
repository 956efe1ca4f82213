//! Bundling official OpenAPI documents into one: their paths mounted under the gateway's
//! prefixes, every `$ref` resolved offline, each referenced schema once in
//! `components/schemas`, so one self-contained OpenAPI 3.1 document describes the standard APIs
//! exactly as their specifications do.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::SchemaError;
use crate::load::Loader;
use crate::openapi::{Place, resolve_ref, value_at};

/// One official OpenAPI document mounted at a prefix of the gateway.
#[derive(Debug, Clone, Copy)]
pub struct Mount<'a> {
    /// The document, relative to `schemas/official` (a [`crate::docs`] constant or a Beacon
    /// `endpoints.json`).
    pub doc: &'a str,
    /// The gateway path its paths are served under (`/htsget`, `/ga4gh/drs/v1`).
    pub prefix: &'a str,
    /// The tag of its operations, and the prefix of its `operationId`s and security schemes.
    pub tag: &'a str,
}

/// The members of one OpenAPI 3.1 document made from official documents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bundle {
    /// Path items by mounted path, every `$ref` outside schemas inlined.
    pub paths: Map<String, Value>,
    /// Every schema the paths reference, by a name made from its document and pointer.
    pub schemas: Map<String, Value>,
    /// The documents' security schemes, named `<tag>.<name>`.
    pub security_schemes: Map<String, Value>,
    /// The names in [`Bundle::schemas`] of the schemas asked for by document and pointer, in
    /// the order asked.
    pub named: Vec<String>,
}

/// Members of schema objects whose value maps names to schemas.
const SCHEMA_MAPS: &[&str] = &["properties", "patternProperties", "dependentSchemas"];

/// Members of schema objects that hold data, not schemas.
const SCHEMA_DATA: &[&str] = &["example", "examples", "enum", "const", "default"];

/// Members dropped from bundled schemas: every reference into them now points at
/// `components/schemas`, and an `$id` would change what those references resolve against.
const SCHEMA_DROPPED: &[&str] = &["$id", "$schema", "$defs", "definitions"];

/// The longest chain of references followed.
const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// OpenAPI objects (path items, operations, parameters, media types).
    Doc,
    /// A `responses` map: each value a Response Object or a reference to one.
    Responses,
    /// A schema object.
    Schema,
}

pub(crate) fn bundle(
    loader: &Loader,
    mounts: &[Mount<'_>],
    schemas: &[(&str, &str)],
) -> Result<Bundle, SchemaError> {
    let mut bundler = Bundler {
        loader,
        names: HashMap::new(),
        taken: HashSet::new(),
        out: Bundle::default(),
    };
    for mount in mounts {
        bundler.mount(mount)?;
    }
    for (doc, pointer) in schemas {
        let place = Place {
            file: loader.doc_path(doc)?,
            pointer: (*pointer).to_owned(),
        };
        let name = bundler.schema(&place, 0)?;
        bundler.out.named.push(name);
    }
    Ok(bundler.out)
}

struct Bundler<'l> {
    loader: &'l Loader,
    names: HashMap<(PathBuf, String), String>,
    taken: HashSet<String>,
    out: Bundle,
}

impl Bundler<'_> {
    fn mount(&mut self, mount: &Mount<'_>) -> Result<(), SchemaError> {
        let file = self.loader.doc_path(mount.doc)?;
        let document = self.loader.load(&file)?;
        let scheme = |name: &str| format!("{}.{name}", mount.tag);
        if let Some(Value::Object(schemes)) = document.pointer("/components/securitySchemes") {
            for (name, value) in schemes {
                let walked = self.walk(&file, value, Mode::Doc, 0)?;
                self.out.security_schemes.insert(scheme(name), walked);
            }
        }
        let default_security = document.get("security");
        let Some(Value::Object(paths)) = document.get("paths") else {
            return Ok(());
        };
        for (path, item) in paths {
            let Value::Object(mut item) = self.walk(&file, item, Mode::Doc, 0)? else {
                continue;
            };
            item.remove("servers");
            for (method, operation) in &mut item {
                let Some(operation) = operation.as_object_mut() else {
                    continue;
                };
                if !is_method(method) {
                    continue;
                }
                operation.remove("servers");
                overlapping_alternatives(operation);
                operation.insert("tags".to_owned(), Value::from(vec![mount.tag]));
                if let Some(Value::String(id)) = operation.get_mut("operationId") {
                    *id = format!("{}.{id}", mount.tag);
                }
                let security = operation
                    .get("security")
                    .or(default_security)
                    .and_then(Value::as_array)
                    .map(|requirements| {
                        requirements
                            .iter()
                            .map(|requirement| match requirement {
                                Value::Object(r) => Value::Object(
                                    r.iter().map(|(k, v)| (scheme(k), v.clone())).collect(),
                                ),
                                other => other.clone(),
                            })
                            .collect::<Vec<_>>()
                    });
                if let Some(security) = security {
                    operation.insert("security".to_owned(), Value::from(security));
                }
            }
            let mounted = format!("{}{path}", mount.prefix);
            match self.out.paths.get_mut(&mounted) {
                Some(Value::Object(existing)) => {
                    for (key, value) in item {
                        existing.entry(key).or_insert(value);
                    }
                }
                _ => {
                    self.out.paths.insert(mounted, Value::Object(item));
                }
            }
        }
        Ok(())
    }

    fn walk(
        &mut self,
        file: &Path,
        value: &Value,
        mode: Mode,
        depth: usize,
    ) -> Result<Value, SchemaError> {
        if depth > MAX_DEPTH {
            return Err(SchemaError::BadReference {
                doc: self.loader.doc_name(file),
                reference: format!("(a chain of more than {MAX_DEPTH} references)"),
            });
        }
        let object = match value {
            Value::Array(items) => {
                return items
                    .iter()
                    .map(|item| self.walk(file, item, mode, depth))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array);
            }
            Value::Object(object) => object,
            other => return Ok(other.clone()),
        };
        if mode == Mode::Responses {
            let mut out = Map::new();
            for (status, response) in object {
                out.insert(status.clone(), self.response(file, response, depth)?);
            }
            return Ok(Value::Object(out));
        }
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            // Data Connect's `data_model` is "a JSON Schema": a reference to the draft-07
            // meta-schema, which is read here as what it admits on the wire, an object (a
            // validator would otherwise fetch it from the network).
            if mode == Mode::Schema && is_meta_schema(reference) {
                return Ok(serde_json::json!({
                    "type": "object",
                    "description": format!("A JSON Schema ({reference})."),
                }));
            }
            let place = resolve_ref(self.loader, file, reference)?;
            if mode == Mode::Doc {
                let target = self.target(file, reference, &place)?;
                return self.walk(&place.file, &target, Mode::Doc, depth + 1);
            }
            let name = self.schema(&place, depth + 1)?;
            let mut out = Map::new();
            out.insert(
                "$ref".to_owned(),
                Value::from(format!("#/components/schemas/{name}")),
            );
            for (key, child) in object.iter().filter(|(k, _)| *k != "$ref") {
                if let Some(walked) = self.schema_member(file, key, child, depth)? {
                    out.insert(key.clone(), walked);
                }
            }
            return Ok(Value::Object(out));
        }
        let mut out = Map::new();
        for (key, child) in object {
            let walked = match mode {
                Mode::Schema => match self.schema_member(file, key, child, depth)? {
                    Some(walked) => walked,
                    None => continue,
                },
                _ if key == "schema" => self.walk(file, child, Mode::Schema, depth)?,
                _ if key == "responses" => self.walk(file, child, Mode::Responses, depth)?,
                _ if key == "example" || key == "value" || key.starts_with("x-") => child.clone(),
                _ => self.walk(file, child, Mode::Doc, depth)?,
            };
            out.insert(key.clone(), walked);
        }
        Ok(Value::Object(out))
    }

    /// One member of a schema object, walked; `None` when it is dropped.
    fn schema_member(
        &mut self,
        file: &Path,
        key: &str,
        child: &Value,
        depth: usize,
    ) -> Result<Option<Value>, SchemaError> {
        if SCHEMA_DROPPED.contains(&key) {
            return Ok(None);
        }
        if SCHEMA_DATA.contains(&key) || key.starts_with("x-") {
            return Ok(Some(child.clone()));
        }
        if let (true, Value::Object(names)) = (SCHEMA_MAPS.contains(&key), child) {
            let mut out = Map::new();
            for (name, schema) in names {
                out.insert(name.clone(), self.walk(file, schema, Mode::Schema, depth)?);
            }
            return Ok(Some(Value::Object(out)));
        }
        self.walk(file, child, Mode::Schema, depth).map(Some)
    }

    /// A Response Object, or a reference to one. Beacon's endpoints reference a JSON Schema
    /// (`beaconErrorResponse.json`) where a Response Object belongs; such a reference becomes a
    /// response whose JSON body is that schema.
    fn response(
        &mut self,
        file: &Path,
        response: &Value,
        depth: usize,
    ) -> Result<Value, SchemaError> {
        let Some(reference) = response.get("$ref").and_then(Value::as_str) else {
            return self.walk(file, response, Mode::Doc, depth);
        };
        let place = resolve_ref(self.loader, file, reference)?;
        let target = self.target(file, reference, &place)?;
        let is_response = target
            .as_object()
            .is_some_and(|o| o.contains_key("description") && !o.contains_key("$schema"));
        if is_response {
            return self.response(&place.file, &target, depth + 1);
        }
        let description = target
            .get("description")
            .or_else(|| target.get("title"))
            .cloned()
            .unwrap_or_else(|| Value::from("A response."));
        let name = self.schema(&place, depth + 1)?;
        Ok(serde_json::json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}
        }))
    }

    fn target(&self, file: &Path, reference: &str, place: &Place) -> Result<Value, SchemaError> {
        value_at(self.loader, place)?.ok_or_else(|| SchemaError::BadReference {
            doc: self.loader.doc_name(file),
            reference: reference.to_owned(),
        })
    }

    /// The name of the schema at `place` in `components/schemas`, bundling it on first use.
    fn schema(&mut self, place: &Place, depth: usize) -> Result<String, SchemaError> {
        let key = (place.file.clone(), place.pointer.clone());
        if let Some(name) = self.names.get(&key) {
            return Ok(name.clone());
        }
        let name = self.fresh_name(place);
        self.names.insert(key, name.clone());
        let target = self.target(&place.file, &place.pointer, place)?;
        let walked = self.walk(&place.file, &target, Mode::Schema, depth)?;
        self.out.schemas.insert(name.clone(), walked);
        Ok(name)
    }

    /// A component name for the schema at `place` (`drs.DrsObject`,
    /// `beacon-v2.framework.responses.beaconBooleanResponse`), unique in the bundle and made
    /// of the characters OpenAPI allows (`[A-Za-z0-9._-]`).
    fn fresh_name(&mut self, place: &Place) -> String {
        const NOISE: &[&str] = &[
            "official",
            "json",
            "bundled",
            "openapi",
            "spec",
            "v2.2.0",
            "beacon-v2-default-model",
            "components",
            "schemas",
            "$defs",
            "definitions",
        ];
        let doc = self.loader.doc_name(&place.file);
        let stem = doc
            .rsplit_once('.')
            .map_or(doc.as_str(), |(stem, _)| stem)
            .to_owned();
        let in_components = place.pointer.starts_with("/components/schemas/");
        let mut parts: Vec<String> = stem
            .split('/')
            .filter(|part| !NOISE.contains(part))
            .map(str::to_owned)
            .collect();
        // An OpenAPI document's own schemas are named by the standard and the schema's name.
        if in_components && parts.len() > 1 {
            parts.truncate(1);
        }
        parts.extend(
            place
                .pointer
                .split('/')
                .skip(1)
                .filter(|token| !NOISE.contains(token))
                .map(|token| token.replace("~1", "/").replace("~0", "~")),
        );
        let base: String = parts
            .join(".")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut name = base.clone();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }
}

/// The GA4GH specifications list a response's alternatives with `oneOf` although they
/// overlap: every Beacon count response is also a boolean response (their schemas allow
/// additional members), and htsget's three 400 errors differ only in their examples. Under
/// `oneOf` a response matching two alternatives is invalid, so no Beacon count, result set or
/// htsget error could ever validate. A response body's top-level `oneOf` is therefore read as
/// `anyOf` (valid when it matches at least one alternative), which is what the specifications
/// describe in prose; alternatives nested inside schemas are kept as published.
fn overlapping_alternatives(operation: &mut Map<String, Value>) {
    let Some(Value::Object(responses)) = operation.get_mut("responses") else {
        return;
    };
    for response in responses.values_mut() {
        let Some(Value::Object(content)) = response.get_mut("content") else {
            continue;
        };
        for media in content.values_mut() {
            if let Some(Value::Object(schema)) = media.get_mut("schema")
                && let Some(alternatives) = schema.remove("oneOf")
            {
                schema.insert("anyOf".to_owned(), alternatives);
            }
        }
    }
}

/// Every `$ref` string in `value`, wherever it stands (a bundle's references all start with
/// `#/`).
#[must_use]
pub fn references(value: &Value) -> Vec<&str> {
    fn walk<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
        match value {
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(object) => {
                if let Some(r) = object.get("$ref").and_then(Value::as_str) {
                    out.push(r);
                }
                object.values().for_each(|v| walk(v, out));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
    )
}

/// Whether `reference` names a JSON Schema meta-schema (draft-04 to 2020-12).
fn is_meta_schema(reference: &str) -> bool {
    let uri = reference.trim_end_matches('#');
    [
        "http://json-schema.org/draft-04/schema",
        "http://json-schema.org/draft-06/schema",
        "http://json-schema.org/draft-07/schema",
        "https://json-schema.org/draft/2019-09/schema",
        "https://json-schema.org/draft/2020-12/schema",
    ]
    .contains(&uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SchemaSet, docs};

    #[test]
    fn beacon_endpoints_bundle_into_one_self_contained_document() {
        let mounts: Vec<String> = docs::beacon_endpoints();
        let mounts: Vec<Mount<'_>> = mounts
            .iter()
            .map(|doc| Mount {
                doc,
                prefix: "/beacon/v2",
                tag: "beacon",
            })
            .collect();
        let bundle = SchemaSet::embedded()
            .bundle_openapi(&mounts, &[])
            .expect("bundles");
        let operation = &bundle.paths["/beacon/v2/individuals"]["get"];
        assert_eq!(operation["operationId"], "beacon.getIndividuals");
        assert_eq!(operation["tags"], serde_json::json!(["beacon"]));
        // The spec's `default` references a JSON Schema where a Response Object belongs: it
        // becomes a response whose body is that schema.
        let default = &operation["responses"]["default"];
        assert!(default["description"].is_string(), "{default}");
        assert_eq!(
            default["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/beacon-v2.framework.responses.beaconErrorResponse"
        );
        // The overlapping alternatives of a response are read as anyOf.
        let ok = &operation["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(ok["anyOf"].is_array() && ok.get("oneOf").is_none(), "{ok}");
        // Every reference points at a bundled schema; no bundled schema keeps an `$id`.
        let schemas = Value::Object(bundle.schemas.clone());
        let paths = Value::Object(bundle.paths.clone());
        let mut found = references(&paths);
        found.extend(references(&schemas));
        assert!(found.len() > 50);
        for reference in found {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{reference} is not a bundled schema"));
            assert!(bundle.schemas.contains_key(name), "{reference}");
        }
        assert!(bundle.schemas.values().all(|s| s.get("$id").is_none()));
        assert!(bundle.schemas.keys().all(|k| {
            k.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
        }));
    }

    #[test]
    fn an_openapi_document_keeps_its_schema_names_and_security() {
        let mounts = [Mount {
            doc: docs::DRS_BUNDLED,
            prefix: "/ga4gh/drs/v1",
            tag: "drs",
        }];
        let bundle = SchemaSet::embedded()
            .bundle_openapi(&mounts, &[])
            .expect("bundles");
        assert!(bundle.schemas.contains_key("drs.DrsObject"));
        assert!(bundle.security_schemes.contains_key("drs.BearerAuth"));
        let post = &bundle.paths["/ga4gh/drs/v1/objects/{object_id}"]["post"];
        assert_eq!(
            post["security"],
            serde_json::json!([{"drs.PassportAuth": []}])
        );
        assert!(bundle.paths.keys().all(|p| p.starts_with("/ga4gh/drs/v1/")));
    }
}
