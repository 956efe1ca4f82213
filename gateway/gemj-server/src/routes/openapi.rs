//! The one OpenAPI 3.1 document of everything the gateway serves (`/openapi.json`): its own
//! endpoints, generated from the handlers' `utoipa::path` annotations, and the standard APIs
//! (htsget, DRS, Beacon) as their official specifications describe them, bundled from the copies
//! shipped with the project and mounted at the gateway's prefixes. Errors of the gateway's own
//! endpoints are `application/problem+json`, as they are sent.

use std::sync::OnceLock;

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use super::{
    approvals, audit, catalogue, consent, data, health, ingest, phenopackets, recontact,
    revocations, service_info,
};
use crate::error::Problem;

/// The gateway's own endpoints.
#[derive(OpenApi, Debug)]
#[openapi(
    info(
        title = "GeMJ gateway",
        description = "Every endpoint of the gateway: its own (consent, recontact, approvals, \
            audit, catalogue, data URLs, ingest, service registry, health) and the GA4GH \
            standard APIs it serves (htsget 1.3 under /htsget, DRS 1.5 under /ga4gh/drs/v1, \
            Beacon v2.2.0 under /beacon/v2, WES 1.1 under /ga4gh/wes/v1, Data Connect 1.0 under \
            /data-connect), the latter as their \
            official specifications describe them, and HL7 FHIR R4 under /fhir (errors as OperationOutcome)."
    ),
    paths(
        service_info::service_info,
        service_info::services,
        service_info::service_types,
        service_info::service_by_id,
        health::healthz,
        health::readyz,
        health::metrics,
        catalogue::list,
        catalogue::get,
        audit::me,
        audit::participant,
        consent::post_event,
        consent::get_participant,
        recontact::create,
        recontact::status,
        recontact::inbox,
        recontact::outcomes,
        approvals::put,
        approvals::list,
        approvals::get,
        approvals::set_status,
        revocations::list,
        revocations::revoke,
        revocations::unrevoke,
        super::beacon_network::jwks,
        super::wes::held_outputs,
        super::wes::release_output,
        data::participants,
        data::url_get,
        data::url_post,
        data::fetch,
        ingest::post_ingest,
        phenopackets::get_phenopacket,
        openapi_json,
    ),
    components(schemas(Problem))
)]
pub struct ApiDoc;

/// The answers of every endpoint that reads the caller's credentials, besides its own: a bearer
/// token that is malformed or does not verify, and an `Authorization` header over 64 KiB.
#[derive(Debug, utoipa::IntoResponses)]
#[allow(dead_code)] // Reason: only its OpenAPI description is used.
pub enum CredentialAnswers {
    /// The bearer token is malformed, does not verify, is revoked or expired.
    #[response(
        status = 401,
        description = "The bearer token is malformed or does not verify (`reason`: bad_signature, expired, revoked, ...); WWW-Authenticate names the scheme."
    )]
    Unauthenticated(Problem),
    /// The `Authorization` header is over 64 KiB.
    #[response(
        status = 431,
        description = "The Authorization header is over 64 KiB: send large passports in a POST body."
    )]
    AuthorizationTooLarge(Problem),
}

/// The official documents of the standard APIs and where the gateway mounts them.
#[must_use]
pub fn standard_mounts() -> Vec<(String, &'static str, &'static str)> {
    use gemj_schemas::docs;
    let mut mounts = vec![
        (docs::HTSGET.to_owned(), "/htsget", "htsget"),
        (docs::DRS_BUNDLED.to_owned(), super::drs::PREFIX, "drs"),
        (docs::WES.to_owned(), super::wes::PREFIX, "wes"),
        (
            docs::DATA_CONNECT.to_owned(),
            super::data_connect::PREFIX,
            "data-connect",
        ),
    ];
    mounts.extend(
        docs::beacon_endpoints()
            .into_iter()
            .map(|doc| (doc, super::beacon::PREFIX, "beacon")),
    );
    mounts
}

/// The whole document, built once per process.
///
/// # Errors
///
/// A shipped official document that does not bundle (a broken `$ref`): a build defect, which the
/// tests catch.
pub fn document() -> Result<&'static Value, String> {
    static DOCUMENT: OnceLock<Result<Value, String>> = OnceLock::new();
    DOCUMENT.get_or_init(build).as_ref().map_err(Clone::clone)
}

