//! OpenAPI 3.0 support: rewriting OpenAPI schema objects to JSON Schema 2020-12, and finding the
//! response schema of an operation (following path-item and response `$ref`s across files).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::SchemaError;
use crate::load::Loader;

/// Members whose value is a map from names (property names, paths, status codes, media types)
/// to objects: the names are not keywords, the values may be schemas.
const NAME_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "definitions",
    "$defs",
    "dependentSchemas",
    "schemas",
    "paths",
    "responses",
    "content",
    "headers",
    "parameters",
    "requestBodies",
    "securitySchemes",
    "links",
    "callbacks",
    "variables",
    "encoding",
    "mapping",
];

/// Members whose value is data, not schemas: never rewritten.
const DATA_MEMBERS: &[&str] = &["example", "examples", "enum", "const", "default"];

/// Whether a JSON document is an OpenAPI (or Swagger) document.
pub(crate) fn is_openapi(document: &Value) -> bool {
    document
        .as_object()
        .is_some_and(|o| o.contains_key("openapi") || o.contains_key("swagger"))
}

/// Rewrites the OpenAPI 3.0 schema objects of a document, in place, to JSON Schema 2020-12:
///
/// - `nullable: true` adds `"null"` to an explicit `type`; without `type` it has no effect
///   (OpenAPI 3.0.3, "Fixed Fields" of the Schema Object); `nullable` is then removed;
/// - `exclusiveMinimum: true` with `minimum: n` becomes `exclusiveMinimum: n` (draft 4 to 6
///   change); `false` is removed; the same for the maximum.
///
/// Examples, enums, defaults and `x-` extensions are data and left alone; members of name maps
/// (`properties`, `paths`, ...) are names, never keywords.
pub(crate) fn to_json_schema(document: &mut Value) {
    match document {
        Value::Array(items) => items.iter_mut().for_each(to_json_schema),
        Value::Object(object) => {
            rewrite_keywords(object);
            for (key, child) in object.iter_mut() {
                if DATA_MEMBERS.contains(&key.as_str()) || key.starts_with("x-") {
                    continue;
                }
                match child {
                    Value::Object(names) if NAME_MAPS.contains(&key.as_str()) => {
                        names.values_mut().for_each(to_json_schema);
                    }
                    _ => to_json_schema(child),
                }
            }
        }
        _ => {}
    }
}

/// Collects the `$ref` strings of the schema objects in `value` (a schema or a part of an
/// OpenAPI document), skipping data members and `x-` extensions as [`to_json_schema`] does.
pub(crate) fn schema_refs<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| schema_refs(item, out)),
        Value::Object(object) => {
            if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
                out.push(reference);
            }
            for (key, child) in object {
                if DATA_MEMBERS.contains(&key.as_str()) || key.starts_with("x-") {
                    continue;
                }
                match child {
                    Value::Object(names) if NAME_MAPS.contains(&key.as_str()) => {
                        names.values().for_each(|v| schema_refs(v, out));
                    }
                    _ => schema_refs(child, out),
                }
            }
        }
        _ => {}
    }
}

fn rewrite_keywords(object: &mut Map<String, Value>) {
    if let Some(Value::Bool(nullable)) = object.get("nullable") {
        let nullable = *nullable;
        object.remove("nullable");
        if nullable {
            match object.get_mut("type") {
                Some(Value::String(t)) => {
                    let t = std::mem::take(t);
                    object.insert("type".to_owned(), Value::from(vec![t, "null".to_owned()]));
                }
                Some(Value::Array(types)) if !types.iter().any(|t| t == "null") => {
                    types.push(Value::from("null"));
                }
                _ => {}
            }
        }
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(Value::Bool(flag)) = object.get(exclusive) {
            let flag = *flag;
            object.remove(exclusive);
            if flag && let Some(limit) = object.remove(bound) {
                object.insert(exclusive.to_owned(), limit);
            }
        }
    }
}

