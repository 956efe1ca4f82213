//! JSON Web Key Sets: fetching ([`JwksFetcher`], [`HttpJwksFetcher`], [`StaticJwksFetcher`]) and
//! parsing into pre-parsed verification keys.
//!
//! Keys are parsed once per fetch into aws-lc-rs `ParsedPublicKey`s, so a signature check costs
//! only the signature operation. RSA moduli are measured here: below 2048 bits a key is recorded
//! as weak (tokens naming it fail with `weak_key`, whatever backend would have accepted it);
//! above 8192 bits, or of another type, curve or use, as unsupported.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::error::{AuthError, HttpError};
use crate::json::parse_strict;
use crate::jws::Alg;

/// A boxed, `Send` future, as returned by [`JwksFetcher::fetch`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Fetches the bytes of a JWK Set document.
///
/// The [`Verifier`](crate::Verifier) only ever asks for configured JWKS URLs, parses and bounds
/// the document itself, and counts on the fetcher to stop reading after `max_bytes` (answering
/// [`HttpError::TooLarge`]). Tests inject in-memory fetchers with
/// [`Verifier::with_fetcher`](crate::Verifier::with_fetcher).
pub trait JwksFetcher: Send + Sync + fmt::Debug {
    /// Fetches the document at `url`, reading at most `max_bytes`.
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<Vec<u8>, HttpError>>;
}

/// The production fetcher: an HTTPS GET with reqwest (no redirects, the configured timeout), that
/// accepts only status 200 and stops reading at the size limit.
#[derive(Debug, Clone)]
pub struct HttpJwksFetcher {
    client: reqwest::Client,
}

impl HttpJwksFetcher {
    /// A fetcher over `client`. Give it a client that does not follow redirects and has a
    /// timeout, as [`Verifier::new`](crate::Verifier::new) does.
    #[must_use]
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl JwksFetcher for HttpJwksFetcher {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<Vec<u8>, HttpError>> {
        Box::pin(async move {
            let response = self
                .client
                .get(url)
                .header(
                    reqwest::header::ACCEPT,
                    "application/json, application/jwk-set+json",
                )
                .send()
                .await
                .map_err(HttpError::Transport)?;
            if response.status() != reqwest::StatusCode::OK {
                return Err(HttpError::Status(response.status().as_u16()));
            }
            crate::http::read_limited(response, max_bytes).await
        })
    }
}

/// An in-memory fetcher: a fixed map from URL to document, replaceable at run time.
///
/// Used by the demo mode (the gateway verifies its own demo broker's tokens without HTTP) and by
/// tests.
///
/// # Examples
///
/// ```
/// use gemj_auth::StaticJwksFetcher;
///
/// let fetcher = StaticJwksFetcher::default();
/// fetcher.set("https://broker.example.jp/jwks", br#"{"keys":[]}"#.to_vec());
/// ```
#[derive(Debug, Default)]
pub struct StaticJwksFetcher {
    documents: Mutex<HashMap<String, Vec<u8>>>,
}

impl StaticJwksFetcher {
    /// Sets (or replaces) the document served for `url`.
    pub fn set(&self, url: impl Into<String>, document: Vec<u8>) {
        if let Ok(mut docs) = self.documents.lock() {
            docs.insert(url.into(), document);
        }
    }

