//! The `beacon` suite: GA4GH Beacon v2.2.0. The Beacon is found through the service registry
//! (`GET /services`, the entry whose `type.artifact` is `beacon`), else at `/beacon/v2`. Every
//! informational endpoint, every entry type's collection endpoint (at whatever granularity an
//! anonymous caller gets), a malformed query and an unknown endpoint are checked against the
//! official v2.2.0 response schemas; records and collections against the default model.

use gemj_schemas::{SchemaError, SchemaSet, Validator};
use serde_json::Value;

use crate::suite::{Check, Context, Findings};

/// Where the official Beacon v2.2.0 framework responses live under `schemas/`.
const RESPONSES: &str = "beacon-v2/v2.2.0/framework/json/responses";
/// The default model.
const MODELS: &str = "beacon-v2/v2.2.0/models/json/beacon-v2-default-model";
/// Where a Beacon is looked for when the registry lists none.
const DEFAULT_ROOT: &str = "/beacon/v2";

/// The checks, in run order.
pub(crate) const CHECKS: &[Check] = &[
    Check {
        name: "beacon-informational",
        run: informational,
    },
    Check {
        name: "beacon-entry-types",
        run: entry_types,
    },
    Check {
        name: "beacon-error-invalid-range",
        run: |cx, f| {
            f.outcome(error_answer(
                cx,
                "/g_variants?referenceName=1&start=200&end=100",
                400,
            ));
        },
    },
    Check {
        name: "beacon-error-unknown-endpoint",
        run: |cx, f| f.outcome(error_answer(cx, "/no_such_entry_type", 404)),
    },
    Check {
        name: "beacon-post-requires-meta",
        run: |cx, f| f.outcome(post_without_meta(cx)),
    },
    Check {
        name: "beacon-errors-do-not-echo-input",
        run: |cx, f| f.outcome(errors_do_not_echo(cx)),
    },
    Check {
        name: "beacon-variant-type-vocabulary",
        run: variant_types,
    },
    Check {
        name: "beacon-info-agrees-with-service-info",
        run: |cx, f| f.outcome(environment_agrees(cx)),
    },
    Check {
        name: "beacon-datasets-granularity",
        run: datasets_granularity,
    },
];

/// A marker no server has a reason to send back unless it repeats the caller's input.
const ECHO_MARKER: &str = "ZQXgemjEchoMarker";

/// `variantType` terms a beacon should accept: the Beacon words and their Sequence Ontology and
/// EFO ids.
const VARIANT_TYPES: &[&str] = &[
    "SNP",
    "MNP",
    "INDEL",
    "DEL",
    "INS",
    "DUP",
    "INV",
    "CNV",
    "SO:0001483",
    "SO:0000159",
    "SO:0000667",
    "SO:1000035",
    "EFO:0030067",
    "EFO:0030070",
];

/// The response documents this suite validates against.
const DOCS: &[&str] = &[
    "beaconInfoResponse",
    "beaconConfigurationResponse",
    "beaconMapResponse",
    "beaconEntryTypesResponse",
    "beaconFilteringTermsResponse",
    "beaconBooleanResponse",
    "beaconCountResponse",
    "beaconResultsetsResponse",
    "beaconCollectionsResponse",
    "beaconErrorResponse",
];

/// Compiles the schemas of this suite.
pub(crate) fn preflight(schemas: &SchemaSet) -> Result<(), SchemaError> {
    for doc in DOCS {
        schemas.validator(&format!("{RESPONSES}/{doc}.json"), "")?;
    }
    Ok(())
}

/// The Beacon's root URL: the registry's `beacon` entry, else `<base>/beacon/v2`.
fn root(cx: &Context<'_>) -> String {
    let listed = cx
        .get(&cx.url("/services"))
        .ok()
        .filter(|f| f.status == 200)
        .and_then(|f| f.json().ok())
        .and_then(|body| {
            body.as_array()?.iter().find_map(|s| {
                (s.pointer("/type/artifact").and_then(Value::as_str) == Some("beacon"))
                    .then(|| s.get("url").and_then(Value::as_str).map(str::to_owned))
                    .flatten()
            })
        });
    listed.map_or_else(
        || cx.url(DEFAULT_ROOT),
        |u| u.trim_end_matches('/').to_owned(),
    )
}

fn validate(cx: &Context<'_>, doc: &str, body: &Value) -> Result<(), String> {
    let path = format!("{RESPONSES}/{doc}.json");
    let validator: Validator = cx
        .schemas()
        .validator(&path, "")
        .map_err(|e| format!("setup: {doc} does not compile: {e}"))?;
    validator
        .validate(body)
        .map_err(|errors| format!("not a valid {doc}: {}", errors.join("; ")))
}

