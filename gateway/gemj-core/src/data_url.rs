//! Signed data URLs: short-lived, range-scoped grants to read one stored object, so that the
//! data path never sees the passport. A URL is issued after an access decision and carries
//! what the decision found (who, under which approval, with which consent scope, which bytes,
//! until when), signed with HMAC-SHA-256 (aws-lc-rs). When the URL is used, the decision point
//! checks it again: the signature, the expiry, the approval still in force, and consent at the
//! current epoch; a URL signed before a withdrawal stops working after it.
//!
//! The token is `base64url(JSON grant) "." base64url(HMAC)`. The key is 32 random bytes in a
//! file (mode 0600); instances that serve the same store share the file.

use std::path::Path;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gemj_model::{ApprovalId, ObjectId};

use crate::CoreError;
use crate::access::ConsentScope;

/// The longest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16_384;

/// What a signed URL grants.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlGrant {
    /// The object.
    pub object: ObjectId,
    /// First byte granted.
    pub start: u64,
    /// One past the last byte granted (`None`: to the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u64>,
    /// Who it was issued to (the audit name of the principal).
    pub principal: String,
    /// The approval that permitted it (CONTROLLED), re-checked at use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalId>,
    /// The requester's consent scope: industry.
    pub industry: bool,
    /// The requester's consent scope: processing outside Japan.
    pub international: bool,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// A random id, recorded in the audit instead of the token.
    pub nonce: String,
    /// For a multi-sample VCF/BCF holding participants the requester may not be served: the
    /// slice to re-encode at fetch time without their sample columns (decided then, at the
    /// consent epoch of the fetch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice: Option<SliceGrant>,
    /// For a WES run's staging: the run. Only such a grant reads an analysis-only dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<String>,
}

/// The slice a re-encoding URL serves (the default: every record, re-encoded).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SliceGrant {
    /// Header only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub header: bool,
    /// The regions (empty: every record).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<GrantRegion>,
}

/// One region of a [`SliceGrant`] (`r`: reference name; `s`, `e`: 0-based half-open).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRegion {
    /// The reference sequence.
    pub r: String,
    /// Start.
    #[serde(default)]
    pub s: u64,
    /// End.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<u64>,
}

impl UrlGrant {
    /// The consent scope it carries.
    #[must_use]
    pub fn scope(&self) -> ConsentScope {
        ConsentScope {
            industry: self.industry,
            international: self.international,
        }
    }
}

/// Why a signed URL was refused. The codes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a token this gateway made, or altered.
    #[error("signed_url_invalid")]
    Invalid,
    /// Past its expiry.
    #[error("signed_url_expired")]
    Expired,
}

impl UrlError {
    /// The stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Invalid => "signed_url_invalid",
            Self::Expired => "signed_url_expired",
        }
    }
}

