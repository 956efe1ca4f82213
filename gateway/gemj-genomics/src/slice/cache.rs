//! Opened files, kept: parsing a header and an index costs milliseconds on a multi-gigabyte
//! file (htsget-rs re-reads them on every request and falls to ~100 tickets/s); a cached
//! [`IndexedFile`] answers in microseconds. An entry is reused only while the file and its index
//! keep the size and modification time they had when opened.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{Format, IndexedFile, SliceError};

type Stamp = (u64, Option<SystemTime>);

/// The entries and a use clock.
type Entries = (HashMap<(PathBuf, Format), Entry>, u64);

#[derive(Debug)]
struct Entry {
    file: Arc<IndexedFile>,
    stamps: (Stamp, Stamp),
    used: u64,
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

    /// The opened file, from the cache when it is still current.
    ///
    /// # Errors
    /// As [`IndexedFile::open`].
    pub fn open(
        &self,
        format: Format,
        path: &Path,
        index: &Path,
    ) -> Result<Arc<IndexedFile>, SliceError> {
        let stamps = (stamp(path)?, stamp(index)?);
        let key = (path.to_owned(), format);
        {
            let mut guard = self
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (map, clock) = &mut *guard;
            *clock += 1;
            let now = *clock;
            if let Some(e) = map.get_mut(&key)
                && e.stamps == stamps
            {
                e.used = now;
                return Ok(Arc::clone(&e.file));
            }
        }
        let file = Arc::new(IndexedFile::open(format, path, index)?);
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
            },
        );
        Ok(file)
    }
}

fn stamp(path: &Path) -> Result<Stamp, SliceError> {
    let m = std::fs::metadata(path).map_err(SliceError::io(path))?;
    Ok((m.len(), m.modified().ok()))
}
