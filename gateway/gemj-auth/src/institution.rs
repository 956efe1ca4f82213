//! Institution-signed request tokens: short-lived JWTs an institution signs with its registered
//! key to call the gateway (consent events, its inbox, the audit of its participants), verified
//! by [`Verifier::verify_institution_token`] (whose documentation lists the rules in order) with
//! the JWS machinery of Passports ([`Verifier::verify_jws`]).
//!
//! Invariant: errors and logs carry the token's hash and reason codes, never the token or a claim
//! value (the issuer, which is configuration, is logged on success).

use gemj_passport::{Audience, ClaimError, check_times};
use serde_json::{Map, Value};
use tracing::{debug, info};

use crate::cache::sha256;
use crate::error::{AuthError, ConfigError};
use crate::jws::TypRule;
use crate::verifier::{Verifier, check_nbf};

/// The longest institution token accepted, in bytes (16 KiB).
pub const MAX_INSTITUTION_TOKEN_BYTES: usize = 16 * 1024;

/// The longest lifetime (`exp - iat`) of an institution token, in seconds (one hour).
pub const MAX_INSTITUTION_TOKEN_LIFETIME_SECS: i64 = 3600;

/// The longest a SMART client assertion may live (`exp - iat`, and `exp` after now), in
/// seconds: five minutes, as SMART Backend Services require.
pub const MAX_CLIENT_ASSERTION_LIFETIME_SECS: i64 = 300;

/// An institution token (or SMART client assertion) that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The token's `iss`: one of the trusted issuers, exactly as configured.
    pub issuer: String,
    /// The token's `sub`.
    pub subject: String,
    /// The lowercase hex SHA-256 of the token bytes, for audit records and replay detection.
    pub token_hash: String,
    /// The token's `jti`, if it has one.
    pub jti: Option<String>,
    /// The token's `iat`, in seconds since the epoch.
    pub issued_at: i64,
    /// The token's `exp`, in seconds since the epoch.
    pub expires_at: i64,
}

/// The checked claims of an institution token.
struct Claims {
    iss: String,
    sub: String,
    iat: i64,
    exp: i64,
    jti: Option<String>,
}