/// Signs and verifies data URLs.
pub struct UrlSigner {
    key: hmac::Key,
    ttl: std::time::Duration,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlSigner")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl UrlSigner {
    /// A signer with this key (at least 32 bytes) and URL lifetime.
    ///
    /// # Errors
    /// [`CoreError::InvalidInput`] for a key shorter than 32 bytes.
    pub fn new(key: &[u8], ttl: std::time::Duration) -> Result<Self, CoreError> {
        if key.len() < 32 {
            return Err(CoreError::InvalidInput(
                "the data URL key must be at least 32 bytes".to_owned(),
            ));
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            ttl,
        })
    }

    /// Loads the key from `path`, or creates 32 random bytes there (mode 0600).
    ///
    /// # Errors
    /// When the file cannot be read or written, or holds fewer than 32 bytes.
    pub fn load_or_create(path: &Path, ttl: std::time::Duration) -> Result<Self, CoreError> {
        let io = |what: &str, e: std::io::Error| {
            CoreError::InvalidInput(format!("data URL key {}: {what}: {e}", path.display()))
        };
        match std::fs::read(path) {
            Ok(key) => Self::new(&key, ttl),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                aws_lc_rs::rand::fill(&mut key).map_err(|_| {
                    CoreError::InvalidInput("no randomness for the data URL key".to_owned())
                })?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| io("cannot create folder", e))?;
                }
                // Write to a temporary file and link it into place, so that concurrent first
                // starts agree on one key.
                let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
                {
                    use std::io::Write as _;
                    let mut options = std::fs::OpenOptions::new();
                    options.write(true).create(true).truncate(true);
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::OpenOptionsExt as _;
                        options.mode(0o600);
                    }
                    let mut f = options.open(&tmp).map_err(|e| io("cannot write", e))?;
                    f.write_all(&key).map_err(|e| io("cannot write", e))?;
                    f.sync_all().map_err(|e| io("cannot write", e))?;
                }
                let linked = std::fs::hard_link(&tmp, path);
                let _ = std::fs::remove_file(&tmp);
                match linked {
                    Ok(()) => Self::new(&key, ttl),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let key = std::fs::read(path).map_err(|e| io("cannot read", e))?;
                        Self::new(&key, ttl)
                    }
                    Err(e) => Err(io("cannot write", e)),
                }
            }
            Err(e) => Err(io("cannot read", e)),
        }
    }

    /// How long issued URLs live.
    #[must_use]
    pub fn ttl(&self) -> std::time::Duration {
        self.ttl
    }

    /// Signs a grant into a token.
    #[must_use]
    pub fn sign(&self, grant: &UrlGrant) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(grant).unwrap_or_default());
        let tag = hmac::sign(&self.key, body.as_bytes());
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The tag of `body` under this key for another kind of token, `label` separating the
    /// domains (a data URL's tag never verifies as another token's, nor the other way).
    pub(crate) fn tag_labelled(&self, label: &str, body: &str) -> String {
        let tag = hmac::sign(&self.key, format!("{label}\0{body}").as_bytes());
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Whether `tag` is [`UrlSigner::tag_labelled`] of `body` under `label`.
    pub(crate) fn verify_labelled(&self, label: &str, body: &str, tag: &str) -> bool {
        URL_SAFE_NO_PAD.decode(tag).is_ok_and(|tag| {
            hmac::verify(&self.key, format!("{label}\0{body}").as_bytes(), &tag).is_ok()
        })
    }

    /// A sealer of small secrets (the portal's session tokens) under a key derived from this
    /// signer's for `label`: every instance sharing the key file opens what another sealed.
    #[must_use]
    pub fn sealer(&self, label: &str) -> Sealer {
        let derived = hmac::sign(&self.key, format!("seal\0{label}").as_bytes());
        Sealer::new(derived.as_ref())
    }

    /// Verifies a token at `now` (seconds since the epoch).
    ///
    /// # Errors
    /// [`UrlError::Invalid`] for anything not signed by this key; [`UrlError::Expired`].
    pub fn verify(&self, token: &str, now: i64) -> Result<UrlGrant, UrlError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(UrlError::Invalid);
        }
        let (body, tag) = token.split_once('.').ok_or(UrlError::Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| UrlError::Invalid)?;
        hmac::verify(&self.key, body.as_bytes(), &tag).map_err(|_| UrlError::Invalid)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| UrlError::Invalid)?;
        let grant: UrlGrant = serde_json::from_slice(&json).map_err(|_| UrlError::Invalid)?;
        if grant.exp <= now {
            return Err(UrlError::Expired);
        }
        Ok(grant)
    }
}

