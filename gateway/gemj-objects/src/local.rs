//! [`LocalFolderStorage`]: objects as files under one folder (the embedded default), and
//! [`LocalFile`], one of them opened for reads at any offset.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{
    ObjectError, ObjectKey, ObjectReader, ObjectStorage, ObjectVersion, RandomAccess, ReadStats,
    StoredObjectInfo, TMP_DIR, copy_and_hash,
};

/// The URI scheme prefix of local objects.
const FILE_PREFIX: &str = "file:";

/// Objects as files under one root folder: the key is the relative path.
///
/// # Examples
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use gemj_objects::{LocalFolderStorage, ObjectKey, ObjectStorage};
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
    stats: Arc<ReadStats>,
}

impl LocalFolderStorage {
    /// Storage under `root` (created on the first write). Files are copied in.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            hard_link: false,
            stats: Arc::default(),
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

    /// The file that holds the object under `key`.
    #[must_use]
    pub fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
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
) -> Result<(u64, String, String), ObjectError> {
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
        Ok::<_, ObjectError>(sums)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Size, SHA-256 and MD5 (lower-case hex) of a file, read once with a large buffer. Blocking:
/// from async code, call it inside `tokio::task::spawn_blocking`.
///
/// # Errors
/// [`ObjectError::Io`] when the file cannot be read.
///
/// # Examples
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("x");
/// std::fs::write(&path, b"abc").unwrap();
/// let (size, sha256, md5) = gemj_objects::checksum_file(&path).unwrap();
/// assert_eq!(size, 3);
/// assert_eq!(sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
/// assert_eq!(md5, "900150983cd24fb0d6963f7d28e17f72");
/// ```
pub fn checksum_file(path: &Path) -> Result<(u64, String, String), ObjectError> {
    let mut f = std::fs::File::open(path)?;
    Ok(copy_and_hash(&mut f, None)?)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ObjectError> + Send + 'static,
) -> Result<T, ObjectError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ObjectError::Io(std::io::Error::other(e)))?
}

impl ObjectStorage for LocalFolderStorage {
    fn put_file<'a>(
        &'a self,
        key: &'a ObjectKey,
        source: &'a Path,
    ) -> BoxFuture<'a, Result<StoredObjectInfo, ObjectError>> {
        Box::pin(async move {
            let root = self.root.clone();
            let dest = self.path_of(key);
            let source = Source::File {
                path: source.to_owned(),
                hard_link: self.hard_link,
            };
            let sums = blocking(move || write_atomically(&root, &dest, source)).await?;
            Ok(StoredObjectInfo::new(self.uri(key), sums))
        })
    }

    fn put_bytes<'a>(
        &'a self,
        key: &'a ObjectKey,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Result<StoredObjectInfo, ObjectError>> {
        Box::pin(async move {
            let root = self.root.clone();
            let dest = self.path_of(key);
            let source = Source::Bytes(bytes.to_vec());
            let sums = blocking(move || write_atomically(&root, &dest, source)).await?;
            Ok(StoredObjectInfo::new(self.uri(key), sums))
        })
    }

    fn open_range<'a>(
        &'a self,
        key: &'a ObjectKey,
        start: u64,
        end: u64,
    ) -> BoxFuture<'a, Result<ObjectReader, ObjectError>> {
        Box::pin(async move {
            let mut file = tokio::fs::File::open(self.path_of(key)).await?;
            let size = file.metadata().await?.len();
            let end = end.min(size);
            if start > end {
                return Err(ObjectError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "range starts after the end of the object",
                )));
            }
            file.seek(std::io::SeekFrom::Start(start)).await?;
            let reader: ObjectReader = Box::new(file.take(end - start));
            Ok(reader)
        })
    }

    fn size<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<u64, ObjectError>> {
        Box::pin(async move { Ok(tokio::fs::metadata(self.path_of(key)).await?.len()) })
    }

    fn exists<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<bool, ObjectError>> {
        Box::pin(async move { Ok(tokio::fs::try_exists(self.path_of(key)).await?) })
    }

    fn version(&self, key: &ObjectKey) -> Result<ObjectVersion, ObjectError> {
        Ok(version_of(&self.path_of(key))?)
    }

    fn random(&self, key: &ObjectKey) -> Result<Arc<dyn RandomAccess>, ObjectError> {
        let file = LocalFile::open(&self.path_of(key))?.counted(Arc::clone(&self.stats));
        Ok(Arc::new(file))
    }

    fn stats(&self) -> &ReadStats {
        &self.stats
    }

    fn location(&self) -> String {
        format!("{FILE_PREFIX}{}", self.root.display())
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
    use sha2::Digest as _;

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
        assert_eq!(info.sha256, hex::encode(sha2::Sha256::digest(&data)));
        assert_eq!(info.md5, hex::encode(md5::Md5::digest(&data)));
        assert_eq!(info.uri, "file:p/P1/file.bin");
        assert_eq!(
            checksum_file(&src)?,
            (info.size, info.sha256.clone(), info.md5.clone())
        );
        assert!(storage.exists(&key).await?);
        assert_eq!(storage.size(&key).await?, 3_000_000);
        assert!(dir.path().join("objects/p/P1/file.bin").is_file());
        assert_eq!(storage.version(&key)?.size, 3_000_000);

        // Reads at any offset, counted.
        let random = storage.random(&key)?;
        let mut buf = [0_u8; 5];
        random.read_exact_at(&mut buf, 2_999_995)?;
        assert_eq!(buf, data[2_999_995..]);
        assert!(random.read_exact_at(&mut buf, 2_999_996).is_err());
        assert_eq!(storage.stats().snapshot(), (1, 5));

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

/// The version of a local file: its size and modification time.
fn version_of(path: &Path) -> io::Result<ObjectVersion> {
    let m = std::fs::metadata(path)?;
    let tag = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos().to_string());
    Ok(ObjectVersion { size: m.len(), tag })
}

/// A local file opened for reads at any offset (`pread`), optionally counted.
#[derive(Debug)]
pub struct LocalFile {
    file: File,
    len: u64,
    stats: Option<Arc<ReadStats>>,
}

impl LocalFile {
    /// Opens `path`.
    ///
    /// # Errors
    /// When it cannot be opened.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            file,
            len,
            stats: None,
        })
    }

    /// Counts every read in `stats`.
    #[must_use]
    pub fn counted(mut self, stats: Arc<ReadStats>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// The version of the file at `path` (size and modification time).
    ///
    /// # Errors
    /// When its metadata cannot be read.
    pub fn version(path: &Path) -> io::Result<ObjectVersion> {
        version_of(path)
    }
}

impl RandomAccess for LocalFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)?;
        if let Some(s) = &self.stats {
            s.record(buf.len() as u64);
        }
        Ok(())
    }
}
