//! The `data-connect` suite: GA4GH Data Connect 1.0 as a client meets it. The API is found
//! through the registry (`type.artifact` `data-connect`), else at `/data-connect`. The table list,
//! each table's info (its data model must compile as a JSON Schema), a table's data followed
//! through every page (each page valid, one data model throughout, every row valid against it),
//! and a search that does not parse and a table that does not exist, each answered with the
//! specification's error body.

use gemj_schemas::{SchemaError, SchemaSet, Validator, docs};
use serde_json::{Value, json};

use crate::suite::{Check, Context, Findings};
use crate::suites::errors::roots;

/// The most pages followed, and tables described, in one run.
const MAX_PAGES: usize = 20;
const MAX_TABLES: usize = 20;

/// The checks of the suite, in run order.
pub(crate) const CHECKS: &[Check] = &[
    Check {
        name: "data-connect-tables",
        run: |cx, f| f.outcome(tables(cx).map(|t| format!("{} tables, valid", t.len()))),
    },
    Check {
        name: "data-connect-table-info",
        run: table_info,
    },
    Check {
        name: "data-connect-table-data",
        run: |cx, f| f.outcome(table_data(cx)),
    },
    Check {
        name: "data-connect-bad-search",
        run: |cx, f| f.outcome(bad_search(cx)),
    },
    Check {
        name: "data-connect-unknown-table",
        run: |cx, f| f.outcome(unknown_table(cx)),
    },
];

/// Compiles the schemas of the suite.
pub(crate) fn preflight(schemas: &SchemaSet) -> Result<(), SchemaError> {
    for component in ["ListTablesResponse", "Table", "TableData", "ErrorResponse"] {
        schemas.validator(
            docs::DATA_CONNECT,
            &format!("/components/schemas/{component}"),
        )?;
    }
    Ok(())
}

fn root(cx: &Context<'_>) -> String {
    roots(cx, "data-connect", &["/data-connect"]).remove(0)
}

/// `body` is a valid instance of the Data Connect component `component`.
fn valid(cx: &Context<'_>, what: &str, component: &str, body: &Value) -> Result<(), String> {
    cx.schemas()
        .validate(
            docs::DATA_CONNECT,
            &format!("/components/schemas/{component}"),
            body,
        )
        .map_err(|errors| format!("{what}: not a valid {component}: {}", errors.join("; ")))
}

/// The table names, from a valid `GET /tables`.
fn tables(cx: &Context<'_>) -> Result<Vec<String>, String> {
    let url = format!("{}/tables", root(cx));
    let fetched = cx.get(&url)?;
    if fetched.status != 200 {
        return Err(format!("GET {url} answered {}", fetched.status));
    }
    let body = fetched.json()?;
    valid(cx, &url, "ListTablesResponse", &body)?;
    let names: Vec<String> = body["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    if names.is_empty() {
        return Err(format!("GET {url}: no table is listed"));
    }
    Ok(names)
}

fn table_info(cx: &Context<'_>, findings: &mut Findings) {
    let names = match tables(cx) {
        Ok(n) => n,
        Err(e) => return findings.fail(e),
    };
    for name in names.iter().take(MAX_TABLES) {
        let url = format!("{}/table/{name}/info", root(cx));
        let outcome = cx.get(&url).and_then(|fetched| {
            if fetched.status != 200 {
                return Err(format!("GET {url} answered {}", fetched.status));
            }
            let body = fetched.json()?;
            valid(cx, &url, "Table", &body)?;
            Validator::standalone(&body["data_model"])
                .map_err(|e| format!("GET {url}: the data model is not a JSON Schema: {e}"))?;
            Ok(format!("GET {url}: a valid Table with a data model"))
        });
        findings.record_outcome(format!("data-connect-table-info {name}"), outcome);
    }
}

/// The first table's data, every page.
fn table_data(cx: &Context<'_>) -> Result<String, String> {
    let name = tables(cx)?.remove(0);
    let mut url = format!("{}/table/{name}/data", root(cx));
    let mut model: Option<Value> = None;
    let (mut pages, mut rows) = (0, 0);
    loop {
        pages += 1;
        if pages > MAX_PAGES {
            return Ok(format!(
                "{rows} rows in the first {MAX_PAGES} pages of {name}, valid"
            ));
        }
        let fetched = cx.get(&url)?;
        if fetched.status != 200 {
            return Err(format!("GET {url} answered {}", fetched.status));
        }
        let body = fetched.json()?;
        valid(cx, &url, "TableData", &body)?;
        let data = body["data"].as_array().cloned().unwrap_or_default();
        if !data.is_empty() {
            let page_model = body
                .get("data_model")
                .cloned()
                .ok_or_else(|| format!("GET {url}: rows without a data model"))?;
            if model.as_ref().is_some_and(|m| *m != page_model) {
                return Err(format!("GET {url}: the data model changed between pages"));
            }
            let validator = Validator::standalone(&page_model)
                .map_err(|e| format!("GET {url}: the data model is not a JSON Schema: {e}"))?;
            for row in &data {
                validator.validate(row).map_err(|errors| {
                    format!(
                        "GET {url}: a row does not match the data model: {}",
                        errors.join("; ")
                    )
                })?;
            }
            model = Some(page_model);
        }
        rows += data.len();
        match body
            .pointer("/pagination/next_page_url")
            .and_then(Value::as_str)
        {
            Some(next) if next.starts_with("http://") || next.starts_with("https://") => {
                next.clone_into(&mut url);
            }
            Some(next) => return Err(format!("GET {url}: next_page_url {next:?} is not absolute")),
            None => break,
        }
    }
    Ok(format!(
        "{rows} rows in {pages} pages of {name}, every page and row valid"
    ))
}

/// An error answer with `status` and the specification's error body.
fn error_body(
    cx: &Context<'_>,
    what: &str,
    status: u16,
    fetched: &crate::http::Fetched,
) -> Result<(), String> {
    if fetched.status != status {
        return Err(format!(
            "{what} answered {}, expected {status}",
            fetched.status
        ));
    }
    let body = fetched.json()?;
    valid(cx, what, "ErrorResponse", &body)?;
    if body
        .pointer("/errors/0/title")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err(format!("{what}: an error without a title"));
    }
    Ok(())
}

fn bad_search(cx: &Context<'_>) -> Result<String, String> {
    let url = format!("{}/search", root(cx));
    let fetched = cx.post(&url, &json!({"query": "SELEC nothing FROM"}))?;
    error_body(
        cx,
        &format!("POST {url} with SQL that does not parse"),
        400,
        &fetched,
    )?;
    Ok(format!("POST {url}: 400 with an ErrorResponse"))
}

fn unknown_table(cx: &Context<'_>) -> Result<String, String> {
    let url = format!("{}/table/zqx.gemj_conformance.no_such_table/info", root(cx));
    let fetched = cx.get(&url)?;
    error_body(cx, &format!("GET {url}"), 404, &fetched)?;
    Ok(format!("GET {url}: 404 with an ErrorResponse"))
}