/// A value's place: a file and a JSON pointer into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) file: PathBuf,
    pub(crate) pointer: String,
}

impl Place {
    fn child(&self, token: &str) -> Self {
        Self {
            file: self.file.clone(),
            pointer: format!("{}/{}", self.pointer, escape_token(token)),
        }
    }
}

/// The place of the JSON response schema of `method path` answering `status` in the OpenAPI
/// document at `file`. Falls back from `404` to `4XX` to `default`, as OpenAPI does. Prefers
/// `application/json`, then any `+json` media type.
pub(crate) fn response_schema(
    loader: &Loader,
    file: &Path,
    path: &str,
    method: &str,
    status: &str,
) -> Result<Place, SchemaError> {
    let doc = loader.doc_name(file);
    let method = method.to_ascii_lowercase();
    let no_operation = || SchemaError::NoSuchOperation {
        doc: doc.clone(),
        path: path.to_owned(),
        method: method.clone(),
    };
    let no_response = || SchemaError::NoSuchResponse {
        doc: doc.clone(),
        path: path.to_owned(),
        method: method.clone(),
        status: status.to_owned(),
    };
    let root = Place {
        file: file.to_owned(),
        pointer: String::new(),
    };
    let item = follow(loader, root.child("paths").child(path))?.ok_or_else(no_operation)?;
    let operation = item.child(&method);
    if value_at(loader, &operation)?.is_none_or(|v| !v.is_object()) {
        return Err(no_operation());
    }
    let responses = operation.child("responses");
    let range = status
        .chars()
        .next()
        .map(|c| [format!("{c}XX"), format!("{c}xx")]);
    let candidates = std::iter::once(status.to_owned())
        .chain(range.into_iter().flatten())
        .chain(std::iter::once("default".to_owned()));
    let mut response = None;
    for key in candidates {
        if let Some(found) = follow(loader, responses.child(&key))? {
            response = Some(found);
            break;
        }
    }
    let response = response.ok_or_else(no_response)?;
    let content = response.child("content");
    let media_types: Vec<String> = match value_at(loader, &content)? {
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let essence = |m: &str| m.split(';').next().unwrap_or(m).trim().to_ascii_lowercase();
    let media = media_types
        .iter()
        .find(|m| essence(m) == "application/json")
        .or_else(|| media_types.iter().find(|m| essence(m).ends_with("+json")))
        .ok_or_else(no_response)?;
    let schema = content.child(media).child("schema");
    match value_at(loader, &schema)? {
        Some(_) => Ok(schema),
        None => Err(no_response()),
    }
}

/// Follows `$ref`s (at most 32) from `place`; `None` when nothing is there.
fn follow(loader: &Loader, mut place: Place) -> Result<Option<Place>, SchemaError> {
    for _ in 0..32 {
        let Some(value) = value_at(loader, &place)? else {
            return Ok(None);
        };
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return Ok(Some(place));
        };
        place = resolve_ref(loader, &place.file, reference)?;
    }
    Err(SchemaError::BadReference {
        doc: loader.doc_name(&place.file),
        reference: "(a chain of more than 32 references)".to_owned(),
    })
}

/// The place a `$ref` found in `file` names: an in-document pointer, a file relative to `file`,
/// or an official URL of [`crate::URL_MAP`].
pub(crate) fn resolve_ref(
    loader: &Loader,
    file: &Path,
    reference: &str,
) -> Result<Place, SchemaError> {
    let bad = || SchemaError::BadReference {
        doc: loader.doc_name(file),
        reference: reference.to_owned(),
    };
    let (target, fragment) = reference.split_once('#').unwrap_or((reference, ""));
    let file = if target.is_empty() {
        file.to_owned()
    } else if target.contains("://") {
        loader.path_for_uri(target).map_err(|_| bad())?
    } else {
        loader.join(file, target).ok_or_else(bad)?
    };
    let pointer = crate::load::percent_decode(fragment).ok_or_else(bad)?;
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(bad());
    }
    Ok(Place { file, pointer })
}

