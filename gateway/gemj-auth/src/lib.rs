//! Passport and Visa verification for the gateway: signatures (RS256, ES256 on aws-lc-rs),
//! trusted issuers, JWKS fetching and caching, the v1.0 userinfo flow and token exchange, and a
//! local issuer (the demo's and the tests' signer). The only user of JWT crypto and openidconnect in the workspace.
//!
//! Entry points:
//!
//! * [`Verifier::verify_passport`]: a GA4GH Passport 1.2 JWT in, a [`VerifiedPassport`] out (the
//!   subject, the usable Visas, and the ignored ones with a reason code);
//! * [`Verifier::verify_visas`]: the same for a bare Visa list (the v1.0 flow, after
//!   [`Verifier::passport_from_userinfo`]);
//! * [`Verifier::verify_post_body_passports`]: the `passports` list of DRS and Beacon POST bodies;
//! * [`Verifier::exchange_token`]: RFC 8693 token exchange for a Passport;
//! * [`Verifier::verify_access_token`]: a broker's access token in, a [`VerifiedPassport`] out
//!   (userinfo or token exchange, then verification; cached for a minute);
//! * [`Verifier::verify_institution_token`]: an institution-signed request token (a short-lived
//!   JWT, `typ` `JWT` or none, with `iss`, `sub`, `iat`, `exp` and this service's `aud`) in, a
//!   [`VerifiedToken`] out (issuer, subject, hash, `jti`, times), with a verifier whose trusted
//!   issuers are the institutions;
//! * [`Verifier::begin_sign_in`] and [`Verifier::finish_sign_in`]: a person signs in at a broker
//!   (OpenID Connect Authorization Code with PKCE); the broker's access token comes back, for
//!   [`Verifier::verify_access_token`] like any API caller's;
//! * [`LocalIssuer`]: signs Passports, Visas and institution tokens
//!   ([`LocalIssuer::issue_token`]) with a key kept in a folder, and publishes its JWKS (the
//!   demo broker of `gemj_demo::broker`, and the tests' issuers).
//!
//! Claim rules (times, audience, conditions, linked identities, trusted sources) come from
//! gemj-passport; this crate adds what JWT libraries leave out: `iss` required and trusted,
//! exact (issuer, JWKS URL) pairs and `jku`, `iat` in the future refused, any `crit` refused,
//! only `RS256` (2048 to 8192-bit keys, measured here) and `ES256` (P-256), strict JSON (no
//! duplicate keys), bounded key sets, rate-limited refetches and fail-closed key caching.
//!
//! Invariant: no token, Visa or claim value is ever logged or put in an error; logs and
//! [`RejectedVisa`] carry SHA-256 hashes and reason codes. Invariant: keys come only from the
//! configured JWKS URL of the token's issuer; embedded `jwk`/`x5c`/`x5u` headers are ignored.
//! Invariant: no function panics on any input.

mod broker;
mod cache;
mod config;
mod error;
mod http;
mod institution;
mod json;
mod jwks;
mod jws;
mod local_issuer;
mod oidc;
mod verifier;

pub use broker::{
    ACCESS_TOKEN_TYPE, PASSPORT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE, UserinfoVisas,
};
pub use config::{AuthConfig, Secret, TrustedBroker, TrustedIssuer};
pub use error::{AuthError, ConfigError, HttpError};
pub use institution::{
    MAX_CLIENT_ASSERTION_LIFETIME_SECS, MAX_INSTITUTION_TOKEN_BYTES,
    MAX_INSTITUTION_TOKEN_LIFETIME_SECS, VerifiedToken,
};
pub use jwks::{BoxFuture, HttpJwksFetcher, JwksFetcher, StaticJwksFetcher};
pub use local_issuer::{ISSUER_KEY_FILE, LocalIssuer};
pub use oidc::{PendingSignIn, SignedIn};
pub use verifier::{
    ACCESS_TOKEN_RECHECK_SECS, MAX_PASSPORT_BYTES, MAX_POST_PASSPORTS, RejectedVisa, SignedVisa,
    VerifiedPassport, VerifiedVisa, Verifier, VerifierStats, now_unix,
};
