//! Configuration: trusted (issuer, JWKS URL) pairs, cache and fetch limits, the audience, the
//! Visa Assertion Source policy, and the URL policy (HTTPS only, plain HTTP for loopback hosts
//! when allowed).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use gemj_passport::{SourcePolicy, VisaObject, VisaType};

use crate::AuthError;
use openidconnect::url::{Host, Url};

use crate::error::ConfigError;

/// One trusted token issuer (a Broker or a Visa Issuer) and the only place its keys come from.
///
/// Trust is an exact pair: a token whose `iss` is `issuer` is verified with keys from
/// `jwks_url` and nothing else; a token's `jku` header, when present, must equal `jwks_url`
/// byte for byte.
///
/// # Examples
///
/// ```
/// use gemj_auth::TrustedIssuer;
///
/// let broker = TrustedIssuer::new("https://broker.example.jp", "https://broker.example.jp/jwks");
/// assert_eq!(broker.issuer, "https://broker.example.jp");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// The exact `iss` value.
    pub issuer: String,
    /// The exact JWKS URL of this issuer.
    pub jwks_url: String,
    /// Whether Passports signed by this issuer are accepted (a broker). Default `false`.
    pub passports: bool,
    /// The Visas this issuer may sign: per Visa Type, the `source` and `by` values it may claim.
    /// A Visa of a type with no rule here, or with a `source`/`by` no rule allows, is ignored
    /// with its reason. Default: none.
    pub visas: SourcePolicy,
    /// For ControlledAccessGrants: the grant values this issuer governs, as prefixes of the
    /// Visa's `value` (a dataset committee governs its datasets, not others). A grant whose value
    /// starts with none of them is ignored (`grant_not_governed_by_issuer`). Default: none.
    pub grant_prefixes: Vec<String>,
    /// The audience this issuer's Passports must name in `aud`, in place of
    /// [`AuthConfig::required_audience`]: a Beacon network's passports for this gateway name it,
    /// so one the network cut for another member cannot be replayed here (and this gateway's
    /// own researchers' passports keep the gateway-wide rule). Default: none (the gateway-wide
    /// rule).
    pub passport_audience: Option<String>,
    /// Whether this issuer is a Beacon network whose Passports stand for its callers: a
    /// Passport's subject is the network's pseudonym for one caller, named by the network's own
    /// `LinkedIdentities` Visa ([`VerifiedPassport::network_caller`](crate::VerifiedPassport)),
    /// whose budgets it then spends. Needs `passports`. Default `false`.
    pub beacon_network: bool,
}

