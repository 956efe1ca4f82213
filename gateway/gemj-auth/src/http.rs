//! The HTTP client of this crate: no redirects, a timeout, bodies read up to a limit, and every
//! URL checked against the configured URL policy before a request is sent.

use std::time::Duration;

use openidconnect::{HttpRequest, HttpResponse};

use crate::config::check_url;
use crate::error::{AuthError, HttpError};

/// Builds the reqwest client: rustls, no redirects (a redirect could lead a key fetch or a bearer
/// token elsewhere), the given timeout for the whole exchange.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, AuthError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("gemj-auth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AuthError::BrokerUnavailable(HttpError::Transport(e)))
}

/// Reads a response body, failing once it exceeds `max_bytes`.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, HttpError> {
    if response
        .content_length()
        .is_some_and(|len| len > max_bytes as u64)
    {
        return Err(HttpError::TooLarge(max_bytes));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(HttpError::Transport)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(HttpError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An HTTP exchange for openidconnect's `AsyncHttpClient`: the URL policy is checked, the body is
/// read up to `max_bytes`, redirects are not followed.
pub(crate) async fn send_oidc(
    client: reqwest::Client,
    allow_http_loopback: bool,
    max_bytes: usize,
    request: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let url = request.uri().to_string();
    check_url(&url, allow_http_loopback).map_err(|_| HttpError::UrlNotAllowed)?;
    let (parts, body) = request.into_parts();
    let mut builder = client.request(parts.method, url);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = builder
        .body(body)
        .send()
        .await
        .map_err(HttpError::Transport)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_limited(response, max_bytes).await?;
    let mut out = openidconnect::http::Response::builder().status(status);
    for (name, value) in &headers {
        out = out.header(name, value);
    }
    out.body(body).map_err(|_| HttpError::Request)
}
