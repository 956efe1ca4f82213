//! The object-storage seam: where the bytes of data objects (BAM, CRAM, VCF, their indexes, ...)
//! live, and the one way every reader reaches them.
//!
//! Two interfaces, both dyn-compatible:
//! - [`ObjectStorage`]: the store (put, stream a byte range, size, version, URIs). The gateway
//!   holds one `Arc<dyn ObjectStorage>`, built once at start from `storage.url`.
//! - [`RandomAccess`]: one opened object, read at any offset from a blocking thread (the slicers,
//!   which decode a few blocks at each edge of a region). [`SourceReader`] turns it into
//!   `Read + Seek + BufRead` for the decoders that want a stream (noodles' header readers).
//!
//! Implementations: [`LocalFolderStorage`] here (files under one folder, the embedded default),
//! and S3 in `gemj-s3` (a leaf crate, so `object_store` and its HTTP stack build once, beside
//! everything else). Keys are safe relative paths ([`ObjectKey`]); a put is atomic on both
//! (a rename on disk, a completed multipart upload on S3), so nothing half-written is ever
//! visible under a key.
//!
//! Every read is counted ([`ReadStats`]: requests and bytes), so a test can show what a region
//! request costs on each backend.
//!
//! URIs: a local object's URI is `file:` followed by its key (`file:participants/P1/P1.bam`),
//! relative to the storage root, so the data folder can move; an S3 object's is
//! `s3://bucket/prefix/key`. [`ObjectStorage::key_from_uri`] turns a stored URI back into a key.

mod local;
mod random;

use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use md5::Md5;
use sha2::{Digest, Sha256};
use tokio::io::AsyncRead;

pub use self::local::{LocalFile, LocalFolderStorage, checksum_file};
pub use self::random::{RandomAccess, ReadStats, SourceReader};

/// Bytes read at a time when copying and hashing.
pub const BUFFER_SIZE: usize = 1 << 20;

/// The folder under a local storage root that holds files being written; no key may start
/// with it.
const TMP_DIR: &str = ".tmp";

/// What went wrong in object storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// A key is not a safe relative path.
    #[error("invalid object key: {reason}")]
    InvalidKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Reading or writing failed (a remote store's failures are mapped to I/O errors, with
    /// kind `NotFound` for an absent object).
    #[error("object storage I/O failed")]
    Io(#[from] std::io::Error),
}

impl ObjectError {
    /// Whether the object does not exist.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

impl From<ObjectError> for std::io::Error {
    /// The I/O error itself, or the error wrapped (an invalid key).
    fn from(e: ObjectError) -> Self {
        match e {
            ObjectError::Io(e) => e,
            other => Self::other(other),
        }
    }
}

/// A key in object storage: a relative path of `/`-separated segments, each made of
/// `[A-Za-z0-9._:@+=,-]`, none empty, `.` or `..`, at most 1024 bytes, and not under `.tmp/`.
///
/// # Examples
/// ```
/// use gemj_objects::ObjectKey;
/// assert!(ObjectKey::parse("participants/P1/P1.bam").is_ok());
/// assert!(ObjectKey::parse("../etc/passwd").is_err());
/// assert!(ObjectKey::parse("/abs").is_err());
/// assert!(ObjectKey::parse("a//b").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Parses a key.
    ///
    /// # Errors
    /// [`ObjectError::InvalidKey`] when the text is not a safe relative path.
    pub fn parse(key: &str) -> Result<Self, ObjectError> {
        let bad = |reason| Err(ObjectError::InvalidKey { reason });
        if key.is_empty() {
            return bad("empty");
        }
        if key.len() > 1024 {
            return bad("longer than 1024 bytes");
        }
        if key.starts_with('/') {
            return bad("absolute path");
        }
        for (i, seg) in key.split('/').enumerate() {
            match seg {
                "" => return bad("empty path segment"),
                "." | ".." => return bad("'.' or '..' segment"),
                TMP_DIR if i == 0 => return bad("'.tmp/' is reserved"),
                _ => {}
            }
            let ok = seg.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'.' | b'_' | b':' | b'@' | b'+' | b'=' | b',' | b'-')
            });
            if !ok {
                return bad("characters outside [A-Za-z0-9._:@+=,-] and '/'");
            }
        }
        Ok(Self(key.to_owned()))
    }

    /// The key as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What was stored: the object's URI, size and digests (lower-case hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObjectInfo {
    /// The URI to record as the data object's `storage_uri`.
    pub uri: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, 64 hex digits.
    pub sha256: String,
    /// MD5, 32 hex digits.
    pub md5: String,
}

