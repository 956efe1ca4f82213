//! The [`Verifier`]: Passport and Visa verification with trusted issuers, cached key sets, a
//! verified-Visa cache and a verified-Passport cache.
//!
//! The order of checks for one token is fixed, so every rejection has one well-defined code:
//! size, JWS shape, `alg`, `crit`, `typ`, `kid` (see [`crate::jws`]); then `iss` present and
//! trusted, `jku` equal to the trusted JWKS URL, the key (`unknown_kid`, `weak_key`,
//! `unsupported_key`, `key_alg_mismatch`, `jwks_unavailable`), the signature; then the claims
//! (gemj-passport: presence, limits, `nbf`, times with the configured clock skew, audience, `asserted`).
//!
//! A Passport that fails any of these is refused. A Visa that fails is ignored and reported in
//! [`VerifiedPassport::rejected`], as are Visas their issuer is not trusted to sign (trust is per
//! issuer: [`TrustedIssuer::allows_visa`] checks the type, the [`SourcePolicy`] of `source` and
//! `by`, and the datasets a grant's issuer governs), Visas of another subject not linked by a
//! `LinkedIdentities` Visa, and Visas whose `conditions` are not met. A Passport whose issuer is
//! not trusted to sign Passports is refused (`passport_issuer_not_trusted`).
//!
//! Invariant: all time decisions use the `now` given by the caller (seconds since the epoch),
//! including cache expiry and the JWKS refetch rate limit; no clock is read here.
//!
//! [`SourcePolicy`]: gemj_passport::SourcePolicy
//! [`TrustedIssuer::allows_visa`]: crate::TrustedIssuer::allows_visa

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use gemj_passport::{
    ClaimError, IdentityLinks, MAX_VISA_BYTES, MAX_VISAS, VisaClaims, VisaType, check_audience,
    check_not_before, check_times, check_visa, conditions_met, parse_passport_claims,
    parse_visa_claims,
};
use serde_json::Value;
use tracing::{debug, info, warn};

use crate::broker::BrokerEndpoints;
use crate::cache::{BoundedCache, Digest, TokenCache, sha256};
use crate::config::AuthConfig;
use crate::error::AuthError;
use crate::jwks::{HttpJwksFetcher, JwksFetcher, KeyEntry, KeySet, VerifyingKey};
use crate::jws::{self, Jws, TypRule};

/// How long a verified broker access token is trusted before the broker is asked again.
pub const ACCESS_TOKEN_RECHECK_SECS: i64 = 60;

/// The longest Passport JWT accepted, in bytes: room for [`MAX_VISAS`] Visas of
/// [`MAX_VISA_BYTES`], base64url-encoded, plus 64 KiB.
pub const MAX_PASSPORT_BYTES: usize = MAX_VISAS * MAX_VISA_BYTES / 3 * 4 + 64 * 1024;

/// The most Passports accepted in one POST body.
pub const MAX_POST_PASSPORTS: usize = 16;

/// The number of verified Visas kept in the verified-Visa cache.
const VISA_CACHE_ENTRIES: usize = 100_000;
/// The number of verified Passports kept in the verified-Passport cache.
const PASSPORT_CACHE_ENTRIES: usize = 10_000;
/// The bytes of Passport tokens kept in the verified-Passport cache.
const PASSPORT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// A Visa that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedVisa {
    /// The lowercase hex SHA-256 of the Visa JWT ([`gemj_passport::visa_hash`]).
    pub hash: String,
    /// The Visa's verified claims.
    pub claims: VisaClaims,
    /// The Visa as its issuer signed it, to hand on unchanged (the Beacon network's passports
    /// for its members carry only the Visas each needs).
    pub jwt: SignedVisa,
}

/// A Visa JWT as signed. A credential: its `Debug` shows only that it is there, so it never
/// reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedVisa(Arc<str>);

impl SignedVisa {
    /// Wraps a Visa JWT.
    #[must_use]
    pub fn new(jwt: &str) -> Self {
        Self(Arc::from(jwt))
    }

    /// The JWT.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SignedVisa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignedVisa(..)")
    }
}

/// A Visa that was ignored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedVisa {
    /// The lowercase hex SHA-256 of the Visa JWT.
    pub hash: String,
    /// The [`AuthError::code`] of the failed check (for example `bad_signature`,
    /// `subject_mismatch`, `conditions_not_met`, `untrusted_source`).
    pub reason: &'static str,
}

