//! Signing a person in through a Passport Broker: OpenID Connect Authorization Code with PKCE
//! (RFC 7636, `S256`), done with openidconnect's client over this crate's HTTP client (URL
//! policy, no redirects, bounded bodies). The web portal is the relying party: it sends the
//! browser to [`PendingSignIn::authorize_url`], keeps the rest of the [`PendingSignIn`] on the
//! server, and on the way back [`Verifier::finish_sign_in`] checks `state`, exchanges the code
//! with the PKCE verifier and verifies the ID token (signature against the broker's key set,
//! `iss`, `aud`, `exp`, `nonce`). What it returns is the broker's access token, which the portal
//! then presents as any API client would: [`Verifier::verify_access_token`] fetches the Visas
//! from userinfo and verifies them, so a signed-in person is exactly the caller the APIs see.
//!
//! Invariant: codes, verifiers, nonces and tokens are never logged, put in errors or shown by
//! `Debug`.

use std::fmt;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use crate::config::{Secret, TrustedBroker, check_url};
use crate::error::{AuthError, ConfigError};
use crate::http::send_oidc;
use crate::verifier::Verifier;

/// The largest discovery document, key set or token response read while signing in.
const MAX_SIGN_IN_BYTES: usize = 256 * 1024;

/// A sign-in under way: where to send the browser, and what the server keeps until it comes
/// back (never sent to the browser but for `state` in the URL).
#[derive(Clone)]
pub struct PendingSignIn {
    /// The broker's authorization URL, with `state`, `nonce` and the PKCE challenge.
    pub authorize_url: String,
    state: Secret,
    nonce: Secret,
    pkce_verifier: Secret,
}

impl PendingSignIn {
    /// The `state` value the broker must send back (the key the portal keeps this under).
    #[must_use]
    pub fn state(&self) -> &str {
        self.state.expose()
    }

    /// The sign-in's secrets as bytes, for the caller to seal and keep until the browser comes
    /// back (to any instance).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&PendingParts {
            authorize_url: self.authorize_url.clone(),
            state: self.state.expose().to_owned(),
            nonce: self.nonce.expose().to_owned(),
            pkce_verifier: self.pkce_verifier.expose().to_owned(),
        })
        .unwrap_or_default()
    }

    /// The sign-in [`PendingSignIn::to_bytes`] wrote.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let parts: PendingParts = serde_json::from_slice(bytes).ok()?;
        Some(Self {
            authorize_url: parts.authorize_url,
            state: Secret::new(parts.state),
            nonce: Secret::new(parts.nonce),
            pkce_verifier: Secret::new(parts.pkce_verifier),
        })
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PendingParts {
    authorize_url: String,
    state: String,
    nonce: String,
    pkce_verifier: String,
}

impl fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingSignIn([redacted])")
    }
}

/// A person signed in: the ID token's subject and the broker's access token.
#[derive(Clone)]
pub struct SignedIn {
    /// The ID token's `sub`.
    pub subject: String,
    /// The broker's access token, for its userinfo endpoint.
    pub access_token: Secret,
    /// When the access token expires (seconds since the epoch), when the broker said.
    pub expires_at: Option<i64>,
}

