//! The `drs` and `htsget` suites: what a client meets when something is wrong, checked against
//! the official specifications. The services are found through the registry (`GET /services`,
//! entries by `type.artifact`), else at their usual paths. Ids are made up (nothing stored is
//! needed): an object that does not exist, a bulk request without credentials, a format and a
//! range that are not valid. A refusal without credentials must be a 401 with
//! `WWW-Authenticate`, so that a client asks for credentials (or stops) instead of retrying.

use gemj_schemas::{SchemaError, SchemaSet, docs};
use serde_json::{Value, json};

use crate::http::Fetched;
use crate::suite::{Check, Context, Findings};

/// An id no server stores.
const NO_SUCH_ID: &str = "zqx-gemj-conformance-no-such-object";

/// The checks of the `drs` suite, in run order.
pub(crate) const DRS_CHECKS: &[Check] = &[
    Check {
        name: "drs-unknown-object",
        run: |cx, f| f.outcome(drs_unknown_object(cx)),
    },
    Check {
        name: "drs-bulk-access-without-credentials",
        run: |cx, f| f.outcome(drs_bulk_without_credentials(cx)),
    },
];

/// The checks of the `htsget` suite, in run order.
pub(crate) const HTSGET_CHECKS: &[Check] = &[
    Check {
        name: "htsget-unknown-id",
        run: |cx, f| htsget_each(cx, f, "htsget-unknown-id", NO_SUCH_ID, &[401, 404]),
    },
    Check {
        name: "htsget-unsupported-format",
        run: |cx, f| {
            htsget_each(
                cx,
                f,
                "htsget-unsupported-format",
                &format!("{NO_SUCH_ID}?format=NOT-A-FORMAT"),
                &[400],
            );
        },
    },
    Check {
        name: "htsget-invalid-range",
        run: |cx, f| {
            htsget_each(
                cx,
                f,
                "htsget-invalid-range",
                &format!("{NO_SUCH_ID}?referenceName=chr1&start=20&end=10"),
                &[400],
            );
        },
    },
];

/// Compiles the schemas of the `drs` suite.
pub(crate) fn drs_preflight(schemas: &SchemaSet) -> Result<(), SchemaError> {
    for status in ["401", "404"] {
        schemas.openapi_response(docs::DRS_BUNDLED, "/objects/{object_id}", "get", status)?;
    }
    schemas.openapi_response(docs::DRS_BUNDLED, "/objects/access", "post", "401")?;
    Ok(())
}

/// Compiles the schemas of the `htsget` suite.
pub(crate) fn htsget_preflight(schemas: &SchemaSet) -> Result<(), SchemaError> {
    for kind in HTSGET_ERRORS {
        schemas.validator(docs::HTSGET, &format!("/components/schemas/{kind}Error"))?;
    }
    Ok(())
}

/// The htsget error names whose schemas the suite validates against.
const HTSGET_ERRORS: [&str; 5] = [
    "InvalidAuthentication",
    "PermissionDenied",
    "NotFound",
    "UnsupportedFormat",
    "InvalidRange",
];

/// The URLs the registry lists for `artifact`, else `[<base><fallback>...]`.
pub(crate) fn roots(cx: &Context<'_>, artifact: &str, fallback: &[&str]) -> Vec<String> {
    let listed: Vec<String> = cx
        .get(&cx.url("/services"))
        .ok()
        .filter(|f| f.status == 200)
        .and_then(|f| f.json().ok())
        .and_then(|body| {
            Some(
                body.as_array()?
                    .iter()
                    .filter(|s| {
                        s.pointer("/type/artifact").and_then(Value::as_str) == Some(artifact)
                    })
                    .filter_map(|s| s.get("url").and_then(Value::as_str))
                    .map(|u| u.trim_end_matches('/').to_owned())
                    .collect(),
            )
        })
        .unwrap_or_default();
    if listed.is_empty() {
        fallback.iter().map(|p| cx.url(p)).collect()
    } else {
        listed
    }
}