impl TrustedIssuer {
    /// A trusted (issuer, JWKS URL) pair, trusted to sign nothing yet: say what with
    /// [`signing_passports`](Self::signing_passports), [`with_visas`](Self::with_visas) and
    /// [`with_grant_prefixes`](Self::with_grant_prefixes). Institution tokens need none of them.
    #[must_use]
    pub fn new(issuer: impl Into<String>, jwks_url: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_url: jwks_url.into(),
            passports: false,
            visas: SourcePolicy::default(),
            grant_prefixes: Vec::new(),
            passport_audience: None,
            beacon_network: false,
        }
    }

    /// The same issuer, trusted as a Beacon network (see
    /// [`beacon_network`](Self::beacon_network)).
    #[must_use]
    pub fn as_beacon_network(mut self) -> Self {
        self.beacon_network = true;
        self
    }

    /// The same issuer, whose Passports must name `audience` in `aud`.
    #[must_use]
    pub fn with_passport_audience(mut self, audience: impl Into<String>) -> Self {
        self.passport_audience = Some(audience.into());
        self
    }

    /// The same issuer, trusted to sign Passports.
    #[must_use]
    pub fn signing_passports(mut self) -> Self {
        self.passports = true;
        self
    }

    /// The same issuer, trusted to sign the Visas `visas` allows.
    #[must_use]
    pub fn with_visas(mut self, visas: SourcePolicy) -> Self {
        self.visas = visas;
        self
    }

    /// The same issuer, governing ControlledAccessGrants whose value starts with one of
    /// `prefixes`.
    #[must_use]
    pub fn with_grant_prefixes(mut self, prefixes: impl IntoIterator<Item = String>) -> Self {
        self.grant_prefixes = prefixes.into_iter().collect();
        self
    }

    /// Whether this issuer may sign `visa`: a rule for its type, its `source` and `by`, and for
    /// a ControlledAccessGrants Visa, a governed value.
    ///
    /// # Errors
    ///
    /// `visa_type_not_trusted_for_issuer` (no rule for the type), `untrusted_source`,
    /// `untrusted_by`, or `grant_not_governed_by_issuer`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gemj_auth::TrustedIssuer;
    /// use gemj_passport::{Matcher, SourcePolicy, SourceRule, VisaObject, VisaType};
    ///
    /// let dac = "https://dac.gemj.example.jp";
    /// let committee = TrustedIssuer::new(dac, format!("{dac}/jwks"))
    ///     .with_visas(SourcePolicy::default().with_rule(
    ///         SourceRule::new(VisaType::ControlledAccessGrants, [Matcher::Const(dac.into())]),
    ///     ))
    ///     .with_grant_prefixes(["https://gemj.example.jp/datasets/GEMJ-CANCER-".to_owned()]);
    /// let mut visa = VisaObject {
    ///     r#type: VisaType::ControlledAccessGrants,
    ///     asserted: 0,
    ///     value: "https://gemj.example.jp/datasets/GEMJ-CANCER-1".into(),
    ///     source: dac.into(),
    ///     by: Some("dac".into()),
    ///     conditions: None,
    /// };
    /// assert!(committee.allows_visa(&visa).is_ok());
    /// visa.value = "https://gemj.example.jp/datasets/GEMJ-RARE-1".into();
    /// assert_eq!(committee.allows_visa(&visa).unwrap_err().code(), "grant_not_governed_by_issuer");
    /// visa.r#type = VisaType::LinkedIdentities;
    /// assert_eq!(committee.allows_visa(&visa).unwrap_err().code(), "visa_type_not_trusted_for_issuer");
    /// ```
    pub fn allows_visa(&self, visa: &VisaObject) -> Result<(), AuthError> {
        if !self.visas.rules.iter().any(|r| r.r#type == visa.r#type) {
            return Err(AuthError::VisaTypeNotTrusted);
        }
        self.visas.allows(visa)?;
        if visa.r#type == VisaType::ControlledAccessGrants
            && !self
                .grant_prefixes
                .iter()
                .any(|p| visa.value.starts_with(p.as_str()))
        {
            return Err(AuthError::GrantNotGoverned);
        }
        Ok(())
    }
}