fn build() -> Result<Value, String> {
    use gemj_schemas::docs;
    let mut doc = ApiDoc::openapi();
    doc.info.version = gemj_core::services::VERSION.to_owned();
    let mut doc = serde_json::to_value(doc).map_err(|e| e.to_string())?;
    own_errors_as_problems(&mut doc);
    // One generator for the own bodies, so a type used twice is one component.
    let mut generator = generator();
    request_bodies(&mut doc, &mut generator)?;
    let mounts = standard_mounts();
    let mounts: Vec<gemj_schemas::Mount<'_>> = mounts
        .iter()
        .map(|(doc, prefix, tag)| gemj_schemas::Mount { doc, prefix, tag })
        .collect();
    let registry = [
        (docs::SERVICE_INFO, "/components/schemas/Service"),
        (
            docs::SERVICE_REGISTRY,
            "/components/schemas/ExternalService",
        ),
        (docs::SERVICE_REGISTRY, "/components/schemas/ServiceType"),
    ];
    let bundle = gemj_schemas::SchemaSet::embedded()
        .bundle_openapi(&mounts, &registry)
        .map_err(|e| gemj_schemas::testing::error_chain(&e))?;
    let official = |i: usize| json!({"$ref": format!("#/components/schemas/{}", bundle.named[i])});
    let (service, external, service_type) = (official(0), official(1), official(2));
    let object = doc.as_object_mut().ok_or("the document is not an object")?;
    merge(object, "paths", bundle.paths);
    let (fhir_paths, fhir_schemas) = super::openapi_fhir::paths();
    merge(object, "paths", fhir_paths);
    let shared = components(&mut doc)?;
    merge(shared, "schemas", bundle.schemas);
    merge(shared, "schemas", fhir_schemas);
    merge(shared, "securitySchemes", bundle.security_schemes);
    beacon_granularities(&mut doc);
    beacon_network(&mut doc);
    wes_stderr(&mut doc);
    data_connect(&mut doc);
    let list = |items: &Value| json!({"type": "array", "items": items});
    for (path, method, status, schema) in [
        ("/service-info", "get", "200", service),
        ("/services", "get", "200", list(&external)),
        ("/services/types", "get", "200", list(&service_type)),
        ("/services/{id}", "get", "200", external),
    ] {
        response_schema(&mut doc, path, method, status, schema)?;
    }
    own_response_schemas(&mut doc, &mut generator)?;
    merge(
        components(&mut doc)?,
        "schemas",
        generator.take_definitions(true),
    );
    Ok(doc)
}

/// The Beacon network's endpoints: the operations of the gateway's own Beacon it also serves
/// (each answers a Beacon response, or a Beacon error: 404 when no network is configured),
/// under its prefix, tagged `beacon-network`.
fn beacon_network(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let served = [
        "/",
        "/info",
        "/map",
        "/filtering_terms",
        "/individuals",
        "/g_variants",
        "/biosamples",
        "/runs",
        "/analyses",
    ];
    let copies: Vec<(String, Value)> = served
        .iter()
        .filter_map(|path| {
            let mut item = paths
                .get(&format!("{}{path}", super::beacon::PREFIX))?
                .clone();
            for op in item.as_object_mut()?.values_mut() {
                let Some(op) = op.as_object_mut() else {
                    continue;
                };
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    let id = format!("network.{id}");
                    op.insert("operationId".to_owned(), json!(id));
                }
                op.insert("tags".to_owned(), json!(["beacon-network"]));
            }
            Some((format!("{}{path}", super::beacon_network::PREFIX), item))
        })
        .collect();
    for (path, item) in copies {
        paths.insert(path, item);
    }
}

