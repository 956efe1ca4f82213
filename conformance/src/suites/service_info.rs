//! The `service-info` suite: GA4GH service-info 1.0 (`GET /service-info`), service-registry 1.0
//! (`GET /services`, and each listed service's own `/service-info`), and the JSON error body of
//! an unknown path.
//!
//! The error-body checks hold the gateway to its own contract (errors are JSON, never HTML; the
//! generic body is `{"status": 404, "title": "...", "detail": "..."}`, RFC 9457 style): no GA4GH
//! schema covers a path no API defines.

use gemj_schemas::{SchemaError, SchemaSet, Validator};
use gemj_service_info::{ServiceType, is_reverse_domain_name};
use serde_json::Value;

use crate::http::Fetched;
use crate::suite::{Check, Context, Findings};

/// A path no API serves.
pub(crate) const UNKNOWN_PATH: &str = "/no-such-endpoint-xyz";

/// Violations quoted in a failure; the rest are counted.
const MAX_QUOTED: usize = 5;

/// The checks, in run order.
pub(crate) const CHECKS: &[Check] = &[
    Check {
        name: "service-info-status",
        run: |cx, f| f.outcome(status_is(cx, "/service-info", 200)),
    },
    Check {
        name: "service-info-content-type",
        run: |cx, f| f.outcome(content_type_is_json(cx, "/service-info")),
    },
    Check {
        name: "service-info-schema",
        run: |cx, f| f.outcome(body_is_valid(cx, "/service-info", "service", service)),
    },
    Check {
        name: "service-info-type-group",
        run: |cx, f| f.outcome(type_group(cx)),
    },
    Check {
        name: "services-status",
        run: |cx, f| f.outcome(status_is(cx, "/services", 200)),
    },
    Check {
        name: "services-content-type",
        run: |cx, f| f.outcome(content_type_is_json(cx, "/services")),
    },
    Check {
        name: "services-schema",
        run: |cx, f| f.outcome(body_is_valid(cx, "/services", "services", services)),
    },
    Check {
        name: "listed-services",
        run: listed_services,
    },
    Check {
        name: "unknown-path-status",
        run: |cx, f| f.outcome(status_is(cx, UNKNOWN_PATH, 404)),
    },
    Check {
        name: "unknown-path-json",
        run: |cx, f| f.outcome(unknown_path_json(cx)),
    },
    Check {
        name: "unknown-path-body",
        run: |cx, f| f.outcome(unknown_path_body(cx)),
    },
];

/// Compiles the schemas of this suite.
pub(crate) fn preflight(schemas: &SchemaSet) -> Result<(), SchemaError> {
    service(schemas)?;
    services(schemas)?;
    Ok(())
}

fn service(schemas: &SchemaSet) -> Result<Validator, SchemaError> {
    schemas.service_info()
}

fn services(schemas: &SchemaSet) -> Result<Validator, SchemaError> {
    schemas.service_registry_services()
}

fn status_is(cx: &Context<'_>, path: &str, expect: u16) -> Result<String, String> {
    let url = cx.url(path);
    let fetched = cx.get(&url)?;
    if fetched.status == expect {
        Ok(format!("GET {url} answered {expect}"))
    } else {
        Err(format!(
            "GET {url} answered {}, expected {expect}",
            fetched.status
        ))
    }
}

fn content_type_is_json(cx: &Context<'_>, path: &str) -> Result<String, String> {
    let url = cx.url(path);
    let fetched = cx.get(&url)?;
    if fetched.is_json() {
        Ok(format!("Content-Type {}", fetched.content_type_text()))
    } else {
        Err(format!(
            "GET {url}: Content-Type {}, expected application/json",
            fetched.content_type_text()
        ))
    }
}

/// The JSON body of a 200 answer to `GET <base><path>`.
fn ok_json(cx: &Context<'_>, path: &str) -> Result<Value, String> {
    let url = cx.url(path);
    let fetched = cx.get(&url).map_err(|e| format!("not checked: {e}"))?;
    if fetched.status != 200 {
        return Err(format!(
            "not checked: GET {url} answered {}",
            fetched.status
        ));
    }
    fetched.json().map_err(|e| format!("GET {url}: {e}"))
}

fn body_is_valid(
    cx: &Context<'_>,
    path: &str,
    key: &'static str,
    compile: fn(&SchemaSet) -> Result<Validator, SchemaError>,
) -> Result<String, String> {
    let body = ok_json(cx, path)?;
    let validator = cx.validator(key, compile);
    let validator = validator.as_ref().as_ref().map_err(Clone::clone)?;
    validate(validator, &body)
}

fn validate(validator: &Validator, body: &Value) -> Result<String, String> {
    match validator.validate(body) {
        Ok(()) => Ok(format!("valid against {}", validator.location())),
        Err(errors) => {
            let quoted: Vec<&str> = errors.iter().take(MAX_QUOTED).map(String::as_str).collect();
            let more = errors.len().saturating_sub(MAX_QUOTED);
            let more = if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            };
            Err(format!(
                "{} violation(s) of {}: {}{more}",
                errors.len(),
                validator.location(),
                quoted.join("; ")
            ))
        }
    }
}