/// How the [`Verifier`](crate::Verifier) decides: whom to trust, how long to cache keys, and the
/// limits that bound the work one request can cause.
///
/// [`AuthConfig::validate`] checks it; [`Verifier::new`](crate::Verifier::new) calls it.
///
/// # Examples
///
/// ```
/// use gemj_auth::{AuthConfig, TrustedIssuer};
///
/// let mut config = AuthConfig::default();
/// config.trusted.push(TrustedIssuer::new("https://broker.example.jp", "https://broker.example.jp/jwks"));
/// assert!(config.validate().is_ok());
///
/// config.trusted.push(TrustedIssuer::new("https://other.example", "http://other.example/jwks"));
/// assert_eq!(
///     config.validate().unwrap_err().to_string(),
///     "trusted[1].jwks_url: must be https (plain http only for loopback hosts with allow_http_loopback)"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The trusted (issuer, JWKS URL) pairs; each issuer at most once.
    pub trusted: Vec<TrustedIssuer>,
    /// How long a fetched key set is used before it is fetched again. Default 5 minutes.
    pub jwks_ttl: Duration,
    /// The least time between two fetches of one issuer's key set caused by an unknown `kid` or
    /// after a failed fetch. Default 60 seconds.
    pub min_refetch_interval: Duration,
    /// The largest key set document accepted, in bytes. Default 64 KiB.
    pub max_jwks_bytes: usize,
    /// The most keys accepted in one key set. Default 32.
    pub max_keys: usize,
    /// The audience this service answers to; see [`gemj_passport::check_audience`] for the rules.
    pub required_audience: Option<String>,
    /// Allow plain `http` URLs for loopback hosts (`127.0.0.0/8`, `[::1]`, `localhost`), for tests
    /// and the demo. Every other URL must be `https`.
    pub allow_http_loopback: bool,
    /// The timeout of one HTTP exchange (key set fetch, discovery, userinfo, token exchange).
    /// Default 5 seconds.
    pub fetch_timeout: Duration,
    /// Also accept, for Visas inside v1.2 Passports, the `typ` values Passport 1.2 allows besides
    /// the recommended `vnd.ga4gh.visa+jwt`: `JWT` (what v1.0 brokers write) and an absent
    /// `typ`. Default `true`; `false` accepts only `vnd.ga4gh.visa+jwt`. Every other `typ` (a
    /// Passport's, an access token's) is refused either way. Visas given to [`Verifier::verify_visas`](crate::Verifier::verify_visas)
    /// (the v1.0 flow) always accept these.
    pub accept_jwt_typ_visas: bool,
    /// The longest Passport lifetime accepted (`exp - iat`), so a stolen Passport is short-lived
    /// (AAI: Passports are meant to be used within an hour). Default 1 hour.
    pub max_passport_lifetime: Duration,
    /// The longest Visa lifetime accepted (`exp - iat`). Default 365 days.
    pub max_visa_lifetime: Duration,
    /// Per Visa Type, the oldest `asserted` that still authorises: a grant asserted longer ago
    /// is ignored (`asserted_too_old`) until the committee asserts it again. Types not listed
    /// have no limit. Default: ControlledAccessGrants 365 days.
    pub max_asserted_age: Vec<(VisaType, Duration)>,
    /// Refuse Passports without a `jti` (which could not be revoked one by one). Default
    /// `false`: such Passports are accepted, and revoked by subject.
    pub require_jti: bool,
    /// The one clock skew, applied alike to `exp`, `iat`, `nbf` and `asserted` of Passports,
    /// Visas and institution tokens, to the maximum age of `asserted`, and to how long a verified
    /// token stays cached. Default 60 s; at most
    /// [`MAX_CLOCK_SKEW_SECS`](gemj_passport::MAX_CLOCK_SKEW_SECS).
    pub clock_skew: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            trusted: Vec::new(),
            jwks_ttl: Duration::from_secs(300),
            min_refetch_interval: Duration::from_secs(60),
            max_jwks_bytes: 64 * 1024,
            max_keys: 32,
            required_audience: None,
            allow_http_loopback: false,
            fetch_timeout: Duration::from_secs(5),
            accept_jwt_typ_visas: true,
            max_passport_lifetime: Duration::from_secs(3600),
            max_visa_lifetime: Duration::from_secs(365 * 86_400),
            max_asserted_age: vec![(
                VisaType::ControlledAccessGrants,
                Duration::from_secs(365 * 86_400),
            )],
            require_jti: false,
            clock_skew: Duration::from_secs(60),
        }
    }
}

/// The largest `max_jwks_bytes` accepted by [`AuthConfig::validate`].
const MAX_JWKS_BYTES_LIMIT: usize = 1024 * 1024;
/// The largest `max_keys` accepted by [`AuthConfig::validate`].
const MAX_KEYS_LIMIT: usize = 1024;

