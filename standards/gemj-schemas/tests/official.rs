//! The official schemas compile with every `$ref` resolved offline, and known-good and known-bad
//! instances are told apart. Data-driven: one line per case.

mod common;

use common::{TestResult, pinned_paths, schemas};
use gemj_schemas::testing::error_chain as chain;
use gemj_schemas::{SchemaError, SchemaSet, docs};
use serde_json::{Value, json};

/// Sub-schemas (document, JSON pointer) that must compile.
const SUB_SCHEMAS: &[(&str, &str)] = &[
    (docs::SERVICE_INFO, "/components/schemas/Service"),
    (docs::SERVICE_INFO, "/components/schemas/ServiceType"),
    (docs::SERVICE_REGISTRY, "/components/schemas/Service"),
    (
        docs::SERVICE_REGISTRY,
        "/components/schemas/ExternalService",
    ),
    (docs::SERVICE_REGISTRY, "/components/schemas/ServiceType"),
    (docs::SERVICE_REGISTRY, "/components/schemas/Error"),
    (docs::HTSGET, "/components/schemas/htsgetResponseReads"),
    (docs::HTSGET, "/components/schemas/htsgetResponseVariants"),
    (docs::HTSGET, "/components/schemas/htsgetServiceInfo"),
    (docs::HTSGET, "/components/schemas/Error"),
    (docs::HTSGET, "/components/schemas/NotFoundError"),
    (docs::HTSGET, "/components/schemas/InvalidRangeError"),
    (docs::HTSGET, "/components/schemas/RequestBodyReads"),
    ("drs/openapi/components/schemas/DrsObject.yaml", ""),
    ("drs/openapi/components/schemas/AccessURL.yaml", ""),
    ("drs/openapi/components/schemas/AccessMethod.yaml", ""),
    ("drs/openapi/components/schemas/Error.yaml", ""),
    ("drs/openapi/components/schemas/DrsService.yaml", ""),
    ("drs/openapi/components/schemas/BulkAccessURL.yaml", ""),
    (docs::DRS_BUNDLED, "/components/schemas/DrsObject"),
    (docs::DRS_BUNDLED, "/components/schemas/AccessURL"),
    (docs::DRS_BUNDLED, "/components/schemas/Error"),
    (docs::DRS_BUNDLED, "/components/schemas/Service"),
    ("drs/bundled/openapi.json", "/components/schemas/DrsObject"),
    (docs::WES, "/components/schemas/ServiceInfo"),
    (docs::WES, "/components/schemas/RunLog"),
    (docs::WES, "/components/schemas/RunListResponse"),
    (docs::WES, "/components/schemas/RunStatus"),
    (docs::WES, "/components/schemas/ErrorResponse"),
    (docs::WES, "/components/schemas/TaskListResponse"),
    (docs::TES, "/components/schemas/tesServiceInfo"),
    (docs::TES, "/components/schemas/tesTask"),
    (docs::DATA_CONNECT, "/components/schemas/Service"),
    (docs::DATA_CONNECT, "/components/schemas/TableData"),
    (docs::DATA_CONNECT, "/components/schemas/ListTablesResponse"),
    (
        "beacon-v2/v2.2.0/framework/json/responses/beaconInfoResponse.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/responses/beaconResultsetsResponse.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/responses/beaconBooleanResponse.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/responses/beaconCountResponse.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/responses/beaconErrorResponse.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/responses/beaconMapResponse.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/responses/beaconConfigurationResponse.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/responses/beaconEntryTypesResponse.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/responses/beaconFilteringTermsResponse.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/responses/beaconCollectionsResponse.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/responses/ga4gh-service-info-1-0-0-schema.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/requests/beaconRequestBody.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/models/json/beacon-v2-default-model/genomicVariations/defaultSchema.json",
        "",
    ),
    (
        "beacon-v2/v2.2.0/models/json/beacon-v2-default-model/individuals/defaultSchema.json",
        "",
    ),
    (
        "beacon-v2/external/vrs-1.3.0/vrs.json",
        "/definitions/Allele",
    ),
];

