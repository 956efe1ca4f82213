//! Test signers, synthetic claims and an in-memory JWKS fetcher, shared by the attack tests and
//! the benchmark. All identities are synthetic.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gemj_auth::{AuthConfig, BoxFuture, HttpError, JwksFetcher, TrustedIssuer};
use gemj_passport::{Matcher, SourcePolicy, SourceRule, VisaType};
use serde_json::{Value, json};

/// The fixed clock of the tests.
pub(crate) const NOW: i64 = 1_700_000_000;
/// The trusted Passport Broker.
pub(crate) const BROKER: &str = "https://broker.example.jp";
pub(crate) const BROKER_JWKS: &str = "https://broker.example.jp/.well-known/jwks.json";
/// A trusted Visa Issuer (a DAC).
pub(crate) const DAC: &str = "https://dac.example.jp";
pub(crate) const DAC_JWKS: &str = "https://dac.example.jp/jwks";
/// A trusted issuer whose only key is a 1024-bit RSA key.
pub(crate) const WEAK: &str = "https://weak.example.jp";
pub(crate) const WEAK_JWKS: &str = "https://weak.example.jp/jwks";
/// An issuer nobody trusts.
pub(crate) const EVIL: &str = "https://evil.example";
pub(crate) const EVIL_JWKS: &str = "https://evil.example/jwks";
/// This gateway's audience.
pub(crate) const AUDIENCE: &str = "https://gemj.example.jp";
/// The Passport subject.
pub(crate) const USER: &str = "user-1";

/// A Passport signed with a 1024-bit RSA key (`openssl genrsa 1024`, `openssl dgst -sha256
/// -sign`), kid `w1`, iss [`WEAK`], iat [`NOW`], exp `NOW + 3600`, no Visas.
pub(crate) const WEAK_PASSPORT: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6InZuZC5nYTRnaC5wYXNzcG9ydCtqd3QiLCJraWQiOiJ3MSJ9.eyJpc3MiOiJodHRwczovL3dlYWsuZXhhbXBsZS5qcCIsInN1YiI6InVzZXItMSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJnYTRnaF9wYXNzcG9ydF92MSI6W119.Juqlv265gmTJPkuolOhIpliWmdG1ZKCXMj5mAT0PCGYyDdboeAI60gnf-Irf2fGZghOuvW4-f-JwjFHiAQtsBiwcydyZkzk9A2FA2p6PuYCCMl7eucy6Az02epHJjQ-qs7I-YfZ8XbZxde3WdFjO1Pi9d7VuIRTWC1UlLA4ccHQ";
/// The modulus of that 1024-bit key.
pub(crate) const WEAK_N: &str = "yXddv7IthbtdQTO9ZkjC_i5AvS6qop2N47gh7UQxcw4CwuK7d0BFBdriQKtNrl9i-xX9dzhD8ZMLTy4on1pJJtw2g9F4Js53ekoc6LA73kV0USUnFgnEcPSAq1UEGzzhbGxs4xqOkdpgKcoMlhWzwiQLYkmgCWfh6-zZpUbz0_s";

/// A signing key of a test issuer (or of an attacker).
#[derive(Clone)]
pub(crate) enum Key {
    /// RSA 2048 for RS256 (or PS256 with [`sign_with`]).
    Rsa(Arc<RsaKeyPair>),
    /// P-256 for ES256.
    Ec(Arc<EcdsaKeyPair>),
    /// P-384 for ES384.
    Ec384(Arc<EcdsaKeyPair>),
    /// An HMAC secret for HS256.
    Hmac(Vec<u8>),
    /// No signature at all (`alg: none`).
    Unsigned,
}

fn rsa() -> Arc<RsaKeyPair> {
    match RsaKeyPair::generate(KeySize::Rsa2048) {
        Ok(k) => Arc::new(k),
        Err(e) => panic!("RSA key generation: {e}"),
    }
}

fn ec(alg: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm) -> Arc<EcdsaKeyPair> {
    match EcdsaKeyPair::generate(alg) {
        Ok(k) => Arc::new(k),
        Err(e) => panic!("EC key generation: {e}"),
    }
}

/// The test keys, generated once per test binary.
pub(crate) struct Keys {
    pub broker_rsa: Key,
    pub broker_ec: Key,
    pub broker_rotated: Key,
    pub dac_rsa: Key,
    pub attacker_rsa: Key,
    pub attacker_ec384: Key,
}

