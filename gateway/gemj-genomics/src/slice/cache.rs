//! Opened files, kept: parsing a header and an index costs milliseconds on a multi-gigabyte
//! file (htsget-rs re-reads them on every request and falls to ~100 tickets/s); a cached
//! [`IndexedFile`] answers in microseconds. An entry is reused only while the file and its index
//! keep the version they had when opened (size and modification time on disk, size and `ETag`
//! in S3). A version is re-read at most once per [`RECHECK_AFTER`]: in between, a cached entry
//! is answered without touching storage ([`FileCache::recent_object`]), which keeps a ticket off
//! the blocking pool and off the disk (or S3's `HEAD`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gemj_objects::{LocalFile, ObjectKey, ObjectStorage, ObjectVersion};

use super::{Format, IndexedFile, SliceError};

type Stamps = (ObjectVersion, ObjectVersion);

/// How long a confirmed version is trusted before storage is asked again. Stored objects are
/// immutable (DRS); this bounds how long a file replaced in place by an operator is still
/// answered from its old index.
pub const RECHECK_AFTER: Duration = Duration::from_secs(1);

/// The entries (by the file's URI or path, and format) and a use clock.
type Entries = (HashMap<(String, Format), Entry>, u64);

#[derive(Debug)]
struct Entry {
    file: Arc<IndexedFile>,
    stamps: Stamps,
    used: u64,
    /// When `stamps` were last read from storage and found unchanged.
    confirmed: Instant,
}

/// A bounded cache of opened files, least recently used evicted first.
#[derive(Debug)]
pub struct FileCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

impl FileCache {
    /// A cache of at most `capacity` files (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new((HashMap::new(), 0)),
        }
    }

    /// The opened local file, from the cache when it is still current.
    ///
    /// # Errors
    /// As [`IndexedFile::open`].
    pub fn open(
        &self,
        format: Format,
        path: &Path,
        index: &Path,
    ) -> Result<Arc<IndexedFile>, SliceError> {
        let version =
            |p: &Path| LocalFile::version(p).map_err(SliceError::io(&p.display().to_string()));
        let stamps = (version(path)?, version(index)?);
        self.get_or_open(path.display().to_string(), format, stamps, || {
            IndexedFile::open(format, path, index)
        })
    }

    /// The opened object `file` (indexed by the object `index`) of `storage`, from the cache
    /// while both keep the version they had when opened. Blocking.
    ///
    /// # Errors
    /// As [`IndexedFile::from_sources`].
    pub fn open_object(
        &self,
        format: Format,
        storage: &dyn ObjectStorage,
        file: &ObjectKey,
        index: &ObjectKey,
    ) -> Result<Arc<IndexedFile>, SliceError> {
        let io = |k: &ObjectKey| {
            let name = k.to_string();
            move |e: gemj_objects::ObjectError| SliceError::Io {
                file: name,
                source: e.into(),
            }
        };
        let stamps = (
            storage.version(file).map_err(io(file))?,
            storage.version(index).map_err(io(index))?,
        );
        self.get_or_open(storage.uri(file), format, stamps, || {
            let source = storage.random(file).map_err(io(file))?;
            let index_source = storage.random(index).map_err(io(index))?;
            IndexedFile::from_sources(
                format,
                (file.as_str(), source),
                (index.as_str(), &*index_source),
            )
        })
    }

    /// The cached object `file` of `storage` when its versions were confirmed within
    /// [`RECHECK_AFTER`]; `None` otherwise (then [`FileCache::open_object`] asks storage).
    /// Never blocks on storage.
    #[must_use]
    pub fn recent_object(
        &self,
        format: Format,
        storage: &dyn ObjectStorage,
        file: &ObjectKey,
    ) -> Option<Arc<IndexedFile>> {
        self.hit(&(storage.uri(file), format), |e| {
            e.confirmed.elapsed() <= RECHECK_AFTER
        })
    }

    /// The entry under `key` when `current` says it may be used, marked as used now.
    fn hit(
        &self,
        key: &(String, Format),
        current: impl FnOnce(&mut Entry) -> bool,
    ) -> Option<Arc<IndexedFile>> {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (map, clock) = &mut *guard;
        *clock += 1;
        let now = *clock;
        let e = map.get_mut(key)?;
        if !current(e) {
            return None;
        }
        e.used = now;
        Some(Arc::clone(&e.file))
    }

    fn get_or_open(
        &self,
        id: String,
        format: Format,
        stamps: Stamps,
        open: impl FnOnce() -> Result<IndexedFile, SliceError>,
    ) -> Result<Arc<IndexedFile>, SliceError> {
        let key = (id, format);
        let unchanged = |e: &mut Entry| {
            let same = e.stamps == stamps;
            if same {
                e.confirmed = Instant::now();
            }
            same
        };
        if let Some(file) = self.hit(&key, unchanged) {
            return Ok(file);
        }
        let file = Arc::new(open()?);
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (map, clock) = &mut *guard;
        if map.len() >= self.capacity
            && !map.contains_key(&key)
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            key,
            Entry {
                file: Arc::clone(&file),
                stamps,
                used: *clock,
                confirmed: Instant::now(),
            },
        );
        Ok(file)
    }
}
