//! The `/fhir` part of `/openapi.json`. FHIR describes itself (the CapabilityStatement, the
//! OperationDefinitions), so this is the same description in OpenAPI terms, built from the
//! same sources: the resource types and search parameters the FHIR service serves, and each
//! Genomics Operation's inputs as its shipped definition lists them. Every error is an
//! `OperationOutcome` in `application/fhir+json`; resources are described by their
//! `resourceType` (their full shape is the official R4 JSON Schema, which the tests apply).

use serde_json::{Map, Value, json};

use gemj_core::fhir::{RESOURCES, resource_capabilities};
use gemj_fhir::genomics::{OPERATIONS, published_definition};

const OUTCOME: &str = "#/components/schemas/FhirOperationOutcome";

/// The statuses of FHIR errors, with what each means here.
const ERRORS: [(&str, &str); 11] = [
    (
        "400",
        "A malformed request: a bad parameter value, an unknown parameter (strict handling or an operation), an invalid body.",
    ),
    (
        "401",
        "No credential, or one that does not verify (WWW-Authenticate names the scheme).",
    ),
    (
        "403",
        "The caller may not do this (a researcher's write, a SMART token's scopes).",
    ),
    (
        "404",
        "No such resource, subject, type or operation for this caller (withdrawn, unknown and not visible look alike).",
    ),
    (
        "406",
        "The format asked for (_format, Accept) is not JSON, or another FHIR version.",
    ),
    ("413", "The body is too large."),
    (
        "415",
        "The body is not application/fhir+json (or a form, where one is read).",
    ),
    (
        "422",
        "Well formed but not processable: a range or variant on another genome build (Failed LiftOver), a notation the store cannot resolve.",
    ),
    (
        "429",
        "A population operation's Beacon query budget is spent.",
    ),
    ("431", "The Authorization header is over 64 KiB."),
    (
        "503",
        "The gateway cannot answer now (consent view stale, store or audit unavailable, a key set unreachable); Retry-After says when to retry.",
    ),
];

fn fhir_content(schema: Value) -> Value {
    json!({"application/fhir+json": {"schema": schema}})
}

fn resource(resource_type: &str) -> Value {
    json!({"type": "object", "required": ["resourceType"],
           "properties": {"resourceType": {"const": resource_type}}})
}

fn responses(ok: &str, ok_schema: Value, errors: &[&str]) -> Value {
    let mut map = Map::new();
    map.insert(
        "200".to_owned(),
        json!({"description": ok, "content": fhir_content(ok_schema)}),
    );
    for (status, description) in ERRORS {
        if errors.contains(&status) {
            map.insert(
                status.to_owned(),
                json!({"description": description, "content": fhir_content(json!({"$ref": OUTCOME}))}),
            );
        }
    }
    Value::Object(map)
}

fn query(name: &str, schema: Value, required: bool, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": required, "schema": schema, "description": description})
}

const READ_ERRORS: [&str; 8] = ["400", "401", "403", "404", "406", "422", "431", "503"];

