//! Bounded maps with per-entry expiry: [`BoundedCache`] keyed by SHA-256 digests (verified
//! Visas), and [`TokenCache`] keyed by the token itself (verified Passports).
//!
//! Eviction is simple on purpose: when full, expired entries go first, then arbitrary entries
//! (hash-map order, effectively random) until a quarter of the room is free. Entries are checked
//! against the caller's clock on every read. `Debug` shows sizes only, never cached claims.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;

/// A SHA-256 digest.
pub(crate) type Digest = [u8; 32];

/// The SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> Digest {
    let mut out = [0; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// Removes expired entries, then arbitrary ones, until at most `keep` remain.
fn evict<V>(map: &mut HashMap<Digest, V>, keep: usize, expired: impl Fn(&V) -> bool) {
    map.retain(|_, v| !expired(v));
    let excess = map.len().saturating_sub(keep);
    let victims: Vec<Digest> = map.keys().take(excess).copied().collect();
    for k in victims {
        map.remove(&k);
    }
}

/// A bounded cache from digest to `V`, each entry valid while `now < valid_until`.
pub(crate) struct BoundedCache<V> {
    capacity: usize,
    map: Mutex<HashMap<Digest, (i64, V)>>,
}

impl<V> fmt::Debug for BoundedCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.map.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("BoundedCache")
            .field("capacity", &self.capacity)
            .field("len", &len)
            .finish()
    }
}

impl<V: Clone> BoundedCache<V> {
    /// An empty cache holding at most `capacity` entries.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key` if present and `now < valid_until`.
    pub(crate) fn get(&self, key: &Digest, now: i64) -> Option<V> {
        let map = self.map.lock().ok()?;
        match map.get(key) {
            Some((valid_until, v)) if now < *valid_until => Some(v.clone()),
            _ => None,
        }
    }

    /// Inserts `value`, valid until `valid_until`, evicting as described in the module docs.
    pub(crate) fn insert(&self, key: Digest, value: V, valid_until: i64, now: i64) {
        if valid_until <= now {
            return;
        }
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        if map.len() >= self.capacity && !map.contains_key(&key) {
            let keep = self.capacity - self.capacity / 4 - 1;
            evict(&mut map, keep, |(until, _)| *until <= now);
        }
        map.insert(key, (valid_until, value));
    }

    /// Removes every entry.
    pub(crate) fn clear(&self) {
        if let Ok(mut map) = self.map.lock() {
            map.clear();
        }
    }

    /// The number of entries, expired or not.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// A bounded cache from token to `V`, bounded in entries and in stored token bytes.
///
/// Looked up by the SHA-256 of the token's last segment (its signature, a few hundred bytes), and
/// answered only when the stored token equals the presented one byte for byte: as exact as a
/// key over the whole token, without hashing kilobytes on every hit.
pub(crate) struct TokenCache<V> {
    max_entries: usize,
    max_bytes: usize,
    inner: Mutex<TokenMap<V>>,
}

/// The entries of a [`TokenCache`] and the bytes of token they hold.
struct TokenMap<V> {
    map: HashMap<Digest, TokenEntry<V>>,
    bytes: usize,
}

/// One cached token.
struct TokenEntry<V> {
    valid_until: i64,
    token: Arc<str>,
    value: V,
}

impl<V> fmt::Debug for TokenCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (len, bytes) = self
            .inner
            .lock()
            .map(|m| (m.map.len(), m.bytes))
            .unwrap_or((0, 0));
        f.debug_struct("TokenCache")
            .field("max_entries", &self.max_entries)
            .field("max_bytes", &self.max_bytes)
            .field("len", &len)
            .field("bytes", &bytes)
            .finish()
    }
}

/// The lookup key of a token: the SHA-256 of its last `.`-separated segment.
pub(crate) fn token_key(token: &str) -> Digest {
    let tail = token.rsplit('.').next().unwrap_or(token);
    sha256(tail.as_bytes())
}