/// The outcome of verifying a Passport (or a list of Visas): its subject and the usable Visas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPassport {
    /// The Passport's `iss` (for a bare Visa list, the subject's issuer given by the caller).
    pub issuer: String,
    /// The Passport's `sub` (for a bare Visa list, the subject given by the caller).
    pub subject: String,
    /// The lowercase hex SHA-256 of the Passport JWT; for merged or bare Visa lists, a SHA-256
    /// over the component hashes.
    pub passport_hash: String,
    /// The usable Visas, in Passport order.
    pub visas: Vec<VerifiedVisa>,
    /// The ignored Visas, in Passport order.
    pub rejected: Vec<RejectedVisa>,
    /// When the Passport expires (`exp`); for a bare Visa list, the earliest `exp` of the usable
    /// Visas (or `now` when none is usable).
    pub expires_at: i64,
    /// The `jti` of the Passport (of each, for merged POST-body Passports; none for a bare Visa
    /// list), for revocation.
    pub token_ids: Vec<String>,
    /// For a Passport of an issuer trusted as a Beacon network
    /// ([`TrustedIssuer::beacon_network`](crate::TrustedIssuer::beacon_network)): the caller it
    /// stands for (`iss#sub`), the one identity the network's own `LinkedIdentities` Visas about
    /// its subject name, when that identity's issuer is trusted for Passports here. `None`
    /// otherwise (every other Passport stands for its own `iss#sub`).
    pub network_caller: Option<String>,
}

/// Counters of the expensive operations, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifierStats {
    /// Key set fetch attempts.
    pub jwks_fetches: u64,
    /// Signature verifications performed.
    pub signature_verifications: u64,
    /// Visas answered from the verified-Visa cache.
    pub visa_cache_hits: u64,
    /// Passports answered from the verified-Passport cache.
    pub passport_cache_hits: u64,
}

/// Verifies GA4GH Passports and Visas (RS256 and ES256 on aws-lc-rs).
///
/// Cheap to clone (one `Arc`), `Send` and `Sync`: build one at start-up and share it.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use gemj_auth::{AuthConfig, StaticJwksFetcher, TrustedIssuer, Verifier};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let mut config = AuthConfig::default();
/// config.trusted.push(TrustedIssuer::new("https://broker.example.jp", "https://broker.example.jp/jwks"));
/// let verifier = Verifier::with_fetcher(config, Arc::new(StaticJwksFetcher::default()))?;
/// let err = verifier.verify_passport("not.a.jwt", 1_700_000_000).await.unwrap_err();
/// assert_eq!(err.code(), "malformed_token");
/// # Ok::<(), gemj_auth::AuthError>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    pub(crate) inner: Arc<Inner>,
}

/// The shared state of a [`Verifier`].
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: AuthConfig,
    issuers: HashMap<String, IssuerKeys>,
    fetcher: Arc<dyn JwksFetcher>,
    pub(crate) http: reqwest::Client,
    visa_cache: BoundedCache<CachedVisa>,
    passport_cache: TokenCache<CachedPassport>,
    access_cache: TokenCache<CachedPassport>,
    pub(crate) brokers: Mutex<HashMap<String, (std::time::Instant, BrokerEndpoints)>>,
    counters: Counters,
}

/// One trusted issuer's key set and fetch state.
#[derive(Debug)]
struct IssuerKeys {
    /// Its entry in `config.trusted`: what it may sign.
    trust: usize,
    jwks_url: String,
    current: RwLock<Option<Arc<CachedKeys>>>,
    fetch: tokio::sync::Mutex<FetchState>,
}

/// A fetched key set.
#[derive(Debug)]
struct CachedKeys {
    set: KeySet,
    fetched_at: i64,
}

/// When the key set was last fetched, and whether that failed.
#[derive(Debug, Default)]
struct FetchState {
    last_attempt: Option<i64>,
    last_failed: bool,
}

/// A verified Visa in the cache.
#[derive(Debug, Clone)]
struct CachedVisa {
    claims: Arc<VisaClaims>,
    /// Whether its `typ` was exactly `vnd.ga4gh.visa+jwt` (so it also satisfies the strict rule).
    strict_typ: bool,
}

/// A verified Passport in the cache.
#[derive(Debug, Clone)]
struct CachedPassport {
    result: Arc<VerifiedPassport>,
    verified_at: i64,
}

/// Operation counters.
#[derive(Debug, Default)]
struct Counters {
    jwks_fetches: AtomicU64,
    signature_verifications: AtomicU64,
    visa_cache_hits: AtomicU64,
    passport_cache_hits: AtomicU64,
}

/// The verified Visas and the rejected ones of one Passport, with the caching decision.
#[derive(Debug, Default)]
struct VisaOutcome {
    visas: Vec<VerifiedVisa>,
    rejected: Vec<RejectedVisa>,
    /// `false` when a rejection may not hold later (keys unavailable, times in the future).
    cacheable: bool,
}

/// Whole seconds of a duration, saturating into `i64`.
pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Whether a rejection with this code may not hold on a later attempt.
fn transient(code: &str) -> bool {
    matches!(
        code,
        "jwks_unavailable"
            | "unknown_kid"
            | "issued_in_future"
            | "asserted_in_future"
            | "not_yet_valid"
    )
}

/// The current time in seconds since the epoch, from the system clock (0 if the clock is before
/// 1970).
///
/// # Examples
///
/// ```
/// assert!(gemj_auth::now_unix() > 1_600_000_000);
/// ```
#[must_use]
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, secs)
}

