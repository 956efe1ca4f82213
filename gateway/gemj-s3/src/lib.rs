//! Objects in S3, or any S3-compatible server (MinIO, Garage, s3s-fs, Ceph RGW), behind the
//! gateway's object-storage seam ([`gemj_objects::ObjectStorage`]), through `object_store`.
//!
//! - **Where**: `s3://bucket/prefix` ([`S3Config::from_env`] takes the endpoint, region and
//!   credentials from the standard `AWS_*` variables; `AWS_ALLOW_HTTP=true` for a loopback
//!   server).
//! - **Reads**: a region request reads the byte ranges it needs and no more. Small reads (the
//!   BGZF blocks and CRAM containers at a region's edges) go through a per-object cache of
//!   16 KiB pages, so a block header and its body cost one request; reads of 256 KiB or more
//!   (whole blocks between the edges, streamed data) are one ranged GET each, uncached.
//!   [`gemj_objects::ObjectStorage::stats`] counts the requests and bytes.
//! - **Writes**: one PUT up to 8 MiB, a multipart upload beyond (hashed as it streams); either
//!   is visible only when complete, so nothing half-written appears under a key.
//! - **Streaming**: a byte range is fetched in 8 MiB ranged GETs, two ahead of the reader; each
//!   request has `object_store`'s 30 s timeout, so a stalled server fails a read instead of
//!   holding it forever.
//! - **Threads**: the S3 client runs on its own small runtime (two threads), so the blocking
//!   reads of the slicers can wait on it from any thread, including a runtime's own, without
//!   deadlock, and connections are never shared across runtimes.

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use gemj_objects::{
    BUFFER_SIZE, Digests, ObjectError, ObjectKey, ObjectReader, ObjectStorage, ObjectVersion,
    RandomAccess, ReadStats, StoredObjectInfo,
};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::signer::Signer as _;
use object_store::{ClientOptions, ObjectStore, PutPayload, WriteMultipart};

/// The URI scheme of S3 objects.
const SCHEME: &str = "s3://";

/// Bytes per ranged GET when streaming, and per part of a multipart upload.
const STREAM_CHUNK: u64 = 8 << 20;

/// Objects up to this size are written with one PUT.
const SINGLE_PUT_MAX: u64 = 8 << 20;

/// The page of the small-read cache: small enough that a BGZF block (at most 64 KiB) read at
/// any offset costs at most 16 KiB more than its own bytes.
const PAGE: u64 = 16 << 10;

/// Pages kept per opened object (2 MiB).
const PAGES_KEPT: usize = 128;

/// Reads at least this large bypass the page cache.
const DIRECT_READ: usize = 256 << 10;

/// Where the objects are and how to reach them. `Debug` never shows the secret key.
#[derive(Clone, Default)]
pub struct S3Config {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// The server, e.g. `http://127.0.0.1:9000` (`AWS_ENDPOINT_URL`); `None`: AWS itself.
    pub endpoint: Option<String>,
    /// The region (`AWS_REGION`, else `AWS_DEFAULT_REGION`); `None`: `us-east-1`.
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<String>,
    /// Whether a plain-HTTP endpoint is allowed (`AWS_ALLOW_HTTP=true`; loopback servers).
    pub allow_http: bool,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("S3Config")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &set(&self.secret_access_key))
            .field("session_token", &set(&self.session_token))
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl S3Config {
    /// `url` with the endpoint, region and credentials from the standard `AWS_*` variables.
    #[must_use]
    pub fn from_env(url: &str) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            url: url.to_owned(),
            endpoint: var("AWS_ENDPOINT_URL").or_else(|| var("AWS_ENDPOINT")),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
            allow_http: var("AWS_ALLOW_HTTP")
                .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1"),
        }
    }

    /// `(bucket, prefix)` of [`S3Config::url`]; the prefix has no leading or trailing `/`.
    ///
    /// # Errors
    /// When the URL is not `s3://bucket[/prefix]` with a valid bucket name and a prefix that is
    /// a valid object key.
    pub fn bucket_and_prefix(&self) -> Result<(String, String), S3Error> {
        let bad = |reason: &str| S3Error::BadUrl(reason.to_owned());
        let rest = self
            .url
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("it does not start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_end_matches('/');
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !bucket_ok {
            return Err(bad(
                "the bucket name is not 3-63 characters of a-z, 0-9, '-' and '.'",
            ));
        }
        if !prefix.is_empty() && ObjectKey::parse(prefix).is_err() {
            return Err(bad("the prefix is not a safe relative path"));
        }
        Ok((bucket.to_owned(), prefix.to_owned()))
    }
}