/// OpenAPI operations (document, path, method, status) whose JSON response schema must compile.
const RESPONSES: &[(&str, &str, &str, &str)] = &[
    (docs::SERVICE_INFO, "/service-info", "get", "200"),
    (docs::SERVICE_REGISTRY, "/services", "get", "200"),
    (
        docs::SERVICE_REGISTRY,
        "/services/{serviceId}",
        "get",
        "200",
    ),
    (
        docs::SERVICE_REGISTRY,
        "/services/{serviceId}",
        "get",
        "404",
    ),
    (docs::SERVICE_REGISTRY, "/services/types", "get", "200"),
    (docs::SERVICE_REGISTRY, "/service-info", "GET", "200"),
    (docs::SERVICE_REGISTRY, "/services", "get", "418"),
    (docs::HTSGET, "/reads/{id}", "get", "200"),
    (docs::HTSGET, "/reads/{id}", "post", "200"),
    (docs::HTSGET, "/variants/{id}", "get", "200"),
    (docs::HTSGET, "/reads/{id}", "get", "404"),
    (docs::HTSGET, "/reads/{id}", "get", "400"),
    (docs::HTSGET, "/reads/service-info", "get", "200"),
    (docs::HTSGET, "/variants/service-info", "get", "200"),
    (docs::DRS, "/service-info", "get", "200"),
    (docs::DRS, "/objects/{object_id}", "get", "200"),
    (docs::DRS, "/objects/{object_id}", "post", "200"),
    (docs::DRS, "/objects/{object_id}", "get", "404"),
    (
        docs::DRS,
        "/objects/{object_id}/access/{access_id}",
        "get",
        "200",
    ),
    (docs::DRS, "/objects", "post", "200"),
    (docs::DRS_BUNDLED, "/service-info", "get", "200"),
    (docs::DRS_BUNDLED, "/objects/{object_id}", "get", "200"),
    (docs::WES, "/service-info", "get", "200"),
    (docs::WES, "/runs", "get", "200"),
    (docs::WES, "/runs/{run_id}", "get", "200"),
    (docs::WES, "/runs/{run_id}/status", "get", "200"),
    (docs::WES, "/runs/{run_id}", "get", "404"),
    (docs::TES, "/service-info", "get", "200"),
    (docs::TES, "/tasks/{id}", "get", "200"),
    (docs::DATA_CONNECT, "/service-info", "get", "200"),
    (docs::DATA_CONNECT, "/tables", "get", "200"),
    (
        "beacon-v2/v2.2.0/framework/json/endpoints.json",
        "/info",
        "get",
        "200",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/endpoints.json",
        "/map",
        "get",
        "200",
    ),
    (
        "beacon-v2/v2.2.0/framework/json/endpoints.json",
        "/info",
        "get",
        "404",
    ),
];