impl Verifier {
    /// A verifier fetching key sets over HTTPS with reqwest.
    ///
    /// # Errors
    ///
    /// [`AuthError::Config`] when [`AuthConfig::validate`] fails; `broker_unavailable` when the
    /// HTTP client cannot be built.
    pub fn new(config: AuthConfig) -> Result<Self, AuthError> {
        config.validate()?;
        let http = crate::http::client(config.fetch_timeout)?;
        let fetcher = Arc::new(HttpJwksFetcher::new(http.clone()));
        Self::build(config, fetcher, http)
    }

    /// A verifier that reads the key sets of `local` from memory (local issuers', such as the
    /// demo broker's, which the gateway itself publishes) and fetches every other key set over
    /// HTTP.
    ///
    /// # Errors
    ///
    /// As [`Verifier::new`].
    pub fn with_local_key_sets(
        config: AuthConfig,
        local: Arc<crate::StaticJwksFetcher>,
    ) -> Result<Self, AuthError> {
        config.validate()?;
        let http = crate::http::client(config.fetch_timeout)?;
        let fetcher = Arc::new(crate::jwks::LocalFirstFetcher {
            local,
            remote: HttpJwksFetcher::new(http.clone()),
        });
        Self::build(config, fetcher, http)
    }

    /// A verifier fetching key sets with `fetcher` (tests, the demo mode).
    ///
    /// # Errors
    ///
    /// As [`Verifier::new`].
    pub fn with_fetcher(
        config: AuthConfig,
        fetcher: Arc<dyn JwksFetcher>,
    ) -> Result<Self, AuthError> {
        config.validate()?;
        let http = crate::http::client(config.fetch_timeout)?;
        Self::build(config, fetcher, http)
    }