pub(crate) fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        broker_rsa: Key::Rsa(rsa()),
        broker_ec: Key::Ec(ec(&ECDSA_P256_SHA256_FIXED_SIGNING)),
        broker_rotated: Key::Rsa(rsa()),
        dac_rsa: Key::Rsa(rsa()),
        attacker_rsa: Key::Rsa(rsa()),
        attacker_ec384: Key::Ec384(ec(&ECDSA_P384_SHA384_FIXED_SIGNING)),
    })
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The public JWK of `key` with `kid`.
pub(crate) fn jwk(kid: &str, key: &Key) -> Value {
    match key {
        Key::Rsa(k) => {
            let public = k.public_key();
            json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                   "n": b64(public.modulus().big_endian_without_leading_zero()),
                   "e": b64(public.exponent().big_endian_without_leading_zero())})
        }
        Key::Ec(k) => {
            let p = k.public_key().as_ref();
            json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&p[1..33]), "y": b64(&p[33..65])})
        }
        Key::Ec384(k) => {
            let p = k.public_key().as_ref();
            json!({"kty": "EC", "crv": "P-384", "kid": kid, "x": b64(&p[1..49]), "y": b64(&p[49..97])})
        }
        Key::Hmac(s) => json!({"kty": "oct", "kid": kid, "k": b64(s)}),
        Key::Unsigned => json!({}),
    }
}

/// The DER SubjectPublicKeyInfo of an RSA key: the secret of the classic HS256 confusion attack.
pub(crate) fn rsa_public_der(key: &Key) -> Vec<u8> {
    use aws_lc_rs::encoding::AsDer;
    match key {
        Key::Rsa(k) => match k.public_key().as_der() {
            Ok(der) => der.as_ref().to_vec(),
            Err(e) => panic!("{e}"),
        },
        _ => panic!("not an RSA key"),
    }
}

/// Signs `header.payload` (both JSON texts, used verbatim) with `key`, using the algorithm the key
/// implies (RS256, ES256, ES384, HS256, or an empty signature).
pub(crate) fn sign_raw(header: &str, payload: &str, key: &Key) -> String {
    sign_with(header, payload, key, false)
}

/// As [`sign_raw`]; with `pss`, an RSA key signs with PS256.
pub(crate) fn sign_with(header: &str, payload: &str, key: &Key, pss: bool) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let rng = SystemRandom::new();
    let sig = match key {
        Key::Rsa(k) => {
            let mut sig = vec![0; k.public_modulus_len()];
            let alg: &'static dyn aws_lc_rs::signature::RsaEncoding = if pss {
                &RSA_PSS_SHA256
            } else {
                &RSA_PKCS1_SHA256
            };
            if let Err(e) = k.sign(alg, &rng, input.as_bytes(), &mut sig) {
                panic!("{e}");
            }
            sig
        }
        Key::Ec(k) | Key::Ec384(k) => match k.sign(&rng, input.as_bytes()) {
            Ok(s) => s.as_ref().to_vec(),
            Err(e) => panic!("{e}"),
        },
        Key::Hmac(secret) => {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
            aws_lc_rs::hmac::sign(&key, input.as_bytes())
                .as_ref()
                .to_vec()
        }
        Key::Unsigned => Vec::new(),
    };
    format!("{input}.{}", b64(&sig))
}

/// Signs JSON values.
pub(crate) fn sign(header: &Value, payload: &Value, key: &Key) -> String {
    sign_raw(&header.to_string(), &payload.to_string(), key)
}

pub(crate) fn passport_header(kid: &str) -> Value {
    json!({"alg": "RS256", "typ": "vnd.ga4gh.passport+jwt", "kid": kid})
}

pub(crate) fn visa_header(kid: &str) -> Value {
    json!({"alg": "RS256", "typ": "vnd.ga4gh.visa+jwt", "kid": kid})
}

/// A Passport payload for [`USER`] from [`BROKER`], valid for an hour from [`NOW`].
pub(crate) fn passport_payload(visas: &[String]) -> Value {
    json!({
        "iss": BROKER, "sub": USER, "iat": NOW, "exp": NOW + 3600, "jti": "p-1",
        "aud": [AUDIENCE], "ga4gh_passport_v1": visas
    })
}

/// A ControlledAccessGrants Visa object from the DAC.
pub(crate) fn grant(dataset: &str) -> Value {
    json!({"type": "ControlledAccessGrants", "asserted": NOW - 86_400,
           "value": format!("https://gemj.example.jp/datasets/{dataset}"),
           "source": DAC, "by": "dac"})
}

/// An AffiliationAndRole Visa object from a university.
pub(crate) fn affiliation(value: &str) -> Value {
    json!({"type": "AffiliationAndRole", "asserted": NOW - 86_400, "value": value,
           "source": "https://u-tokyo.ac.jp", "by": "so"})
}

/// A Visa payload from `iss` for `sub`, valid for an hour from [`NOW`].
pub(crate) fn visa_payload(iss: &str, sub: &str, object: Value) -> Value {
    json!({"iss": iss, "sub": sub, "iat": NOW, "exp": NOW + 3600, "jti": "v", "ga4gh_visa_v1": object})
}

