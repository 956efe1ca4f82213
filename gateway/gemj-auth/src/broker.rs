//! Talking to Passport Brokers: the v1.0 flow (Visas from the userinfo endpoint) and RFC 8693
//! token exchange for a v1.2 Passport.
//!
//! Endpoints come from the [`TrustedBroker`] or from OpenID Connect Discovery, done with
//! openidconnect's `CoreProviderMetadata::discover_async` over this crate's HTTP client (URL
//! policy, no redirects, bounded bodies); the discovered `issuer` must equal the configured one.
//! The userinfo and token requests themselves are plain reqwest calls: openidconnect's typed
//! userinfo API needs a registered OIDC client (client id, ID token verifier) that a
//! Clearinghouse holding a user's bearer token does not have, and it has no token exchange.
//!
//! Invariant: access tokens, client secrets and returned tokens are never logged nor put in
//! errors.

use std::time::Instant;

use gemj_passport::{ClaimError, MAX_VISA_BYTES, MAX_VISAS};
use openidconnect::IssuerUrl;
use openidconnect::core::CoreProviderMetadata;
use openidconnect::url::form_urlencoded;
use serde_json::Value;

use crate::config::{TrustedBroker, check_url};
use crate::error::{AuthError, ConfigError, HttpError};
use crate::http::{read_limited, send_oidc};
use crate::json::parse_strict;
use crate::verifier::{MAX_PASSPORT_BYTES, Verifier};

/// The RFC 8693 grant type of token exchange.
pub const TOKEN_EXCHANGE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The RFC 8693 token type of an OAuth 2.0 access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The token type of a GA4GH Passport (AAI OIDC Profile 1.2, "Token Exchange").
pub const PASSPORT_TOKEN_TYPE: &str = "urn:ga4gh:params:oauth:token-type:passport";

/// The largest discovery document or key set read during discovery.
const MAX_DISCOVERY_BYTES: usize = 256 * 1024;

/// A broker's endpoints, fixed or discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BrokerEndpoints {
    userinfo: Option<String>,
    token: Option<String>,
}

/// The Visas returned by a broker's userinfo endpoint (the Passport v1.0 flow), with the
/// subject they were returned for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserinfoVisas {
    /// The broker's issuer identifier.
    pub issuer: String,
    /// The userinfo `sub`.
    pub subject: String,
    /// The `ga4gh_passport_v1` Visa JWTs, not yet verified: pass them to
    /// [`Verifier::verify_visas`] with `issuer` and `subject`.
    pub visas: Vec<String>,
}

impl TrustedBroker {
    /// Checks the broker's issuer and any fixed endpoint URLs.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an empty issuer or a URL outside the URL policy.
    pub fn validate(&self, allow_http_loopback: bool) -> Result<(), ConfigError> {
        if self.issuer.trim().is_empty() {
            return Err(ConfigError::new("broker.issuer", "must be non-empty"));
        }
        for (field, url) in [
            ("broker.userinfo_url", &self.userinfo_url),
            ("broker.token_url", &self.token_url),
        ] {
            if let Some(url) = url {
                check_url(url, allow_http_loopback).map_err(|p| ConfigError::new(field, p))?;
            }
        }
        Ok(())
    }
}

