//! Black-box conformance checker: a live server's responses against the official GA4GH schemas.
//!
//! Give it a base URL and the official schemas ([`gemj_schemas::SchemaSet`]); it sends real HTTP
//! requests (10 s timeout each) and reports one [`CheckResult`] per check. It depends on the
//! standards crates only, never on the gateway: it checks what is on the wire.
//!
//! Suites are listed in [`Suite`]; each names a static list of check functions (the registry in
//! `suite.rs`). A later suite adds a variant, a module under `suites/`, and one line in the
//! registry.
//!
//! # Examples
//!
//! ```no_run
//! let schemas = gemj_schemas::SchemaSet::embedded();
//! let report = gemj_conformance::run("http://127.0.0.1:8080", &schemas, gemj_conformance::Suite::ALL);
//! print!("{}", report.render_text());
//! assert_eq!(report.failed(), 0);
//! ```

mod http;
mod report;
mod suite;
mod suites;

pub use report::{CheckResult, Report};
pub use suite::{Suite, UnknownSuite};

use gemj_schemas::{SchemaError, SchemaSet};

/// Why a run cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConformanceError {
    /// The base URL is not an absolute `http` or `https` URL without query or fragment.
    #[error("bad base URL {url:?}: {why}")]
    BadBaseUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A schema a suite needs does not compile.
    #[error("suite {suite} cannot load its schemas")]
    Schema {
        /// The suite.
        suite: Suite,
        /// The schema error.
        #[source]
        source: SchemaError,
    },
}

/// Checks a base URL and returns it without trailing slashes.
///
/// # Errors
///
/// [`ConformanceError::BadBaseUrl`] unless it is an absolute `http`/`https` URL with a host and
/// without query or fragment.
///
/// # Examples
///
/// ```
/// use gemj_conformance::base_url;
///
/// assert_eq!(base_url("http://127.0.0.1:8080/").ok().as_deref(), Some("http://127.0.0.1:8080"));
/// assert_eq!(base_url("https://x.example/ga4gh").ok().as_deref(), Some("https://x.example/ga4gh"));
/// assert!(base_url("ftp://x.example").is_err());
/// assert!(base_url("x.example").is_err());
/// ```
pub fn base_url(url: &str) -> Result<String, ConformanceError> {
    let bad = |why| ConformanceError::BadBaseUrl {
        url: url.to_owned(),
        why,
    };
    let parsed: ureq::http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    match parsed.scheme_str() {
        Some("http" | "https") => {}
        Some(_) => return Err(bad("the scheme must be http or https")),
        None => return Err(bad("not an absolute URL")),
    }
    if parsed.host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if parsed.query().is_some() || url.contains('#') {
        return Err(bad("a base URL has no query or fragment"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Compiles every schema the suites use, so that a broken schemas folder is a setup error rather
/// than a list of failed checks.
///
/// # Errors
///
/// [`ConformanceError::Schema`] for the first schema that does not compile.
pub fn preflight(schemas: &SchemaSet, suites: &[Suite]) -> Result<(), ConformanceError> {
    for &suite in suites {
        suite::preflight(suite, schemas)
            .map_err(|source| ConformanceError::Schema { suite, source })?;
    }
    Ok(())
}

/// Runs the checks of `suites` against the server at `base_url` and reports every result. Never
/// fails: a bad base URL, an unreachable server or a schema that does not compile make failed
/// checks.
#[must_use]
pub fn run(base_url: &str, schemas: &SchemaSet, suites: &[Suite]) -> Report {
    let base = self::base_url(base_url).unwrap_or_else(|_| base_url.to_owned());
    let context = suite::Context::new(&base, schemas);
    let mut report = Report::default();
    for &suite in suites {
        suite::run(suite, &context, &mut report);
    }
    report
}