/// A broker-signed Visa (kid `b1`, iss [`BROKER`]) for `sub`: the broker is the Visa Issuer, the
/// DAC or university is the Visa Assertion Source.
pub(crate) fn visa(sub: &str, object: Value) -> String {
    sign(
        &visa_header("b1"),
        &visa_payload(BROKER, sub, object),
        &keys().broker_rsa,
    )
}

/// A DAC-signed Visa (kid `d1`, iss [`DAC`]) for `sub`.
pub(crate) fn dac_visa(sub: &str, object: Value) -> String {
    sign(
        &visa_header("d1"),
        &visa_payload(DAC, sub, object),
        &keys().dac_rsa,
    )
}

/// A broker-signed Passport (kid `b1`) carrying `visas`.
pub(crate) fn passport(visas: &[String]) -> String {
    sign(
        &passport_header("b1"),
        &passport_payload(visas),
        &keys().broker_rsa,
    )
}

/// An in-memory JWKS fetcher that counts fetches and can be made to fail.
#[derive(Debug, Default)]
pub(crate) struct MemFetcher {
    pub docs: Mutex<HashMap<String, Vec<u8>>>,
    pub failing: AtomicBool,
    pub fetches: AtomicUsize,
}

impl MemFetcher {
    pub(crate) fn set(&self, url: &str, doc: Value) {
        self.docs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(url.to_owned(), doc.to_string().into_bytes());
    }

    pub(crate) fn set_bytes(&self, url: &str, doc: Vec<u8>) {
        self.docs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(url.to_owned(), doc);
    }

    pub(crate) fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub(crate) fn count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl JwksFetcher for MemFetcher {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<Vec<u8>, HttpError>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let result = if self.failing.load(Ordering::SeqCst) {
            Err(HttpError::Other("test fetch failure"))
        } else {
            match self
                .docs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(url)
            {
                Some(d) if d.len() > max_bytes => Err(HttpError::TooLarge(max_bytes)),
                Some(d) => Ok(d.clone()),
                None => Err(HttpError::Status(404)),
            }
        };
        Box::pin(std::future::ready(result))
    }
}

/// The standard key sets: broker (RSA `b1`, EC `b-ec`), DAC (RSA `d1`), weak (1024-bit `w1`),
/// and the attacker's at [`EVIL_JWKS`] (which no configuration trusts).
pub(crate) fn standard_fetcher() -> Arc<MemFetcher> {
    let k = keys();
    let f = MemFetcher::default();
    f.set(
        BROKER_JWKS,
        json!({"keys": [jwk("b1", &k.broker_rsa), jwk("b-ec", &k.broker_ec)]}),
    );
    f.set(DAC_JWKS, json!({"keys": [jwk("d1", &k.dac_rsa)]}));
    f.set(
        WEAK_JWKS,
        json!({"keys": [{"kty": "RSA", "kid": "w1", "n": WEAK_N, "e": "AQAB"}]}),
    );
    f.set(EVIL_JWKS, json!({"keys": [jwk("x1", &k.attacker_rsa)]}));
    Arc::new(f)
}

/// The Visa Assertion Sources the tests trust.
pub(crate) fn source_policy() -> SourcePolicy {
    let c = |s: &str| Matcher::Const(s.to_owned());
    SourcePolicy::default()
        .with_rule(SourceRule::new(VisaType::ControlledAccessGrants, [c(DAC)]).with_by([c("dac")]))
        .with_rule(SourceRule::new(
            VisaType::AffiliationAndRole,
            [c("https://u-tokyo.ac.jp")],
        ))
        .with_rule(SourceRule::new(VisaType::LinkedIdentities, [c(BROKER)]))
        .with_rule(SourceRule::new(VisaType::ResearcherStatus, [c(DAC)]))
}

/// The prefix of every grant value of the tests' datasets.
pub(crate) const GRANTS: &str = "https://gemj.example.jp/datasets/";

/// An issuer trusted for everything the tests use: Passports, the Visas of [`source_policy`]
/// (as a broker that passes on its sources' assertions) and grants of every test dataset.
pub(crate) fn trusted_for_all(issuer: &str, jwks_url: &str) -> TrustedIssuer {
    TrustedIssuer::new(issuer, jwks_url)
        .signing_passports()
        .with_visas(source_policy())
        .with_grant_prefixes([GRANTS.to_owned()])
}

/// The standard configuration: broker, DAC and weak issuer trusted for everything; audience
/// required. The issuer-bound trust tests narrow it.
pub(crate) fn config() -> AuthConfig {
    AuthConfig {
        trusted: vec![
            trusted_for_all(BROKER, BROKER_JWKS),
            trusted_for_all(DAC, DAC_JWKS),
            trusted_for_all(WEAK, WEAK_JWKS),
        ],
        required_audience: Some(AUDIENCE.to_owned()),
        ..AuthConfig::default()
    }
}
