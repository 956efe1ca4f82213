//! Object storage: where the bytes of data objects (BAM, CRAM, VCF, indexes, ...) live.
//!
//! [`ObjectStorage`] is the interface (dyn-compatible, so the gateway holds an
//! `Arc<dyn ObjectStorage>`); [`LocalFolderStorage`] keeps objects as files under one folder,
//! and an S3-compatible store can be added beside it. Keys are safe relative paths
//! ([`ObjectKey`]). Writes go to a temporary file in the same folder and are renamed into place,
//! so nothing half-written is ever visible under a key.
//!
//! URIs: a local object's URI is `file:` followed by its key (`file:participants/P1/P1.bam`),
//! relative to the storage root, so the data folder can move; [`ObjectStorage::key_from_uri`]
//! turns a stored URI back into a key. An S3 store would use `s3://bucket/key`.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use md5::Md5;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

use crate::StoreError;

/// Bytes read at a time when copying and hashing.
const BUFFER_SIZE: usize = 1 << 20;

/// The folder under the storage root that holds files being written.
const TMP_DIR: &str = ".tmp";

/// The URI scheme prefix of local objects.
const FILE_PREFIX: &str = "file:";

/// A key in object storage: a relative path of `/`-separated segments, each made of
/// `[A-Za-z0-9._:@+=,-]`, none empty, `.` or `..`, at most 1024 bytes, and not under `.tmp/`.
///
/// # Examples
/// ```
/// use gemj_store::objects::ObjectKey;
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
    /// [`StoreError::InvalidKey`] when the text is not a safe relative path.
    pub fn parse(key: &str) -> Result<Self, StoreError> {
        let bad = |reason| Err(StoreError::InvalidKey { reason });
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

/// A reader over (part of) a stored object.
pub type ObjectReader = Box<dyn AsyncRead + Send + Unpin>;

/// Where object bytes live. Implementations: [`LocalFolderStorage`]; an S3-compatible store
/// fits the same methods.
pub trait ObjectStorage: Send + Sync + fmt::Debug {
    /// Stores a copy of the file at `source` under `key` (replacing any object there),
    /// computing its SHA-256 and MD5 in the same single pass over the bytes.
    fn put_file<'a>(
        &'a self,
        key: &'a ObjectKey,
        source: &'a Path,
    ) -> BoxFuture<'a, Result<StoredObjectInfo, StoreError>>;

    /// Stores `bytes` under `key` (replacing any object there).
    fn put_bytes<'a>(
        &'a self,
        key: &'a ObjectKey,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Result<StoredObjectInfo, StoreError>>;

    /// Opens bytes `start..end` (end exclusive, clamped to the object's size) for reading.
    /// Fails with an I/O error of kind `NotFound` when the object does not exist
    /// ([`StoreError::is_not_found`]) and of kind `InvalidInput` when `start` is past the end.
    fn open_range<'a>(
        &'a self,
        key: &'a ObjectKey,
        start: u64,
        end: u64,
    ) -> BoxFuture<'a, Result<ObjectReader, StoreError>>;

    /// The object's size in bytes.
    fn size<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Whether an object is stored under `key`.
    fn exists<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// The object's path on the local file system, when the storage is local (for zero-copy
    /// serving); `None` for remote stores.
    fn local_path(&self, key: &ObjectKey) -> Option<PathBuf>;

    /// The URI of the object under `key`, as recorded in `DataObject::storage_uri`.
    fn uri(&self, key: &ObjectKey) -> String;

    /// The key of a URI this storage produced, or `None` when the URI is not one of its own.
    fn key_from_uri(&self, uri: &str) -> Option<ObjectKey>;
}

/// Objects as files under one root folder: the key is the relative path.
///
/// # Examples
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use gemj_store::objects::{LocalFolderStorage, ObjectKey, ObjectStorage};
/// let dir = tempfile::tempdir().unwrap();
/// let storage = LocalFolderStorage::new(dir.path());
/// let key = ObjectKey::parse("a/hello.txt").unwrap();
/// let info = storage.put_bytes(&key, b"hello").await.unwrap();
/// assert_eq!(info.uri, "file:a/hello.txt");
/// assert_eq!(info.size, 5);
/// assert_eq!(storage.key_from_uri(&info.uri), Some(key));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct LocalFolderStorage {
    root: PathBuf,
    hard_link: bool,
}

