//! Each instance's cache of the catalogue rows every data request reads: a data object, the
//! datasets that hold it, the participants whose data it holds, its registration times and
//! (for an index) the files it indexes. A ticket or a DRS lookup
//! then costs no store read besides the caller's approvals.
//!
//! Invalidation is by epoch, like the consent view: the store increments the catalogue epoch in
//! the same transaction as any change to participants, specimens, objects, datasets or dataset
//! members (triggers, migration 0005), and this cache is emptied whenever it sees a new epoch.
//! It sees one by polling (and, on PostgreSQL, on `NOTIFY` at commit), so a change written by
//! another process is served here within the poll interval at worst; a change written through
//! this process's [`Store`] is seen at once ([`Store::catalogue_writes`]). Entries are tagged
//! with the epoch observed before they were read, and a read that raced with a change is not
//! kept.
//!
//! A cache that could not confirm its epoch for longer than the allowed staleness is bypassed
//! (every lookup reads the store): unlike consent, reading the store is always a correct answer.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use gemj_model::{DataObject, Dataset, ObjectId, ParticipantId};
use gemj_store::{ObjectTimes, Store};

use crate::CoreError;

/// Tuning of the catalogue cache.
#[derive(Debug, Clone, Copy)]
pub struct CatalogueCacheOptions {
    /// How often the epoch is polled (a change made by another process is seen within this).
    pub poll_interval: Duration,
    /// Older than this, the cache is bypassed.
    pub max_staleness: Duration,
    /// At most this many objects (found or not) are kept; a full cache starts over.
    pub capacity: usize,
}

impl Default for CatalogueCacheOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            max_staleness: Duration::from_secs(5),
            capacity: 200_000,
        }
    }
}

/// One data object with what every access decision about it needs.
#[derive(Debug)]
pub struct CachedObject {
    /// The object.
    pub object: DataObject,
    /// The datasets that hold it, by id.
    pub datasets: Vec<Arc<Dataset>>,
    /// Whose data it holds (its participant and the participants of its specimens), sorted.
    pub participants: Vec<ParticipantId>,
    /// When it was registered and last changed.
    pub times: Option<ObjectTimes>,
    /// For an index: the files it indexes.
    pub indexed_by: Vec<ObjectId>,
    /// The caller who owns it (a WES output), if any: only its owner, and the members of its
    /// project, may see it.
    pub owner: Option<String>,
    /// The project an owned object belongs to.
    pub project: Option<String>,
    /// A WES output held until the committee releases it.
    pub held: bool,
}

struct Inner {
    epoch: i64,
    writes: u64,
    confirmed_at: Instant,
    objects: HashMap<ObjectId, Option<Arc<CachedObject>>>,
}

/// The catalogue cache of this instance. Cheap to clone.
#[derive(Clone)]
pub struct CatalogueCache {
    store: Store,
    inner: Arc<RwLock<Inner>>,
    options: CatalogueCacheOptions,
}

impl std::fmt::Debug for CatalogueCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogueCache")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Reads one object and what it needs from the store.
async fn load(store: &Store, id: &ObjectId) -> Result<Option<CachedObject>, CoreError> {
    let Some(object) = store.get_object(id).await? else {
        return Ok(None);
    };
    let mut datasets = Vec::new();
    for d in store.datasets_of_object(id).await? {
        if let Some(d) = store.get_dataset(&d).await? {
            datasets.push(Arc::new(d));
        }
    }
    let mut participants: Vec<ParticipantId> = store
        .participants_of_specimens(&object.specimens)
        .await?
        .into_iter()
        .chain(object.participant.iter().cloned())
        .collect();
    participants.sort();
    participants.dedup();
    let times = store.object_times(id).await?;
    let indexed_by = if object.format.is_index() {
        store.objects_indexed_by(id).await?
    } else {
        Vec::new()
    };
    let owned = store.object_owner(id).await?;
    Ok(Some(CachedObject {
        object,
        datasets,
        participants,
        times,
        indexed_by,
        held: owned.as_ref().is_some_and(|o| o.held),
        project: owned.as_ref().and_then(|o| o.project.clone()),
        owner: owned.map(|o| o.owner),
    }))
}

