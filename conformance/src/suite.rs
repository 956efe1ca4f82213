//! The suites, the registry of their check functions, and what a check sees (the [`Context`]:
//! base URL, schemas, a caching HTTP client) and writes (its [`Findings`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::str::FromStr;

use gemj_schemas::{SchemaError, SchemaSet, Validator};
use serde::Serialize;

use crate::http::{Client, Fetched};
use crate::report::{CheckResult, Report};
use crate::suites;

/// A group of checks for one specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub enum Suite {
    /// GA4GH service-info 1.0 and service-registry 1.0 (`/service-info`, `/services`), and the
    /// JSON error body of an unknown path.
    #[serde(rename = "service-info")]
    ServiceInfo,
    /// GA4GH Beacon v2.2.0: informational endpoints, every entry type's collection endpoint,
    /// records against the default model, and the error format.
    #[serde(rename = "beacon")]
    Beacon,
    /// GA4GH DRS 1.5: an unknown object and a bulk access request without credentials, in
    /// DRS's error format with the statuses (and challenge) the spec gives.
    #[serde(rename = "drs")]
    Drs,
    /// The server's OpenAPI document (`/openapi.json`): OpenAPI 3, self-contained, and holding
    /// every official path and method of the htsget, DRS and Beacon APIs it serves.
    #[serde(rename = "openapi")]
    OpenApi,
    /// GA4GH htsget 1.3: an unknown id, an unsupported format and an invalid range, in
    /// htsget's error format.
    #[serde(rename = "htsget")]
    Htsget,
    /// GA4GH Data Connect 1.0: the table list, each table's info and data model, a table's
    /// data through every page (rows valid against their data model), and the error body of a
    /// search that does not parse and of an unknown table.
    #[serde(rename = "data-connect")]
    DataConnect,
}

