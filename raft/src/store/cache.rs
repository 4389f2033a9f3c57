//! The hot-value cache (L1): decoded values in memory in front of sled, bounded in bytes.
//!
//! A GET served from sled walks its page cache and B-tree and decodes the value; on a hot
//! working set that is most of a read's CPU outside the network and the runtime
//! (docs/BENCHMARKS.md, "Hot-value cache"). The cache holds decoded values by their sled
//! data key and must never answer what the tree no longer holds, so every write to the tree
//! goes through [`ValueCache::apply`], which commits the batch and drops the keys it wrote
//! (or everything, for a FLUSHDB or a snapshot) while holding the gate exclusively; a read
//! holds it shared from looking up the cache to filling it from the tree. A read therefore
//! never puts back a value that a concurrent apply has replaced, and no read sees the tree
//! changed but the cache not yet (or the reverse). Applies are one per log batch, and a
//! read holds the gate for one lookup, so neither waits long.

use std::sync::RwLock;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::error::Result;
use crate::keyspace::StoredValue;

/// Values larger than this are not cached (one big hash would push out many hot strings).
const VALUE_BYTES_MAX: usize = 64 * 1024;
/// Bytes counted per entry on top of its key and encoded value (the map slot, the decoded
/// form's headers).
const ENTRY_OVERHEAD: u64 = 64;

#[derive(Clone)]
struct Cached {
    value: StoredValue,
    weight: u64,
}

#[derive(Clone)]
struct ByWeight;

impl Weighter<Vec<u8>, Cached> for ByWeight {
    fn weight(&self, _key: &Vec<u8>, v: &Cached) -> u64 {
        v.weight
    }
}

/// What a committed batch did to the data keys.
pub enum Written<'a> {
    /// These data keys (sled keys) changed or went away.
    Keys(Vec<&'a [u8]>),
    /// Anything may have changed (a database flushed, a snapshot loaded).
    Everything,
}

pub struct ValueCache {
    gate: RwLock<()>,
    /// `None` when the cache is off (`--value-cache-mb 0`).
    map: Option<Cache<Vec<u8>, Cached, ByWeight>>,
}

impl ValueCache {
    /// A cache of at most `bytes` (0: off).
    pub fn new(bytes: u64) -> ValueCache {
        let map = (bytes > 0).then(|| {
            // quick_cache sizes its tables from an estimate of the entry count.
            let estimated = usize::try_from(bytes / 256).unwrap_or(usize::MAX).max(64);
            Cache::with_weighter(estimated, bytes, ByWeight)
        });
        ValueCache {
            gate: RwLock::new(()),
            map,
        }
    }

    /// The value under the sled data key `key`: from the cache, or from `load` (the tree),
    /// which then fills the cache; `encoded_len` is what `load` read, for the weight.
    pub fn get(
        &self,
        key: &[u8],
        load: impl FnOnce() -> Result<Option<(StoredValue, usize)>>,
    ) -> Result<Option<StoredValue>> {
        let Some(map) = &self.map else {
            return Ok(load()?.map(|(v, _)| v));
        };
        let _shared = self
            .gate
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(hit) = map.get(key) {
            return Ok(Some(hit.value));
        }
        let Some((value, encoded_len)) = load()? else {
            return Ok(None);
        };
        if encoded_len <= VALUE_BYTES_MAX {
            let weight = (key.len() + encoded_len) as u64 + ENTRY_OVERHEAD;
            map.insert(
                key.to_vec(),
                Cached {
                    value: value.clone(),
                    weight,
                },
            );
        }
        Ok(Some(value))
    }

    /// Runs `commit` (the write to the tree) and forgets what it wrote, as one step for
    /// readers.
    pub fn apply<T>(&self, written: Written<'_>, commit: impl FnOnce() -> Result<T>) -> Result<T> {
        let Some(map) = &self.map else {
            return commit();
        };
        let _exclusive = self
            .gate
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget first: if the commit fails half-way, nothing stale stays either.
        match written {
            Written::Everything => map.clear(),
            Written::Keys(keys) => {
                for k in keys {
                    map.remove(k);
                }
            }
        }
        commit()
    }

    /// Forgets every cached value, as one step for readers (after a snapshot is loaded).
    pub fn clear(&self) -> Result<()> {
        self.apply(Written::Everything, || Ok(()))
    }

    /// Entries and bytes held (for INFO).
    pub fn usage(&self) -> (u64, u64) {
        self.map
            .as_ref()
            .map_or((0, 0), |m| (m.len() as u64, m.weight()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Data;

    fn string(s: &str) -> StoredValue {
        StoredValue {
            data: Data::Str(bytes::Bytes::copy_from_slice(s.as_bytes())),
            expire_at_ms: None,
            version: 0,
        }
    }

    #[test]
    fn a_hit_skips_the_tree_and_an_apply_forgets_what_it_wrote() -> Result<()> {
        let cache = ValueCache::new(1 << 20);
        let loaded = cache.get(b"k", || Ok(Some((string("v1"), 2))))?;
        assert_eq!(loaded, Some(string("v1")));
        // Cached: the loader is not called.
        let hit = cache.get(b"k", || panic!("loaded again"))?;
        assert_eq!(hit, Some(string("v1")));
        cache.apply(Written::Keys(vec![b"k".as_slice()]), || Ok(()))?;
        let after = cache.get(b"k", || Ok(Some((string("v2"), 2))))?;
        assert_eq!(after, Some(string("v2")));
        cache.clear()?;
        assert_eq!(cache.get(b"k", || Ok(None))?, None);
        assert_eq!(cache.usage().0, 0, "a miss on a missing key caches nothing");
        Ok(())
    }

    #[test]
    fn off_means_every_read_loads() -> Result<()> {
        let cache = ValueCache::new(0);
        let mut loads = 0;
        for _ in 0..3 {
            cache.get(b"k", || {
                loads += 1;
                Ok(Some((string("v"), 1)))
            })?;
        }
        assert_eq!(loads, 3);
        Ok(())
    }
}