impl CatalogueCache {
    /// Reads the epoch and starts keeping the cache current in the background (notifications
    /// plus polling). Must run inside a tokio runtime.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn start(store: Store, options: CatalogueCacheOptions) -> Result<Self, CoreError> {
        let writes = store.catalogue_writes();
        let epoch = store.catalogue_epoch().await?;
        let cache = Self {
            store,
            inner: Arc::new(RwLock::new(Inner {
                epoch,
                writes,
                confirmed_at: Instant::now(),
                objects: HashMap::new(),
            })),
            options,
        };
        let background = cache.clone();
        tokio::spawn(async move { background.keep_current().await });
        Ok(cache)
    }

    async fn keep_current(self) {
        let mut changes = match self.store.catalogue_changes().await {
            Ok(c) => Some(c),
            Err(error) => {
                tracing::warn!(message = "Catalogue notifications unavailable; polling only.", %error);
                None
            }
        };
        let mut tick = tokio::time::interval(self.options.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            crate::consent_view::wake(&mut changes, &mut tick, "Catalogue").await;
            if let Err(error) = self.refresh().await {
                tracing::warn!(message = "Catalogue cache refresh failed.", %error);
            }
            if Arc::strong_count(&self.inner) == 1 {
                // Every other handle is gone: the gateway stopped.
                return;
            }
        }
    }

    /// Reads the store's epoch now and empties the cache if it moved.
    ///
    /// # Errors
    /// When the store cannot be read (the cache keeps its entries and ages).
    pub async fn refresh(&self) -> Result<(), CoreError> {
        let epoch = self.store.catalogue_epoch().await?;
        if let Ok(mut inner) = self.inner.write() {
            if epoch != inner.epoch {
                inner.objects.clear();
                inner.epoch = epoch;
            }
            inner.confirmed_at = Instant::now();
        }
        Ok(())
    }

    /// An object with its datasets and participants: from the cache when it is current, else
    /// read from the store (and kept when nothing changed meanwhile). `None` when there is no
    /// such object.
    ///
    /// # Errors
    /// Store failures.
    pub async fn object(&self, id: &ObjectId) -> Result<Option<Arc<CachedObject>>, CoreError> {
        let writes = self.store.catalogue_writes();
        let tag = match self.inner.read() {
            Ok(inner) => {
                let current = inner.writes == writes
                    && inner.confirmed_at.elapsed() <= self.options.max_staleness;
                if current && let Some(hit) = inner.objects.get(id) {
                    return Ok(hit.clone());
                }
                current.then_some(inner.epoch)
            }
            Err(_) => None,
        };
        let tag = match tag {
            Some(epoch) => Some(epoch),
            None => self.catch_up(writes),
        };
        let loaded = load(&self.store, id).await?.map(Arc::new);
        if let Some(epoch) = tag
            && let Ok(mut inner) = self.inner.write()
            && inner.epoch == epoch
            && inner.writes == writes
            && self.store.catalogue_writes() == writes
        {
            if inner.objects.len() >= self.options.capacity {
                inner.objects.clear();
            }
            inner.objects.insert(id.clone(), loaded.clone());
        }
        Ok(loaded)
    }

    /// After a write through this process: empties the cache and adopts the write count, so
    /// what is read from now on may be kept. Returns the epoch to tag reads with, or `None`
    /// when the cache is too old to keep anything.
    fn catch_up(&self, writes: u64) -> Option<i64> {
        let mut inner = self.inner.write().ok()?;
        if writes < inner.writes {
            // A newer write was adopted meanwhile: this lookup's reads may predate it.
            return None;
        }
        if writes > inner.writes {
            inner.objects.clear();
            inner.writes = writes;
        }
        (inner.confirmed_at.elapsed() <= self.options.max_staleness).then_some(inner.epoch)
    }

    /// The catalogue epoch this instance serves: the cached one while it is confirmed and no
    /// write of this process is newer, else read from the store now (and adopted, emptying
    /// the cache if it moved). Services that keep their own per-epoch indexes (Beacon) tag
    /// them with it.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn epoch(&self) -> Result<i64, CoreError> {
        let writes = self.store.catalogue_writes();
        if let Ok(inner) = self.inner.read()
            && inner.writes == writes
            && inner.confirmed_at.elapsed() <= self.options.max_staleness
        {
            return Ok(inner.epoch);
        }
        let epoch = self.store.catalogue_epoch().await?;
        if let Ok(mut inner) = self.inner.write()
            && writes >= inner.writes
        {
            if epoch != inner.epoch || writes != inner.writes {
                inner.objects.clear();
            }
            inner.epoch = epoch;
            inner.writes = writes;
            inner.confirmed_at = Instant::now();
        }
        Ok(epoch)
    }

    /// How many objects are cached (found or not).
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.read().map_or(0, |i| i.objects.len())
    }

    /// Whether nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