/// What the gateway adds to Data Connect's official document: the statuses it answers beyond the
/// specification's (each with the specification's `ErrorResponse`: a refused credential, an
/// oversized body or header, a spent query budget, a store or consent view that cannot answer),
/// and the path of the pages after the first (`pagination.next_page_url`, whose form the
/// specification leaves to the implementation).
fn data_connect(doc: &mut Value) {
    let prefix = super::data_connect::PREFIX;
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(error) = paths
        .get(&format!("{prefix}/search"))
        .and_then(|item| item.pointer("/post/responses/400/content"))
        .cloned()
    else {
        return;
    };
    let Some(page) = paths
        .get(&format!("{prefix}/search"))
        .and_then(|item| item.pointer("/post/responses/200"))
        .cloned()
    else {
        return;
    };
    let answer = |description: &str| json!({"description": description, "content": error.clone()});
    let extra = [
        (
            "400",
            "The request is malformed: a query the gateway does not run, bad parameters, or a page URL it did not hand out.",
        ),
        ("401", "The bearer token is malformed or does not verify."),
        ("404", "No such table."),
        ("413", "The body is over 64 KiB."),
        (
            "429",
            "The caller's query budget (shared with Beacon) is spent; Retry-After says when to retry.",
        ),
        ("431", "The Authorization header is over 64 KiB."),
        (
            "503",
            "The store or the consent view cannot answer now; Retry-After says when to retry.",
        ),
    ];
    paths.insert(
        format!("{prefix}/search/{{page}}"),
        json!({"get": {
            "tags": ["data-connect"],
            "operationId": "data-connect_nextPage",
            "summary": "A page after the first of a search or a table's data (pagination.next_page_url)",
            "parameters": [{"name": "page", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": page}
        }}),
    );
    for (path, item) in paths.iter_mut() {
        if !path.starts_with(prefix) || path.ends_with("/service-info") {
            continue;
        }
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, description) in extra {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| answer(description));
                // The specification's 404s name no body; the gateway's carry an ErrorResponse.
                if let Some(r) = responses.get_mut(status).and_then(Value::as_object_mut) {
                    r.entry("content".to_owned())
                        .or_insert_with(|| error.clone());
                }
            }
        }
    }
    // The network's copies (404 where no network is configured).
    let network = super::data_connect::NETWORK_PREFIX;
    let copies: Vec<(String, Value)> = paths
        .iter()
        .filter_map(|(path, item)| {
            let rest = path.strip_prefix(prefix)?;
            if !rest.starts_with('/') {
                return None;
            }
            let mut item = item.clone();
            for op in item
                .as_object_mut()?
                .values_mut()
                .filter_map(Value::as_object_mut)
            {
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    let id = format!("network.{id}");
                    op.insert("operationId".to_owned(), json!(id));
                }
                op.insert("tags".to_owned(), json!(["data-connect-network"]));
            }
            Some((format!("{network}{rest}"), item))
        })
        .collect();
    for (path, item) in copies {
        paths.insert(path, item);
    }
}

/// What the gateway adds to WES's official document: the path of a run's engine log, which
/// `run_log.stderr` points at (WES leaves its URL to the implementation), and ListTasks' 400.
fn wes_stderr(doc: &mut Value) {
    let error = json!({"application/json": {"schema": {"type": "object",
        "required": ["msg", "status_code"],
        "properties": {"msg": {"type": "string"}, "status_code": {"type": "integer"},
                       "reason": {"type": "string"}}}}});
    let answer = |description: &str| json!({"description": description, "content": error.clone()});
    let item = json!({"get": {
        "tags": ["wes"],
        "operationId": "wes_GetRunStderr",
        "summary": "The engine's log of a run (run_log.stderr), host paths removed",
        "parameters": [{"name": "run_id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {
            "200": {"description": "The log, as text.", "content": {"text/plain": {"schema": {"type": "string"}}}},
            "401": answer("No or invalid credential."),
            "404": answer("No such run, or not this caller's."),
            "431": answer("The Authorization header is over 64 KiB."),
            "503": answer("The store or the consent view cannot answer now.")
        }
    }});
    let tasks_400 = answer(
        "The query is malformed: a page_size that is not a positive integer, a page_token this \
         service did not give this caller for this run, or another parameter.",
    );
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        paths.insert(
            format!("{}/runs/{{run_id}}/stderr", super::wes::PREFIX),
            item,
        );
        // WES 1.1 documents 400 for ListRuns but not for ListTasks, which takes the same
        // paging parameters: the gateway refuses a bad one the same way on both.
        if let Some(responses) = paths
            .get_mut(&format!("{}/runs/{{run_id}}/tasks", super::wes::PREFIX))
            .and_then(|item| item.pointer_mut("/get/responses"))
            .and_then(Value::as_object_mut)
        {
            responses.insert("400".to_owned(), tasks_400);
        }
    }
}

/// Sets the JSON schema of one response of one operation.
fn response_schema(
    doc: &mut Value,
    path: &str,
    method: &str,
    status: &str,
    schema: Value,
) -> Result<(), String> {
    let response = doc
        .pointer_mut(&format!(
            "/paths/{}/{method}/responses/{status}",
            pointer_token(path)
        ))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("{method} {path} has no {status} response"))?;
    response.insert(
        "content".to_owned(),
        json!({"application/json": {"schema": schema}}),
    );
    Ok(())
}