impl AuthConfig {
    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first bad field: an empty or duplicate issuer, a JWKS URL that
    /// is not an absolute `https` URL (or `http` on a loopback host with `allow_http_loopback`), or
    /// has credentials or a fragment; a zero TTL or timeout; `max_jwks_bytes` outside 1 byte to
    /// 1 MiB; `max_keys` outside 1 to 1024; an empty `required_audience`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, t) in self.trusted.iter().enumerate() {
            if t.issuer.trim().is_empty() || t.issuer.trim() != t.issuer {
                return Err(ConfigError::new(
                    format!("trusted[{i}].issuer"),
                    "must be non-empty, without surrounding spaces",
                ));
            }
            if self.trusted[..i].iter().any(|o| o.issuer == t.issuer) {
                return Err(ConfigError::new(
                    format!("trusted[{i}].issuer"),
                    "issuer listed twice",
                ));
            }
            check_url(&t.jwks_url, self.allow_http_loopback)
                .map_err(|problem| ConfigError::new(format!("trusted[{i}].jwks_url"), problem))?;
            if t.beacon_network && !t.passports {
                return Err(ConfigError::new(
                    format!("trusted[{i}].beacon_network"),
                    "needs passports (a network is known by the Passports it signs)",
                ));
            }
            if t.passport_audience
                .as_deref()
                .is_some_and(|a| a.trim().is_empty())
            {
                return Err(ConfigError::new(
                    format!("trusted[{i}].passport_audience"),
                    "must be non-empty when set",
                ));
            }
        }
        if self.clock_skew.as_secs() > gemj_passport::MAX_CLOCK_SKEW_SECS.unsigned_abs() {
            return Err(ConfigError::new(
                "clock_skew",
                "must be at most 300 seconds (gemj_passport::MAX_CLOCK_SKEW_SECS)",
            ));
        }
        if self.jwks_ttl.is_zero() {
            return Err(ConfigError::new("jwks_ttl", "must be positive"));
        }
        if self.fetch_timeout.is_zero() {
            return Err(ConfigError::new("fetch_timeout", "must be positive"));
        }
        if self.max_jwks_bytes == 0 || self.max_jwks_bytes > MAX_JWKS_BYTES_LIMIT {
            return Err(ConfigError::new(
                "max_jwks_bytes",
                "must be between 1 and 1048576",
            ));
        }
        if self.max_keys == 0 || self.max_keys > MAX_KEYS_LIMIT {
            return Err(ConfigError::new("max_keys", "must be between 1 and 1024"));
        }
        if self.required_audience.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::new(
                "required_audience",
                "must be non-empty when set",
            ));
        }
        Ok(())
    }
}

/// A client secret: never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one place that sends it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A Passport Broker for the v1.0 flow (userinfo) and for RFC 8693 token exchange.
///
/// Endpoints not given are discovered with OpenID Connect Discovery from `issuer` (and the
/// discovered `issuer` must equal it exactly).
///
/// # Examples
///
/// ```
/// use gemj_auth::TrustedBroker;
///
/// let broker = TrustedBroker::new("https://broker.example.jp")
///     .with_userinfo_url("https://broker.example.jp/userinfo");
/// assert!(broker.token_url.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedBroker {
    /// The broker's issuer identifier.
    pub issuer: String,
    /// The userinfo endpoint; discovered when `None`.
    pub userinfo_url: Option<String>,
    /// The token endpoint; discovered when `None`.
    pub token_url: Option<String>,
    /// This service's client id at the broker, for token exchange (RFC 6749 section 2.3.1).
    pub client_id: Option<String>,
    /// This service's client secret at the broker (sent with HTTP Basic authentication).
    pub client_secret: Option<Secret>,
}

impl TrustedBroker {
    /// A broker whose endpoints are discovered from its issuer.
    #[must_use]
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            userinfo_url: None,
            token_url: None,
            client_id: None,
            client_secret: None,
        }
    }

    /// The same broker with a fixed userinfo endpoint.
    #[must_use]
    pub fn with_userinfo_url(mut self, url: impl Into<String>) -> Self {
        self.userinfo_url = Some(url.into());
        self
    }

    /// The same broker with a fixed token endpoint.
    #[must_use]
    pub fn with_token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// The same broker with client credentials for token exchange.
    #[must_use]
    pub fn with_client(mut self, client_id: impl Into<String>, secret: Option<Secret>) -> Self {
        self.client_id = Some(client_id.into());
        self.client_secret = secret;
        self
    }
}

