//! The HTTP client of the checker: blocking GETs with a 10 s budget each, every status returned as
//! a response (a 404 is an answer, not an error), bodies capped at 16 MiB.

use std::time::Duration;

use serde_json::Value;

/// Time allowed for one request, from connecting to the end of the body.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// Largest body read.
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// A blocking HTTP client.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    agent: ureq::Agent,
}

/// One response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fetched {
    /// The status code.
    pub(crate) status: u16,
    /// The `Content-Type` header, if any.
    pub(crate) content_type: Option<String>,
    /// The `WWW-Authenticate` header, if any.
    pub(crate) www_authenticate: Option<String>,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl Client {
    pub(crate) fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .user_agent(concat!("gemj-conformance/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Self { agent }
    }

    /// `GET url` with `Accept: application/json`. The error is a sentence for the report.
    pub(crate) fn get(&self, url: &str) -> Result<Fetched, String> {
        let response = self
            .agent
            .get(url)
            .header("Accept", "application/json")
            .call()
            .map_err(|e| format!("GET {url} failed: {e}"))?;
        Self::read(url, response)
    }

    /// `POST url` with a JSON body. The error is a sentence for the report.
    pub(crate) fn post_json(&self, url: &str, body: &Value) -> Result<Fetched, String> {
        let response = self
            .agent
            .post(url)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| format!("POST {url} failed: {e}"))?;
        Self::read(url, response)
    }

    fn read(url: &str, mut response: ureq::http::Response<ureq::Body>) -> Result<Fetched, String> {
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (content_type, www_authenticate) = (header("content-type"), header("www-authenticate"));
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| format!("{url}: cannot read the body: {e}"))?;
        Ok(Fetched {
            status,
            content_type,
            www_authenticate,
            body,
        })
    }
}

impl Fetched {
    /// Whether the media type is `application/json` or a `+json` type (parameters ignored).
    pub(crate) fn is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(|value| {
            let essence = value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
    }

    /// The body parsed as JSON.
    pub(crate) fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "the body is not JSON ({e}); it starts with {:?}",
                preview(&self.body)
            )
        })
    }

    /// `Content-Type` for messages.
    pub(crate) fn content_type_text(&self) -> &str {
        self.content_type.as_deref().unwrap_or("(none)")
    }
}

/// The first 60 characters of a body, for messages.
fn preview(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        let check = |content_type: Option<&str>, expect: bool| {
            let fetched = Fetched {
                status: 200,
                content_type: content_type.map(str::to_owned),
                www_authenticate: None,
                body: Vec::new(),
            };
            assert_eq!(fetched.is_json(), expect, "{content_type:?}");
        };
        check(Some("application/json"), true);
        check(Some("application/json; charset=utf-8"), true);
        check(Some("Application/JSON"), true);
        check(Some("application/problem+json"), true);
        check(Some("text/html; charset=utf-8"), false);
        check(Some("text/plain"), false);
        check(Some("application/jsonx"), false);
        check(None, false);
    }

    #[test]
    fn bodies_that_are_not_json_are_quoted() {
        let fetched = Fetched {
            status: 404,
            content_type: None,
            www_authenticate: None,
            body: b"<html><body>Not Found</body></html>".to_vec(),
        };
        let error = fetched.json().err().unwrap_or_default();
        assert!(error.contains("<html><body>Not Found"), "{error}");
    }
}