impl Verifier {
    /// Fetches the Visas of the holder of `access_token` from the broker's userinfo endpoint
    /// (Passport v1.0 flow): a GET with the bearer token, expecting `application/json` with `sub`
    /// and an optional `ga4gh_passport_v1` list.
    ///
    /// # Errors
    ///
    /// `invalid_config`, `untrusted_url`, `discovery_failed`, `broker_unavailable`,
    /// `broker_rejected` (for example HTTP 401 for an invalid token), `broker_response_invalid`
    /// (not JSON, signed `application/jwt` userinfo, no `sub`, malformed list), `too_many_visas`,
    /// `visa_too_large`.
    pub async fn passport_from_userinfo(
        &self,
        broker: &TrustedBroker,
        access_token: &str,
    ) -> Result<UserinfoVisas, AuthError> {
        let endpoints = self.endpoints(broker, false).await?;
        let url = endpoints
            .userinfo
            .ok_or(AuthError::BrokerResponse("no userinfo endpoint"))?;
        let response = self
            .inner
            .http
            .get(&url)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| AuthError::BrokerUnavailable(HttpError::Transport(e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(AuthError::BrokerRejected {
                status: status.as_u16(),
            });
        }
        if content_type(&response).starts_with("application/jwt") {
            return Err(AuthError::BrokerResponse(
                "signed userinfo is not supported",
            ));
        }
        let body = read_limited(response, MAX_PASSPORT_BYTES)
            .await
            .map_err(AuthError::BrokerUnavailable)?;
        let Ok(Value::Object(info)) = parse_strict(&body) else {
            return Err(AuthError::BrokerResponse("userinfo is not a JSON object"));
        };
        let subject = match info.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(AuthError::BrokerResponse("userinfo without sub")),
        };
        let visas = match info.get("ga4gh_passport_v1") {
            None => Vec::new(),
            Some(Value::Array(list)) => {
                if list.len() > MAX_VISAS {
                    return Err(ClaimError::TooManyVisas.into());
                }
                let mut visas = Vec::with_capacity(list.len());
                for v in list {
                    let v = v.as_str().ok_or(AuthError::BrokerResponse(
                        "ga4gh_passport_v1 not a list of strings",
                    ))?;
                    if v.len() > MAX_VISA_BYTES {
                        return Err(ClaimError::VisaTooLarge.into());
                    }
                    visas.push(v.to_owned());
                }
                visas
            }
            Some(_) => {
                return Err(AuthError::BrokerResponse(
                    "ga4gh_passport_v1 not a list of strings",
                ));
            }
        };
        Ok(UserinfoVisas {
            issuer: broker.issuer.clone(),
            subject,
            visas,
        })
    }