impl StoredObjectInfo {
    /// What was stored at `uri`: the size, SHA-256 and MD5 (hex) of the bytes written.
    #[must_use]
    pub fn new(uri: String, (size, sha256, md5): (u64, String, String)) -> Self {
        Self {
            uri,
            size,
            sha256,
            md5,
        }
    }
}

/// Which bytes an object holds now: its size and a tag that changes when it is replaced (a
/// local file's modification time, an S3 `ETag`). Caches of opened objects compare it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectVersion {
    /// Size in bytes.
    pub size: u64,
    /// The backend's change tag, when it has one.
    pub tag: Option<String>,
}

/// A reader over (part of) a stored object.
pub type ObjectReader = Box<dyn AsyncRead + Send + Unpin>;

/// Where object bytes live: [`LocalFolderStorage`], or S3 (`gemj-s3`).
///
/// The async methods run on the runtime; [`ObjectStorage::version`] and
/// [`ObjectStorage::random`] block (a remote store waits on the network) and are called from
/// blocking threads only (`tokio::task::spawn_blocking`), where the slicers run.
pub trait ObjectStorage: Send + Sync + fmt::Debug {
    /// Stores a copy of the file at `source` under `key` (replacing any object there),
    /// computing its SHA-256 and MD5 in the same single pass over the bytes.
    fn put_file<'a>(
        &'a self,
        key: &'a ObjectKey,
        source: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<StoredObjectInfo, ObjectError>>;

    /// Stores `bytes` under `key` (replacing any object there).
    fn put_bytes<'a>(
        &'a self,
        key: &'a ObjectKey,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Result<StoredObjectInfo, ObjectError>>;

    /// Opens bytes `start..end` (end exclusive, clamped to the object's size) for reading.
    /// Fails with an I/O error of kind `NotFound` when the object does not exist
    /// ([`ObjectError::is_not_found`]) and of kind `InvalidInput` when `start` is past the end.
    fn open_range<'a>(
        &'a self,
        key: &'a ObjectKey,
        start: u64,
        end: u64,
    ) -> BoxFuture<'a, Result<ObjectReader, ObjectError>>;

    /// The object's size in bytes.
    fn size<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<u64, ObjectError>>;

    /// Whether an object is stored under `key`.
    fn exists<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<bool, ObjectError>>;

    /// The object's current version. Blocking.
    ///
    /// # Errors
    /// As [`ObjectStorage::open_range`].
    fn version(&self, key: &ObjectKey) -> Result<ObjectVersion, ObjectError>;

    /// Opens the object for reads at any offset. Blocking.
    ///
    /// # Errors
    /// As [`ObjectStorage::open_range`].
    fn random(&self, key: &ObjectKey) -> Result<Arc<dyn RandomAccess>, ObjectError>;

    /// What this storage has read so far (requests and bytes), over every object.
    fn stats(&self) -> &ReadStats;

    /// The URI of the object under `key`, as recorded in `DataObject::storage_uri`.
    fn uri(&self, key: &ObjectKey) -> String;

    /// The key of a URI this storage produced, or `None` when the URI is not one of its own.
    fn key_from_uri(&self, uri: &str) -> Option<ObjectKey>;

    /// The storage's location, without credentials (`file:/srv/gemj/objects`,
    /// `s3://bucket/prefix`), for logs and the operator.
    fn location(&self) -> String;

    /// A URL that lets its holder GET the object straight from the storage for `expires_in`
    /// (an S3 presigned URL), or `None` when the storage has no such URLs (a local folder).
    fn presigned_get<'a>(
        &'a self,
        key: &'a ObjectKey,
        expires_in: std::time::Duration,
    ) -> BoxFuture<'a, Result<Option<String>, ObjectError>> {
        let _ = (key, expires_in);
        Box::pin(async { Ok(None) })
    }
}

