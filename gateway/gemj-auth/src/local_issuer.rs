//! A local issuer: an ES256 key kept in a folder that signs v1.2 Passports, Visas and
//! institution request tokens, and publishes its public JWKS. The demo mode's broker and
//! institutions (`gemj_demo::broker`) and the tests sign with it; it keeps JWT crypto in this
//! crate.
//!
//! The key is generated once with aws-lc-rs into `dir/issuer-key.pem` (PKCS#8 PEM, mode 0600)
//! and reused on later starts; signing goes through jsonwebtoken's `EncodingKey`.
//!
//! Invariant: a local issuer is never trusted unless the gateway's configuration lists its
//! (issuer, JWKS URL) pair like any other issuer.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gemj_passport::{PASSPORT_TYP, VISA_TYP, VisaObject, VisaType};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::TrustedIssuer;
use crate::error::AuthError;
use crate::jwks::StaticJwksFetcher;

/// The key file name inside the demo directory.
pub const ISSUER_KEY_FILE: &str = "issuer-key.pem";

/// A local Passport Broker, Visa Issuer and institution token signer, for the demo and tests.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use gemj_auth::LocalIssuer;
/// use gemj_passport::{VisaObject, VisaType};
///
/// let dir = tempfile::tempdir()?;
/// let broker = LocalIssuer::load_or_create(dir.path(), "https://demo.gemj.example")?;
/// let grant = VisaObject {
///     r#type: VisaType::ControlledAccessGrants,
///     asserted: 1_700_000_000,
///     value: "https://gemj.example/datasets/DEMO1".into(),
///     source: "https://dac.gemj.example".into(),
///     by: Some("dac".into()),
///     conditions: None,
/// };
/// let passport = broker.issue_passport("demo-user", &[grant], Duration::from_secs(3600), 1_700_000_000)?;
/// assert_eq!(passport.split('.').count(), 3);
/// assert_eq!(broker.jwks()["keys"][0]["alg"], "ES256");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LocalIssuer {
    issuer: String,
    jwks_url: String,
    audience: Option<String>,
    kid: String,
    x: String,
    y: String,
    key: EncodingKey,
    key_path: PathBuf,
}

impl std::fmt::Debug for LocalIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIssuer")
            .field("issuer", &self.issuer)
            .field("jwks_url", &self.jwks_url)
            .field("kid", &self.kid)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

/// The claims of a Visa JWT as signed.
#[derive(Serialize)]
struct VisaPayload<'a> {
    iss: &'a str,
    sub: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    ga4gh_visa_v1: &'a VisaObject,
}

/// The claims of a Passport JWT as signed.
#[derive(Serialize)]
struct PassportPayload<'a> {
    iss: &'a str,
    sub: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    ga4gh_passport_v1: Vec<String>,
}

/// The claims of an institution request token as signed.
#[derive(Serialize)]
struct TokenPayload<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

/// The claims of an OpenID Connect ID token.
#[derive(Serialize)]
struct IdTokenPayload<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