    /// Removes the document for `url`: fetches of it then fail.
    pub fn remove(&self, url: &str) {
        if let Ok(mut docs) = self.documents.lock() {
            docs.remove(url);
        }
    }
}

impl StaticJwksFetcher {
    /// Whether a document is set for `url`.
    #[must_use]
    pub fn has(&self, url: &str) -> bool {
        self.documents
            .lock()
            .is_ok_and(|docs| docs.contains_key(url))
    }
}

/// Key sets held in memory first (by exact URL), HTTP for the rest.
#[derive(Debug)]
pub(crate) struct LocalFirstFetcher {
    pub(crate) local: Arc<StaticJwksFetcher>,
    pub(crate) remote: HttpJwksFetcher,
}

impl JwksFetcher for LocalFirstFetcher {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<Vec<u8>, HttpError>> {
        if self.local.has(url) {
            self.local.fetch(url, max_bytes)
        } else {
            self.remote.fetch(url, max_bytes)
        }
    }
}

impl JwksFetcher for StaticJwksFetcher {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<Vec<u8>, HttpError>> {
        let result = match self.documents.lock() {
            Ok(docs) => match docs.get(url) {
                Some(doc) if doc.len() > max_bytes => Err(HttpError::TooLarge(max_bytes)),
                Some(doc) => Ok(doc.clone()),
                None => Err(HttpError::Status(404)),
            },
            Err(_) => Err(HttpError::Other("fetcher lock poisoned")),
        };
        Box::pin(std::future::ready(result))
    }
}

/// A usable verification key.
pub(crate) struct VerifyingKey {
    /// The one algorithm this key verifies.
    alg: Alg,
    /// The `alg` member of the JWK, when present.
    declared_alg: Option<String>,
    /// The pre-parsed public key.
    key: ParsedPublicKey,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("declared_alg", &self.declared_alg)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Verifies `signature` over `message` for a token whose header says `alg`.
    pub(crate) fn verify(
        &self,
        alg: Alg,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), AuthError> {
        if alg != self.alg
            || self
                .declared_alg
                .as_deref()
                .is_some_and(|d| d != alg.as_str())
        {
            return Err(AuthError::KeyAlgMismatch);
        }
        self.key
            .verify_sig(message, signature)
            .map_err(|_| AuthError::BadSignature)
    }
}

/// One `kid` of a key set.
#[derive(Debug, Clone)]
pub(crate) enum KeyEntry {
    /// A key this crate verifies with.
    Usable(Arc<VerifyingKey>),
    /// An RSA key below 2048 bits.
    Weak,
    /// A key of another type, curve, size or use.
    Unsupported,
}

/// A parsed key set: `kid` to key. When a `kid` appears twice, the first entry wins.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, KeyEntry>,
}

impl KeySet {
    /// The key for `kid`.
    pub(crate) fn get(&self, kid: &str) -> Option<&KeyEntry> {
        self.keys.get(kid)
    }

    /// Parses a JWK Set document (RFC 7517 section 5) of at most `max_bytes` and `max_keys` keys.
    /// Keys without a `kid` are skipped: tokens must name their key.
    pub(crate) fn parse(
        bytes: &[u8],
        max_bytes: usize,
        max_keys: usize,
    ) -> Result<Self, &'static str> {
        if bytes.len() > max_bytes {
            return Err("key set too large");
        }
        let Ok(Value::Object(doc)) = parse_strict(bytes) else {
            return Err("key set not a JSON object");
        };
        let Some(Value::Array(keys)) = doc.get("keys") else {
            return Err("key set without a keys list");
        };
        if keys.len() > max_keys {
            return Err("too many keys");
        }
        let mut set = Self::default();
        for jwk in keys {
            let Some(jwk) = jwk.as_object() else {
                continue;
            };
            let Some(kid) = jwk.get("kid").and_then(Value::as_str) else {
                continue;
            };
            if !set.keys.contains_key(kid) {
                set.keys.insert(kid.to_owned(), parse_jwk(jwk));
            }
        }
        Ok(set)
    }
}