impl fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedIn")
            .field("access_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Starts signing a person in at `broker` (its `client_id` and optional secret are this
    /// service's registration there) for a return to `redirect_url`: discovers the broker,
    /// and draws `state`, `nonce` and a PKCE verifier. Scopes: `openid` and
    /// `ga4gh_passport_v1`.
    ///
    /// # Errors
    /// `invalid_config` without a client id or with a redirect URL outside the URL policy;
    /// `discovery_failed`; `untrusted_url` for a discovered endpoint outside the policy.
    pub async fn begin_sign_in(
        &self,
        broker: &TrustedBroker,
        redirect_url: &str,
    ) -> Result<PendingSignIn, AuthError> {
        let client = self.sign_in_client(broker, redirect_url).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("ga4gh_passport_v1".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        check_url(url.as_str(), self.inner.config.allow_http_loopback)
            .map_err(|_| AuthError::UntrustedUrl)?;
        Ok(PendingSignIn {
            authorize_url: url.to_string(),
            state: Secret::new(state.secret().clone()),
            nonce: Secret::new(nonce.secret().clone()),
            pkce_verifier: Secret::new(verifier.secret().clone()),
        })
    }

    /// Finishes a sign-in: `state` must equal the pending one (compared in constant time), the
    /// code is exchanged with the PKCE verifier, and the ID token is verified (signature by the
    /// broker's published keys, RS256 or ES256; `iss`, `aud` = the client id, `exp`, `nonce`).
    ///
    /// # Errors
    /// `broker_response_invalid` for a `state` that does not match, a response without an ID
    /// token or one that does not verify; `broker_rejected` when the broker refuses the code;
    /// `broker_unavailable`; `discovery_failed`.
    pub async fn finish_sign_in(
        &self,
        broker: &TrustedBroker,
        redirect_url: &str,
        pending: &PendingSignIn,
        state: &str,
        code: &str,
    ) -> Result<SignedIn, AuthError> {
        if !constant_time_eq(state.as_bytes(), pending.state.expose().as_bytes()) {
            return Err(AuthError::BrokerResponse("state does not match"));
        }
        if code.is_empty() || code.len() > 2048 {
            return Err(AuthError::BrokerResponse("malformed authorization code"));
        }
        let client = self.sign_in_client(broker, redirect_url).await?;
        let (reqwest_client, allow_loopback) = (
            self.inner.http.clone(),
            self.inner.config.allow_http_loopback,
        );
        let http = move |request| {
            send_oidc(
                reqwest_client.clone(),
                allow_loopback,
                MAX_SIGN_IN_BYTES,
                request,
            )
        };
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| AuthError::BrokerResponse("no token endpoint"))?
            .set_pkce_verifier(PkceCodeVerifier::new(
                pending.pkce_verifier.expose().to_owned(),
            ))
            .request_async(&http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(_) => {
                    AuthError::BrokerRejected { status: 400 }
                }
                openidconnect::RequestTokenError::Request(_) => {
                    AuthError::BrokerResponse("token endpoint unreachable")
                }
                _ => AuthError::BrokerResponse("token response invalid"),
            })?;
        let id_token = token
            .id_token()
            .ok_or(AuthError::BrokerResponse("no ID token"))?;
        let verifier = client.id_token_verifier().set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ]);
        let nonce = Nonce::new(pending.nonce.expose().to_owned());
        let claims = id_token
            .claims(&verifier, &nonce)
            .map_err(|_| AuthError::BrokerResponse("ID token does not verify"))?;
        let expires_at = token.expires_in().and_then(|d| {
            i64::try_from(d.as_secs())
                .ok()
                .map(|s| crate::now_unix().saturating_add(s))
        });
        Ok(SignedIn {
            subject: claims.subject().as_str().to_owned(),
            access_token: Secret::new(token.access_token().secret().clone()),
            expires_at,
        })
    }

    /// The broker's client for this service, from its discovery document (whose `issuer`
    /// openidconnect checks equals the configured one).
    async fn sign_in_client(
        &self,
        broker: &TrustedBroker,
        redirect_url: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        AuthError,
    > {
        let allow_loopback = self.inner.config.allow_http_loopback;
        let client_id = broker
            .client_id
            .clone()
            .ok_or_else(|| ConfigError::new("broker.client_id", "required to sign people in"))?;
        check_url(redirect_url, allow_loopback)
            .map_err(|p| ConfigError::new("portal.redirect_url", p))?;
        let issuer = IssuerUrl::new(broker.issuer.clone())
            .map_err(|_| ConfigError::new("broker.issuer", "not a URL"))?;
        let reqwest_client = self.inner.http.clone();
        let http = move |request| {
            send_oidc(
                reqwest_client.clone(),
                allow_loopback,
                MAX_SIGN_IN_BYTES,
                request,
            )
        };
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| AuthError::Discovery(Box::new(e)))?;
        check_url(
            metadata.authorization_endpoint().url().as_str(),
            allow_loopback,
        )
        .map_err(|_| AuthError::UntrustedUrl)?;
        if let Some(token) = metadata.token_endpoint() {
            check_url(token.url().as_str(), allow_loopback).map_err(|_| AuthError::UntrustedUrl)?;
        }
        let redirect = RedirectUrl::new(redirect_url.to_owned())
            .map_err(|_| ConfigError::new("portal.redirect_url", "not a URL"))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id),
            broker
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().to_owned())),
        )
        .set_redirect_uri(redirect))
    }
}

/// Byte equality in time independent of where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