/// SHA-256 and MD5 of a stream, with its length, computed in one pass.
#[derive(Debug, Clone, Default)]
pub struct Digests {
    sha256: Sha256,
    md5: Md5,
    size: u64,
}

impl Digests {
    /// Adds bytes.
    pub fn update(&mut self, chunk: &[u8]) {
        self.sha256.update(chunk);
        self.md5.update(chunk);
        self.size += chunk.len() as u64;
    }

    /// `(size, sha256, md5)`, lower-case hex.
    #[must_use]
    pub fn finish(self) -> (u64, String, String) {
        (
            self.size,
            hex::encode(self.sha256.finalize()),
            hex::encode(self.md5.finalize()),
        )
    }
}

/// Reads `input` to the end once, hashing it and copying it to `out` when given.
///
/// # Errors
/// I/O errors of either side.
pub fn copy_and_hash(
    input: &mut dyn Read,
    mut out: Option<&mut dyn Write>,
) -> std::io::Result<(u64, String, String)> {
    let mut buf = vec![0_u8; BUFFER_SIZE];
    let mut digests = Digests::default();
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        digests.update(chunk);
        if let Some(out) = out.as_mut() {
            out.write_all(chunk)?;
        }
    }
    Ok(digests.finish())
}

/// Streams a stored object into the local file `target` (created or truncated); its size.
///
/// # Errors
/// As [`ObjectStorage::open_range`]; I/O errors writing `target`.
pub async fn copy_to_file(
    storage: &dyn ObjectStorage,
    key: &ObjectKey,
    target: &std::path::Path,
) -> Result<u64, ObjectError> {
    let mut reader = storage.open_range(key, 0, u64::MAX).await?;
    let mut file = tokio::fs::File::create(target).await?;
    Ok(tokio::io::copy(&mut reader, &mut file).await?)
}

/// Size, SHA-256 and MD5 of a stored object, streamed once from `storage` (no local copy).
///
/// # Errors
/// As [`ObjectStorage::open_range`].
pub async fn checksum_object(
    storage: &dyn ObjectStorage,
    key: &ObjectKey,
) -> Result<(u64, String, String), ObjectError> {
    use tokio::io::AsyncReadExt as _;
    let mut reader = storage.open_range(key, 0, u64::MAX).await?;
    let mut buf = vec![0_u8; BUFFER_SIZE];
    let mut digests = Digests::default();
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        digests.update(&buf[..n]);
    }
    Ok(digests.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(key: &str, ok: bool) {
        assert_eq!(ObjectKey::parse(key).is_ok(), ok, "{key:?}");
    }

    #[test]
    fn keys() {
        check("a", true);
        check("participants/GEMJ-P-000001/GEMJ-P-000001.cram", true);
        check("a/b.c/d_e-f:g@h+i=j,k", true);
        check(".hidden", true);
        check("", false);
        check("/etc/passwd", false);
        check("../x", false);
        check("a/../b", false);
        check("a/./b", false);
        check("a//b", false);
        check("a/", false);
        check("a\\b", false);
        check("a b", false);
        check("a\0b", false);
        check(".tmp/x", false);
        check("x/.tmp", true);
        check("日本", false);
        check(&"a".repeat(1025), false);
    }

    #[test]
    fn digests_in_pieces_equal_digests_at_once() {
        let data: Vec<u8> = (0..100_000_u32).map(|i| (i % 253) as u8).collect();
        let mut d = Digests::default();
        for c in data.chunks(777) {
            d.update(c);
        }
        let whole = copy_and_hash(&mut data.as_slice(), None).unwrap();
        assert_eq!(d.finish(), whole);
        assert_eq!(whole.0, 100_000);
    }
}