impl LocalIssuer {
    /// Loads the key from `dir/issuer-key.pem`, or generates an ES256 (P-256) key there
    /// (creating `dir`, mode 0600 on Unix). The JWKS URL defaults to
    /// `<issuer>/.well-known/jwks.json`.
    ///
    /// # Errors
    ///
    /// `issuer_key` when the directory or file cannot be created, read or parsed.
    pub fn load_or_create(dir: &Path, issuer: &str) -> Result<Self, AuthError> {
        let key_path = dir.join(ISSUER_KEY_FILE);
        let pkcs8 = match fs::read_to_string(&key_path) {
            Ok(pem) => pem_decode(&pem)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(dir, &key_path)?,
            Err(e) => return Err(AuthError::IssuerKey("cannot read key file", Some(e))),
        };
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
            .map_err(|_| AuthError::IssuerKey("key file is not a P-256 PKCS#8 key", None))?;
        let point = pair.public_key().as_ref();
        let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
            return Err(AuthError::IssuerKey("unexpected public key encoding", None));
        };
        let x = URL_SAFE_NO_PAD.encode(x);
        let y = URL_SAFE_NO_PAD.encode(y);
        // RFC 7638 thumbprint: the required members in lexicographic order, no spaces.
        let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, thumbprint_input.as_bytes())
                .as_ref(),
        );
        Ok(Self {
            issuer: issuer.to_owned(),
            jwks_url: format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            audience: None,
            kid,
            x,
            y,
            key: EncodingKey::from_ec_der(&pkcs8),
            key_path,
        })
    }

    /// The same broker publishing its JWKS at `url` (the `jku` of its tokens).
    #[must_use]
    pub fn with_jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = url.into();
        self
    }

    /// The same broker putting `aud: audience` in its Passports.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The issuer identifier.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The JWKS URL.
    #[must_use]
    pub fn jwks_url(&self) -> &str {
        &self.jwks_url
    }

    /// The key id (the RFC 7638 thumbprint of the public key).
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The entry to put in [`AuthConfig::trusted`](crate::AuthConfig::trusted) for this broker:
    /// it signs Passports, and Visas of every standard type that name itself as `source` (any
    /// `by`). It governs no ControlledAccessGrants until given
    /// [`with_grant_prefixes`](TrustedIssuer::with_grant_prefixes).
    #[must_use]
    pub fn trusted_issuer(&self) -> TrustedIssuer {
        let own = || [gemj_passport::Matcher::Const(self.issuer.clone())];
        let visas = [
            VisaType::AffiliationAndRole,
            VisaType::AcceptedTermsAndPolicies,
            VisaType::ResearcherStatus,
            VisaType::ControlledAccessGrants,
            VisaType::LinkedIdentities,
        ]
        .into_iter()
        .fold(gemj_passport::SourcePolicy::default(), |p, t| {
            p.with_rule(gemj_passport::SourceRule::new(t, own()))
        });
        TrustedIssuer::new(&self.issuer, &self.jwks_url)
            .signing_passports()
            .with_visas(visas)
    }

    /// The public JWK Set, to serve at [`jwks_url`](Self::jwks_url).
    #[must_use]
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "x": self.x, "y": self.y,
            "kid": self.kid, "alg": "ES256", "use": "sig"
        }]})
    }

    /// An in-memory fetcher serving [`jwks`](Self::jwks) at [`jwks_url`](Self::jwks_url), so a
    /// gateway in demo mode verifies its own demo tokens without HTTP.
    #[must_use]
    pub fn static_fetcher(&self) -> Arc<StaticJwksFetcher> {
        let fetcher = StaticJwksFetcher::default();
        fetcher.set(self.jwks_url.clone(), self.jwks().to_string().into_bytes());
        Arc::new(fetcher)
    }

    /// Signs a v1.2 Visa (`typ: vnd.ga4gh.visa+jwt`, with `jku`) for `subject`, issued at `now`
    /// and valid for `ttl`.
    ///
    /// # Errors
    ///
    /// `signing_failed`.
    pub fn issue_visa(
        &self,
        subject: &str,
        visa: &VisaObject,
        ttl: Duration,
        now: i64,
    ) -> Result<String, AuthError> {
        let payload = VisaPayload {
            iss: &self.issuer,
            sub: subject,
            iat: now,
            exp: expiry(now, ttl),
            jti: random_id()?,
            ga4gh_visa_v1: visa,
        };
        self.sign(VISA_TYP, &payload)
    }

    /// Signs a v1.2 Passport (`typ: vnd.ga4gh.passport+jwt`) for `subject` whose Visas, one per
    /// element of `visas`, are signed by this same broker; all issued at `now`, valid for `ttl`.
    ///
    /// # Errors
    ///
    /// `signing_failed`.
    pub fn issue_passport(
        &self,
        subject: &str,
        visas: &[VisaObject],
        ttl: Duration,
        now: i64,
    ) -> Result<String, AuthError> {
        let signed = visas
            .iter()
            .map(|v| self.issue_visa(subject, v, ttl, now))
            .collect::<Result<Vec<_>, _>>()?;
        self.issue_passport_with_visas(subject, signed, ttl, now)
    }

    /// Signs an institution request token (`typ: JWT`) for `subject` with audience `audience`,
    /// issued at `now` and valid for `ttl`: what a demo institution sends to the consent,
    /// recontact-inbox and participant-audit APIs
    /// ([`Verifier::verify_institution_token`](crate::Verifier::verify_institution_token)).
    ///
    /// # Errors
    ///
    /// `signing_failed`.
    pub fn issue_token(
        &self,
        subject: &str,
        audience: &str,
        ttl: Duration,
        now: i64,
    ) -> Result<String, AuthError> {
        let payload = TokenPayload {
            iss: &self.issuer,
            sub: subject,
            aud: audience,
            iat: now,
            exp: expiry(now, ttl),
            jti: random_id()?,
        };
        self.sign("JWT", &payload)
    }

    /// Signs an OpenID Connect ID token (`typ: JWT`) for `subject`, audience `client_id`, with
    /// the `nonce` of the authentication request: what the demo broker returns with a code's
    /// access token.
    ///
    /// # Errors
    ///
    /// `signing_failed`.
    pub fn issue_id_token(
        &self,
        subject: &str,
        client_id: &str,
        nonce: Option<&str>,
        ttl: Duration,
        now: i64,
    ) -> Result<String, AuthError> {
        let payload = IdTokenPayload {
            iss: &self.issuer,
            sub: subject,
            aud: client_id,
            iat: now,
            exp: expiry(now, ttl),
            auth_time: now,
            nonce,
        };
        self.sign("JWT", &payload)
    }

    /// Signs a v1.2 Passport for `subject` carrying the given Visa JWTs as they are (signed by
    /// anyone, for anyone): for tests of Visas that must be ignored.
    ///
    /// # Errors
    ///
    /// `signing_failed`.
    pub fn issue_passport_with_visas(
        &self,
        subject: &str,
        visa_jwts: Vec<String>,
        ttl: Duration,
        now: i64,
    ) -> Result<String, AuthError> {
        self.issue_passport_for(subject, visa_jwts, ttl, now, self.audience.as_deref())
    }

    /// [`issue_passport_with_visas`](Self::issue_passport_with_visas) for one audience: `aud`
    /// is `audience` (none: no `aud`), whatever this issuer's own audience is.
    ///
    /// # Errors
    ///
    /// `signing_failed`.
    pub fn issue_passport_for(
        &self,
        subject: &str,
        visa_jwts: Vec<String>,
        ttl: Duration,
        now: i64,
        audience: Option<&str>,
    ) -> Result<String, AuthError> {
        let payload = PassportPayload {
            iss: &self.issuer,
            sub: subject,
            iat: now,
            exp: expiry(now, ttl),
            jti: random_id()?,
            aud: audience,
            ga4gh_passport_v1: visa_jwts,
        };
        self.sign(PASSPORT_TYP, &payload)
    }

    fn sign(&self, typ: &str, payload: &impl Serialize) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.kid.clone());
        header.jku = Some(self.jwks_url.clone());
        jsonwebtoken::encode(&header, payload, &self.key).map_err(|_| AuthError::Signing)
    }
}