    fn build(
        config: AuthConfig,
        fetcher: Arc<dyn JwksFetcher>,
        http: reqwest::Client,
    ) -> Result<Self, AuthError> {
        let issuers = config
            .trusted
            .iter()
            .enumerate()
            .map(|(trust, t)| {
                (
                    t.issuer.clone(),
                    IssuerKeys {
                        trust,
                        jwks_url: t.jwks_url.clone(),
                        current: RwLock::new(None),
                        fetch: tokio::sync::Mutex::new(FetchState::default()),
                    },
                )
            })
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                issuers,
                fetcher,
                http,
                visa_cache: BoundedCache::new(VISA_CACHE_ENTRIES),
                passport_cache: TokenCache::new(PASSPORT_CACHE_ENTRIES, PASSPORT_CACHE_BYTES),
                access_cache: TokenCache::new(PASSPORT_CACHE_ENTRIES, PASSPORT_CACHE_BYTES),
                brokers: Mutex::new(HashMap::new()),
                counters: Counters::default(),
            }),
        })
    }

    /// The configuration in use.
    #[must_use]
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The operation counters since this verifier was built.
    #[must_use]
    pub fn stats(&self) -> VerifierStats {
        let c = &self.inner.counters;
        VerifierStats {
            jwks_fetches: c.jwks_fetches.load(Ordering::Relaxed),
            signature_verifications: c.signature_verifications.load(Ordering::Relaxed),
            visa_cache_hits: c.visa_cache_hits.load(Ordering::Relaxed),
            passport_cache_hits: c.passport_cache_hits.load(Ordering::Relaxed),
        }
    }

    /// Forgets every verified Visa and Passport (the key sets stay cached), so the next
    /// verification of any token checks its signatures again. For operators (after changing trust
    /// out of band) and benchmarks.
    pub fn clear_caches(&self) {
        self.inner.visa_cache.clear();
        self.inner.passport_cache.clear();
        self.inner.access_cache.clear();
    }

    /// Verifies a GA4GH Passport 1.2 JWT (`typ: vnd.ga4gh.passport+jwt`) and its Visas at time
    /// `now` (seconds since the epoch).
    ///
    /// A repeated Passport is answered from the verified-Passport cache, valid until the earliest
    /// of the Passport's `exp`, its usable Visas' `exp`, and the JWKS TTL.
    ///
    /// # Errors
    ///
    /// The first failed Passport check (see the module documentation), for example
    /// `alg_not_allowed`, `untrusted_issuer`, `bad_signature`, `expired`, `wrong_audience`,
    /// `too_many_visas`, `visa_too_large`. Failed Visas are not errors: they are listed in
    /// [`VerifiedPassport::rejected`].
    pub async fn verify_passport(
        &self,
        token: &str,
        now: i64,
    ) -> Result<VerifiedPassport, AuthError> {
        self.verify_passport_shared(token, now)
            .await
            .map(Arc::unwrap_or_clone)
    }

    /// [`Verifier::verify_passport`], answering a repeated Passport with the cached result
    /// itself, not a copy of it (the request path: no copy of every Visa per request).
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify_passport`].
    pub async fn verify_passport_shared(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Arc<VerifiedPassport>, AuthError> {
        if token.len() > MAX_PASSPORT_BYTES {
            return Err(AuthError::TokenTooLarge);
        }
        if let Some(hit) = self.inner.passport_cache.get(token, now)
            && now >= hit.verified_at
        {
            self.inner
                .counters
                .passport_cache_hits
                .fetch_add(1, Ordering::Relaxed);
            return Ok(hit.result);
        }
        let digest = sha256(token.as_bytes());
        let passport_hash = hex::encode(digest);
        // Boxed: a cache hit's future (every caller's) holds a pointer, not the verification's
        // state (kilobytes, copied wherever the caller's future is moved).
        let result = Box::pin(self.verify_passport_uncached(token, &passport_hash, now)).await;
        let (result, cacheable) = match result {
            Ok(ok) => ok,
            Err(e) => {
                debug!(message = "Passport rejected.", passport_hash = %passport_hash, reason = e.code());
                return Err(e);
            }
        };
        let result = Arc::new(result);
        if cacheable {
            let valid_until = result
                .visas
                .iter()
                .map(|v| self.visa_valid_until(&v.claims))
                .fold(result.expires_at.saturating_add(self.skew()), i64::min)
                .min(now.saturating_add(secs(self.inner.config.jwks_ttl)));
            self.inner.passport_cache.insert(
                token,
                CachedPassport {
                    result: Arc::clone(&result),
                    verified_at: now,
                },
                valid_until,
                now,
            );
        }
        Ok(result)
    }

    async fn verify_passport_uncached(
        &self,
        token: &str,
        passport_hash: &str,
        now: i64,
    ) -> Result<(VerifiedPassport, bool), AuthError> {
        let jws = self
            .verify_jws(token, MAX_PASSPORT_BYTES, TypRule::Passport, now)
            .await?;
        let claims = parse_passport_claims(&jws.payload)?;
        let Some(trust) = self.trust_of(&claims.iss).filter(|t| t.passports) else {
            return Err(AuthError::PassportIssuerNotTrusted);
        };
        // The issuer's own audience rule, else the gateway-wide one.
        let gateway_audience = self.inner.config.required_audience.as_deref();
        let required_audience = trust.passport_audience.as_deref().or(gateway_audience);
        let network = trust.beacon_network;
        if self.inner.config.require_jti && claims.jti.as_deref().is_none_or(str::is_empty) {
            return Err(ClaimError::MissingClaim("jti").into());
        }
        check_nbf(&jws.payload, now, self.skew())?;
        check_times(claims.iat, claims.exp, now, self.skew())?;
        if claims.exp.saturating_sub(claims.iat) > secs(self.inner.config.max_passport_lifetime) {
            return Err(AuthError::LifetimeTooLong);
        }
        check_audience(claims.aud.as_ref(), required_audience)?;
        let typ = if self.inner.config.accept_jwt_typ_visas {
            TypRule::VisaLenient
        } else {
            TypRule::Visa
        };
        let outcome = self
            .evaluate_visas(
                &claims.iss,
                &claims.sub,
                &claims.ga4gh_passport_v1,
                typ,
                now,
            )
            .await;
        info!(
            message = "Passport verified.",
            issuer = %claims.iss,
            passport_hash = %passport_hash,
            visas = outcome.visas.len(),
            rejected = outcome.rejected.len()
        );
        Ok((
            VerifiedPassport {
                network_caller: network
                    .then(|| self.network_caller(&claims.iss, &claims.sub, &outcome.visas))
                    .flatten(),
                issuer: claims.iss,
                subject: claims.sub,
                passport_hash: passport_hash.to_owned(),
                visas: outcome.visas,
                rejected: outcome.rejected,
                expires_at: claims.exp,
                token_ids: claims.jti.into_iter().collect(),
            },
            outcome.cacheable,
        ))
    }

    /// Verifies an OAuth access token of a trusted broker (the Passport v1.0 flow, or a
    /// broker that issues Passports only by RFC 8693 token exchange): with `exchange`, the token
    /// is exchanged at the broker's token endpoint for a Passport, which is then verified as
    /// any other; otherwise the Visas come from the broker's userinfo endpoint for the holder
    /// of the token and are verified for `(broker issuer, userinfo sub)`.
    ///
    /// The result is cached for the token (and broker) for at most
    /// [`ACCESS_TOKEN_RECHECK_SECS`], and never beyond the earliest Visa expiry, so a token the
    /// broker revokes stops working within a minute while repeated requests cost microseconds.
    ///
    /// # Errors
    ///
    /// `token_too_large`, the broker errors of
    /// [`passport_from_userinfo`](Self::passport_from_userinfo) and
    /// [`exchange_token`](Self::exchange_token), and the Passport errors of
    /// [`verify_passport`](Self::verify_passport).
    pub async fn verify_access_token(
        &self,
        broker: &crate::TrustedBroker,
        access_token: &str,
        exchange: bool,
        now: i64,
    ) -> Result<VerifiedPassport, AuthError> {
        if access_token.len() > MAX_VISA_BYTES {
            return Err(AuthError::TokenTooLarge);
        }
        let key = format!("{}\n{}\n{access_token}", broker.issuer, u8::from(exchange));
        if let Some(hit) = self.inner.access_cache.get(&key, now)
            && now >= hit.verified_at
        {
            self.inner
                .counters
                .passport_cache_hits
                .fetch_add(1, Ordering::Relaxed);
            return Ok((*hit.result).clone());
        }
        let result = if exchange {
            let passport = self.exchange_token(broker, access_token).await?;
            self.verify_passport(&passport, now).await?
        } else {
            let info = self.passport_from_userinfo(broker, access_token).await?;
            self.verify_visas(&info.issuer, &info.subject, &info.visas, now)
                .await?
        };
        let cap = if exchange {
            result.expires_at.saturating_add(self.skew())
        } else {
            i64::MAX
        };
        let valid_until = result
            .visas
            .iter()
            .map(|v| self.visa_valid_until(&v.claims))
            .fold(cap, i64::min)
            .min(now.saturating_add(ACCESS_TOKEN_RECHECK_SECS));
        self.inner.access_cache.insert(
            &key,
            CachedPassport {
                result: Arc::new(result.clone()),
                verified_at: now,
            },
            valid_until,
            now,
        );
        Ok(result)
    }

    /// Verifies a bare list of Visa JWTs for the subject `(subject_iss, subject_sub)`: the v1.0
    /// flow, where the Visas come from a trusted broker's userinfo endpoint for the holder of an
    /// access token.
    ///
    /// Visas may have `typ` `vnd.ga4gh.visa+jwt`, `JWT` or none. Every other rule is that of
    /// [`verify_passport`](Self::verify_passport).
    ///
    /// # Errors
    ///
    /// `too_many_visas` (more than [`MAX_VISAS`]) or `visa_too_large` (one longer than
    /// [`MAX_VISA_BYTES`]); failed Visas are listed in [`VerifiedPassport::rejected`].
    pub async fn verify_visas(
        &self,
        subject_iss: &str,
        subject_sub: &str,
        visa_jwts: &[String],
        now: i64,
    ) -> Result<VerifiedPassport, AuthError> {
        if visa_jwts.len() > MAX_VISAS {
            return Err(ClaimError::TooManyVisas.into());
        }
        if visa_jwts.iter().any(|v| v.len() > MAX_VISA_BYTES) {
            return Err(ClaimError::VisaTooLarge.into());
        }
        let outcome = self
            .evaluate_visas(
                subject_iss,
                subject_sub,
                visa_jwts,
                TypRule::VisaLenient,
                now,
            )
            .await;
        let hashes: Vec<&str> = outcome
            .visas
            .iter()
            .map(|v| v.hash.as_str())
            .chain(outcome.rejected.iter().map(|r| r.hash.as_str()))
            .collect();
        let expires_at = outcome
            .visas
            .iter()
            .map(|v| v.claims.exp)
            .min()
            .unwrap_or(now);
        Ok(VerifiedPassport {
            issuer: subject_iss.to_owned(),
            subject: subject_sub.to_owned(),
            passport_hash: combined_hash("visas", &hashes),
            visas: outcome.visas,
            rejected: outcome.rejected,
            expires_at,
            token_ids: Vec::new(),
            network_caller: None,
        })
    }

    /// Verifies the `passports` of a POST body (`{"passports": [...]}` as DRS and Beacon send
    /// them) and merges their Visas.
    ///
    /// Every element must be a Passport JWT that verifies, and all must have the same `(iss,
    /// sub)`. Visas are de-duplicated by hash; `expires_at` is the earliest Passport `exp`.
    ///
    /// # Errors
    ///
    /// `no_passport` for an empty list, `too_many_passports` for more than
    /// [`MAX_POST_PASSPORTS`], the first Passport's error, or `mixed_subjects`.
    pub async fn verify_post_body_passports(
        &self,
        passports: &[String],
        now: i64,
    ) -> Result<VerifiedPassport, AuthError> {
        if passports.len() > MAX_POST_PASSPORTS {
            return Err(AuthError::TooManyPassports);
        }
        let mut verified = Vec::with_capacity(passports.len());
        for p in passports {
            verified.push(self.verify_passport(p, now).await?);
        }
        let mut iter = verified.into_iter();
        let Some(mut merged) = iter.next() else {
            return Err(AuthError::NoPassport);
        };
        let mut hashes = vec![merged.passport_hash.clone()];
        for next in iter {
            if next.issuer != merged.issuer || next.subject != merged.subject {
                return Err(AuthError::MixedSubjects);
            }
            hashes.push(next.passport_hash);
            if next.network_caller != merged.network_caller {
                merged.network_caller = None;
            }
            merged.expires_at = merged.expires_at.min(next.expires_at);
            merged.token_ids.extend(next.token_ids);
            for v in next.visas {
                if !merged.visas.iter().any(|m| m.hash == v.hash) {
                    merged.visas.push(v);
                }
            }
            for r in next.rejected {
                if !merged.rejected.iter().any(|m| m.hash == r.hash) {
                    merged.rejected.push(r);
                }
            }
        }
        if hashes.len() > 1 {
            let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
            merged.passport_hash = combined_hash("passports", &refs);
            let accepted: Vec<String> = merged.visas.iter().map(|v| v.hash.clone()).collect();
            merged.rejected.retain(|r| !accepted.contains(&r.hash));
        }
        Ok(merged)
    }

    /// The caller a Beacon network's Passport of `iss` for `sub` stands for: the one identity
    /// its accepted `LinkedIdentities` Visas signed by `iss` about `sub` name besides `sub`
    /// itself, when that identity's issuer is trusted here for Passports. None when they name
    /// none, or several (no choosing among them: a caller cannot pick its budget).
    fn network_caller(&self, iss: &str, sub: &str, visas: &[VerifiedVisa]) -> Option<String> {
        let mut named: std::collections::BTreeSet<(String, String)> = visas
            .iter()
            .filter(|v| {
                v.claims.ga4gh_visa_v1.r#type == VisaType::LinkedIdentities
                    && v.claims.iss == iss
                    && v.claims.sub == sub
            })
            .filter_map(|v| {
                gemj_passport::parse_linked_identities(&v.claims.ga4gh_visa_v1.value).ok()
            })
            .flatten()
            .filter(|l| l.iss != iss || l.sub != sub)
            .map(|l| (l.iss, l.sub))
            .collect();
        if named.len() != 1 {
            return None;
        }
        let (caller_iss, caller_sub) = named.pop_first()?;
        self.trust_of(&caller_iss).filter(|t| t.passports)?;
        Some(format!("{caller_iss}#{caller_sub}"))
    }

    /// Verifies every Visa, then applies the source policy, identity links and conditions.
    async fn evaluate_visas(
        &self,
        passport_iss: &str,
        passport_sub: &str,
        visa_jwts: &[String],
        typ: TypRule,
        now: i64,
    ) -> VisaOutcome {
        let mut rejected: Vec<(usize, RejectedVisa)> = Vec::new();
        let mut candidates: Vec<(usize, String, Arc<VisaClaims>)> = Vec::new();
        let mut seen: Vec<Digest> = Vec::with_capacity(visa_jwts.len());
        for (i, jwt) in visa_jwts.iter().enumerate() {
            let digest = sha256(jwt.as_bytes());
            if seen.contains(&digest) {
                continue;
            }
            seen.push(digest);
            let hash = hex::encode(digest);
            let verified = self.verify_visa_token(jwt, &digest, typ, now).await;
            // Trust is per issuer: the (issuer, type, source, by, dataset) must be in its entry.
            let verified = verified.and_then(|claims| {
                self.check_visa_lifetimes(&claims, now)?;
                self.trust_of(&claims.iss)
                    .ok_or(AuthError::UntrustedIssuer)?
                    .allows_visa(&claims.ga4gh_visa_v1)
                    .map(|()| claims)
            });
            match verified {
                Ok(claims) => candidates.push((i, hash, claims)),
                Err(e) => rejected.push((
                    i,
                    RejectedVisa {
                        hash,
                        reason: e.code(),
                    },
                )),
            }
        }
        let mut links = IdentityLinks::new(passport_iss, passport_sub);
        for (_, _, claims) in &candidates {
            if claims.ga4gh_visa_v1.r#type == VisaType::LinkedIdentities {
                links.add_linked_identities(claims);
            }
        }
        let mut accepted = Vec::new();
        let mut pending = Vec::new();
        for (i, hash, claims) in candidates {
            if !links.is_linked(&claims.iss, &claims.sub) {
                rejected.push((
                    i,
                    RejectedVisa {
                        hash,
                        reason: AuthError::from(ClaimError::SubjectMismatch).code(),
                    },
                ));
            } else if claims
                .ga4gh_visa_v1
                .conditions
                .as_ref()
                .is_some_and(|c| !c.is_empty())
            {
                pending.push((i, hash, claims));
            } else {
                accepted.push((i, hash, claims));
            }
        }
        // Conditions are met only by Visas already accepted, so Visas cannot vouch for each other.
        loop {
            let others: Vec<&VisaClaims> = accepted.iter().map(|(_, _, c)| c.as_ref()).collect();
            let (met, unmet): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(_, _, c)| {
                c.ga4gh_visa_v1
                    .conditions
                    .as_deref()
                    .is_some_and(|conditions| conditions_met(conditions, &others))
            });
            pending = unmet;
            if met.is_empty() {
                break;
            }
            accepted.extend(met);
        }
        for (i, hash, _) in pending {
            rejected.push((
                i,
                RejectedVisa {
                    hash,
                    reason: AuthError::from(ClaimError::ConditionsNotMet).code(),
                },
            ));
        }
        accepted.sort_by_key(|(i, _, _)| *i);
        rejected.sort_by_key(|(i, _)| *i);
        for (_, r) in &rejected {
            debug!(message = "Visa rejected.", visa_hash = %r.hash, reason = r.reason);
        }
        let cacheable = !rejected.iter().any(|(_, r)| transient(r.reason));
        VisaOutcome {
            visas: accepted
                .into_iter()
                .map(|(i, hash, claims)| VerifiedVisa {
                    hash,
                    claims: Arc::unwrap_or_clone(claims),
                    jwt: SignedVisa::new(visa_jwts.get(i).map_or("", String::as_str)),
                })
                .collect(),
            rejected: rejected.into_iter().map(|(_, r)| r).collect(),
            cacheable,
        }
    }

    /// Verifies one Visa JWT (signature, claims, times), using the verified-Visa cache.
    async fn verify_visa_token(
        &self,
        jwt: &str,
        digest: &Digest,
        typ: TypRule,
        now: i64,
    ) -> Result<Arc<VisaClaims>, AuthError> {
        if jwt.len() > MAX_VISA_BYTES {
            return Err(ClaimError::VisaTooLarge.into());
        }
        if let Some(hit) = self.inner.visa_cache.get(digest, now)
            && (typ != TypRule::Visa || hit.strict_typ)
        {
            check_visa(&hit.claims, now, self.skew())?;
            self.inner
                .counters
                .visa_cache_hits
                .fetch_add(1, Ordering::Relaxed);
            return Ok(hit.claims);
        }
        let jws = self.verify_jws(jwt, MAX_VISA_BYTES, typ, now).await?;
        let claims = parse_visa_claims(&jws.payload)?;
        check_nbf(&jws.payload, now, self.skew())?;
        check_visa(&claims, now, self.skew())?;
        // Passport 1.2: a Visa is a Visa Document Token and carries no `scope` (an access token
        // passed off as a Visa, or an AAI 1.0 Visa Access Token, authorises nothing here).
        if jws.payload.get("scope").is_some() {
            return Err(AuthError::VisaScopeNotAllowed);
        }
        let claims = Arc::new(claims);
        let valid_until = claims
            .exp
            .saturating_add(self.skew())
            .min(now.saturating_add(secs(self.inner.config.jwks_ttl)));
        self.inner.visa_cache.insert(
            *digest,
            CachedVisa {
                claims: Arc::clone(&claims),
                strict_typ: TypRule::Visa.allows(jws.header.typ.as_deref()),
            },
            valid_until,
            now,
        );
        Ok(claims)
    }

    /// The configured limits on a Visa's times: its lifetime, an `asserted` that is a real time
    /// (not 0 or negative), and the maximum age of `asserted` for its type.
    fn check_visa_lifetimes(&self, claims: &VisaClaims, now: i64) -> Result<(), AuthError> {
        let config = &self.inner.config;
        if claims.exp.saturating_sub(claims.iat) > secs(config.max_visa_lifetime) {
            return Err(AuthError::LifetimeTooLong);
        }
        let visa = &claims.ga4gh_visa_v1;
        if visa.asserted <= 0 {
            return Err(ClaimError::InvalidClaim("asserted").into());
        }
        if self.max_asserted_age(&visa.r#type).is_some_and(|age| {
            !gemj_passport::asserted_within(visa.asserted, age, now, self.skew())
        }) {
            return Err(AuthError::AssertedTooOld);
        }
        Ok(())
    }

    /// The configured maximum age of `asserted`, in seconds, for Visas of type `visa_type`.
    fn max_asserted_age(&self, visa_type: &VisaType) -> Option<i64> {
        self.inner
            .config
            .max_asserted_age
            .iter()
            .find(|(t, _)| t == visa_type)
            .map(|(_, age)| secs(*age))
    }

    /// The last second (exclusive) at which `visa` still authorises, with the clock skew: the
    /// earlier of its `exp` and its `asserted` plus the maximum age for its type. A cached
    /// verification lasts no longer, so a cache hit and a fresh verification agree.
    fn visa_valid_until(&self, visa: &VisaClaims) -> i64 {
        let object = &visa.ga4gh_visa_v1;
        let by_age = self
            .max_asserted_age(&object.r#type)
            .map_or(i64::MAX, |age| {
                object.asserted.saturating_add(age).saturating_add(1)
            });
        visa.exp.min(by_age).saturating_add(self.skew())
    }

    /// The configured clock skew, in seconds.
    pub(crate) fn skew(&self) -> i64 {
        secs(self.inner.config.clock_skew)
    }

    /// What the trusted issuer `iss` may sign, if it is trusted.
    fn trust_of(&self, iss: &str) -> Option<&crate::TrustedIssuer> {
        let keys = self.inner.issuers.get(iss)?;
        self.inner.config.trusted.get(keys.trust)
    }

    /// Parses a JWS, finds its trusted issuer and key, and verifies the signature.
    pub(crate) async fn verify_jws<'t>(
        &self,
        token: &'t str,
        max_len: usize,
        typ: TypRule,
        now: i64,
    ) -> Result<Jws<'t>, AuthError> {
        let jws = jws::parse(token, max_len, typ)?;
        let iss = match jws.payload.get("iss") {
            Some(Value::String(iss)) if !iss.is_empty() => iss,
            None => return Err(ClaimError::MissingClaim("iss").into()),
            Some(_) => return Err(ClaimError::InvalidClaim("iss").into()),
        };
        let issuer = self
            .inner
            .issuers
            .get(iss)
            .ok_or(AuthError::UntrustedIssuer)?;
        if jws
            .header
            .jku
            .as_ref()
            .is_some_and(|jku| *jku != issuer.jwks_url)
        {
            return Err(AuthError::UntrustedJku);
        }
        let key = self.key_for(iss, issuer, &jws.header.kid, now).await?;
        self.inner
            .counters
            .signature_verifications
            .fetch_add(1, Ordering::Relaxed);
        key.verify(jws.header.alg, jws.signing_input, &jws.signature)?;
        Ok(jws)
    }

    /// The key `kid` of a trusted issuer, fetching the key set when absent or expired, or (at
    /// most once per `min_refetch_interval`) when `kid` is unknown. Fails closed when no
    /// unexpired key set is available.
    async fn key_for(
        &self,
        iss: &str,
        issuer: &IssuerKeys,
        kid: &str,
        now: i64,
    ) -> Result<Arc<VerifyingKey>, AuthError> {
        let ttl = secs(self.inner.config.jwks_ttl);
        let fresh = |keys: &Option<Arc<CachedKeys>>| {
            keys.as_ref()
                .filter(|k| now < k.fetched_at.saturating_add(ttl))
                .cloned()
        };
        if let Some(keys) = fresh(&snapshot(issuer))
            && let Some(found) = lookup(&keys.set, kid)
        {
            return found;
        }
        let mut state = issuer.fetch.lock().await;
        // Another task may have fetched while this one waited.
        let current = fresh(&snapshot(issuer));
        if let Some(keys) = &current
            && let Some(found) = lookup(&keys.set, kid)
        {
            return found;
        }
        let min_gap = secs(self.inner.config.min_refetch_interval);
        let recent = state
            .last_attempt
            .is_some_and(|t| now < t.saturating_add(min_gap));
        if recent && current.is_some() {
            return Err(AuthError::UnknownKid);
        }
        if recent && state.last_failed {
            return Err(AuthError::JwksUnavailable);
        }
        state.last_attempt = Some(now);
        self.inner
            .counters
            .jwks_fetches
            .fetch_add(1, Ordering::Relaxed);
        match self.fetch_keys(&issuer.jwks_url).await {
            Ok(set) => {
                state.last_failed = false;
                let found = lookup(&set, kid);
                let keys = Arc::new(CachedKeys {
                    set,
                    fetched_at: now,
                });
                if let Ok(mut slot) = issuer.current.write() {
                    *slot = Some(keys);
                }
                debug!(message = "Key set fetched.", issuer = %iss);
                found.unwrap_or(Err(AuthError::UnknownKid))
            }
            Err(reason) => {
                state.last_failed = true;
                warn!(message = "Key set fetch failed.", issuer = %iss, reason);
                Err(if current.is_some() {
                    AuthError::UnknownKid
                } else {
                    AuthError::JwksUnavailable
                })
            }
        }
    }

    /// Fetches and parses a key set.
    async fn fetch_keys(&self, url: &str) -> Result<KeySet, &'static str> {
        let config = &self.inner.config;
        let bytes = self
            .inner
            .fetcher
            .fetch(url, config.max_jwks_bytes)
            .await
            .map_err(|e| match e {
                crate::error::HttpError::TooLarge(_) => "key set too large",
                crate::error::HttpError::Status(_) => "unexpected HTTP status",
                _ => "fetch failed",
            })?;
        KeySet::parse(&bytes, config.max_jwks_bytes, config.max_keys)
    }
}