/// Why S3 storage cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    /// `storage.url` is not a usable S3 URL.
    #[error("storage.url is not a usable S3 URL: {0}")]
    BadUrl(String),
    /// The client cannot be built (a bad endpoint, region or credential setting).
    #[error("the S3 client cannot be set up: {0}")]
    Client(String),
    /// The storage's own runtime cannot start.
    #[error("the S3 client's runtime cannot start")]
    Runtime(#[source] io::Error),
}

struct Inner {
    store: AmazonS3,
    runtime: Option<tokio::runtime::Runtime>,
    bucket: String,
    prefix: String,
    stats: ReadStats,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Reason: dropping a runtime blocks, which panics inside another runtime; the storage
        // may well be dropped there (a test's end, the server's shutdown).
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Inner {
    fn runtime(&self) -> &tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .map(tokio::runtime::Runtime::handle)
            .unwrap_or_else(|| unreachable!("the runtime lives until the storage is dropped"))
    }

    fn path(&self, key: &ObjectKey) -> Path {
        if self.prefix.is_empty() {
            Path::from(key.as_str())
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Runs `fut` on the storage's runtime and waits for it from any thread.
    fn block<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, ObjectError>> + Send + 'static,
    ) -> Result<T, ObjectError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime().spawn(async move {
            // Reason: the waiting side only goes away when its thread is gone.
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| ObjectError::Io(io::Error::other("the S3 client's runtime has stopped")))?
    }

    /// Runs `fut` on the storage's runtime.
    async fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, ObjectError>> + Send + 'static,
    ) -> Result<T, ObjectError> {
        self.runtime().spawn(fut).await.map_err(task_failed)?
    }

    async fn get_range(&self, path: &Path, range: Range<u64>) -> Result<Bytes, ObjectError> {
        let want = range.end - range.start;
        let bytes = self.store.get_range(path, range).await.map_err(io_error)?;
        if bytes.len() as u64 != want {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short ranged read").into());
        }
        self.stats.record(want);
        Ok(bytes)
    }
}

fn task_failed(e: tokio::task::JoinError) -> ObjectError {
    ObjectError::Io(io::Error::other(format!("S3 task failed: {e}")))
}

/// `object_store`'s error as an I/O error, `NotFound` kept.
fn io_error(e: object_store::Error) -> ObjectError {
    let kind = match &e {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        _ => io::ErrorKind::Other,
    };
    ObjectError::Io(io::Error::new(kind, e))
}

/// S3 object storage. Cheap to clone.
#[derive(Clone)]
pub struct S3Storage {
    inner: Arc<Inner>,
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

impl S3Storage {
    /// Storage at `config.url`. Makes no request: a wrong endpoint or key shows at the first
    /// read or write.
    ///
    /// # Errors
    /// [`S3Error`] for a bad URL or client setting.
    pub fn new(config: &S3Config) -> Result<Self, S3Error> {
        let (bucket, prefix) = config.bucket_and_prefix()?;
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&bucket)
            .with_region(config.region.as_deref().unwrap_or("us-east-1"))
            .with_allow_http(config.allow_http)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(30))
                    .with_allow_http(config.allow_http),
            );
        if let Some(e) = &config.endpoint {
            builder = builder.with_endpoint(e);
        }
        if let Some(k) = &config.access_key_id {
            builder = builder.with_access_key_id(k);
        }
        if let Some(k) = &config.secret_access_key {
            builder = builder.with_secret_access_key(k);
        }
        if let Some(t) = &config.session_token {
            builder = builder.with_token(t);
        }
        let store = builder
            .build()
            .map_err(|e| S3Error::Client(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("gemj-s3")
            .enable_all()
            .build()
            .map_err(S3Error::Runtime)?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                runtime: Some(runtime),
                bucket,
                prefix,
                stats: ReadStats::default(),
            }),
        })
    }

    /// A URL that lets its holder `GET` the object for `expires_in`, signed with the storage's
    /// credentials (`SigV4` query parameters): for callers that can reach the bucket themselves.
    ///
    /// # Errors
    /// When the URL cannot be signed (no credentials).
    pub async fn presign(
        &self,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<String, ObjectError> {
        let inner = Arc::clone(&self.inner);
        let path = inner.path(key);
        self.inner
            .run(async move {
                inner
                    .store
                    .signed_url(http::Method::GET, &path, expires_in)
                    .await
                    .map(|u| u.to_string())
                    .map_err(io_error)
            })
            .await
    }

    /// Checks that the bucket exists and takes writes: an empty object under a reserved key
    /// is written and removed. Run at start, so a missing bucket or a wrong key is reported
    /// then, with advice, not at the first genome.
    ///
    /// # Errors
    /// When the write or the removal fails.
    pub async fn check_writable(&self) -> Result<(), ObjectError> {
        let inner = Arc::clone(&self.inner);
        let probe = inner.path(&ObjectKey::parse(".gemj-probe")?);
        self.inner
            .run(async move {
                inner
                    .store
                    .put(&probe, PutPayload::from_static(b""))
                    .await
                    .map_err(io_error)?;
                inner.store.delete(&probe).await.map_err(io_error)
            })
            .await
            .map_err(|e| {
                ObjectError::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "cannot write to {}: does the bucket exist, and may these \
                         credentials write to it? ({e})",
                        self.location()
                    ),
                ))
            })
    }
}