impl LocalFolderStorage {
    /// Storage under `root` (created on the first write). Files are copied in.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            hard_link: false,
        }
    }

    /// With `true`, [`ObjectStorage::put_file`] hard-links the source into the store when it
    /// is on the same file system (falling back to a copy), instead of copying it. The source
    /// must then never be modified in place.
    #[must_use]
    pub fn with_hard_links(mut self, hard_link: bool) -> Self {
        self.hard_link = hard_link;
        self
    }

    /// The root folder.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    fn info(
        &self,
        key: &ObjectKey,
        (size, sha256, md5): (u64, String, String),
    ) -> StoredObjectInfo {
        StoredObjectInfo {
            uri: self.uri(key),
            size,
            sha256,
            md5,
        }
    }
}

/// How the bytes reach the temporary file.
enum Source {
    File { path: PathBuf, hard_link: bool },
    Bytes(Vec<u8>),
}

/// Writes `source` to a temporary file under `root/.tmp`, hashing it in the same pass, and
/// renames it to `dest`. Blocking: run it on a blocking thread.
fn write_atomically(
    root: &Path,
    dest: &Path,
    source: Source,
) -> Result<(u64, String, String), StoreError> {
    let tmp_dir = root.join(TMP_DIR);
    std::fs::create_dir_all(&tmp_dir)?;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = tmp_dir.join(uuid::Uuid::new_v4().to_string());
    let result = (|| {
        let sums = match source {
            Source::File { path, hard_link } => {
                if hard_link && std::fs::hard_link(&path, &tmp).is_ok() {
                    checksum_file(&tmp)?
                } else {
                    let mut input = std::fs::File::open(&path)?;
                    let mut out = std::fs::File::create(&tmp)?;
                    let sums = copy_and_hash(&mut input, Some(&mut out))?;
                    out.sync_all()?;
                    sums
                }
            }
            Source::Bytes(bytes) => {
                let mut out = std::fs::File::create(&tmp)?;
                let sums = copy_and_hash(&mut bytes.as_slice(), Some(&mut out))?;
                out.sync_all()?;
                sums
            }
        };
        std::fs::rename(&tmp, dest)?;
        if let Some(parent) = dest.parent() {
            // Reason: best effort; makes the rename durable where directories can be synced.
            let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
        }
        Ok::<_, StoreError>(sums)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads `input` to the end once, hashing it and copying it to `out` when given.
fn copy_and_hash(
    input: &mut dyn Read,
    mut out: Option<&mut dyn Write>,
) -> Result<(u64, String, String), StoreError> {
    let mut buf = vec![0_u8; BUFFER_SIZE];
    let mut sha = Sha256::new();
    let mut md5 = Md5::new();
    let mut size = 0_u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        let chunk = &buf[..n];
        sha.update(chunk);
        md5.update(chunk);
        if let Some(out) = out.as_mut() {
            out.write_all(chunk)?;
        }
        size += n as u64;
    }
    Ok((
        size,
        hex::encode(sha.finalize()),
        hex::encode(md5.finalize()),
    ))
}

/// Size, SHA-256 and MD5 (lower-case hex) of a file, read once with a large buffer. Blocking:
/// from async code, call it inside `tokio::task::spawn_blocking`.
///
/// # Errors
/// [`StoreError::Io`] when the file cannot be read.
///
/// # Examples
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("x");
/// std::fs::write(&path, b"abc").unwrap();
/// let (size, sha256, md5) = gemj_store::objects::checksum_file(&path).unwrap();
/// assert_eq!(size, 3);
/// assert_eq!(sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
/// assert_eq!(md5, "900150983cd24fb0d6963f7d28e17f72");
/// ```
pub fn checksum_file(path: &Path) -> Result<(u64, String, String), StoreError> {
    let mut f = std::fs::File::open(path)?;
    copy_and_hash(&mut f, None)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
}

impl ObjectStorage for LocalFolderStorage {
    fn put_file<'a>(
        &'a self,
        key: &'a ObjectKey,
        source: &'a Path,
    ) -> BoxFuture<'a, Result<StoredObjectInfo, StoreError>> {
        Box::pin(async move {
            let root = self.root.clone();
            let dest = self.path_of(key);
            let source = Source::File {
                path: source.to_owned(),
                hard_link: self.hard_link,
            };
            let sums = blocking(move || write_atomically(&root, &dest, source)).await?;
            Ok(self.info(key, sums))
        })
    }

    fn put_bytes<'a>(
        &'a self,
        key: &'a ObjectKey,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Result<StoredObjectInfo, StoreError>> {
        Box::pin(async move {
            let root = self.root.clone();
            let dest = self.path_of(key);
            let source = Source::Bytes(bytes.to_vec());
            let sums = blocking(move || write_atomically(&root, &dest, source)).await?;
            Ok(self.info(key, sums))
        })
    }

    fn open_range<'a>(
        &'a self,
        key: &'a ObjectKey,
        start: u64,
        end: u64,
    ) -> BoxFuture<'a, Result<ObjectReader, StoreError>> {
        Box::pin(async move {
            let mut file = tokio::fs::File::open(self.path_of(key)).await?;
            let size = file.metadata().await?.len();
            let end = end.min(size);
            if start > end {
                return Err(StoreError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "range starts after the end of the object",
                )));
            }
            file.seek(std::io::SeekFrom::Start(start)).await?;
            let reader: ObjectReader = Box::new(file.take(end - start));
            Ok(reader)
        })
    }

    fn size<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move { Ok(tokio::fs::metadata(self.path_of(key)).await?.len()) })
    }

    fn exists<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { Ok(tokio::fs::try_exists(self.path_of(key)).await?) })
    }

    fn local_path(&self, key: &ObjectKey) -> Option<PathBuf> {
        Some(self.path_of(key))
    }

    fn uri(&self, key: &ObjectKey) -> String {
        format!("{FILE_PREFIX}{key}")
    }

    fn key_from_uri(&self, uri: &str) -> Option<ObjectKey> {
        uri.strip_prefix(FILE_PREFIX)
            .and_then(|k| ObjectKey::parse(k).ok())
    }
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

    #[tokio::test]
    async fn put_open_range_and_checksums() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let storage = LocalFolderStorage::new(dir.path().join("objects"));
        let src = dir.path().join("src.bin");
        let data: Vec<u8> = (0..3_000_000_u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&src, &data)?;
        let key = ObjectKey::parse("p/P1/file.bin")?;
        let info = storage.put_file(&key, &src).await?;
        assert_eq!(info.size, 3_000_000);
        assert_eq!(info.sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!(info.md5, hex::encode(Md5::digest(&data)));
        assert_eq!(info.uri, "file:p/P1/file.bin");
        assert_eq!(
            checksum_file(&src)?,
            (info.size, info.sha256.clone(), info.md5.clone())
        );
        assert!(storage.exists(&key).await?);
        assert_eq!(storage.size(&key).await?, 3_000_000);
        assert_eq!(
            storage.local_path(&key),
            Some(dir.path().join("objects/p/P1/file.bin"))
        );

        let mut out = Vec::new();
        storage
            .open_range(&key, 10, 20)
            .await?
            .read_to_end(&mut out)
            .await?;
        assert_eq!(out, &data[10..20]);
        let mut tail = Vec::new();
        storage
            .open_range(&key, 2_999_990, u64::MAX)
            .await?
            .read_to_end(&mut tail)
            .await?;
        assert_eq!(tail, &data[2_999_990..]);
        assert!(
            storage
                .open_range(&key, 3_000_001, 3_000_002)
                .await
                .is_err()
        );

        let missing = ObjectKey::parse("nope")?;
        assert!(!storage.exists(&missing).await?);
        let err = storage.open_range(&missing, 0, 1).await.err();
        assert!(err.is_some_and(|e| e.is_not_found()));

        // Nothing is left in the temporary folder, and hard links give the same result.
        let tmp: Vec<_> = std::fs::read_dir(dir.path().join("objects/.tmp"))?.collect();
        assert!(tmp.is_empty());
        let linked = LocalFolderStorage::new(dir.path().join("objects")).with_hard_links(true);
        let key2 = ObjectKey::parse("p/P1/linked.bin")?;
        let info2 = linked.put_file(&key2, &src).await?;
        assert_eq!((info2.size, &info2.sha256), (info.size, &info.sha256));

        // A failed copy leaves nothing under the key.
        let absent = dir.path().join("absent");
        let key3 = ObjectKey::parse("p/P1/absent.bin")?;
        assert!(storage.put_file(&key3, &absent).await.is_err());
        assert!(!storage.exists(&key3).await?);

        let bytes_key = ObjectKey::parse("b.txt")?;
        let b = storage.put_bytes(&bytes_key, b"abc").await?;
        assert_eq!(b.md5, "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(storage.key_from_uri("file:b.txt"), Some(bytes_key));
        assert_eq!(storage.key_from_uri("file:../x"), None);
        assert_eq!(storage.key_from_uri("s3://b/x"), None);
        Ok(())
    }
}
