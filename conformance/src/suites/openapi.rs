//! The `openapi` suite: the server's OpenAPI document (`/openapi.json`) describes what it
//! serves. The document is OpenAPI 3.x, self-contained (every `$ref` points inside it and
//! resolves), and for each standard API the registry lists (htsget, DRS, Beacon, WES) it holds every
//! path and method of the official specification, under the prefix the API is served at.

use gemj_schemas::docs;
use serde_json::Value;

use crate::suite::{Check, Context, Findings};
use crate::suites::errors::roots;

/// The checks of the `openapi` suite, in run order.
pub(crate) const CHECKS: &[Check] = &[
    Check {
        name: "openapi-document",
        run: |cx, f| f.outcome(document(cx).map(|(_, detail)| detail)),
    },
    Check {
        name: "openapi-covers-htsget",
        run: |cx, f| coverage(cx, f, "htsget"),
    },
    Check {
        name: "openapi-covers-drs",
        run: |cx, f| coverage(cx, f, "drs"),
    },
    Check {
        name: "openapi-covers-beacon",
        run: |cx, f| coverage(cx, f, "beacon"),
    },
    Check {
        name: "openapi-covers-wes",
        run: |cx, f| coverage(cx, f, "wes"),
    },
];

/// The official documents of a standard API (paths relative to its root).
fn official(api: &str) -> Vec<String> {
    match api {
        "htsget" => vec![docs::HTSGET.to_owned()],
        "drs" => vec![docs::DRS_BUNDLED.to_owned()],
        "wes" => vec![docs::WES.to_owned()],
        _ => docs::beacon_endpoints(),
    }
}

/// The server's document, checked: OpenAPI 3.x, every `$ref` inside it and resolving.
fn document(cx: &Context<'_>) -> Result<(Value, String), String> {
    let url = cx.url("/openapi.json");
    let fetched = cx.get(&url)?;
    if fetched.status != 200 {
        return Err(format!("GET {url} answered {}", fetched.status));
    }
    let doc = fetched.json()?;
    let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !version.starts_with("3.") {
        return Err(format!("GET {url}: not an OpenAPI 3 document"));
    }
    let references = gemj_schemas::references(&doc);
    for reference in &references {
        let resolved = reference
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer));
        if resolved.is_none() {
            return Err(format!(
                "{url}: the reference {reference} does not resolve inside it"
            ));
        }
    }
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .map_or(0, serde_json::Map::len);
    let detail = format!(
        "OpenAPI {version}, {paths} paths, {} references all inside the document",
        references.len()
    );
    Ok((doc, detail))
}

/// The path prefix `api` is served under, from the registry's URL of it.
fn prefix(cx: &Context<'_>, api: &str) -> Result<String, String> {
    let fallback: &[&str] = match api {
        "htsget" => &["/htsget/reads"],
        "drs" => &["/ga4gh/drs/v1"],
        "wes" => &["/ga4gh/wes/v1"],
        _ => &["/beacon/v2"],
    };
    let root = roots(cx, api, fallback).remove(0);
    let path = root
        .strip_prefix(&cx.url(""))
        .ok_or_else(|| format!("{api} is served at {root}, outside the server checked"))?;
    // htsget's registry entries are its endpoints (`/reads`, `/variants`); the official paths
    // start with those.
    Ok(match (api, path.rsplit_once('/')) {
        ("htsget", Some((parent, "reads" | "variants"))) => parent.to_owned(),
        _ => path.to_owned(),
    })
}

fn coverage(cx: &Context<'_>, findings: &mut Findings, api: &str) {
    let name = format!("openapi-covers-{api}");
    let outcome = document(cx).and_then(|(doc, _)| {
        let prefix = prefix(cx, api)?;
        let mut missing = Vec::new();
        let mut found = 0;
        for source in official(api) {
            let official = cx
                .schemas()
                .document(&source)
                .map_err(|e| format!("setup: {source} does not load: {e}"))?;
            let Some(paths) = official.get("paths").and_then(Value::as_object) else {
                continue;
            };
            for (path, item) in paths {
                let mounted = format!("{prefix}{path}");
                let methods = item
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .filter(|m| {
                        matches!(
                            m.as_str(),
                            "get" | "put" | "post" | "delete" | "options" | "head" | "patch"
                        )
                    });
                for method in methods {
                    if doc
                        .pointer(&format!("/paths/{}/{method}", escape(&mounted)))
                        .is_some()
                    {
                        found += 1;
                    } else {
                        missing.push(format!("{} {mounted}", method.to_uppercase()));
                    }
                }
            }
        }
        if missing.is_empty() {
            Ok(format!(
                "all {found} official operations of {api} under {prefix}"
            ))
        } else {
            missing.sort();
            missing.dedup();
            Err(format!(
                "missing from /openapi.json: {}",
                missing.join(", ")
            ))
        }
    });
    findings.record_outcome(name, outcome);
}

/// Escapes a JSON pointer token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Loads every official document the suite compares with.
pub(crate) fn preflight(
    schemas: &gemj_schemas::SchemaSet,
) -> Result<(), gemj_schemas::SchemaError> {
    for api in ["htsget", "drs", "beacon", "wes"] {
        for source in official(api) {
            schemas.document(&source)?;
        }
    }
    Ok(())
}