/// Streams `path`'s bytes `start..end` in ranged GETs of [`STREAM_CHUNK`], two ahead.
fn stream_range(inner: &Arc<Inner>, path: Path, start: u64, end: u64) -> ObjectReader {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(2);
    let task_inner = Arc::clone(inner);
    inner.runtime().spawn(async move {
        let mut at = start;
        while at < end {
            let next = (at + STREAM_CHUNK).min(end);
            let item = task_inner
                .get_range(&path, at..next)
                .await
                .map_err(io::Error::from);
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
            at = next;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Box::new(tokio_util::io::StreamReader::new(Box::pin(stream)))
}

async fn put_file(
    inner: Arc<Inner>,
    path: Path,
    source: std::path::PathBuf,
) -> Result<(u64, String, String), ObjectError> {
    use tokio::io::AsyncReadExt as _;
    let mut file = tokio::fs::File::open(&source).await?;
    let size = file.metadata().await?.len();
    let mut digests = Digests::default();
    if size <= SINGLE_PUT_MAX {
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut bytes).await?;
        digests.update(&bytes);
        inner
            .store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(io_error)?;
        return Ok(digests.finish());
    }
    let upload = inner.store.put_multipart(&path).await.map_err(io_error)?;
    let mut writer =
        WriteMultipart::new_with_chunk_size(upload, usize::try_from(STREAM_CHUNK).unwrap_or(8));
    let mut buf = vec![0_u8; BUFFER_SIZE];
    let copied: Result<(), ObjectError> = async {
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            digests.update(&buf[..n]);
            writer.wait_for_capacity(4).await.map_err(io_error)?;
            writer.write(&buf[..n]);
        }
    }
    .await;
    match copied {
        Ok(()) => {
            writer.finish().await.map_err(io_error)?;
            Ok(digests.finish())
        }
        Err(e) => {
            // Reason: best effort; the upload was never completed, so nothing is visible.
            let _ = writer.abort().await;
            Err(e)
        }
    }
}

impl ObjectStorage for S3Storage {
    fn presigned_get<'a>(
        &'a self,
        key: &'a ObjectKey,
        expires_in: Duration,
    ) -> BoxFuture<'a, Result<Option<String>, ObjectError>> {
        Box::pin(async move { self.presign(key, expires_in).await.map(Some) })
    }

    fn put_file<'a>(
        &'a self,
        key: &'a ObjectKey,
        source: &'a FsPath,
    ) -> BoxFuture<'a, Result<StoredObjectInfo, ObjectError>> {
        Box::pin(async move {
            let inner = Arc::clone(&self.inner);
            let path = inner.path(key);
            let sums = self
                .inner
                .run(put_file(inner, path, source.to_owned()))
                .await?;
            Ok(StoredObjectInfo::new(self.uri(key), sums))
        })
    }

    fn put_bytes<'a>(
        &'a self,
        key: &'a ObjectKey,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Result<StoredObjectInfo, ObjectError>> {
        Box::pin(async move {
            let mut digests = Digests::default();
            digests.update(bytes);
            let sums = digests.finish();
            let inner = Arc::clone(&self.inner);
            let path = inner.path(key);
            let payload = PutPayload::from(bytes.to_vec());
            self.inner
                .run(async move {
                    inner.store.put(&path, payload).await.map_err(io_error)?;
                    Ok(())
                })
                .await?;
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
            let size = self.size(key).await?;
            let end = end.min(size);
            if start > end {
                return Err(ObjectError::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "range starts after the end of the object",
                )));
            }
            Ok(stream_range(&self.inner, self.inner.path(key), start, end))
        })
    }

    fn size<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<u64, ObjectError>> {
        Box::pin(async move {
            let inner = Arc::clone(&self.inner);
            let path = inner.path(key);
            self.inner
                .run(async move { Ok(inner.store.head(&path).await.map_err(io_error)?.size) })
                .await
        })
    }

    fn exists<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<bool, ObjectError>> {
        Box::pin(async move {
            match self.size(key).await {
                Ok(_) => Ok(true),
                Err(e) if e.is_not_found() => Ok(false),
                Err(e) => Err(e),
            }
        })
    }

    fn version(&self, key: &ObjectKey) -> Result<ObjectVersion, ObjectError> {
        let inner = Arc::clone(&self.inner);
        let path = inner.path(key);
        self.inner.block(async move {
            let meta = inner.store.head(&path).await.map_err(io_error)?;
            Ok(ObjectVersion {
                size: meta.size,
                tag: meta.e_tag.or_else(|| Some(meta.last_modified.to_rfc3339())),
            })
        })
    }

    fn random(&self, key: &ObjectKey) -> Result<Arc<dyn RandomAccess>, ObjectError> {
        let len = self.version(key)?.size;
        Ok(Arc::new(S3Object {
            inner: Arc::clone(&self.inner),
            path: self.inner.path(key),
            len,
            pages: Mutex::new(Pages::default()),
        }))
    }

    fn stats(&self) -> &ReadStats {
        &self.inner.stats
    }

    fn uri(&self, key: &ObjectKey) -> String {
        format!("{SCHEME}{}/{}", self.inner.bucket, self.inner.path(key))
    }

    fn key_from_uri(&self, uri: &str) -> Option<ObjectKey> {
        let rest = uri
            .strip_prefix(SCHEME)?
            .strip_prefix(self.inner.bucket.as_str())?
            .strip_prefix('/')?;
        let key = if self.inner.prefix.is_empty() {
            rest
        } else {
            rest.strip_prefix(self.inner.prefix.as_str())?
                .strip_prefix('/')?
        };
        ObjectKey::parse(key).ok()
    }

    fn location(&self) -> String {
        if self.inner.prefix.is_empty() {
            format!("{SCHEME}{}", self.inner.bucket)
        } else {
            format!("{SCHEME}{}/{}", self.inner.bucket, self.inner.prefix)
        }
    }
}