pub(crate) fn value_at(loader: &Loader, place: &Place) -> Result<Option<Value>, SchemaError> {
    let document = loader.load(&place.file)?;
    Ok(document.pointer(&place.pointer).cloned())
}

/// Escapes one JSON pointer reference token (RFC 6901 section 3).
pub(crate) fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(input: Value, expect: Value) {
        let mut document = json!({"openapi": "3.0.3", "components": {"schemas": {"S": input}}});
        to_json_schema(&mut document);
        assert_eq!(document["components"]["schemas"]["S"], expect);
    }

    #[test]
    fn rewrites_schema_objects() {
        check(
            json!({"type": "string", "nullable": true}),
            json!({"type": ["string", "null"]}),
        );
        check(
            json!({"type": "string", "nullable": false}),
            json!({"type": "string"}),
        );
        check(
            json!({"type": ["string", "integer"], "nullable": true}),
            json!({"type": ["string", "integer", "null"]}),
        );
        check(
            json!({"$ref": "#/x", "nullable": true}),
            json!({"$ref": "#/x"}),
        );
        check(
            json!({"type": "array", "nullable": true, "items": {"type": "integer", "nullable": true}}),
            json!({"type": ["array", "null"], "items": {"type": ["integer", "null"]}}),
        );
        check(
            json!({"minimum": 0, "exclusiveMinimum": true}),
            json!({"exclusiveMinimum": 0}),
        );
        check(
            json!({"maximum": 9, "exclusiveMaximum": false}),
            json!({"maximum": 9}),
        );
        check(
            json!({"minimum": 3, "exclusiveMinimum": 1}),
            json!({"minimum": 3, "exclusiveMinimum": 1}),
        );
        check(
            json!({"properties": {"nullable": {"type": "boolean"}, "example": {"type": "string", "nullable": true}}}),
            json!({"properties": {"nullable": {"type": "boolean"}, "example": {"type": ["string", "null"]}}}),
        );
        check(
            json!({"type": "object", "example": {"nullable": true, "type": "string"}}),
            json!({"type": "object", "example": {"nullable": true, "type": "string"}}),
        );
        check(
            json!({"allOf": [{"type": "string", "nullable": true}], "x-extra": {"nullable": true}}),
            json!({"allOf": [{"type": ["string", "null"]}], "x-extra": {"nullable": true}}),
        );
        check(
            json!({"enum": ["a"], "type": "string", "nullable": true}),
            json!({"enum": ["a"], "type": ["string", "null"]}),
        );
    }

    #[test]
    fn collects_schema_refs() {
        let value = json!({
            "allOf": [{"$ref": "a.yaml"}, {"properties": {"example": {"$ref": "#/b"}, "$ref": {"type": "string"}}}],
            "example": {"$ref": "data.yaml"},
            "x-extra": {"$ref": "extension.yaml"},
            "items": {"$ref": "https://example.org/c.json#/d"}
        });
        let mut refs = Vec::new();
        schema_refs(&value, &mut refs);
        refs.sort_unstable();
        assert_eq!(refs, ["#/b", "a.yaml", "https://example.org/c.json#/d"]);
    }

    #[test]
    fn escapes_pointer_tokens() {
        assert_eq!(escape_token("/reads/{id}"), "~1reads~1{id}");
        assert_eq!(escape_token("a~b"), "a~0b");
        assert_eq!(escape_token("application/json"), "application~1json");
    }

    #[test]
    fn detects_openapi() {
        assert!(is_openapi(&json!({"openapi": "3.0.0"})));
        assert!(is_openapi(&json!({"swagger": "2.0"})));
        assert!(!is_openapi(&json!({"$schema": "x"})));
        assert!(!is_openapi(&json!([1])));
    }
}
