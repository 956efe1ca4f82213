//! The one error type of the crate, [`AuthError`], with a stable [`code`](AuthError::code) per
//! rejection.
//!
//! Invariant: no variant carries token content. Errors name claims, header parameters, issuers'
//! positions in the configuration and HTTP statuses, never a token, a visa or a claim value, so
//! `Display`, `Debug` and logs are safe to write anywhere.

use gemj_passport::ClaimError;

/// Why a Passport, a Visa, a key set, a configuration or a broker call was refused.
///
/// Every variant has a stable snake_case [`code`](AuthError::code) for audit records, metrics and
/// error bodies. `Display` is for humans and may change: never match on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The [`AuthConfig`](crate::AuthConfig) or a [`TrustedBroker`](crate::TrustedBroker) is
    /// invalid.
    #[error("invalid authentication configuration: {0}")]
    Config(#[from] ConfigError),
    /// The token is not a JWS Compact Serialization of a JSON header and payload (RFC 7515
    /// section 7.1): wrong number of segments, bad base64url, invalid or duplicate-key JSON.
    #[error("malformed token ({0})")]
    MalformedToken(&'static str),
    /// The token is longer than this verifier accepts.
    #[error("token too large")]
    TokenTooLarge,
    /// The `alg` header is not `RS256` or `ES256` (AAI OIDC Profile 1.2: "`alg` MUST be RS256 or
    /// ES256"); this includes `none`, every HMAC, RSA-PSS, ES384 and EdDSA.
    #[error("signature algorithm not allowed")]
    AlgNotAllowed,
    /// The `typ` header is not the one required for this kind of token; for an institution token
    /// (which must be `JWT` or untyped), also a payload carrying `ga4gh_passport_v1` or
    /// `ga4gh_visa_v1`: a Passport or Visa is never accepted as another kind of token.
    #[error("wrong token type (typ header)")]
    WrongTyp,
    /// The header has a `crit` parameter; this verifier understands no extension (RFC 7515
    /// section 4.1.11: a recipient MUST reject a JWS whose `crit` lists a parameter it does not
    /// understand).
    #[error("critical header extension not understood")]
    CritNotUnderstood,
    /// The header has no `kid` (AAI OIDC Profile: "the `kid` parameter ... must be included").
    #[error("missing key id (kid header)")]
    MissingKid,
    /// The token's `iss` is not one of the trusted issuers.
    #[error("untrusted issuer")]
    UntrustedIssuer,
    /// A Passport signed by a trusted issuer that is not trusted to sign Passports (a dataset
    /// committee or a Visa issuer only).
    #[error("issuer not trusted to sign passports")]
    PassportIssuerNotTrusted,
    /// A Visa whose `asserted` is older than the configured maximum age for its type.
    #[error("visa asserted too long ago")]
    AssertedTooOld,
    /// A Visa of a type its (trusted) issuer is not trusted to sign.
    #[error("issuer not trusted for this visa type")]
    VisaTypeNotTrusted,
    /// A ControlledAccessGrants Visa for a dataset its issuer does not govern.
    #[error("grant for a dataset its issuer does not govern")]
    GrantNotGoverned,
    /// The token's `jku` header is not exactly the JWKS URL configured for its issuer (AAI OIDC
    /// Profile 1.2: the Clearinghouse "MUST verify that the `jku` is trusted for the given `iss`").
    #[error("untrusted jku header")]
    UntrustedJku,
    /// The issuer's key set has no key with the token's `kid`, even after a refetch (or a refetch
    /// was not allowed yet by the per-issuer rate limit).
    #[error("unknown key id")]
    UnknownKid,
    /// The key named by `kid` is an RSA key shorter than 2048 bits.
    #[error("key too weak")]
    WeakKey,
    /// The key named by `kid` is of a type, curve, size or use this verifier does not accept
    /// (symmetric, OKP, P-384, RSA above 8192 bits, `use` other than `sig`).
    #[error("unsupported key")]
    UnsupportedKey,
    /// The key named by `kid` does not fit the token's `alg` (an EC key for RS256, a JWK `alg`
    /// other than the header's).
    #[error("key does not match the token algorithm")]
    KeyAlgMismatch,
    /// The signature does not verify with the issuer's key.
    #[error("bad signature")]
    BadSignature,
    /// The issuer's key set could not be fetched (or was invalid) and no unexpired copy is
    /// cached: the verifier fails closed.
    #[error("issuer key set unavailable")]
    JwksUnavailable,
    /// A claim is missing, malformed, or fails a Passport or Visa rule (times, audience, limits,
    /// conditions, sources).
    #[error("claim check failed: {0}")]
    Claim(#[from] ClaimError),
    /// A Visa that carries a `scope` claim: Passport 1.2 Visas are Visa Document Tokens, which
    /// never do (an access token, or an AAI 1.0 Visa Access Token, is not accepted as a Visa).
    #[error("a visa must not carry scope")]
    VisaScopeNotAllowed,
    /// An institution token whose `exp` is more than
    /// [`MAX_INSTITUTION_TOKEN_LIFETIME_SECS`](crate::MAX_INSTITUTION_TOKEN_LIFETIME_SECS) after
    /// its `iat`: request tokens must be short-lived.
    #[error("token lifetime too long")]
    LifetimeTooLong,
    /// No passport was given where at least one is required.
    #[error("no passport given")]
    NoPassport,
    /// More Passports were presented in one request than
    /// [`MAX_POST_PASSPORTS`](crate::MAX_POST_PASSPORTS).
    #[error("too many passports")]
    TooManyPassports,
    /// Passports for different subjects were presented together.
    #[error("passports for different subjects")]
    MixedSubjects,
    /// A broker endpoint URL is not allowed (not HTTPS, and not a permitted loopback URL).
    #[error("broker URL not allowed")]
    UntrustedUrl,
    /// The broker could not be reached, timed out, or its response was too large.
    #[error("broker unavailable")]
    BrokerUnavailable(#[source] HttpError),
    /// The broker answered with a non-success HTTP status.
    #[error("broker refused the request (HTTP {status})")]
    BrokerRejected {
        /// The HTTP status code.
        status: u16,
    },
    /// The broker's answer is not the expected JSON document.
    #[error("invalid broker response ({0})")]
    BrokerResponse(&'static str),
    /// OpenID Connect discovery of the broker failed.
    #[error("broker discovery failed")]
    Discovery(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A local issuer's key file could not be read, written or parsed.
    #[error("local issuer key ({0})")]
    IssuerKey(&'static str, #[source] Option<std::io::Error>),
    /// Signing a token failed.
    #[error("signing failed")]
    Signing,
}

impl AuthError {
    /// The stable snake_case code of this error, for audit records, metrics and error bodies.
    ///
    /// Claim errors keep the codes of [`ClaimError::code`], except that a missing standard claim
    /// is named: `missing_claim_iss`, `missing_claim_sub`, `missing_claim_iat`,
    /// `missing_claim_exp`, `missing_claim_aud` (required in institution tokens),
    /// `missing_claim_ga4gh_passport_v1`, `missing_claim_ga4gh_visa_v1`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gemj_auth::AuthError;
    /// use gemj_passport::ClaimError;
    ///
    /// assert_eq!(AuthError::AlgNotAllowed.code(), "alg_not_allowed");
    /// assert_eq!(AuthError::Claim(ClaimError::MissingClaim("iss")).code(), "missing_claim_iss");
    /// assert_eq!(AuthError::Claim(ClaimError::Expired).code(), "expired");
    /// ```
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "invalid_config",
            Self::MalformedToken(_) => "malformed_token",
            Self::TokenTooLarge => "token_too_large",
            Self::AlgNotAllowed => "alg_not_allowed",
            Self::WrongTyp => "wrong_typ",
            Self::CritNotUnderstood => "crit_not_understood",
            Self::MissingKid => "missing_kid",
            Self::UntrustedIssuer => "untrusted_issuer",
            Self::PassportIssuerNotTrusted => "passport_issuer_not_trusted",
            Self::VisaTypeNotTrusted => "visa_type_not_trusted_for_issuer",
            Self::AssertedTooOld => "asserted_too_old",
            Self::GrantNotGoverned => "grant_not_governed_by_issuer",
            Self::UntrustedJku => "untrusted_jku",
            Self::UnknownKid => "unknown_kid",
            Self::WeakKey => "weak_key",
            Self::UnsupportedKey => "unsupported_key",
            Self::KeyAlgMismatch => "key_alg_mismatch",
            Self::BadSignature => "bad_signature",
            Self::JwksUnavailable => "jwks_unavailable",
            Self::Claim(e) => claim_code(*e),
            Self::VisaScopeNotAllowed => "visa_scope_not_allowed",
            Self::LifetimeTooLong => "lifetime_too_long",
            Self::NoPassport => "no_passport",
            Self::TooManyPassports => "too_many_passports",
            Self::MixedSubjects => "mixed_subjects",
            Self::UntrustedUrl => "untrusted_url",
            Self::BrokerUnavailable(_) => "broker_unavailable",
            Self::BrokerRejected { .. } => "broker_rejected",
            Self::BrokerResponse(_) => "broker_response_invalid",
            Self::Discovery(_) => "discovery_failed",
            Self::IssuerKey(..) => "issuer_key",
            Self::Signing => "signing_failed",
        }
    }
}

/// The code of a claim error, naming the standard claims when they are missing.
fn claim_code(e: ClaimError) -> &'static str {
    match e {
        ClaimError::MissingClaim("iss") => "missing_claim_iss",
        ClaimError::MissingClaim("sub") => "missing_claim_sub",
        ClaimError::MissingClaim("iat") => "missing_claim_iat",
        ClaimError::MissingClaim("exp") => "missing_claim_exp",
        ClaimError::MissingClaim("aud") => "missing_claim_aud",
        ClaimError::MissingClaim("ga4gh_passport_v1") => "missing_claim_ga4gh_passport_v1",
        ClaimError::MissingClaim("ga4gh_visa_v1") => "missing_claim_ga4gh_visa_v1",
        ClaimError::MissingClaim("jti") => "missing_claim_jti",
        other => other.code(),
    }
}

/// What is wrong with an [`AuthConfig`](crate::AuthConfig) or a
/// [`TrustedBroker`](crate::TrustedBroker).
///
/// The message names the field (`trusted[1].jwks_url`) and the rule; it never includes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConfigError {
    /// The offending field, for example `trusted[1].jwks_url`.
    pub field: String,
    /// The rule it breaks.
    pub problem: &'static str,
}

impl ConfigError {
    /// A configuration error about `field`.
    pub(crate) fn new(field: impl Into<String>, problem: &'static str) -> Self {
        Self {
            field: field.into(),
            problem,
        }
    }
}

/// Why an HTTP exchange with a JWKS endpoint or a broker failed.
///
/// Carries a kind and, for transport failures, the client's error; never a request or response
/// body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL is not allowed by the configuration (not HTTPS, not a permitted loopback URL).
    #[error("URL not allowed")]
    UrlNotAllowed,
    /// The request could not be sent or the response not read (includes timeouts).
    #[error("HTTP transport error")]
    Transport(#[source] reqwest::Error),
    /// The request could not be built.
    #[error("HTTP request could not be built")]
    Request,
    /// The response body is larger than allowed.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The endpoint answered with an unexpected status (JWKS fetches only accept 200).
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// A test or custom fetcher failed.
    #[error("fetch failed: {0}")]
    Other(&'static str),
}

#[cfg(test)]
mod tests {
    use super::{AuthError, ClaimError};

    #[test]
    fn codes_are_snake_case_and_claims_named() {
        #[track_caller]
        fn check(e: AuthError, expect: &str) {
            assert_eq!(e.code(), expect);
            assert!(
                e.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()),
                "{expect}"
            );
        }
        check(ClaimError::MissingClaim("sub").into(), "missing_claim_sub");
        check(
            ClaimError::MissingClaim("ga4gh_visa_v1.by").into(),
            "missing_claim",
        );
        check(ClaimError::TooManyVisas.into(), "too_many_visas");
        check(AuthError::BrokerRejected { status: 401 }, "broker_rejected");
        check(AuthError::MalformedToken("segments"), "malformed_token");
        check(ClaimError::MissingClaim("aud").into(), "missing_claim_aud");
        check(AuthError::LifetimeTooLong, "lifetime_too_long");
    }
}