    /// Exchanges an access token for a Passport JWT at the broker's token endpoint (RFC 8693):
    /// `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`,
    /// `subject_token_type=urn:ietf:params:oauth:token-type:access_token`,
    /// `requested_token_type=urn:ga4gh:params:oauth:token-type:passport`, plus `audience` when
    /// [`AuthConfig::required_audience`](crate::AuthConfig::required_audience) is set. The client
    /// authenticates with HTTP Basic when the broker has a client secret, else sends `client_id`.
    ///
    /// The returned Passport is not verified: pass it to
    /// [`verify_passport`](Self::verify_passport).
    ///
    /// # Errors
    ///
    /// As [`passport_from_userinfo`](Self::passport_from_userinfo), and
    /// `broker_response_invalid` when the answer has no `access_token` or an `issued_token_type`
    /// other than the Passport type.
    pub async fn exchange_token(
        &self,
        broker: &TrustedBroker,
        subject_token: &str,
    ) -> Result<String, AuthError> {
        let endpoints = self.endpoints(broker, true).await?;
        let url = endpoints
            .token
            .ok_or(AuthError::BrokerResponse("no token endpoint"))?;
        // Built before any await: the serializer is not `Send`.
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", TOKEN_EXCHANGE_GRANT_TYPE)
                .append_pair("subject_token", subject_token)
                .append_pair("subject_token_type", ACCESS_TOKEN_TYPE)
                .append_pair("requested_token_type", PASSPORT_TOKEN_TYPE);
            if let Some(audience) = &self.inner.config.required_audience {
                form.append_pair("audience", audience);
            }
            if let (Some(id), None) = (&broker.client_id, &broker.client_secret) {
                form.append_pair("client_id", id);
            }
            form.finish()
        };
        let mut request = self
            .inner
            .http
            .post(&url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        if let (Some(id), Some(secret)) = (&broker.client_id, &broker.client_secret) {
            // RFC 6749 section 2.3.1: both are form-urlencoded before Basic encoding.
            let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
            let secret: String =
                form_urlencoded::byte_serialize(secret.expose().as_bytes()).collect();
            request = request.basic_auth(id, Some(secret));
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| AuthError::BrokerUnavailable(HttpError::Transport(e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(AuthError::BrokerRejected {
                status: status.as_u16(),
            });
        }
        let body = read_limited(response, MAX_PASSPORT_BYTES + 4096)
            .await
            .map_err(AuthError::BrokerUnavailable)?;
        let Ok(Value::Object(answer)) = parse_strict(&body) else {
            return Err(AuthError::BrokerResponse(
                "token response is not a JSON object",
            ));
        };
        match answer.get("issued_token_type") {
            None => {}
            Some(Value::String(t)) if t == PASSPORT_TOKEN_TYPE => {}
            Some(_) => return Err(AuthError::BrokerResponse("issued token is not a passport")),
        }
        match answer.get("access_token") {
            Some(Value::String(token)) if !token.is_empty() => Ok(token.clone()),
            _ => Err(AuthError::BrokerResponse(
                "token response without access_token",
            )),
        }
    }

    /// The broker's endpoints: the fixed ones, the rest discovered (cached for the JWKS TTL).
    /// The broker's endpoints; discovery runs only when the one needed (the token endpoint with
    /// `for_token`, else userinfo) is not configured.
    async fn endpoints(
        &self,
        broker: &TrustedBroker,
        for_token: bool,
    ) -> Result<BrokerEndpoints, AuthError> {
        let config = &self.inner.config;
        broker.validate(config.allow_http_loopback)?;
        let configured = if for_token {
            broker.token_url.is_some()
        } else {
            broker.userinfo_url.is_some()
        };
        if configured {
            return Ok(BrokerEndpoints {
                userinfo: broker.userinfo_url.clone(),
                token: broker.token_url.clone(),
            });
        }
        check_url(&broker.issuer, config.allow_http_loopback)
            .map_err(|_| AuthError::UntrustedUrl)?;
        let ttl = config.jwks_ttl;
        let cached = self.inner.brokers.lock().ok().and_then(|map| {
            map.get(&broker.issuer)
                .filter(|(at, _)| at.elapsed() < ttl)
                .map(|(_, e)| e.clone())
        });
        let discovered = match cached {
            Some(e) => e,
            None => {
                let e = self.discover(&broker.issuer).await?;
                if let Ok(mut map) = self.inner.brokers.lock() {
                    if map.len() > 1024 {
                        map.clear();
                    }
                    map.insert(broker.issuer.clone(), (Instant::now(), e.clone()));
                }
                e
            }
        };
        Ok(BrokerEndpoints {
            userinfo: broker.userinfo_url.clone().or(discovered.userinfo),
            token: broker.token_url.clone().or(discovered.token),
        })
    }

    /// OpenID Connect Discovery with openidconnect, over this crate's bounded HTTP client.
    async fn discover(&self, issuer: &str) -> Result<BrokerEndpoints, AuthError> {
        let allow_loopback = self.inner.config.allow_http_loopback;
        let issuer_url = IssuerUrl::new(issuer.to_owned())
            .map_err(|_| ConfigError::new("broker.issuer", "not a URL"))?;
        let client = self.inner.http.clone();
        let http =
            move |request| send_oidc(client.clone(), allow_loopback, MAX_DISCOVERY_BYTES, request);
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &http)
            .await
            .map_err(|e| AuthError::Discovery(Box::new(e)))?;
        let checked = |url: Option<String>| -> Result<Option<String>, AuthError> {
            match url {
                Some(u) => check_url(&u, allow_loopback)
                    .map(|_| Some(u))
                    .map_err(|_| AuthError::UntrustedUrl),
                None => Ok(None),
            }
        };
        Ok(BrokerEndpoints {
            userinfo: checked(metadata.userinfo_endpoint().map(|u| u.url().to_string()))?,
            token: checked(metadata.token_endpoint().map(|u| u.url().to_string()))?,
        })
    }
}

/// The lowercased `Content-Type` of a response (empty when absent).
fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}