/// The current key set of an issuer.
fn snapshot(issuer: &IssuerKeys) -> Option<Arc<CachedKeys>> {
    issuer.current.read().ok().and_then(|k| k.clone())
}

/// The usable key for `kid`, or why it is not usable; `None` when the set has no such `kid`.
fn lookup(set: &KeySet, kid: &str) -> Option<Result<Arc<VerifyingKey>, AuthError>> {
    set.get(kid).map(|entry| match entry {
        KeyEntry::Usable(key) => Ok(Arc::clone(key)),
        KeyEntry::Weak => Err(AuthError::WeakKey),
        KeyEntry::Unsupported => Err(AuthError::UnsupportedKey),
    })
}

/// Applies an `nbf` claim when present (RFC 7519 section 4.1.5).
pub(crate) fn check_nbf(payload: &Value, now: i64, skew: i64) -> Result<(), ClaimError> {
    match payload.get("nbf") {
        None => Ok(()),
        Some(nbf) => check_not_before(
            nbf.as_i64().ok_or(ClaimError::InvalidClaim("nbf"))?,
            now,
            skew,
        ),
    }
}

/// A SHA-256 over a label and a list of hex hashes, as hex.
fn combined_hash(label: &str, hashes: &[&str]) -> String {
    let mut input = String::with_capacity(label.len() + hashes.len() * 65);
    input.push_str(label);
    for h in hashes {
        input.push('\n');
        input.push_str(h);
    }
    hex::encode(sha256(input.as_bytes()))
}