/// Parses one JWK into a key entry.
fn parse_jwk(jwk: &serde_json::Map<String, Value>) -> KeyEntry {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if jwk.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
        return KeyEntry::Unsupported;
    }
    if let Some(ops) = jwk.get("key_ops")
        && !ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|o| o.as_str() == Some("verify")))
    {
        return KeyEntry::Unsupported;
    }
    let declared_alg = match jwk.get("alg") {
        None => None,
        Some(Value::String(a)) => Some(a.clone()),
        Some(_) => return KeyEntry::Unsupported,
    };
    let b64 = |name: &str| text(name).and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
    match text("kty") {
        Some("RSA") => {
            let (Some(n), Some(e)) = (b64("n"), b64("e")) else {
                return KeyEntry::Unsupported;
            };
            let n = strip_leading_zeros(&n);
            let e = strip_leading_zeros(&e);
            let bits = bit_length(n);
            if bits < 2048 {
                return KeyEntry::Weak;
            }
            if bits > 8192 || e.is_empty() || e.len() > 4 {
                return KeyEntry::Unsupported;
            }
            match (RsaPublicKeyComponents { n, e })
                .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            {
                Ok(key) => KeyEntry::Usable(Arc::new(VerifyingKey {
                    alg: Alg::Rs256,
                    declared_alg,
                    key,
                })),
                Err(_) => KeyEntry::Unsupported,
            }
        }
        Some("EC") => {
            if text("crv") != Some("P-256") {
                return KeyEntry::Unsupported;
            }
            let (Some(x), Some(y)) = (b64("x"), b64("y")) else {
                return KeyEntry::Unsupported;
            };
            if x.len() != 32 || y.len() != 32 {
                return KeyEntry::Unsupported;
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            match ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point) {
                Ok(key) => KeyEntry::Usable(Arc::new(VerifyingKey {
                    alg: Alg::Es256,
                    declared_alg,
                    key,
                })),
                Err(_) => KeyEntry::Unsupported,
            }
        }
        _ => KeyEntry::Unsupported,
    }
}

/// `bytes` without leading zero bytes (big-endian integers).
fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

/// The bit length of a big-endian integer without leading zero bytes.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(&top) => (bytes.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::{KeyEntry, KeySet, bit_length, strip_leading_zeros};

    #[test]
    fn bits() {
        assert_eq!(bit_length(strip_leading_zeros(&[0, 0, 1])), 1);
        assert_eq!(bit_length(strip_leading_zeros(&[0x80, 0])), 16);
        assert_eq!(bit_length(strip_leading_zeros(&[0, 0x7f, 0])), 15);
        assert_eq!(bit_length(strip_leading_zeros(&[0, 0])), 0);
        assert_eq!(bit_length(&[]), 0);
    }

    #[test]
    fn key_set_limits() {
        #[track_caller]
        fn check(doc: &str, expect: Result<usize, &str>) {
            let got = KeySet::parse(doc.as_bytes(), 200, 2).map(|s| s.keys.len());
            assert_eq!(got, expect, "{doc}");
        }
        check(r#"{"keys":[]}"#, Ok(0));
        check(r#"{"keys":[{"kty":"oct","k":"AA","kid":"a"}]}"#, Ok(1));
        check(r#"{"keys":[{"kty":"oct","k":"AA"}]}"#, Ok(0));
        check(r#"{"keys":[1,2,3]}"#, Err("too many keys"));
        check(r#"{"keys":{}}"#, Err("key set without a keys list"));
        check(r#"{"keys":[],"keys":[]}"#, Err("key set not a JSON object"));
        check(
            &format!(r#"{{"keys":[],"x":"{}"}}"#, "a".repeat(200)),
            Err("key set too large"),
        );
        let set = KeySet::parse(
            br#"{"keys":[{"kty":"oct","k":"AA","kid":"a"},{"kty":"EC","crv":"P-384","kid":"b"}]}"#,
            1000,
            5,
        )
        .map_err(std::borrow::ToOwned::to_owned);
        assert!(matches!(
            set.as_ref().map(|s| s.get("a")),
            Ok(Some(KeyEntry::Unsupported))
        ));
        assert!(matches!(
            set.as_ref().map(|s| s.get("b")),
            Ok(Some(KeyEntry::Unsupported))
        ));
    }
}