/// `now + ttl`, saturating.
fn expiry(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

/// A random 128-bit token id, hex.
fn random_id() -> Result<String, AuthError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AuthError::Signing)?;
    Ok(hex::encode(bytes))
}

/// Generates a P-256 key and writes it as PKCS#8 PEM with mode 0600; returns the DER.
///
/// The key is written and synced to a temporary file first, then hard-linked to `path`, which
/// fails if `path` exists: the key file appears complete or not at all, so concurrent first
/// starts on one folder agree on one key (the loser reads the winner's), and a reader never sees
/// a half-written file.
fn create_key(dir: &Path, path: &Path) -> Result<Vec<u8>, AuthError> {
    fs::create_dir_all(dir)
        .map_err(|e| AuthError::IssuerKey("cannot create directory", Some(e)))?;
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| AuthError::IssuerKey("key generation failed", None))?;
    let der = pair
        .to_pkcs8v1()
        .map_err(|_| AuthError::IssuerKey("key encoding failed", None))?
        .as_ref()
        .to_vec();
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    let body = STANDARD.encode(&der);
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    let suffix = random_id().map_err(|_| AuthError::IssuerKey("key generation failed", None))?;
    let tmp = dir.join(format!(".{ISSUER_KEY_FILE}.{suffix}.tmp"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&tmp)
        .map_err(|e| AuthError::IssuerKey("cannot create key file", Some(e)))
        .and_then(|mut file| {
            file.write_all(pem.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| AuthError::IssuerKey("cannot write key file", Some(e)))
        })
        .and_then(|()| match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(der),
            // Another process or thread created it first: use that key.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let pem = fs::read_to_string(path)
                    .map_err(|e| AuthError::IssuerKey("cannot read key file", Some(e)))?;
                pem_decode(&pem)
            }
            Err(e) => Err(AuthError::IssuerKey("cannot create key file", Some(e))),
        });
    // The temporary name is removed in every case; the key lives on under `path` if linked.
    let _ = fs::remove_file(&tmp);
    written
}