impl Suite {
    /// Every suite, in run order.
    pub const ALL: &'static [Suite] = &[
        Suite::ServiceInfo,
        Suite::Beacon,
        Suite::Drs,
        Suite::Htsget,
        Suite::DataConnect,
        Suite::OpenApi,
    ];

    /// The suite's name on the command line and in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Suite::ServiceInfo => "service-info",
            Suite::Beacon => "beacon",
            Suite::Drs => "drs",
            Suite::Htsget => "htsget",
            Suite::DataConnect => "data-connect",
            Suite::OpenApi => "openapi",
        }
    }

    /// The suite's checks, in run order.
    fn checks(self) -> &'static [Check] {
        match self {
            Suite::ServiceInfo => suites::service_info::CHECKS,
            Suite::Beacon => suites::beacon::CHECKS,
            Suite::Drs => suites::errors::DRS_CHECKS,
            Suite::Htsget => suites::errors::HTSGET_CHECKS,
            Suite::DataConnect => suites::data_connect::CHECKS,
            Suite::OpenApi => suites::openapi::CHECKS,
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A suite name that is not one of [`Suite::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown suite {0:?} (known: {known})", known = known_names())]
pub struct UnknownSuite(pub String);

fn known_names() -> String {
    Suite::ALL
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Suite {
    type Err = UnknownSuite;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Suite::ALL
            .iter()
            .copied()
            .find(|suite| suite.name() == s)
            .ok_or_else(|| UnknownSuite(s.to_owned()))
    }
}

/// One check: a name and a function that records one or more results.
#[derive(Debug)]
pub(crate) struct Check {
    /// The name results are recorded under by default.
    pub(crate) name: &'static str,
    /// The check.
    pub(crate) run: fn(&Context<'_>, &mut Findings),
}

/// What a check function records.
#[derive(Debug)]
pub(crate) struct Findings {
    suite: Suite,
    check: &'static str,
    results: Vec<CheckResult>,
}

impl Findings {
    /// Records a pass under the check's name.
    pub(crate) fn pass(&mut self, detail: impl Into<String>) {
        self.record(self.check.to_owned(), true, detail.into());
    }

    /// Records a failure under the check's name.
    pub(crate) fn fail(&mut self, detail: impl Into<String>) {
        self.record(self.check.to_owned(), false, detail.into());
    }

    /// Records a pass or a failure under the check's name.
    pub(crate) fn outcome(&mut self, outcome: Result<String, String>) {
        match outcome {
            Ok(detail) => self.pass(detail),
            Err(detail) => self.fail(detail),
        }
    }

    /// Records a pass or a failure under its own name (one of several items a check looks at).
    pub(crate) fn record_outcome(&mut self, name: String, outcome: Result<String, String>) {
        match outcome {
            Ok(detail) => self.record(name, true, detail),
            Err(detail) => self.record(name, false, detail),
        }
    }

    /// Records a result under its own name (one of several items a check looks at).
    pub(crate) fn record(&mut self, name: String, passed: bool, detail: String) {
        self.results.push(CheckResult {
            suite: self.suite,
            name,
            passed,
            detail,
        });
    }
}

/// What every check sees: the base URL, the schemas, and responses and validators shared between
/// the checks of a run (each URL is fetched once).
pub(crate) struct Context<'a> {
    base: String,
    schemas: &'a SchemaSet,
    client: Client,
    responses: RefCell<HashMap<String, Result<Fetched, String>>>,
    validators: RefCell<HashMap<&'static str, Rc<Result<Validator, String>>>>,
}

impl<'a> Context<'a> {
    /// A context for the server at `base` (no trailing slash).
    pub(crate) fn new(base: &str, schemas: &'a SchemaSet) -> Self {
        Self {
            base: base.to_owned(),
            schemas,
            client: Client::new(),
            responses: RefCell::new(HashMap::new()),
            validators: RefCell::new(HashMap::new()),
        }
    }

    /// The official schemas.
    pub(crate) fn schemas(&self) -> &SchemaSet {
        self.schemas
    }

    /// `<base><path>`; `path` starts with `/`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET url`, fetched once per run.
    pub(crate) fn get(&self, url: &str) -> Result<Fetched, String> {
        if let Some(found) = self.responses.borrow().get(url) {
            return found.clone();
        }
        let fetched = self.client.get(url);
        self.responses
            .borrow_mut()
            .insert(url.to_owned(), fetched.clone());
        fetched
    }

    /// `POST url` with a JSON body (never cached: a POST is asked each time).
    pub(crate) fn post(&self, url: &str, body: &serde_json::Value) -> Result<Fetched, String> {
        self.client.post_json(url, body)
    }

    /// The validator named `key`, compiled once per run by `compile`.
    pub(crate) fn validator(
        &self,
        key: &'static str,
        compile: fn(&SchemaSet) -> Result<Validator, SchemaError>,
    ) -> Rc<Result<Validator, String>> {
        if let Some(found) = self.validators.borrow().get(key) {
            return Rc::clone(found);
        }
        let compiled = Rc::new(
            compile(self.schemas)
                .map_err(|e| format!("setup: the schema does not compile: {}", error_chain(&e))),
        );
        self.validators
            .borrow_mut()
            .insert(key, Rc::clone(&compiled));
        compiled
    }
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Runs every check of `suite`, appending the results to `report`. A check that panics (a bug)
/// is recorded as a failure.
pub(crate) fn run(suite: Suite, context: &Context<'_>, report: &mut Report) {
    for check in suite.checks() {
        let mut findings = Findings {
            suite,
            check: check.name,
            results: Vec::new(),
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| (check.run)(context, &mut findings)));
        if outcome.is_err() {
            findings.fail("internal error: the check panicked");
        }
        report.checks.append(&mut findings.results);
    }
}

/// Compiles every schema `suite` uses.
pub(crate) fn preflight(suite: Suite, schemas: &SchemaSet) -> Result<(), SchemaError> {
    match suite {
        Suite::ServiceInfo => suites::service_info::preflight(schemas),
        Suite::Beacon => suites::beacon::preflight(schemas),
        Suite::Drs => suites::errors::drs_preflight(schemas),
        Suite::Htsget => suites::errors::htsget_preflight(schemas),
        Suite::DataConnect => suites::data_connect::preflight(schemas),
        Suite::OpenApi => suites::openapi::preflight(schemas),
    }
}

/// An error and its causes, joined with `": "`.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_names_round_trip() {
        for &suite in Suite::ALL {
            assert_eq!(suite.name().parse::<Suite>(), Ok(suite));
            assert_eq!(suite.to_string(), suite.name());
        }
        let error = "nope".parse::<Suite>().err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "unknown suite \"nope\" (known: service-info, beacon, drs, htsget, data-connect, openapi)"
            )
        );
    }

    #[test]
    fn every_suite_has_checks_with_unique_names() {
        for &suite in Suite::ALL {
            let names: Vec<&str> = suite.checks().iter().map(|c| c.name).collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "{suite}: {names:?}");
            assert!(!names.is_empty());
        }
    }
}