/// Checks that `url` is an absolute `https` URL (or `http` on a loopback host when
/// `allow_http_loopback`), without credentials or fragment.
pub(crate) fn check_url(url: &str, allow_http_loopback: bool) -> Result<Url, &'static str> {
    let parsed = Url::parse(url).map_err(|_| "not an absolute URL")?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not contain credentials");
    }
    if parsed.fragment().is_some() {
        return Err("must not contain a fragment");
    }
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(parsed),
        "http" if allow_http_loopback && parsed.host().is_some_and(|h| is_loopback(&h)) => {
            Ok(parsed)
        }
        _ => Err("must be https (plain http only for loopback hosts with allow_http_loopback)"),
    }
}

/// Whether a URL host is `localhost`, in `127.0.0.0/8`, or `::1`.
fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{AuthConfig, Secret, TrustedIssuer, check_url};

    #[test]
    fn url_policy() {
        #[track_caller]
        fn check(url: &str, loopback: bool, ok: bool) {
            assert_eq!(
                check_url(url, loopback).is_ok(),
                ok,
                "{url} loopback={loopback}"
            );
        }
        check("https://idp.example.jp/jwks", false, true);
        check("http://idp.example.jp/jwks", false, false);
        check("http://idp.example.jp/jwks", true, false);
        check("http://127.0.0.1:8080/jwks", false, false);
        check("http://127.0.0.1:8080/jwks", true, true);
        check("http://127.8.9.10/jwks", true, true);
        check("http://[::1]:9/jwks", true, true);
        check("http://localhost/jwks", true, true);
        check("http://LOCALHOST/jwks", true, true);
        check("http://localhost.evil.test/jwks", true, false);
        check("http://128.0.0.1/jwks", true, false);
        check("http://[::2]/jwks", true, false);
        check("ftp://idp.example.jp/jwks", true, false);
        check("https://user:pw@idp.example.jp/jwks", false, false);
        check("https://idp.example.jp/jwks#x", false, false);
        check("/jwks", false, false);
        check("", false, false);
        check("file:///etc/passwd", true, false);
    }

    #[test]
    fn validation() {
        #[track_caller]
        fn check(edit: impl FnOnce(&mut AuthConfig), expect: Option<&str>) {
            let mut config = AuthConfig::default();
            config.trusted.push(TrustedIssuer::new(
                "https://a.example",
                "https://a.example/jwks",
            ));
            edit(&mut config);
            assert_eq!(
                config.validate().err().map(|e| e.to_string()).as_deref(),
                expect
            );
        }
        check(|_| {}, None);
        check(
            |c| {
                c.trusted.push(TrustedIssuer::new(
                    "https://a.example",
                    "https://b.example/jwks",
                ));
            },
            Some("trusted[1].issuer: issuer listed twice"),
        );
        check(
            |c| {
                c.trusted
                    .push(TrustedIssuer::new("", "https://b.example/jwks"));
            },
            Some("trusted[1].issuer: must be non-empty, without surrounding spaces"),
        );
        check(
            |c| c.jwks_ttl = Duration::ZERO,
            Some("jwks_ttl: must be positive"),
        );
        check(
            |c| c.fetch_timeout = Duration::ZERO,
            Some("fetch_timeout: must be positive"),
        );
        check(
            |c| c.max_keys = 0,
            Some("max_keys: must be between 1 and 1024"),
        );
        check(
            |c| c.max_jwks_bytes = 2 << 20,
            Some("max_jwks_bytes: must be between 1 and 1048576"),
        );
        check(
            |c| c.required_audience = Some(String::new()),
            Some("required_audience: must be non-empty when set"),
        );
        check(
            |c| c.trusted[0].jwks_url = "http://127.0.0.1/jwks".into(),
            Some(
                "trusted[0].jwks_url: must be https (plain http only for loopback hosts with allow_http_loopback)",
            ),
        );
        check(
            |c| {
                c.allow_http_loopback = true;
                c.trusted[0].jwks_url = "http://127.0.0.1/jwks".into();
            },
            None,
        );
    }

    #[test]
    fn secret_is_redacted() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret([redacted])"
        );
    }
}