/// The small-read cache of one object: pages by number, with a use clock.
#[derive(Default)]
struct Pages {
    pages: std::collections::HashMap<u64, (Bytes, u64)>,
    clock: u64,
}

impl Pages {
    fn get(&mut self, n: u64) -> Option<Bytes> {
        self.clock += 1;
        let now = self.clock;
        self.pages.get_mut(&n).map(|(b, used)| {
            *used = now;
            b.clone()
        })
    }

    fn insert(&mut self, n: u64, bytes: Bytes) {
        while self.pages.len() >= PAGES_KEPT {
            let Some(oldest) = self
                .pages
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            self.pages.remove(&oldest);
        }
        self.clock += 1;
        self.pages.insert(n, (bytes, self.clock));
    }
}

/// One S3 object opened for reads at any offset.
struct S3Object {
    inner: Arc<Inner>,
    path: Path,
    len: u64,
    pages: Mutex<Pages>,
}

impl fmt::Debug for S3Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Object")
            .field("path", &self.path.as_ref())
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl S3Object {
    fn fetch(&self, range: Range<u64>) -> io::Result<Bytes> {
        let inner = Arc::clone(&self.inner);
        let path = self.path.clone();
        self.inner
            .block(async move { inner.get_range(&path, range).await })
            .map_err(io::Error::from)
    }
}