impl<V: Clone> TokenCache<V> {
    /// An empty cache of at most `max_entries` tokens totalling at most `max_bytes`.
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            max_entries: max_entries.max(1),
            max_bytes,
            inner: Mutex::new(TokenMap {
                map: HashMap::new(),
                bytes: 0,
            }),
        }
    }

    /// The value for `token` if cached and `now < valid_until`.
    pub(crate) fn get(&self, token: &str, now: i64) -> Option<V> {
        let key = token_key(token);
        let inner = self.inner.lock().ok()?;
        match inner.map.get(&key) {
            Some(e) if now < e.valid_until && *e.token == *token => Some(e.value.clone()),
            _ => None,
        }
    }

    /// Caches `value` for `token` until `valid_until`. Tokens larger than a quarter of the byte
    /// budget are not cached.
    pub(crate) fn insert(&self, token: &str, value: V, valid_until: i64, now: i64) {
        if valid_until <= now || token.len() > self.max_bytes / 4 {
            return;
        }
        let key = token_key(token);
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if let Some(old) = inner.map.remove(&key) {
            inner.bytes -= old.token.len();
        }
        if inner.map.len() >= self.max_entries || inner.bytes + token.len() > self.max_bytes {
            let keep = self.max_entries - self.max_entries / 4 - 1;
            let budget = self.max_bytes - self.max_bytes / 4;
            let TokenMap { map, bytes } = &mut *inner;
            map.retain(|_, e| e.valid_until > now);
            *bytes = map.values().map(|e| e.token.len()).sum();
            let mut count = map.len();
            let mut victims = Vec::new();
            for (k, e) in map.iter() {
                if count <= keep && *bytes + token.len() <= budget {
                    break;
                }
                victims.push(*k);
                count -= 1;
                *bytes -= e.token.len();
            }
            for k in victims {
                map.remove(&k);
            }
        }
        inner.bytes += token.len();
        inner.map.insert(
            key,
            TokenEntry {
                valid_until,
                token: Arc::from(token),
                value,
            },
        );
    }

    /// Removes every entry.
    pub(crate) fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.map.clear();
            inner.bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BoundedCache, TokenCache};

    fn key(i: u32) -> [u8; 32] {
        let mut k = [0; 32];
        k[..4].copy_from_slice(&i.to_be_bytes());
        k
    }

    #[test]
    fn expiry_and_bound() {
        let cache = BoundedCache::new(8);
        cache.insert(key(1), "a", 100, 0);
        assert_eq!(cache.get(&key(1), 99), Some("a"));
        assert_eq!(cache.get(&key(1), 100), None);
        cache.insert(key(2), "b", 5, 10);
        assert_eq!(cache.get(&key(2), 0), None);
        for i in 0..100 {
            cache.insert(key(i), "x", 1000, 0);
            assert!(cache.len() <= 8);
        }
        assert_eq!(cache.get(&key(99), 0), Some("x"));
        // Expired entries are evicted first.
        let cache = BoundedCache::new(4);
        for i in 0..3 {
            cache.insert(key(i), "old", 10, 0);
        }
        cache.insert(key(10), "new", 1000, 0);
        cache.insert(key(11), "new", 1000, 20);
        assert_eq!(cache.get(&key(10), 20), Some("new"));
        assert_eq!(cache.get(&key(11), 20), Some("new"));
        assert_eq!(cache.len(), 2);
        assert_eq!(format!("{cache:?}"), "BoundedCache { capacity: 4, len: 2 }");
    }

    #[test]
    fn token_cache_is_exact_and_bounded() {
        let cache = TokenCache::new(4, 400);
        cache.insert("h.p.sig", 1, 100, 0);
        assert_eq!(cache.get("h.p.sig", 50), Some(1));
        // Same signature segment, other header or payload: not the cached token.
        assert_eq!(cache.get("h.other.sig", 50), None);
        assert_eq!(cache.get("x.p.sig", 50), None);
        assert_eq!(cache.get("h.p.sig", 100), None);
        for i in 0..50 {
            cache.insert(&format!("h.{}.s{i}", "p".repeat(20)), i, 1000, 0);
            let inner = cache
                .inner
                .lock()
                .map(|m| (m.map.len(), m.bytes))
                .unwrap_or((99, 9999));
            assert!(inner.0 <= 4 && inner.1 <= 400, "{inner:?}");
        }
        assert_eq!(cache.get(&format!("h.{}.s49", "p".repeat(20)), 0), Some(49));
        // Too large for the budget: not cached.
        cache.insert(&"x".repeat(101), 7, 1000, 0);
        assert_eq!(cache.get(&"x".repeat(101), 0), None);
        assert!(!format!("{cache:?}").contains("pppp"));
    }
}