/// The `/fhir` paths and the schemas they use.
pub(crate) fn paths() -> (Map<String, Value>, Map<String, Value>) {
    let mut paths = Map::new();
    let tag = json!(["fhir"]);
    let types = json!({"type": "string", "enum": RESOURCES});
    paths.insert(
        "/fhir/metadata".to_owned(),
        json!({"get": {"tags": tag, "operationId": "fhir_metadata", "summary": "The CapabilityStatement: resources, search parameters, operations and security.",
            "responses": responses("The CapabilityStatement.", resource("CapabilityStatement"), &["406"])}}),
    );
    let mut search_params = vec![
        json!({"name": "type", "in": "path", "required": true, "schema": types}),
        query(
            "_count",
            json!({"type": "integer", "minimum": 0}),
            false,
            "Page size (at most 100).",
        ),
        query(
            "_offset",
            json!({"type": "integer", "minimum": 0, "maximum": 100_000}),
            false,
            "Matches skipped (the next link carries it).",
        ),
    ];
    let mut documented: Vec<String> = vec!["_count".to_owned(), "_offset".to_owned()];
    for capability in resource_capabilities() {
        for p in capability.search {
            if !documented.iter().any(|d| d == p.name) {
                documented.push(p.name.to_owned());
                search_params.push(query(
                    p.name,
                    json!({"type": "string"}),
                    false,
                    &format!(
                        "{} ({} search parameter; where the type has it)",
                        p.documentation,
                        p.kind.as_str()
                    ),
                ));
            }
        }
    }
    let search_errors = ["400", "401", "403", "404", "406", "431", "503"];
    paths.insert(
        "/fhir/{type}".to_owned(),
        json!({"get": {"tags": tag, "operationId": "fhir_search", "summary": "Search a resource type: a searchset Bundle with total, self and next links.",
            "parameters": search_params,
            "responses": responses("A searchset Bundle.", resource("Bundle"), &search_errors)}}),
    );
    paths.insert(
        "/fhir/{type}/_search".to_owned(),
        json!({"post": {"tags": tag, "operationId": "fhir_search_post", "summary": "Search with the parameters in a form body.",
            "parameters": [{"name": "type", "in": "path", "required": true, "schema": types}],
            "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object",
                "properties": {"_count": {"type": "string"}, "_offset": {"type": "string"}, "patient": {"type": "string"}, "subject": {"type": "string"}, "code": {"type": "string"}}}}}},
            "responses": responses("A searchset Bundle.", resource("Bundle"), &["400", "401", "403", "404", "406", "413", "415", "431", "503"])}}),
    );
    paths.insert(
        "/fhir/{type}/{id}".to_owned(),
        json!({"get": {"tags": tag, "operationId": "fhir_read", "summary": "Read a resource by id.",
            "parameters": [
                {"name": "type", "in": "path", "required": true, "schema": types},
                {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": responses("The resource.", json!({"type": "object", "required": ["resourceType", "id"]}), &READ_ERRORS)}}),
    );
    paths.insert(
        "/fhir/OperationDefinition/{name}".to_owned(),
        json!({"get": {"tags": tag, "operationId": "fhir_operation_definition", "summary": "A Genomics Operation's definition, as served (corrected).",
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "enum": OPERATIONS}}],
            "responses": responses("The OperationDefinition.", resource("OperationDefinition"), &["404", "406"])}}),
    );
    paths.insert(
        "/fhir".to_owned(),
        json!({"post": {"tags": tag, "operationId": "fhir_transaction", "summary": "A transaction or batch Bundle from an institution: each entry answered in order (201 Created, 200 OK); a transaction is all or nothing.",
            "requestBody": {"required": true, "content": fhir_content(resource("Bundle"))},
            "responses": responses("A transaction-response or batch-response Bundle.", resource("Bundle"), &["400", "401", "403", "404", "406", "413", "415", "431", "503"])}}),
    );
    for name in OPERATIONS {
        let Ok(definition) = published_definition(name) else {
            continue;
        };
        let mut parameters = Vec::new();
        for p in definition["parameter"].as_array().into_iter().flatten() {
            if p["use"] != "in" {
                continue;
            }
            let schema = match p["type"].as_str() {
                Some("boolean") => json!({"type": "boolean"}),
                _ => json!({"type": "string"}),
            };
            let many = p["max"] != "1";
            let schema = if many {
                json!({"type": "array", "items": schema})
            } else {
                schema
            };
            let mut q = query(
                p["name"].as_str().unwrap_or_default(),
                schema,
                p["min"].as_u64().unwrap_or(0) > 0,
                p["documentation"].as_str().unwrap_or(""),
            );
            if many {
                q["style"] = json!("form");
                q["explode"] = json!(true);
            }
            parameters.push(q);
        }
        let summary = definition["description"]
            .as_str()
            .unwrap_or(name)
            .lines()
            .next()
            .unwrap_or(name)
            .to_owned();
        let ok = "A Parameters resource (the operation's outputs).";
        paths.insert(
            format!("/fhir/${name}"),
            json!({
                "get": {"tags": tag, "operationId": format!("fhir_{}", name.replace('-', "_")), "summary": summary,
                    "parameters": parameters,
                    "responses": responses(ok, resource("Parameters"), &READ_ERRORS)},
                "post": {"tags": tag, "operationId": format!("fhir_{}_post", name.replace('-', "_")), "summary": summary,
                    "requestBody": {"required": true, "content": fhir_content(resource("Parameters"))},
                    "responses": responses(ok, resource("Parameters"), &["400", "401", "403", "404", "406", "413", "415", "422", "429", "431", "503"])},
            }),
        );
    }
    paths.insert(
        "/fhir/.well-known/smart-configuration".to_owned(),
        json!({"get": {"tags": ["smart"], "operationId": "smart_configuration", "summary": "SMART Backend Services discovery: the token endpoint, its authentication and the scopes granted.",
            "responses": {"200": {"description": "The SMART configuration.", "content": {"application/json": {"schema": {
                "type": "object", "required": ["token_endpoint", "grant_types_supported"],
                "properties": {"token_endpoint": {"type": "string"}, "grant_types_supported": {"type": "array", "items": {"type": "string"}}}}}}}}}}),
    );
    let oauth_error = json!({"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string", "enum": ["invalid_request", "invalid_client", "invalid_grant", "unsupported_grant_type", "invalid_scope", "temporarily_unavailable"]},
        "error_description": {"type": "string"}}});
    let oauth = |description: &str| json!({"description": description, "content": {"application/json": {"schema": oauth_error}}});
    paths.insert(
        "/fhir/auth/token".to_owned(),
        json!({"post": {"tags": ["smart"], "operationId": "smart_token", "summary": "The client-credentials grant with a signed JWT client assertion (RFC 7523) from a registered institution.",
            "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object",
                "required": ["grant_type", "client_assertion_type", "client_assertion", "scope"],
                "properties": {"grant_type": {"type": "string"}, "client_assertion_type": {"type": "string"}, "client_assertion": {"type": "string"}, "scope": {"type": "string"}}}}}},
            "responses": {
                "200": {"description": "A five-minute access token for /fhir.", "content": {"application/json": {"schema": {"type": "object",
                    "required": ["access_token", "token_type", "expires_in", "scope"],
                    "properties": {"access_token": {"type": "string"}, "token_type": {"const": "bearer"}, "expires_in": {"type": "integer"}, "scope": {"type": "string"}}}}}},
                "400": oauth("A malformed request, an unsupported grant type or scope, a replayed assertion."),
                "401": oauth("The client assertion does not verify (signature, audience, lifetime, client)."),
                "503": oauth("The client's key set cannot be fetched; retry shortly."),
            }}}),
    );
    let mut schemas = Map::new();
    schemas.insert(
        "FhirOperationOutcome".to_owned(),
        json!({"type": "object", "required": ["resourceType", "issue"], "properties": {
            "resourceType": {"const": "OperationOutcome"},
            "issue": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["severity", "code"], "properties": {
                "severity": {"enum": ["fatal", "error", "warning", "information"]},
                "code": {"type": "string"},
                "diagnostics": {"type": "string"},
                "expression": {"type": "array", "items": {"type": "string"}}}}}}}),
    );
    (paths, schemas)
}
