//! Reference resolution on a small synthetic shared folder built by the test: relative file refs
//! across YAML and JSON, file names with `{}` and `@`, OpenAPI rewriting, and refusal of anything
//! that would need the network. Runs without the real shared folder.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use gemj_schemas::{SchemaError, SchemaSet};
use serde_json::json;

type TestResult = Result<(), Box<dyn Error>>;

/// A fresh shared folder under the system temp folder, removed on drop.
struct Shared(PathBuf);

impl Shared {
    fn new(name: &str, files: &[(&str, &str)]) -> Result<Self, Box<dyn Error>> {
        let dir = std::env::temp_dir().join(format!(
            "gemj-schemas-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        for (path, text) in files {
            let path = dir.join("schemas").join(path);
            fs::create_dir_all(path.parent().ok_or("no parent")?)?;
            fs::write(path, text)?;
        }
        Ok(Self(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const API: &str = r"
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /things/{id}:
    $ref: './paths/things@{id}.yaml'
  /inline:
    get:
      responses:
        200:
          content:
            application/problem+json:
              schema:
                $ref: '#/components/schemas/Problem'
        4XX:
          $ref: '#/components/responses/Oops'
components:
  responses:
    Oops:
      content:
        application/json; charset=utf-8:
          schema:
            $ref: '#/components/schemas/Problem'
  schemas:
    Problem:
      type: object
      required: [status]
      properties:
        status: {type: integer, minimum: 100, exclusiveMinimum: true}
        detail: {type: string, nullable: true, example: 'no'}
        example: {type: string}
";

const PATH_ITEM: &str = r"
get:
  responses:
    '200':
      $ref: '../responses/200Thing.yaml'
";

const RESPONSE: &str = r"
content:
  application/json:
    schema:
      $ref: '../schemas/Thing.yaml'
";

const THING: &str = r"
type: object
required: [id, size]
properties:
  id: {type: string}
  size: {type: integer, nullable: true}
  tags:
    type: array
    items:
      $ref: './tag.json'
";

const TAG: &str = r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string", "maxLength": 3}"#;

const NETWORK: &str = r#"{"$ref": "https://example.org/schema.json"}"#;

const ESCAPE: &str = r#"{"$ref": "../../outside.json"}"#;

fn folder(name: &str) -> Result<Shared, Box<dyn Error>> {
    Shared::new(
        name,
        &[
            ("api/api.yaml", API),
            ("api/paths/things@{id}.yaml", PATH_ITEM),
            ("api/responses/200Thing.yaml", RESPONSE),
            ("api/schemas/Thing.yaml", THING),
            ("api/schemas/tag.json", TAG),
            ("bad/network.json", NETWORK),
            ("bad/escape.json", ESCAPE),
        ],
    )
}

#[test]
fn references_resolve_across_files() -> TestResult {
    let shared = folder("across")?;
    let set = SchemaSet::open(shared.path())?;
    let thing = set.openapi_response("api/api.yaml", "/things/{id}", "get", "200")?;
    assert!(
        thing
            .location()
            .starts_with("api/responses/200Thing.yaml#/content/")
    );
    let check = |instance: serde_json::Value, valid: bool| {
        assert_eq!(thing.is_valid(&instance), valid, "{instance}");
    };
    check(json!({"id": "a", "size": 1}), true);
    check(json!({"id": "a", "size": null}), true);
    check(json!({"id": "a", "size": 1, "tags": ["abc"]}), true);
    check(json!({"id": "a", "size": 1, "tags": ["abcd"]}), false);
    check(json!({"id": "a", "size": "1"}), false);
    check(json!({"id": "a"}), false);
    let direct = set.validator("api/paths/things@{id}.yaml", "")?;
    assert!(direct.is_valid(&json!({})));
    Ok(())
}

#[test]
fn openapi_keywords_are_rewritten() -> TestResult {
    let shared = folder("rewrite")?;
    let set = SchemaSet::open(shared.path())?;
    let problem = set.validator("api/api.yaml", "/components/schemas/Problem")?;
    let check = |instance: serde_json::Value, valid: bool| {
        assert_eq!(problem.is_valid(&instance), valid, "{instance}");
    };
    check(json!({"status": 404, "detail": null}), true);
    check(
        json!({"status": 404, "detail": "x", "example": "a property, not a keyword"}),
        true,
    );
    check(json!({"status": 100}), false);
    check(json!({"status": 101}), true);
    check(json!({"status": 404, "example": 1}), false);
    Ok(())
}

#[test]
fn responses_fall_back_and_accept_json_media_types() -> TestResult {
    let shared = folder("fallback")?;
    let set = SchemaSet::open(shared.path())?;
    for status in ["200", "404", "418"] {
        let v = set.openapi_response("api/api.yaml", "/inline", "GET", status)?;
        assert!(v.is_valid(&json!({"status": 404})), "{status}");
    }
    let missing = set.openapi_response("api/api.yaml", "/inline", "get", "500");
    assert!(
        matches!(missing, Err(SchemaError::NoSuchResponse { .. })),
        "{missing:?}"
    );
    let missing = set.openapi_response("api/api.yaml", "/things/{id}", "get", "404");
    assert!(
        matches!(missing, Err(SchemaError::NoSuchResponse { .. })),
        "{missing:?}"
    );
    Ok(())
}

#[test]
fn nothing_is_fetched_from_the_network_or_outside_the_folder() -> TestResult {
    let shared = folder("offline")?;
    let set = SchemaSet::open(shared.path())?;
    for (doc, expect) in [
        (
            "bad/network.json",
            "https://example.org/schema.json is not available offline",
        ),
        ("bad/escape.json", "is outside the schemas folder"),
    ] {
        let error = set.validator(doc, "").err().ok_or("compiled")?;
        assert!(matches!(error, SchemaError::Compile { .. }), "{error:?}");
        let text = format!(
            "{error}: {}",
            error.source().map(ToString::to_string).unwrap_or_default()
        );
        assert!(text.contains(expect), "{text}");
    }
    Ok(())
}

#[test]
fn open_needs_a_schemas_folder() {
    let error = SchemaSet::open(Path::new("/nonexistent/gemj-shared")).err();
    assert!(
        matches!(error, Some(SchemaError::NotASharedDir { .. })),
        "{error:?}"
    );
}