impl RandomAccess for S3Object {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.len)
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        if buf.is_empty() {
            return Ok(());
        }
        if buf.len() >= DIRECT_READ {
            buf.copy_from_slice(&self.fetch(offset..end)?);
            return Ok(());
        }
        let (first, last) = (offset / PAGE, (end - 1) / PAGE);
        let mut pages: Vec<Option<Bytes>> = {
            let mut cache = self
                .pages
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (first..=last).map(|n| cache.get(n)).collect()
        };
        // Each run of missing pages is one request.
        let mut i = 0;
        while i < pages.len() {
            if pages[i].is_some() {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < pages.len() && pages[j].is_none() {
                j += 1;
            }
            let start = (first + i as u64) * PAGE;
            let stop = ((first + j as u64) * PAGE).min(self.len);
            let bytes = self.fetch(start..stop)?;
            let mut cache = self
                .pages
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (k, slot) in pages.iter_mut().enumerate().take(j).skip(i) {
                let from = usize::try_from((k - i) as u64 * PAGE).unwrap_or(usize::MAX);
                let to = (from + usize::try_from(PAGE).unwrap_or(usize::MAX)).min(bytes.len());
                let page = bytes.slice(from..to);
                cache.insert(first + k as u64, page.clone());
                *slot = Some(page);
            }
            i = j;
        }
        let mut written = 0;
        for (k, page) in pages.iter().enumerate() {
            let page = page
                .as_ref()
                .ok_or_else(|| io::Error::other("page missing"))?;
            let page_start = (first + k as u64) * PAGE;
            let from =
                usize::try_from(offset.max(page_start) - page_start).map_err(io::Error::other)?;
            let to = usize::try_from(end.min(page_start + PAGE) - page_start)
                .map_err(io::Error::other)?;
            let part = page
                .get(from..to)
                .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
            buf[written..written + part.len()].copy_from_slice(part);
            written += part.len();
        }
        Ok(())
    }

    fn chunk_size(&self) -> usize {
        usize::try_from(STREAM_CHUNK).unwrap_or(1 << 20)
    }

    fn is_remote(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_keys_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let cfg = |url: &str| S3Config {
            url: url.to_owned(),
            endpoint: Some("http://127.0.0.1:1".to_owned()),
            access_key_id: Some("AK".to_owned()),
            secret_access_key: Some("very-secret".to_owned()),
            allow_http: true,
            ..S3Config::default()
        };
        for bad in [
            "s3://",
            "s3://A_B",
            "s3://ab",
            "http://bucket/x",
            "s3://bucket/../x",
            "s3://-bucket",
        ] {
            assert!(S3Storage::new(&cfg(bad)).is_err(), "{bad}");
        }
        let s = S3Storage::new(&cfg("s3://gemj-data/site/objects/"))?;
        assert_eq!(s.location(), "s3://gemj-data/site/objects");
        let key = ObjectKey::parse("participants/P1/P1.bam")?;
        let uri = s.uri(&key);
        assert_eq!(uri, "s3://gemj-data/site/objects/participants/P1/P1.bam");
        assert_eq!(s.key_from_uri(&uri), Some(key.clone()));
        assert_eq!(s.key_from_uri("s3://other/site/objects/x"), None);
        assert_eq!(s.key_from_uri("file:participants/P1/P1.bam"), None);
        assert_eq!(s.key_from_uri("s3://gemj-data/site/objects/../x"), None);
        let bare = S3Storage::new(&cfg("s3://gemj-data"))?;
        assert_eq!(bare.uri(&key), "s3://gemj-data/participants/P1/P1.bam");
        assert_eq!(bare.key_from_uri(&bare.uri(&key)), Some(key));

        // No secret in Debug output.
        let shown = format!("{:?} {:?}", cfg("s3://gemj-data"), s);
        assert!(!shown.contains("very-secret"), "{shown}");
        Ok(())
    }
}

pub mod s3s_fs {
    //! A real S3 server for tests and benchmarks: `s3s-fs` (installed by `.ci/run` with
    //! `cargo install s3s-fs --version 0.14.1 --features binary --locked`) on a free loopback
    //! port, over a temporary folder, stopped when dropped. Buckets are folders of its root.

    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use super::S3Config;

    /// The access key of every test server.
    pub const ACCESS_KEY: &str = "gemj-test";

    /// A running `s3s-fs`.
    #[derive(Debug)]
    pub struct S3sFs {
        child: Child,
        addr: SocketAddr,
        secret: String,
        root: tempfile::TempDir,
        log: tempfile::NamedTempFile,
    }

    /// How often a start is tried on a fresh port before giving up: a free port can be taken
    /// by another process between the probe and the server's own bind.
    const START_ATTEMPTS: usize = 3;