#[test]
fn every_listed_sub_schema_compiles_offline() -> TestResult {
    let set = schemas();
    let failures: Vec<String> = SUB_SCHEMAS
        .iter()
        .filter_map(|(doc, pointer)| {
            set.validator(doc, pointer)
                .err()
                .map(|e| format!("{doc}#{pointer}: {}", chain(&e)))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

#[test]
fn every_listed_response_schema_compiles_offline() -> TestResult {
    let set = schemas();
    let failures: Vec<String> = RESPONSES
        .iter()
        .filter_map(|(doc, path, method, status)| {
            set.openapi_response(doc, path, method, status)
                .err()
                .map(|e| format!("{doc} {method} {path} {status}: {}", chain(&e)))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

/// Every JSON Schema of Beacon v2.2.0 (framework and default model, examples and the OpenAPI
/// `endpoints.json` files aside) compiles.
#[test]
fn every_beacon_v2_2_schema_compiles_offline() -> TestResult {
    let set = schemas();
    let mut failures = Vec::new();
    let mut compiled = 0;
    for doc in SchemaSet::embedded_documents()
        .filter(|d| d.starts_with("beacon-v2/v2.2.0/") && d.ends_with(".json"))
    {
        if doc.contains("/examples") || doc.ends_with("endpoints.json") {
            continue;
        }
        compiled += 1;
        if let Err(e) = set.validator(doc, "") {
            failures.push(format!("{doc}: {}", chain(&e)));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(compiled >= 60, "only {compiled} Beacon schemas found");
    Ok(())
}

/// Every document the tests above load is in the pin list, so a change to it is noticed.
#[test]
fn every_tested_document_is_pinned() -> TestResult {
    let pinned = pinned_paths()?;
    let mut docs: Vec<&str> = SUB_SCHEMAS.iter().map(|(d, _)| *d).collect();
    docs.extend(RESPONSES.iter().map(|(d, ..)| *d));
    docs.extend(INSTANCES.iter().map(|c| c.doc));
    let missing: Vec<&&str> = docs
        .iter()
        .filter(|d| !pinned.iter().any(|p| p == *d))
        .collect();
    assert!(missing.is_empty(), "not pinned: {missing:?}");
    Ok(())
}

/// What a case checks: a sub-schema (pointer) or an OpenAPI response (path, method, status).
#[derive(Debug, Clone, Copy)]
enum Target {
    Pointer(&'static str),
    Response(&'static str, &'static str, &'static str),
}

#[derive(Debug)]
struct Case {
    doc: &'static str,
    target: Target,
    name: &'static str,
    valid: bool,
    /// For invalid cases: a fragment one of the messages must contain.
    message: &'static str,
}

const fn good(doc: &'static str, target: Target, name: &'static str) -> Case {
    Case {
        doc,
        target,
        name,
        valid: true,
        message: "",
    }
}

const fn bad(doc: &'static str, target: Target, name: &'static str, message: &'static str) -> Case {
    Case {
        doc,
        target,
        name,
        valid: false,
        message,
    }
}

const SERVICE: Target = Target::Pointer("/components/schemas/Service");
const SERVICES: Target = Target::Response("/services", "get", "200");
const TICKET: Target = Target::Response("/reads/{id}", "get", "200");
const HTSGET_404: Target = Target::Response("/reads/{id}", "get", "404");
const HTSGET_400: Target = Target::Response("/reads/{id}", "get", "400");
const HTSGET_INFO: Target = Target::Response("/reads/service-info", "get", "200");
const DRS_OBJECT: Target = Target::Response("/objects/{object_id}", "get", "200");
const DRS_ACCESS: Target =
    Target::Response("/objects/{object_id}/access/{access_id}", "get", "200");
const DRS_ERROR: Target = Target::Response("/objects/{object_id}", "get", "404");
const DRS_INFO: Target = Target::Response("/service-info", "get", "200");
const WHOLE: Target = Target::Pointer("");
const WES_RUN: Target = Target::Pointer("/components/schemas/RunLog");
const WES_INFO: Target = Target::Response("/service-info", "get", "200");
const WES_LIST: Target = Target::Pointer("/components/schemas/RunListResponse");

const B_INFO: &str = "beacon-v2/v2.2.0/framework/json/responses/beaconInfoResponse.json";
const B_BOOL: &str = "beacon-v2/v2.2.0/framework/json/responses/beaconBooleanResponse.json";
const B_COUNT: &str = "beacon-v2/v2.2.0/framework/json/responses/beaconCountResponse.json";
const B_ERROR: &str = "beacon-v2/v2.2.0/framework/json/responses/beaconErrorResponse.json";
const B_SETS: &str = "beacon-v2/v2.2.0/framework/json/responses/beaconResultsetsResponse.json";
const B_TYPES: &str = "beacon-v2/v2.2.0/framework/json/responses/beaconEntryTypesResponse.json";
const B_TERMS: &str = "beacon-v2/v2.2.0/framework/json/responses/beaconFilteringTermsResponse.json";
const B_MAP: &str = "beacon-v2/v2.2.0/framework/json/responses/beaconMapResponse.json";
const B_SI: &str = "beacon-v2/v2.2.0/framework/json/responses/ga4gh-service-info-1-0-0-schema.json";
const DRS_OBJ_FILE: &str = "drs/openapi/components/schemas/DrsObject.yaml";

const INSTANCES: &[Case] = &[
    good(docs::SERVICE_INFO, SERVICE, "service"),
    good(docs::SERVICE_INFO, SERVICE, "service-minimal"),
    good(docs::SERVICE_INFO, SERVICE, "service-with-extension"),
    bad(
        docs::SERVICE_INFO,
        SERVICE,
        "service-no-organization",
        "\"organization\" is a required property",
    ),
    bad(
        docs::SERVICE_INFO,
        SERVICE,
        "service-type-no-artifact",
        "\"artifact\" is a required property",
    ),
    bad(
        docs::SERVICE_INFO,
        SERVICE,
        "service-no-id",
        "\"id\" is a required property",
    ),
    bad(
        docs::SERVICE_INFO,
        SERVICE,
        "service-version-number",
        "/version",
    ),
    bad(
        docs::SERVICE_INFO,
        SERVICE,
        "service-organization-url-not-uri",
        "/organization/url",
    ),
    bad(
        docs::SERVICE_INFO,
        SERVICE,
        "service-created-at-not-date-time",
        "/createdAt",
    ),
    bad(docs::SERVICE_INFO, SERVICE, "service-not-object", "(root)"),
    good(docs::SERVICE_REGISTRY, SERVICE, "service"),
    good(docs::SERVICE_REGISTRY, SERVICES, "services"),
    good(docs::SERVICE_REGISTRY, SERVICES, "services-empty"),
    bad(
        docs::SERVICE_REGISTRY,
        SERVICES,
        "services-no-url",
        "\"url\" is a required property",
    ),
    bad(
        docs::SERVICE_REGISTRY,
        SERVICES,
        "services-entry-no-organization",
        "/0",
    ),
    bad(
        docs::SERVICE_REGISTRY,
        SERVICES,
        "services-not-array",
        "(root)",
    ),
    good(docs::HTSGET, TICKET, "ticket"),
    good(docs::HTSGET, TICKET, "ticket-data-uri"),
    bad(docs::HTSGET, TICKET, "ticket-format-sam", "/htsget/format"),
    bad(
        docs::HTSGET,
        TICKET,
        "ticket-no-urls",
        "\"urls\" is a required property",
    ),
    bad(
        docs::HTSGET,
        TICKET,
        "ticket-class-middle",
        "/htsget/urls/0/class",
    ),
    good(docs::HTSGET, HTSGET_404, "htsget-error"),
    bad(
        docs::HTSGET,
        HTSGET_404,
        "htsget-error-no-message",
        "\"message\" is a required property",
    ),
    // A defect of the htsget OpenAPI file: the 400 response is `oneOf` three schemas that differ
    // only in examples, so every body matches all three and none validates.
    bad(docs::HTSGET, HTSGET_400, "htsget-error", "oneOf"),
    good(docs::HTSGET, HTSGET_INFO, "htsget-service-info"),
    bad(
        docs::HTSGET,
        HTSGET_INFO,
        "htsget-service-info-artifact-drs",
        "/type/artifact",
    ),
    good(docs::DRS, DRS_OBJECT, "drs-object"),
    bad(
        docs::DRS,
        DRS_OBJECT,
        "drs-object-no-checksums",
        "/checksums",
    ),
    bad(docs::DRS, DRS_OBJECT, "drs-object-size-text", "/size"),
    bad(
        docs::DRS,
        DRS_OBJECT,
        "drs-object-access-type-http",
        "/access_methods/0/type",
    ),
    bad(
        docs::DRS,
        DRS_OBJECT,
        "drs-object-created-yesterday",
        "/created_time",
    ),
    good(docs::DRS_BUNDLED, DRS_OBJECT, "drs-object"),
    bad(
        docs::DRS_BUNDLED,
        DRS_OBJECT,
        "drs-object-no-checksums",
        "/checksums",
    ),
    good(DRS_OBJ_FILE, WHOLE, "drs-object"),
    bad(DRS_OBJ_FILE, WHOLE, "drs-object-size-text", "/size"),
    good(docs::DRS, DRS_ACCESS, "drs-access-url"),
    bad(
        docs::DRS,
        DRS_ACCESS,
        "drs-access-url-no-url",
        "\"url\" is a required property",
    ),
    good(docs::DRS, DRS_ERROR, "drs-error"),
    bad(
        docs::DRS,
        DRS_ERROR,
        "drs-error-status-text",
        "/status_code",
    ),
    good(docs::DRS, DRS_INFO, "drs-service-info"),
    bad(
        docs::DRS,
        DRS_INFO,
        "drs-service-info-artifact-htsget",
        "/type/artifact",
    ),
    bad(
        docs::DRS,
        DRS_INFO,
        "drs-service-info-no-organization",
        "\"organization\" is a required property",
    ),
    good(docs::DRS_BUNDLED, DRS_INFO, "drs-service-info"),
    good(docs::WES, WES_RUN, "wes-run-log"),
    good(docs::WES, WES_RUN, "wes-run-log-null-task-logs"),
    bad(docs::WES, WES_RUN, "wes-run-log-state-done", "/state"),
    bad(
        docs::WES,
        WES_RUN,
        "wes-run-log-task-logs-text",
        "/task_logs",
    ),
    good(docs::WES, WES_INFO, "wes-service-info"),
    bad(
        docs::WES,
        WES_INFO,
        "wes-service-info-no-tags",
        "\"tags\" is a required property",
    ),
    good(docs::WES, WES_LIST, "wes-run-list"),
    good(B_INFO, WHOLE, "beacon-info"),
    bad(
        B_INFO,
        WHOLE,
        "beacon-info-no-organization",
        "\"organization\" is a required property",
    ),
    good(B_BOOL, WHOLE, "beacon-boolean"),
    bad(
        B_BOOL,
        WHOLE,
        "beacon-boolean-no-granularity",
        "\"returnedGranularity\" is a required property",
    ),
    bad(
        B_BOOL,
        WHOLE,
        "beacon-boolean-exists-text",
        "/responseSummary/exists",
    ),
    good(B_COUNT, WHOLE, "beacon-count"),
    good(B_COUNT, WHOLE, "beacon-count-rounded"),
    bad(
        B_COUNT,
        WHOLE,
        "beacon-count-negative",
        "/responseSummary/numTotalResults",
    ),
    bad(
        B_COUNT,
        WHOLE,
        "beacon-count-precision-fuzzy",
        "/responseSummary/countPrecision",
    ),
    good(B_ERROR, WHOLE, "beacon-error"),
    bad(
        B_ERROR,
        WHOLE,
        "beacon-error-no-code",
        "\"errorCode\" is a required property",
    ),
    good(B_SETS, WHOLE, "beacon-resultsets"),
    bad(
        B_SETS,
        WHOLE,
        "beacon-resultsets-no-set-type",
        "\"setType\" is a required property",
    ),
    good(B_TYPES, WHOLE, "beacon-entry-types"),
    good(B_TERMS, WHOLE, "beacon-filtering-terms"),
    bad(
        B_TERMS,
        WHOLE,
        "beacon-filtering-terms-no-type",
        "\"type\" is a required property",
    ),
    good(B_MAP, WHOLE, "beacon-map"),
    good(B_SI, WHOLE, "service"),
    bad(
        B_SI,
        WHOLE,
        "service-type-no-artifact",
        "\"artifact\" is a required property",
    ),
];

#[test]
fn known_good_instances_pass_and_known_bad_fail() -> TestResult {
    let set = schemas();
    let mut failures = Vec::new();
    for case in INSTANCES {
        let what = format!("{} {:?} {}", case.doc, case.target, case.name);
        let validator = match case.target {
            Target::Pointer(pointer) => set.validator(case.doc, pointer),
            Target::Response(path, method, status) => {
                set.openapi_response(case.doc, path, method, status)
            }
        };
        let validator = match validator {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{what}: does not compile: {}", chain(&e)));
                continue;
            }
        };
        let result = validator.validate(&instance(case.name)?);
        match (case.valid, result) {
            (true, Ok(())) => {}
            (true, Err(errors)) => failures.push(format!("{what}: rejected: {errors:#?}")),
            (false, Ok(())) => failures.push(format!("{what}: accepted")),
            (false, Err(errors)) => {
                if !errors.iter().any(|e| e.contains(case.message)) {
                    failures.push(format!(
                        "{what}: no message contains {:?}: {errors:#?}",
                        case.message
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

#[test]
fn errors_name_what_is_wrong() -> TestResult {
    let set = schemas();
    let check = |result: Result<gemj_schemas::Validator, SchemaError>, expect: &str| {
        let message = match result {
            Ok(v) => format!("compiled {}", v.location()),
            Err(e) => chain(&e),
        };
        assert!(message.contains(expect), "{message:?} lacks {expect:?}");
    };
    check(set.validator("no/such.yaml", ""), "cannot read");
    check(
        set.validator("../outside.json", ""),
        "not a schema document",
    );
    check(
        set.validator("htsget/htsget.md", ""),
        "not a schema document",
    );
    check(
        set.validator(docs::SERVICE_INFO, "/components/schemas/Nope"),
        "no value at JSON pointer",
    );
    check(
        set.validator(docs::SERVICE_INFO, "/openapi"),
        "cannot compile the schema at service-info/service-info.yaml#/openapi",
    );
    check(
        set.validator(docs::SERVICE_INFO, "components"),
        "no value at JSON pointer",
    );
    check(
        set.openapi_response(docs::HTSGET, "/nope", "get", "200"),
        "has no operation get /nope",
    );
    check(
        set.openapi_response(docs::HTSGET, "/reads/{id}", "delete", "200"),
        "has no operation delete",
    );
    check(
        set.openapi_response(docs::SERVICE_INFO, "/service-info", "get", "404"),
        "has no 404 response",
    );
    check(
        set.service_info(),
        "service-info/service-info.yaml#/components/schemas/Service",
    );
    check(
        set.service_registry_services(),
        "service-registry.yaml#/paths/",
    );
    Ok(())
}

#[test]
fn validate_reports_path_and_message() -> TestResult {
    let set = schemas();
    let errors = set
        .validate(
            docs::SERVICE_INFO,
            "/components/schemas/Service",
            &instance("service-type-no-artifact")?,
        )
        .err()
        .unwrap_or_default();
    assert_eq!(errors, ["/type: \"artifact\" is a required property"]);
    let errors = set
        .validate(docs::SERVICE_INFO, "/nope", &json!({}))
        .err()
        .unwrap_or_default();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("no value at JSON pointer"), "{errors:?}");
    Ok(())
}

#[test]
fn fhir_r4_patient_compiles_and_validates() -> TestResult {
    let set = schemas();
    let patient = set.validator(docs::FHIR_R4, "/definitions/Patient")?;
    assert!(patient.is_valid(&json!({"resourceType": "Patient", "id": "p1", "gender": "female"})));
    assert!(!patient.is_valid(&json!({"resourceType": "Patient", "gender": "M"})));
    assert!(!patient.is_valid(&json!({"resourceType": "Patient", "unknownElement": 1})));
    Ok(())
}

/// The instances, by name.
fn instance(name: &str) -> Result<Value, String> {
    let service = json!({
        "id": "org.example.gateway",
        "name": "Example gateway",
        "type": {"group": "org.ga4gh", "artifact": "service-registry", "version": "1.0.0"},
        "description": "A synthetic service for tests.",
        "organization": {"name": "Example Organization", "url": "https://example.org"},
        "contactUrl": "mailto:support@example.org",
        "documentationUrl": "https://docs.example.org",
        "createdAt": "2025-01-01T00:00:00Z",
        "updatedAt": "2025-06-01T12:30:00+09:00",
        "environment": "test",
        "version": "0.1.0"
    });
    let with = |base: &Value, pointer: &str, value: Value| -> Result<Value, String> {
        let mut out = base.clone();
        let (parent, key) = pointer.rsplit_once('/').ok_or("bad pointer")?;
        let target = out.pointer_mut(parent).ok_or("no parent")?;
        match target {
            Value::Object(map) if value.is_null() => {
                map.remove(key);
            }
            Value::Object(map) => {
                map.insert(key.to_owned(), value);
            }
            _ => return Err(format!("{pointer}: parent is not an object")),
        }
        Ok(out)
    };
    let drs_service = {
        let mut s = with(&service, "/type/artifact", json!("drs"))?;
        s = with(&s, "/maxBulkRequestLength", json!(100))?;
        with(
            &s,
            "/drs",
            json!({"maxBulkRequestLength": 100, "objectCount": 2, "totalObjectSize": 300}),
        )?
    };
    let drs_object = json!({
        "id": "obj-1",
        "self_uri": "drs://drs.example.org/obj-1",
        "size": 1234,
        "created_time": "2025-01-01T00:00:00Z",
        "checksums": [{"checksum": "e3b0c44298fc1c149afbf4c8996fb924", "type": "sha-256"}],
        "access_methods": [{"type": "https", "access_id": "a1"}]
    });
    let ticket = json!({"htsget": {"format": "BAM", "urls": [
        {"url": "https://data.example.org/reads/1?part=1", "headers": {"Range": "bytes=0-1023"}, "class": "header"},
        {"url": "https://data.example.org/reads/1?part=2", "class": "body"}
    ]}});
    let wes_run = json!({
        "run_id": "run-1",
        "request": {"workflow_params": {}, "workflow_type": "CWL", "workflow_type_version": "v1.2", "workflow_url": "wf.cwl"},
        "state": "COMPLETE",
        "run_log": {"name": "wf", "start_time": "2025-01-01T00:00:00Z", "exit_code": 0},
        "task_logs_url": "https://example.org/ga4gh/wes/v1/runs/run-1/tasks",
        "outputs": {}
    });
    let wes_service = {
        let mut s = with(&service, "/type/artifact", json!("wes"))?;
        for (key, value) in [
            (
                "workflow_type_versions",
                json!({"CWL": {"workflow_type_version": ["v1.2"]}}),
            ),
            ("supported_wes_versions", json!(["1.1.0"])),
            ("supported_filesystem_protocols", json!(["file", "drs"])),
            (
                "workflow_engine_versions",
                json!({"cwltool": {"workflow_engine_version": ["3.1"]}}),
            ),
            ("default_workflow_engine_parameters", json!([])),
            ("system_state_counts", json!({"RUNNING": 0, "COMPLETE": 3})),
            ("auth_instructions_url", json!("https://example.org/auth")),
            ("tags", json!({})),
        ] {
            s = with(&s, &format!("/{key}"), value)?;
        }
        s
    };
    let summary = json!({
        "apiVersion": "v2.2.0",
        "requestedSchemas": [],
        "pagination": {"skip": 0, "limit": 10},
        "requestedGranularity": "count"
    });
    let beacon_meta = json!({
        "beaconId": "org.example.beacon",
        "apiVersion": "v2.2.0",
        "returnedSchemas": [{"entityType": "genomicVariation", "schema": "beacon-g_variant-v2.2.0"}],
        "returnedGranularity": "count",
        "receivedRequestSummary": summary
    });
    let info_meta = json!({
        "beaconId": "org.example.beacon",
        "apiVersion": "v2.2.0",
        "returnedSchemas": []
    });
    let beacon_count = json!({
        "meta": beacon_meta,
        "responseSummary": {"exists": true, "numTotalResults": 12}
    });
    let beacon_boolean = json!({"meta": with(&beacon_meta, "/returnedGranularity", json!("boolean"))?, "responseSummary": {"exists": false}});
    let beacon_info = json!({
        "meta": info_meta,
        "response": {
            "id": "org.example.beacon",
            "name": "Example beacon",
            "apiVersion": "v2.2.0",
            "environment": "test",
            "organization": {"id": "org.example", "name": "Example Organization"}
        }
    });
    let resultsets = json!({
        "meta": with(&beacon_meta, "/returnedGranularity", json!("record"))?,
        "responseSummary": {"exists": true, "numTotalResults": 1},
        "response": {"resultSets": [{"id": "dataset-1", "setType": "dataset", "exists": true, "resultsCount": 1, "results": [{"id": "v1"}]}]}
    });
    let terms = json!({
        "meta": info_meta,
        "response": {"filteringTerms": [{"type": "ontologyTerm", "id": "HP:0000118", "scopes": ["individual"]}]}
    });
    Ok(match name {
        "service" => service,
        "service-minimal" => json!({
            "id": "x", "name": "x", "version": "1",
            "type": {"group": "org.ga4gh", "artifact": "drs", "version": "1.5.0"},
            "organization": {"name": "o", "url": "https://o.example"}
        }),
        "service-with-extension" => with(&service, "/extra", json!({"anything": [1, 2]}))?,
        "service-no-organization" => with(&service, "/organization", Value::Null)?,
        "service-type-no-artifact" => with(&service, "/type/artifact", Value::Null)?,
        "service-no-id" => with(&service, "/id", Value::Null)?,
        "service-version-number" => with(&service, "/version", json!(1))?,
        "service-organization-url-not-uri" => {
            with(&service, "/organization/url", json!("example dot org"))?
        }
        "service-created-at-not-date-time" => with(&service, "/createdAt", json!("yesterday"))?,
        "service-not-object" => json!(["service"]),
        "services" => json!([
            with(&service, "/url", json!("https://gateway.example.org"))?,
            with(
                &drs_service,
                "/url",
                json!("https://gateway.example.org/ga4gh/drs/v1")
            )?
        ]),
        "services-empty" => json!([]),
        "services-no-url" => json!([service]),
        "services-entry-no-organization" => json!([with(
            &with(&service, "/url", json!("https://x.example"))?,
            "/organization",
            Value::Null
        )?]),
        "services-not-array" => with(&service, "/url", json!("https://x.example"))?,
        "ticket" => ticket,
        "ticket-data-uri" => {
            json!({"htsget": {"format": "BAM", "urls": [{"url": "data:application/vnd.ga4gh.bam;base64,QkFN"}]}})
        }
        "ticket-format-sam" => with(&ticket, "/htsget/format", json!("SAM"))?,
        "ticket-no-urls" => with(&ticket, "/htsget/urls", Value::Null)?,
        "ticket-class-middle" => with(&ticket, "/htsget/urls/0/class", json!("middle"))?,
        "htsget-error" => json!({"htsget": {"error": "NotFound", "message": "No such id"}}),
        "htsget-error-no-message" => json!({"htsget": {"error": "NotFound"}}),
        "htsget-service-info" => with(
            &with(&service, "/type/artifact", json!("htsget"))?,
            "/htsget",
            json!({"datatype": "reads", "formats": ["BAM", "CRAM"], "fieldsParameterEffective": false, "tagsParametersEffective": false}),
        )?,
        "htsget-service-info-artifact-drs" => with(&service, "/type/artifact", json!("drs"))?,
        "drs-object" => drs_object,
        "drs-object-no-checksums" => with(&drs_object, "/checksums", json!([]))?,
        "drs-object-size-text" => with(&drs_object, "/size", json!("big"))?,
        "drs-object-access-type-http" => {
            with(&drs_object, "/access_methods/0/type", json!("http"))?
        }
        "drs-object-created-yesterday" => with(&drs_object, "/created_time", json!("yesterday"))?,
        "drs-access-url" => {
            json!({"url": "https://data.example.org/obj-1", "headers": ["Authorization: Bearer x"]})
        }
        "drs-access-url-no-url" => json!({"headers": []}),
        "drs-error" => json!({"msg": "No such object", "status_code": 404}),
        "drs-error-status-text" => json!({"msg": "No such object", "status_code": "404"}),
        "drs-service-info" => drs_service,
        "drs-service-info-artifact-htsget" => {
            with(&drs_service, "/type/artifact", json!("htsget"))?
        }
        "drs-service-info-no-organization" => with(&drs_service, "/organization", Value::Null)?,
        "wes-run-log" => wes_run,
        "wes-run-log-null-task-logs" => {
            with(&wes_run, "/task_logs", Value::Null).and_then(|v| {
                let mut v = v;
                v.as_object_mut()
                    .ok_or("not an object")?
                    .insert("task_logs".to_owned(), Value::Null);
                Ok::<_, String>(v)
            })?
        }
        "wes-run-log-state-done" => with(&wes_run, "/state", json!("DONE"))?,
        "wes-run-log-task-logs-text" => with(&wes_run, "/task_logs", json!("none"))?,
        "wes-service-info" => wes_service,
        "wes-service-info-no-tags" => with(&wes_service, "/tags", Value::Null)?,
        "wes-run-list" => {
            json!({"runs": [{"run_id": "run-1", "state": "RUNNING"}], "next_page_token": ""})
        }
        "beacon-info" => beacon_info,
        "beacon-info-no-organization" => with(&beacon_info, "/response/organization", Value::Null)?,
        "beacon-boolean" => beacon_boolean,
        "beacon-boolean-no-granularity" => {
            with(&beacon_boolean, "/meta/returnedGranularity", Value::Null)?
        }
        "beacon-boolean-exists-text" => {
            with(&beacon_boolean, "/responseSummary/exists", json!("yes"))?
        }
        "beacon-count" => beacon_count,
        "beacon-count-rounded" => with(
            &with(
                &beacon_count,
                "/responseSummary/countPrecision",
                json!("rounded"),
            )?,
            "/responseSummary/countAdjustedTo",
            json!([10]),
        )?,
        "beacon-count-negative" => {
            with(&beacon_count, "/responseSummary/numTotalResults", json!(-1))?
        }
        "beacon-count-precision-fuzzy" => with(
            &beacon_count,
            "/responseSummary/countPrecision",
            json!("fuzzy"),
        )?,
        "beacon-error" => {
            json!({"meta": beacon_meta, "error": {"errorCode": 400, "errorMessage": "Missing `start`."}})
        }
        "beacon-error-no-code" => json!({"meta": beacon_meta, "error": {"errorMessage": "?"}}),
        "beacon-resultsets" => resultsets,
        "beacon-resultsets-no-set-type" => {
            with(&resultsets, "/response/resultSets/0/setType", Value::Null)?
        }
        "beacon-entry-types" => json!({
            "meta": info_meta,
            "response": {"entryTypes": {"genomicVariation": {
                "id": "genomicVariation",
                "name": "Genomic variation",
                "ontologyTermForThisType": {"id": "ENSGLOSSARY:0000092", "label": "Variant"},
                "partOfSpecification": "Beacon v2.2.0",
                "defaultSchema": {"id": "beacon-g_variant-v2.2.0", "name": "Default schema for genomic variations", "referenceToSchemaDefinition": "./genomicVariations/defaultSchema.json", "schemaVersion": "v2.2.0"}
            }}}
        }),
        "beacon-filtering-terms" => terms,
        "beacon-filtering-terms-no-type" => {
            with(&terms, "/response/filteringTerms/0/type", Value::Null)?
        }
        "beacon-map" => json!({
            "meta": info_meta,
            "response": {"$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/configuration/beaconMapSchema.json", "endpointSets": {
                "genomicVariation": {"entryType": "genomicVariation", "rootUrl": "https://example.org/beacon/g_variants"}
            }}
        }),
        other => return Err(format!("no instance named {other}")),
    })
}

/// The shipped folder (`SchemaSet::open_folder`) and the shared folder's schemas
/// (`SchemaSet::open`, when there is one) validate as the embedded set does.
#[test]
fn folders_validate_as_the_embedded_set_does() -> TestResult {
    let embedded = schemas();
    assert!(embedded.is_embedded());
    let shipped =
        SchemaSet::open_folder(&gemj_schemas::testing::workspace_dir().join("schemas/official"))?;
    assert!(!shipped.is_embedded());
    let service = instance("service")?;
    let mut broken = service.clone();
    broken["type"] = json!("not an object");
    assert!(embedded.service_info()?.is_valid(&service));
    assert!(!embedded.service_info()?.is_valid(&broken));
    assert!(shipped.service_info()?.is_valid(&service));
    assert!(!shipped.service_info()?.is_valid(&broken));
    let Some(shared) = gemj_schemas::testing::shared_dir()? else {
        return Ok(());
    };
    let again = SchemaSet::open(&shared)?;
    assert!(!again.is_embedded());
    assert!(again.schemas_dir().ends_with("schemas"));
    assert!(again.service_info()?.is_valid(&service));
    assert!(!again.service_info()?.is_valid(&broken));
    Ok(())
}