/// The success bodies of the gateway's own operations that answer a typed value: the schema
/// of that type (schemars), so the description and the body cannot disagree.
fn own_response_schemas(
    doc: &mut Value,
    generator: &mut schemars::SchemaGenerator,
) -> Result<(), String> {
    let approval = generator.subschema_for::<gemj_model::Approval>().to_value();
    let url = generator
        .subschema_for::<gemj_core::data::IssuedUrl>()
        .to_value();
    let answers = [
        ("/admin/v1/approvals", "post", "201", approval.clone()),
        (
            "/admin/v1/approvals",
            "get",
            "200",
            json!({"type": "object", "required": ["approvals"],
                   "properties": {"approvals": {"type": "array", "items": approval.clone()}}}),
        ),
        ("/admin/v1/approvals/{id}", "get", "200", approval.clone()),
        (
            "/admin/v1/approvals/{id}/status",
            "put",
            "200",
            approval.clone(),
        ),
        ("/catalogue/v1/objects/{id}/url", "get", "200", url.clone()),
        ("/catalogue/v1/objects/{id}/url", "post", "200", url.clone()),
        (
            "/catalogue/v1/datasets/{id}/participants",
            "get",
            "200",
            generator
                .subschema_for::<gemj_core::data::ServedParticipants>()
                .to_value(),
        ),
        (
            "/ingest/v1/{kind}",
            "post",
            "200",
            generator
                .subschema_for::<gemj_ingest::IngestReport>()
                .to_value(),
        ),
    ];
    for (path, method, status, schema) in answers {
        response_schema(doc, path, method, status, schema)?;
    }
    Ok(())
}

/// Beacon v2.2.0 declares three of its result-set operations (`POST /analyses`,
/// `GET`/`POST /biosamples/{id}/runs`) with a result-set response only, where every sibling
/// declares the boolean, count and result-set alternatives: a Beacon answers at the granularity
/// the caller may have, so those three get the siblings' alternatives too.
fn beacon_granularities(doc: &mut Value) {
    const RESPONSES: &str = "#/components/schemas/beacon-v2.framework.responses.";
    let resultsets = json!({"$ref": format!("{RESPONSES}beaconResultsetsResponse")});
    let alternatives = json!({"anyOf": [
        {"$ref": format!("{RESPONSES}beaconBooleanResponse")},
        {"$ref": format!("{RESPONSES}beaconCountResponse")},
        resultsets,
    ]});
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let beacon = paths
        .iter_mut()
        .filter(|(path, _)| path.starts_with(super::beacon::PREFIX))
        .filter_map(|(_, item)| item.as_object_mut());
    for item in beacon {
        for operation in item.values_mut() {
            if let Some(schema) =
                operation.pointer_mut("/responses/200/content/application~1json/schema")
                && *schema == resultsets
            {
                *schema = alternatives.clone();
            }
        }
    }
}

/// The request body of each of the gateway's own operations that reads JSON: the schema of the
/// type its handler parses the body into, generated from that type (schemars), so the
/// description and the parser cannot disagree.
fn request_bodies(
    doc: &mut Value,
    generator: &mut schemars::SchemaGenerator,
) -> Result<(), String> {
    let bodies = [
        (
            "/consent/v1/events",
            "post",
            generator.subschema_for::<gemj_model::ConsentEvent>(),
        ),
        (
            "/admin/v1/approvals",
            "post",
            generator.subschema_for::<gemj_model::Approval>(),
        ),
        (
            "/admin/v1/approvals/{id}/status",
            "put",
            generator.subschema_for::<approvals::StatusChange>(),
        ),
        (
            "/admin/v1/revocations",
            "post",
            generator.subschema_for::<revocations::NewRevocation>(),
        ),
        (
            "/recontact/v1/requests",
            "post",
            generator.subschema_for::<gemj_core::recontact::NewRequest>(),
        ),
        (
            "/recontact/v1/institutions/{id}/outcomes",
            "post",
            generator.subschema_for::<recontact::Outcomes>(),
        ),
        (
            "/catalogue/v1/objects/{id}/url",
            "post",
            generator.subschema_for::<data::UrlBody>(),
        ),
    ];
    for (path, method, schema) in bodies {
        let body = doc
            .pointer_mut(&format!(
                "/paths/{}/{method}/requestBody/content/application~1json",
                pointer_token(path)
            ))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("{method} {path} has no JSON request body"))?;
        body.insert("schema".to_owned(), schema.to_value());
    }
    Ok(())
}