    impl S3sFs {
        /// Starts `s3s-fs` (from `PATH` or `~/.cargo/bin`) with an empty bucket `bucket`.
        /// `Ok(None)` when it is not installed and `CI` is not `true` (CI must have it).
        ///
        /// The server counts as started only once it answers HTTP on its port and is still
        /// running: a port that another process took first makes it exit, and the start is
        /// tried again on a new port.
        ///
        /// # Errors
        /// When it is missing under `CI=true`, or does not start (its log in the error).
        pub fn start(bucket: &str) -> std::io::Result<Option<Self>> {
            let Some(program) = find_program() else {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "CI=true needs s3s-fs: cargo install s3s-fs --version 0.14.1 \
                         --features binary --locked",
                    ));
                }
                eprintln!("s3s-fs is not installed: skipping the S3 part of this test");
                return Ok(None);
            };
            let root = tempfile::tempdir()?;
            std::fs::create_dir(root.path().join(bucket))?;
            let secret = format!("secret-{}", std::process::id());
            let mut failures = Vec::new();
            for _ in 0..START_ATTEMPTS {
                let log = tempfile::NamedTempFile::new()?;
                let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                let mut child = Command::new(&program)
                    .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--access-key", ACCESS_KEY, "--secret-key", &secret])
                    .arg(root.path())
                    .stdout(Stdio::null())
                    .stderr(log.reopen()?)
                    .spawn()?;
                match wait_until_serving(&mut child, addr) {
                    Ok(()) => {
                        return Ok(Some(Self {
                            child,
                            addr,
                            secret,
                            root,
                            log,
                        }));
                    }
                    Err(e) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        let said = std::fs::read_to_string(log.path()).unwrap_or_default();
                        failures.push(format!("port {port}: {e}; its log: {}", said.trim()));
                    }
                }
            }
            Err(std::io::Error::other(format!(
                "s3s-fs did not start: {}",
                failures.join(" | ")
            )))
        }

        /// What the server has written to its standard error so far (for failure messages).
        #[must_use]
        pub fn log(&self) -> String {
            std::fs::read_to_string(self.log.path()).unwrap_or_default()
        }

        /// `http://127.0.0.1:<port>`.
        #[must_use]
        pub fn endpoint(&self) -> String {
            format!("http://{}", self.addr)
        }

        /// The folder the server keeps its buckets in.
        #[must_use]
        pub fn root(&self) -> &std::path::Path {
            self.root.path()
        }

        /// A client configuration for `url` (`s3://bucket/prefix`) on this server.
        #[must_use]
        pub fn config(&self, url: &str) -> S3Config {
            S3Config {
                url: url.to_owned(),
                endpoint: Some(self.endpoint()),
                region: Some("us-east-1".to_owned()),
                access_key_id: Some(ACCESS_KEY.to_owned()),
                secret_access_key: Some(self.secret.clone()),
                session_token: None,
                allow_http: true,
            }
        }

        /// The `AWS_*` variables a child process needs to reach this server.
        #[must_use]
        pub fn env(&self) -> Vec<(&'static str, String)> {
            vec![
                ("AWS_ENDPOINT_URL", self.endpoint()),
                ("AWS_REGION", "us-east-1".to_owned()),
                ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
                ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
                ("AWS_ALLOW_HTTP", "true".to_owned()),
            ]
        }
    }

    impl Drop for S3sFs {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Waits (20 s at most) until `child` answers an HTTP request on `addr` and is still
    /// running afterwards (so the answer was its own).
    fn wait_until_serving(child: &mut Child, addr: SocketAddr) -> std::io::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(std::io::Error::other(format!("exited: {status}")));
            }
            if answers_http(addr) {
                std::thread::sleep(Duration::from_millis(50));
                return match child.try_wait()? {
                    None => Ok(()),
                    Some(status) => Err(std::io::Error::other(format!(
                        "something else answers on its port; it exited: {status}"
                    ))),
                };
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err(std::io::Error::other("no answer within 20 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True when something on `addr` answers a plain HTTP request with an HTTP status line.
    fn answers_http(addr: SocketAddr) -> bool {
        use std::io::{Read as _, Write as _};
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream
            .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut head = [0_u8; 8];
        stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
    }

    fn find_program() -> Option<std::path::PathBuf> {
        let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("s3s-fs"))
                .collect::<Vec<_>>()
        });
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")))
            .map(|h| h.join("bin").join("s3s-fs"));
        on_path.chain(cargo_home).find(|p| p.is_file())
    }
}