impl Verifier {
    /// Verifies an institution-signed request token (a JWT with `typ` `JWT` or none) at time
    /// `now` (seconds since the epoch).
    ///
    /// Build a separate verifier for institutions, whose
    /// [`AuthConfig::trusted`](crate::AuthConfig::trusted) lists their (issuer, JWKS URL) pairs;
    /// map [`VerifiedToken::issuer`] to the institution. The JWS rules are those of
    /// [`verify_passport`](Self::verify_passport) (RS256 of 2048 bits or more or ES256, `kid`
    /// required, no `crit`, `jku` equal to the configured URL, strict JSON, the same key set
    /// cache and refetch limits). Then, in this order:
    ///
    /// 1. a [`required_audience`](crate::AuthConfig::required_audience) must be configured, else
    ///    every token is refused (`invalid_config`: fail closed);
    /// 2. at most [`MAX_INSTITUTION_TOKEN_BYTES`] (`token_too_large`);
    /// 3. the JWS checks; a Passport or Visa `typ` is `wrong_typ`;
    /// 4. a payload carrying `ga4gh_passport_v1` or `ga4gh_visa_v1` is `wrong_typ`;
    /// 5. `iss`, `sub` non-empty strings, `iat`, `exp` integers, `aud` a string or a list of
    ///    strings (`missing_claim_sub`, `missing_claim_aud`, ..., `invalid_claim`); `jti`, when
    ///    present, a non-empty string;
    /// 6. `nbf`, when present, at most the clock skew in the future (`not_yet_valid`);
    /// 7. `exp` plus the clock skew after `now` (`expired`), `iat` at most the skew in the future
    ///    (`issued_in_future`), `exp` after `iat` (`invalid_lifetime`);
    /// 8. `exp - iat` at most [`MAX_INSTITUTION_TOKEN_LIFETIME_SECS`] (`lifetime_too_long`);
    /// 9. `aud` contains the configured audience (`wrong_audience`).
    ///
    /// Verified tokens are not cached: every call checks the signature. Replay protection is the
    /// caller's: [`VerifiedToken::jti`] and [`VerifiedToken::token_hash`] identify the token and
    /// [`VerifiedToken::expires_at`] bounds how long to remember them.
    ///
    /// # Errors
    ///
    /// The first failed check, as listed above; the key and signature codes are those of
    /// Passports (`untrusted_issuer`, `untrusted_jku`, `unknown_kid`, `jwks_unavailable`,
    /// `key_alg_mismatch`, `bad_signature`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use gemj_auth::{AuthConfig, LocalIssuer, Verifier};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let dir = tempfile::tempdir()?;
    /// let hospital = LocalIssuer::load_or_create(dir.path(), "https://hospital.example.jp")?;
    /// let config = AuthConfig {
    ///     trusted: vec![hospital.trusted_issuer()],
    ///     required_audience: Some("https://gemj.example.jp".into()),
    ///     ..AuthConfig::default()
    /// };
    /// let verifier = Verifier::with_fetcher(config, hospital.static_fetcher())?;
    /// let now = 1_700_000_000;
    /// let token = hospital.issue_token("consent-service", "https://gemj.example.jp",
    ///     Duration::from_secs(300), now)?;
    /// let verified = verifier.verify_institution_token(&token, now).await?;
    /// assert_eq!(verified.issuer, "https://hospital.example.jp");
    /// assert_eq!(verified.subject, "consent-service");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn verify_institution_token(
        &self,
        token: &str,
        now: i64,
    ) -> Result<VerifiedToken, AuthError> {
        let Some(audience) = self.config().required_audience.as_deref() else {
            debug!(
                message = "Institution token refused: no required_audience configured.",
                reason = "invalid_config"
            );
            return Err(ConfigError::new(
                "required_audience",
                "must be set to verify institution tokens",
            )
            .into());
        };
        if token.len() > MAX_INSTITUTION_TOKEN_BYTES {
            debug!(
                message = "Institution token rejected.",
                reason = AuthError::TokenTooLarge.code()
            );
            return Err(AuthError::TokenTooLarge);
        }
        let token_hash = hex::encode(sha256(token.as_bytes()));
        match self.verify_institution_claims(token, audience, now).await {
            Ok(claims) => {
                info!(
                    message = "Institution token verified.",
                    issuer = %claims.iss,
                    token_hash = %token_hash
                );
                Ok(VerifiedToken {
                    issuer: claims.iss,
                    subject: claims.sub,
                    token_hash,
                    jti: claims.jti,
                    issued_at: claims.iat,
                    expires_at: claims.exp,
                })
            }
            Err(e) => {
                debug!(
                    message = "Institution token rejected.",
                    token_hash = %token_hash,
                    reason = e.code()
                );
                Err(e)
            }
        }
    }

    /// Verifies a SMART Backend Services client assertion (RFC 7523, `private_key_jwt`): a JWT
    /// signed by a registered institution's key whose `iss` and `sub` are both the client id
    /// (the institution's issuer), whose `aud` is the token endpoint, with a `jti` and a
    /// lifetime of at most five minutes (SMART App Launch 2.x, Backend Services). Replays are
    /// the caller's to refuse, by the `jti` returned.
    ///
    /// # Errors
    /// Every error of [`verify_institution_token`](Self::verify_institution_token) (signature,
    /// key, times, `typ`), `wrong_audience` when `aud` is not `token_endpoint`,
    /// `invalid_claim` (`sub`) when `sub` is not `iss`, `missing_claim` (`jti`), and
    /// `lifetime_too_long` past five minutes.
    pub async fn verify_client_assertion(
        &self,
        token: &str,
        token_endpoint: &str,
        now: i64,
    ) -> Result<VerifiedToken, AuthError> {
        if token.len() > MAX_INSTITUTION_TOKEN_BYTES {
            return Err(AuthError::TokenTooLarge);
        }
        let token_hash = hex::encode(sha256(token.as_bytes()));
        let claims = self
            .verify_institution_claims(token, token_endpoint, now)
            .await
            .inspect_err(|e| {
                debug!(message = "Client assertion rejected.", token_hash = %token_hash, reason = e.code());
            })?;
        if claims.sub != claims.iss {
            return Err(ClaimError::InvalidClaim("sub").into());
        }
        let Some(jti) = claims.jti else {
            return Err(ClaimError::MissingClaim("jti").into());
        };
        if claims.exp.saturating_sub(claims.iat) > MAX_CLIENT_ASSERTION_LIFETIME_SECS
            || claims.exp.saturating_sub(now) > MAX_CLIENT_ASSERTION_LIFETIME_SECS + self.skew()
        {
            return Err(AuthError::LifetimeTooLong);
        }
        info!(message = "Client assertion verified.", issuer = %claims.iss, token_hash = %token_hash);
        Ok(VerifiedToken {
            issuer: claims.iss,
            subject: claims.sub,
            token_hash,
            jti: Some(jti),
            issued_at: claims.iat,
            expires_at: claims.exp,
        })
    }

    /// The signature and claim checks of [`verify_institution_token`](Self::verify_institution_token).
    async fn verify_institution_claims(
        &self,
        token: &str,
        audience: &str,
        now: i64,
    ) -> Result<Claims, AuthError> {
        let jws = self
            .verify_jws(token, MAX_INSTITUTION_TOKEN_BYTES, TypRule::Jwt, now)
            .await?;
        let Value::Object(map) = &jws.payload else {
            return Err(AuthError::MalformedToken("payload not a JSON object"));
        };
        if map.contains_key("ga4gh_passport_v1") || map.contains_key("ga4gh_visa_v1") {
            return Err(AuthError::WrongTyp);
        }
        let iss = required_str(map, "iss")?;
        let sub = required_str(map, "sub")?;
        let iat = required_i64(map, "iat")?;
        let exp = required_i64(map, "exp")?;
        let aud = match map.get("aud") {
            None => return Err(ClaimError::MissingClaim("aud").into()),
            Some(value) => parse_audience(value)?,
        };
        let jti = match map.get("jti") {
            None => None,
            Some(Value::String(j)) if !j.is_empty() => Some(j.clone()),
            Some(_) => return Err(ClaimError::InvalidClaim("jti").into()),
        };
        check_nbf(&jws.payload, now, self.skew())?;
        check_times(iat, exp, now, self.skew())?;
        if exp.saturating_sub(iat) > MAX_INSTITUTION_TOKEN_LIFETIME_SECS {
            return Err(AuthError::LifetimeTooLong);
        }
        if !aud.contains(audience) {
            return Err(ClaimError::WrongAudience.into());
        }
        Ok(Claims {
            iss,
            sub,
            iat,
            exp,
            jti,
        })
    }
}

/// The `aud` claim: a string or a list of strings; anything else is `invalid_claim`.
fn parse_audience(value: &Value) -> Result<Audience, ClaimError> {
    match value {
        Value::String(a) => Ok(Audience::One(a.clone())),
        Value::Array(list) => list
            .iter()
            .map(|a| a.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Audience::Many)
            .ok_or(ClaimError::InvalidClaim("aud")),
        _ => Err(ClaimError::InvalidClaim("aud")),
    }
}

/// A required non-empty string claim.
fn required_str(map: &Map<String, Value>, name: &'static str) -> Result<String, ClaimError> {
    match map.get(name) {
        None => Err(ClaimError::MissingClaim(name)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(ClaimError::InvalidClaim(name)),
    }
}

/// A required NumericDate claim, in whole seconds.
fn required_i64(map: &Map<String, Value>, name: &'static str) -> Result<i64, ClaimError> {
    map.get(name)
        .ok_or(ClaimError::MissingClaim(name))?
        .as_i64()
        .ok_or(ClaimError::InvalidClaim(name))
}