/// A 401 carries a `WWW-Authenticate` challenge.
fn challenge(what: &str, fetched: &Fetched) -> Result<(), String> {
    if fetched.status == 401 && fetched.www_authenticate.is_none() {
        return Err(format!("{what}: 401 without WWW-Authenticate"));
    }
    Ok(())
}

/// DRS's error body: `{msg, status_code}` with the answer's status, valid for the operation.
fn drs_error(
    cx: &Context<'_>,
    what: &str,
    fetched: &Fetched,
    (path, method): (&str, &str),
) -> Result<(), String> {
    let body = fetched.json()?;
    let validator = cx
        .schemas()
        .openapi_response(docs::DRS_BUNDLED, path, method, &fetched.status.to_string())
        .map_err(|e| format!("setup: the DRS error schema does not compile: {e}"))?;
    validator
        .validate(&body)
        .map_err(|errors| format!("{what}: not a valid DRS error: {}", errors.join("; ")))?;
    if body.get("status_code").and_then(Value::as_u64) != Some(u64::from(fetched.status)) {
        return Err(format!("{what}: status_code is not {}", fetched.status));
    }
    challenge(what, fetched)
}

fn drs_unknown_object(cx: &Context<'_>) -> Result<String, String> {
    let root = roots(cx, "drs", &["/ga4gh/drs/v1"]).remove(0);
    let url = format!("{root}/objects/{NO_SUCH_ID}");
    let fetched = cx.get(&url)?;
    if !matches!(fetched.status, 401 | 404) {
        return Err(format!(
            "GET {url} answered {}, expected 404 (or 401)",
            fetched.status
        ));
    }
    drs_error(cx, &url, &fetched, ("/objects/{object_id}", "get"))?;
    Ok(format!("GET {url}: {}, a valid DRS error", fetched.status))
}

fn drs_bulk_without_credentials(cx: &Context<'_>) -> Result<String, String> {
    let root = roots(cx, "drs", &["/ga4gh/drs/v1"]).remove(0);
    let url = format!("{root}/objects/access");
    let body = json!({"bulk_object_access_ids": [
        {"bulk_object_id": NO_SUCH_ID, "bulk_access_ids": ["https"]}
    ]});
    let fetched = cx.post(&url, &body)?;
    if fetched.status != 401 {
        return Err(format!(
            "POST {url} without credentials, naming nothing public, answered {}, expected 401",
            fetched.status
        ));
    }
    drs_error(cx, &url, &fetched, ("/objects/access", "post"))?;
    Ok(format!(
        "POST {url} without credentials: 401 with a challenge"
    ))
}

/// Asks `<root>/<rest>` of every htsget endpoint: an answer with one of `statuses`, whose body
/// is the htsget error its status names; recorded as `<name> <root>`.
fn htsget_each(
    cx: &Context<'_>,
    findings: &mut Findings,
    name: &str,
    rest: &str,
    statuses: &[u16],
) {
    for root in roots(cx, "htsget", &["/htsget/reads", "/htsget/variants"]) {
        let url = format!("{root}/{rest}");
        let outcome = cx.get(&url).and_then(|fetched| {
            if !statuses.contains(&fetched.status) {
                return Err(format!(
                    "GET {url} answered {}, expected one of {statuses:?}",
                    fetched.status
                ));
            }
            let body = fetched.json()?;
            let kind = body
                .pointer("/htsget/error")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("GET {url}: no htsget.error in the body"))?;
            if !HTSGET_ERRORS.contains(&kind) && kind != "InvalidInput" {
                return Err(format!("GET {url}: an unexpected error name"));
            }
            if HTSGET_ERRORS.contains(&kind) {
                let validator = cx
                    .schemas()
                    .validator(docs::HTSGET, &format!("/components/schemas/{kind}Error"))
                    .map_err(|e| format!("setup: {e}"))?;
                validator.validate(&body).map_err(|errors| {
                    format!("GET {url}: not a valid {kind}Error: {}", errors.join("; "))
                })?;
            }
            challenge(&url, &fetched)?;
            Ok(format!("GET {url}: {} {kind}", fetched.status))
        });
        findings.record_outcome(format!("{name} {root}"), outcome);
    }
}