/// The DER inside a `PRIVATE KEY` PEM block.
fn pem_decode(pem: &str) -> Result<Vec<u8>, AuthError> {
    let begin = "-----BEGIN PRIVATE KEY-----";
    let end = "-----END PRIVATE KEY-----";
    let start = pem.find(begin).ok_or(AuthError::IssuerKey(
        "key file is not a PRIVATE KEY PEM",
        None,
    ))? + begin.len();
    let stop = pem
        .get(start..)
        .and_then(|rest| rest.find(end))
        .ok_or(AuthError::IssuerKey(
            "key file is not a PRIVATE KEY PEM",
            None,
        ))?
        + start;
    let body: String = pem
        .get(start..stop)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(body)
        .map_err(|_| AuthError::IssuerKey("key file is not valid base64", None))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use gemj_passport::{VisaObject, VisaType};

    use super::{ISSUER_KEY_FILE, LocalIssuer};

    #[test]
    fn key_is_created_once_with_0600() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let sub = dir.path().join("state");
        let a = LocalIssuer::load_or_create(&sub, "https://demo.example")?;
        let b = LocalIssuer::load_or_create(&sub, "https://demo.example")?;
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.jwks(), b.jwks());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(sub.join(ISSUER_KEY_FILE))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{a:?}").contains("PRIVATE"));
        let visa = VisaObject {
            r#type: VisaType::ResearcherStatus,
            asserted: 100,
            value: "https://doi.org/10.1038/s41431-018-0219-y".into(),
            source: "https://demo.example".into(),
            by: Some("so".into()),
            conditions: None,
        };
        let token = a.issue_visa("u", &visa, Duration::from_secs(60), 100)?;
        assert_eq!(token.split('.').count(), 3);
        Ok(())
    }

    #[test]
    fn one_key_per_institution_folder() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let institutions = [
            ("hospital-a", "https://a.hospital.example"),
            ("hospital-b", "https://b.hospital.example"),
            ("biobank", "https://biobank.example"),
        ];
        let mut kids = Vec::new();
        for (folder, issuer) in institutions {
            let path = dir.path().join("institutions").join(folder);
            let broker = LocalIssuer::load_or_create(&path, issuer)?;
            assert!(path.join(ISSUER_KEY_FILE).is_file());
            assert_eq!(broker.issuer(), issuer);
            assert_eq!(broker.jwks_url(), format!("{issuer}/.well-known/jwks.json"));
            // Loading the same folder again gives the same key.
            let again = LocalIssuer::load_or_create(&path, issuer)?;
            assert_eq!(again.kid(), broker.kid());
            kids.push(broker.kid().to_owned());
        }
        kids.sort();
        kids.dedup();
        assert_eq!(kids.len(), institutions.len(), "one key per folder");
        Ok(())
    }

    #[test]
    fn concurrent_first_load_agrees_on_one_key() -> Result<(), Box<dyn std::error::Error>> {
        for _ in 0..20 {
            let dir = tempfile::tempdir()?;
            let path = dir.path().join("inst");
            let kids: Vec<Result<String, String>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            LocalIssuer::load_or_create(&path, "https://inst.example")
                                .map(|b| b.kid().to_owned())
                                .map_err(|e| e.code().to_owned())
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|_| Err("panic".to_owned())))
                    .collect()
            });
            let first = kids[0].clone();
            assert!(first.is_ok(), "{kids:?}");
            assert!(kids.iter().all(|k| *k == first), "{kids:?}");
            // No temporary file is left behind.
            let names: Vec<_> = std::fs::read_dir(&path)?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()?;
            assert_eq!(names, [ISSUER_KEY_FILE]);
        }
        Ok(())
    }

    #[test]
    fn corrupt_key_file_is_an_error() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join(ISSUER_KEY_FILE), "garbage")?;
        let err = LocalIssuer::load_or_create(dir.path(), "https://demo.example").unwrap_err();
        assert_eq!(err.code(), "issuer_key");
        Ok(())
    }
}