/// A path as one JSON pointer token (RFC 6901).
fn pointer_token(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

/// A schemars generator whose definitions belong in `components/schemas`.
fn generator() -> schemars::SchemaGenerator {
    schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas/".into())
        .into_generator()
}

/// The document's `components`, created when missing.
fn components(doc: &mut Value) -> Result<&mut Map<String, Value>, String> {
    doc.as_object_mut()
        .ok_or("the document is not an object")?
        .entry("components")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| "components is not an object".to_owned())
}

/// Adds `entries` to the map at `object[key]`, keeping what is there.
fn merge(object: &mut Map<String, Value>, key: &str, entries: Map<String, Value>) {
    let target = object
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(target) = target {
        for (name, value) in entries {
            target.entry(name).or_insert(value);
        }
    }
}

/// The gateway's own endpoints answer every error as `application/problem+json` (RFC 9457):
/// utoipa writes `application/json` for a `Problem` body, so the media type is corrected here,
/// once, for every 4xx and 5xx response.
fn own_errors_as_problems(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let Some(content) = response.get_mut("content").and_then(Value::as_object_mut)
                else {
                    continue;
                };
                if let Some(body) = content.remove("application/json") {
                    content.insert("application/problem+json".to_owned(), body);
                }
            }
        }
    }
}

/// Registers the route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::get_resource("/openapi.json", openapi_json));
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "This OpenAPI 3.1 document.", content_type = "application/json"),
              (status = 500, description = "The document could not be built.", body = Problem)))]
pub async fn openapi_json() -> HttpResponse {
    match document() {
        Ok(doc) => HttpResponse::Ok().json(doc),
        Err(error) => {
            tracing::error!(message = "The OpenAPI document does not build.", error = %error);
            crate::error::Problem::internal("The OpenAPI document could not be built.").response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_inside_the_document() {
        let doc = document().expect("the document builds");
        let found = gemj_schemas::references(doc);
        assert!(found.len() > 100, "{} references", found.len());
        for reference in found {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{reference} leaves the document"));
            assert!(
                doc.pointer(pointer).is_some(),
                "{reference} resolves to nothing"
            );
        }
    }

    #[test]
    fn every_official_path_and_method_is_mounted() {
        let doc = document().expect("the document builds");
        let schemas = gemj_schemas::SchemaSet::embedded();
        let mut checked = 0;
        for (official, prefix, tag) in standard_mounts() {
            let source = schemas.document(&official).expect("shipped");
            for (path, item) in source["paths"].as_object().expect("paths") {
                let mounted = &doc["paths"][format!("{prefix}{path}")];
                for method in item.as_object().expect("item").keys() {
                    if matches!(
                        method.as_str(),
                        "get" | "post" | "put" | "delete" | "options"
                    ) {
                        let operation = &mounted[method];
                        assert!(
                            operation.is_object(),
                            "{tag}: {method} {prefix}{path} missing"
                        );
                        assert_eq!(operation["tags"], json!([tag]));
                        checked += 1;
                    }
                }
            }
        }
        // htsget: 6 operations; DRS 1.5: 10; Beacon v2.2.0: the framework's 7 and the entry
        // types' GET and POST.
        assert!(checked >= 60, "{checked} operations");
    }

    #[test]
    fn fhir_is_described_with_its_operations_and_outcomes() {
        let doc = document().expect("the document builds");
        let paths = doc["paths"].as_object().expect("paths");
        let operations = paths.keys().filter(|p| p.starts_with("/fhir/$")).count();
        assert_eq!(operations, gemj_fhir::genomics::OPERATIONS.len());
        let op = &paths["/fhir/$find-subject-variants"]["get"];
        let required: Vec<&str> = op["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter(|p| p["required"] == true)
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(required, ["subject", "ranges"]);
        assert_eq!(
            op["responses"]["422"]["content"]["application/fhir+json"]["schema"]["$ref"],
            "#/components/schemas/FhirOperationOutcome"
        );
        for path in [
            "/fhir/metadata",
            "/fhir/{type}",
            "/fhir/{type}/{id}",
            "/fhir",
        ] {
            assert!(paths.contains_key(path), "{path}");
        }
    }

    #[test]
    fn own_errors_are_problem_documents() {
        let doc = document().expect("the document builds");
        let consent = &doc["paths"]["/consent/v1/events"]["post"]["responses"];
        assert!(consent["400"]["content"]["application/problem+json"].is_object());
        assert!(consent["400"]["content"].get("application/json").is_none());
        let drs = &doc["paths"]["/ga4gh/drs/v1/objects/{object_id}"]["get"]["responses"];
        assert!(
            drs["200"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .is_some_and(|r| r == "#/components/schemas/drs.DrsObject")
        );
    }
}