fn model(doc: &Value) -> &'static str {
    match doc
        .pointer("/meta/returnedSchemas/0/entityType")
        .and_then(Value::as_str)
    {
        Some("individual") => "individuals",
        Some("biosample") => "biosamples",
        Some("genomicVariant") => "genomicVariations",
        Some("analysis") => "analyses",
        Some("run") => "runs",
        Some("cohort") => "cohorts",
        _ => "datasets",
    }
}

/// Validates the records of a result-set answer and the entries of a collections answer
/// against the default model.
fn records_valid(cx: &Context<'_>, body: &Value) -> Result<usize, String> {
    let doc = format!("{MODELS}/{}/defaultSchema.json", model(body));
    let validator = cx
        .schemas()
        .validator(&doc, "")
        .map_err(|e| format!("setup: {doc} does not compile: {e}"))?;
    let mut n = 0;
    let sets = body
        .pointer("/response/resultSets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|s| s["results"].as_array().into_iter().flatten());
    let collections = body
        .pointer("/response/collections")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for record in sets.chain(collections) {
        validator
            .validate(record)
            .map_err(|errors| format!("a record is not valid: {}", errors.join("; ")))?;
        n += 1;
    }
    Ok(n)
}

fn fetch_json(cx: &Context<'_>, url: &str) -> Result<(u16, Value), String> {
    let fetched = cx.get(url)?;
    if !fetched.is_json() {
        return Err(format!(
            "GET {url}: Content-Type {}, expected JSON",
            fetched.content_type_text()
        ));
    }
    Ok((fetched.status, fetched.json()?))
}

fn informational(cx: &Context<'_>, findings: &mut Findings) {
    let root = root(cx);
    for (path, doc) in [
        ("/info", "beaconInfoResponse"),
        ("/configuration", "beaconConfigurationResponse"),
        ("/map", "beaconMapResponse"),
        ("/entry_types", "beaconEntryTypesResponse"),
        ("/filtering_terms", "beaconFilteringTermsResponse"),
    ] {
        let url = format!("{root}{path}");
        let outcome = fetch_json(cx, &url).and_then(|(status, body)| {
            if status != 200 {
                return Err(format!("GET {url} answered {status}"));
            }
            validate(cx, doc, &body).map(|()| format!("GET {url}: a valid {doc}"))
        });
        findings.record_outcome(format!("beacon{path}"), outcome);
    }
}

/// Every entry type the beacon's `/entry_types` lists, as a collection endpoint.
fn entry_types(cx: &Context<'_>, findings: &mut Findings) {
    let root = root(cx);
    let map = match fetch_json(cx, &format!("{root}/map")) {
        Ok((200, body)) => body,
        Ok((status, _)) => return findings.fail(format!("GET {root}/map answered {status}")),
        Err(e) => return findings.fail(e),
    };
    let Some(sets) = map
        .pointer("/response/endpointSets")
        .and_then(Value::as_object)
    else {
        return findings.fail("the map has no endpointSets");
    };
    if sets.is_empty() {
        return findings.fail("the map lists no entry type");
    }
    for (name, set) in sets {
        let Some(url) = set.get("rootUrl").and_then(Value::as_str) else {
            findings.record(format!("entry:{name}"), false, "no rootUrl".to_owned());
            continue;
        };
        let outcome = fetch_json(cx, url).and_then(|(status, body)| {
            if status == 400 {
                // An entry type that needs query parameters (g_variants) answers a valid error.
                return validate(cx, "beaconErrorResponse", &body)
                    .map(|()| format!("GET {url}: 400, a valid beaconErrorResponse"));
            }
            if status != 200 {
                return Err(format!("GET {url} answered {status}"));
            }
            let doc = if body.pointer("/response/collections").is_some() {
                "beaconCollectionsResponse"
            } else {
                match body
                    .pointer("/meta/returnedGranularity")
                    .and_then(Value::as_str)
                {
                    Some("record") => "beaconResultsetsResponse",
                    Some("count") => "beaconCountResponse",
                    _ => "beaconBooleanResponse",
                }
            };
            validate(cx, doc, &body)?;
            let n = records_valid(cx, &body)?;
            Ok(format!("GET {url}: a valid {doc} ({n} records checked)"))
        });
        findings.record_outcome(format!("entry:{name}"), outcome);
    }
}

fn error_answer(cx: &Context<'_>, path: &str, expect: u16) -> Result<String, String> {
    let url = format!("{}{path}", root(cx));
    let (status, body) = fetch_json(cx, &url)?;
    if status != expect {
        return Err(format!("GET {url} answered {status}, expected {expect}"));
    }
    validate(cx, "beaconErrorResponse", &body)?;
    match body.pointer("/error/errorCode").and_then(Value::as_u64) {
        Some(code) if code == u64::from(expect) => {
            Ok(format!("GET {url}: {expect}, a valid beaconErrorResponse"))
        }
        other => Err(format!("errorCode {other:?}, expected {expect}")),
    }
}

/// A POST body without `meta` is not a beaconRequestBody (`meta` is required): a 400 in the
/// Beacon error format.
fn post_without_meta(cx: &Context<'_>) -> Result<String, String> {
    let url = format!("{}/individuals", root(cx));
    let fetched = cx.post(&url, &serde_json::json!({"query": {}}))?;
    let body = fetched.json()?;
    if fetched.status != 400 {
        return Err(format!(
            "POST {url} without meta answered {}",
            fetched.status
        ));
    }
    validate(cx, "beaconErrorResponse", &body)?;
    Ok(format!(
        "POST {url} without meta: 400, a valid beaconErrorResponse"
    ))
}

/// An unknown parameter and a malformed value: 400s whose bodies do not repeat what was sent.
fn errors_do_not_echo(cx: &Context<'_>) -> Result<String, String> {
    let root = root(cx);
    for path in [
        format!("/g_variants?{ECHO_MARKER}=1"),
        format!("/g_variants?referenceName=1&start={ECHO_MARKER}&end=10"),
    ] {
        let url = format!("{root}{path}");
        let fetched = cx.get(&url)?;
        if fetched.status != 400 {
            return Err(format!(
                "GET {url} answered {}, expected 400",
                fetched.status
            ));
        }
        if String::from_utf8_lossy(&fetched.body).contains(ECHO_MARKER) {
            return Err(format!("GET {url}: the error repeats the caller's input"));
        }
        validate(cx, "beaconErrorResponse", &fetched.json()?)?;
    }
    Ok("unknown parameters and malformed values: 400s that repeat nothing".to_owned())
}

/// Every `variantType` of [`VARIANT_TYPES`] is accepted (a valid answer), one this beacon does
/// not know is a Beacon 400.
fn variant_types(cx: &Context<'_>, findings: &mut Findings) {
    let root = root(cx);
    for term in VARIANT_TYPES {
        let url =
            format!("{root}/g_variants?referenceName=1&start=0&end=100000&variantType={term}");
        let outcome = fetch_json(cx, &url).and_then(|(status, body)| {
            if status != 200 {
                return Err(format!("GET {url} answered {status}"));
            }
            let doc = match body
                .pointer("/meta/returnedGranularity")
                .and_then(Value::as_str)
            {
                Some("boolean") => "beaconBooleanResponse",
                Some("count") => "beaconCountResponse",
                _ => "beaconResultsetsResponse",
            };
            validate(cx, doc, &body).map(|()| format!("{term}: a valid {doc}"))
        });
        findings.record_outcome(format!("beacon-variant-type {term}"), outcome);
    }
    findings.outcome(error_answer(
        cx,
        "/g_variants?referenceName=1&start=0&end=100000&variantType=NOT-A-VARIANT-TYPE",
        400,
    ));
}

/// `/info` and the beacon's `/service-info` state the same environment.
fn environment_agrees(cx: &Context<'_>) -> Result<String, String> {
    let root = root(cx);
    let (_, info) = fetch_json(cx, &format!("{root}/info"))?;
    let (_, service) = fetch_json(cx, &format!("{root}/service-info"))?;
    let a = info
        .pointer("/response/environment")
        .and_then(Value::as_str);
    let b = service.get("environment").and_then(Value::as_str);
    match (a, b) {
        (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => Ok(format!("both say {a}")),
        _ => Err(format!(
            "/info says {a:?}, /service-info says {b:?}: they must agree"
        )),
    }
}

/// `/datasets` answers the granularity asked for: a boolean, a count, or the collections.
fn datasets_granularity(cx: &Context<'_>, findings: &mut Findings) {
    let root = root(cx);
    for (granularity, doc) in [
        ("boolean", "beaconBooleanResponse"),
        ("count", "beaconCountResponse"),
        ("record", "beaconCollectionsResponse"),
    ] {
        let url = format!("{root}/datasets?requestedGranularity={granularity}");
        let outcome = fetch_json(cx, &url).and_then(|(status, body)| {
            if status != 200 {
                return Err(format!("GET {url} answered {status}"));
            }
            validate(cx, doc, &body)?;
            match body
                .pointer("/meta/returnedGranularity")
                .and_then(Value::as_str)
            {
                Some(g) if g == granularity => Ok(format!("{granularity}: a valid {doc}")),
                other => Err(format!(
                    "returnedGranularity {other:?}, asked {granularity}"
                )),
            }
        });
        findings.record_outcome(format!("beacon-datasets {granularity}"), outcome);
    }
}