fn type_group(cx: &Context<'_>) -> Result<String, String> {
    let body = ok_json(cx, "/service-info")?;
    let group = body
        .pointer("/type/group")
        .and_then(Value::as_str)
        .ok_or("type.group is missing or not a string")?;
    if group == ServiceType::GA4GH_GROUP {
        Ok(format!("type.group is {group}"))
    } else if is_reverse_domain_name(group) {
        Ok(format!("type.group {group} is a reverse domain name"))
    } else {
        Err(format!(
            "type.group {group:?} is neither {} nor a reverse domain name",
            ServiceType::GA4GH_GROUP
        ))
    }
}

fn listed_services(cx: &Context<'_>, findings: &mut Findings) {
    let body = match ok_json(cx, "/services") {
        Ok(body) => body,
        Err(e) => return findings.fail(e),
    };
    let Some(list) = body.as_array() else {
        return findings.fail("not checked: the /services body is not an array");
    };
    if list.is_empty() {
        return findings.pass("no services listed");
    }
    for (index, entry) in list.iter().enumerate() {
        let id = entry
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("#{index}"), str::to_owned);
        findings.record_outcome(format!("listed-service:{id}"), listed_service(cx, entry));
    }
}

/// A listed service answers its own service-info, `<url>/service-info` (or `<url>` itself when
/// that is not found), with a valid `Service` of the listed `type.artifact`.
fn listed_service(cx: &Context<'_>, entry: &Value) -> Result<String, String> {
    let url = entry
        .get("url")
        .and_then(Value::as_str)
        .ok_or("the entry has no url")?;
    let artifact = entry
        .pointer("/type/artifact")
        .and_then(Value::as_str)
        .ok_or("the entry has no type.artifact")?;
    let url = url.trim_end_matches('/');
    let candidates = if url.ends_with("/service-info") {
        vec![url.to_owned()]
    } else {
        vec![format!("{url}/service-info"), url.to_owned()]
    };
    let mut tried = Vec::new();
    for candidate in candidates {
        match cx.get(&candidate) {
            Ok(fetched) if fetched.status == 200 => {
                return own_service_info(cx, &candidate, &fetched, artifact);
            }
            Ok(fetched) => tried.push(format!("GET {candidate} answered {}", fetched.status)),
            Err(e) => tried.push(e),
        }
    }
    Err(format!("no service-info found: {}", tried.join("; ")))
}

fn own_service_info(
    cx: &Context<'_>,
    url: &str,
    fetched: &Fetched,
    artifact: &str,
) -> Result<String, String> {
    let body = fetched.json().map_err(|e| format!("GET {url}: {e}"))?;
    let validator = cx.validator("service", service);
    let validator = validator.as_ref().as_ref().map_err(Clone::clone)?;
    validate(validator, &body).map_err(|e| format!("GET {url}: {e}"))?;
    match body.pointer("/type/artifact").and_then(Value::as_str) {
        Some(own) if own == artifact => {
            Ok(format!("GET {url}: a valid Service, type.artifact {own}"))
        }
        own => Err(format!(
            "GET {url}: type.artifact {own:?}, listed as {artifact:?}"
        )),
    }
}

fn unknown_path_json(cx: &Context<'_>) -> Result<String, String> {
    let url = cx.url(UNKNOWN_PATH);
    let fetched = cx.get(&url)?;
    let content_type = fetched.content_type_text().to_owned();
    if !fetched.is_json() {
        return Err(format!(
            "GET {url}: Content-Type {content_type}, expected application/json; the body starts with {:?}",
            String::from_utf8_lossy(&fetched.body)
                .chars()
                .take(60)
                .collect::<String>()
        ));
    }
    fetched.json().map_err(|e| format!("GET {url}: {e}"))?;
    Ok(format!("Content-Type {content_type}, a JSON body"))
}

fn unknown_path_body(cx: &Context<'_>) -> Result<String, String> {
    let url = cx.url(UNKNOWN_PATH);
    let fetched = cx.get(&url)?;
    let body = fetched.json().map_err(|e| format!("GET {url}: {e}"))?;
    let mut problems = Vec::new();
    if body.get("status").and_then(Value::as_u64) != Some(u64::from(fetched.status)) {
        problems.push(format!(
            "status is {}, expected the HTTP status {}",
            body.get("status")
                .map_or_else(|| "missing".to_owned(), Value::to_string),
            fetched.status
        ));
    }
    if body
        .get("title")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        problems.push("title is missing or not a non-empty string".to_owned());
    }
    if !body.get("detail").is_some_and(Value::is_string) {
        problems.push("detail is missing or not a string".to_owned());
    }
    if problems.is_empty() {
        Ok(format!("{{status: {}, title, detail}}", fetched.status))
    } else {
        Err(format!("GET {url}: {}", problems.join("; ")))
    }
}