/// AES-256-GCM over small secrets: a random 96-bit nonce, then the ciphertext and tag. The
/// associated data names what is sealed, so one kind never opens as another.
pub struct Sealer {
    key: Option<aws_lc_rs::aead::LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    fn new(key: &[u8]) -> Self {
        let key = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, key)
            .ok()
            .map(aws_lc_rs::aead::LessSafeKey::new);
        Self { key }
    }

    /// Seals `plain`, bound to `aad`.
    ///
    /// # Errors
    /// [`CoreError::InvalidInput`] when no randomness or key is available (never in practice).
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, CoreError> {
        use aws_lc_rs::rand::SecureRandom as _;
        let fail = || CoreError::InvalidInput("cannot seal".to_owned());
        let key = self.key.as_ref().ok_or_else(fail)?;
        let mut nonce = [0u8; 12];
        aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| fail())?;
        let mut out = plain.to_vec();
        key.seal_in_place_append_tag(
            aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce),
            aws_lc_rs::aead::Aad::from(aad),
            &mut out,
        )
        .map_err(|_| fail())?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&out);
        Ok(sealed)
    }

    /// Opens what [`Sealer::seal`] sealed with the same `aad`; `None` for anything else.
    #[must_use]
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let key = self.key.as_ref()?;
        let (nonce, body) = sealed.split_at_checked(12)?;
        let nonce = aws_lc_rs::aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let plain = key
            .open_in_place(nonce, aws_lc_rs::aead::Aad::from(aad), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Result<UrlGrant, Box<dyn std::error::Error>> {
        Ok(UrlGrant {
            object: ObjectId::parse("OBJ-1")?,
            start: 0,
            end: Some(100),
            principal: "https://broker.example#alice".into(),
            approval: None,
            industry: false,
            international: false,
            exp: 2_000,
            nonce: "n".into(),
            slice: None,
            analysis: None,
        })
    }

    #[test]
    fn tokens_verify_only_unaltered_unexpired_and_with_the_same_key()
    -> Result<(), Box<dyn std::error::Error>> {
        let signer = UrlSigner::new(&[7u8; 32], std::time::Duration::from_secs(300))?;
        let token = signer.sign(&grant()?);
        assert_eq!(signer.verify(&token, 1_999), Ok(grant()?));
        assert_eq!(signer.verify(&token, 2_000), Err(UrlError::Expired));
        let other = UrlSigner::new(&[8u8; 32], std::time::Duration::from_secs(300))?;
        assert_eq!(other.verify(&token, 1_000), Err(UrlError::Invalid));
        // Widen the range in the body and keep the old tag.
        let mut wider = grant()?;
        wider.end = None;
        let forged_body = signer.sign(&wider);
        let (body, _) = forged_body.split_once('.').ok_or("token")?;
        let (_, tag) = token.split_once('.').ok_or("token")?;
        assert_eq!(
            signer.verify(&format!("{body}.{tag}"), 1_000),
            Err(UrlError::Invalid)
        );
        for junk in ["", ".", "a.b", "no-dot", &"x".repeat(MAX_TOKEN_BYTES + 1)] {
            assert_eq!(
                signer.verify(junk, 1_000),
                Err(UrlError::Invalid),
                "{junk:.20}"
            );
        }
        assert!(UrlSigner::new(&[0u8; 31], std::time::Duration::from_secs(1)).is_err());
        Ok(())
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("keys").join("data-url.key");
        let a = UrlSigner::load_or_create(&path, std::time::Duration::from_secs(300))?;
        let b = UrlSigner::load_or_create(&path, std::time::Duration::from_secs(300))?;
        let token = a.sign(&grant()?);
        assert_eq!(b.verify(&token, 1_000), Ok(grant()?));
        assert_eq!(std::fs::read(&path)?.len(), 32);
        Ok(())
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_label() -> Result<(), Box<dyn std::error::Error>>
    {
        let a = UrlSigner::new(&[7u8; 32], std::time::Duration::from_secs(60))?;
        let b = UrlSigner::new(&[8u8; 32], std::time::Duration::from_secs(60))?;
        let sealed = a.sealer("portal").seal(b"session", b"token")?;
        assert_eq!(
            a.sealer("portal").open(b"session", &sealed).as_deref(),
            Some(&b"token"[..])
        );
        assert!(
            a.sealer("portal").open(b"login", &sealed).is_none(),
            "another kind"
        );
        assert!(
            a.sealer("other").open(b"session", &sealed).is_none(),
            "another label"
        );
        assert!(
            b.sealer("portal").open(b"session", &sealed).is_none(),
            "another key"
        );
        let mut flipped = sealed.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert!(
            a.sealer("portal").open(b"session", &flipped).is_none(),
            "tampered"
        );
        assert!(
            a.sealer("portal").open(b"session", &sealed[..5]).is_none(),
            "short"
        );
        Ok(())
    }
}
