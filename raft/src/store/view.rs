//! The read side of the keyspace: a cheap, cloneable handle on the committed state that the
//! node serves reads from, concurrently with `apply` (sled reads are lock-free; a batch
//! becomes visible atomically).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::cache::ValueCache;
use super::keys::{self, Counter};
use super::txn::{sled_err, stored_counter};
use crate::error::Result;
use crate::keyspace::{StoredValue, View, DATABASES};

/// A key the eviction sampler looked at.
#[derive(Debug, Clone)]
pub struct Sampled {
    pub key: Bytes,
    /// The key's scan hash: access tracking identifies keys by (db, hash).
    pub hash: u64,
    pub expire_at_ms: Option<u64>,
    /// What deleting it frees of the dataset size (`keyspace::entry_bytes`), so eviction
    /// stops as soon as it is back under maxmemory.
    pub bytes: u64,
}

#[derive(Clone)]
pub struct Keyspace {
    pub(super) tree: sled::Tree,
    pub(super) used_bytes: Arc<AtomicU64>,
    pub(super) values: Arc<ValueCache>,
    pub(super) loading: Arc<std::sync::RwLock<()>>,
}

/// Redis's answer while a replica loads its dataset; clients retry on it.
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";

impl Keyspace {
    /// Whether a snapshot is being loaded now (INFO's `loading`).
    pub fn is_loading(&self) -> bool {
        self.reading().is_none()
    }

    /// Permission to read: `None` while a snapshot is being loaded (answer [`LOADING`]).
    /// Hold it for the whole run of reads, so none of them sees the keyspace half replaced;
    /// never across an await.
    pub fn reading(&self) -> Option<std::sync::RwLockReadGuard<'_, ()>> {
        match self.loading.try_read() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Keys of `db` whose expiry is at or before `now_ms`, oldest deadline first, at most
    /// `limit`: the leader's candidates for active expiry.
    pub fn expired_keys(&self, db: u8, now_ms: u64, limit: usize) -> Result<Vec<Bytes>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([keys::EXPIRY, db]) {
            let (k, _) = item.map_err(sled_err)?;
            let Some((at, key)) = keys::split_expiry_key(&k) else {
                continue;
            };
            if at >= now_ms || out.len() >= limit {
                break;
            }
            out.push(Bytes::copy_from_slice(key));
        }
        Ok(out)
    }

    /// Entries and bytes in the hot-value cache.
    pub fn value_cache_usage(&self) -> (u64, u64) {
        self.values.usage()
    }

    /// The dataset size as of the last applied batch: every key's bytes, its value's encoded
    /// bytes and a fixed per-key overhead (`keyspace::entry_bytes`), summed over databases.
    /// Every replica computes it from the same log, so it is the same on all of them.
    pub fn used_bytes(&self) -> u64 {
        self.used_bytes.load(Ordering::Relaxed)
    }

    /// Eviction candidates: up to `limit` keys of `db` that `wanted` accepts, in scan order
    /// from scan position `from`, wrapping around once, looking at `scan_max` entries at
    /// most; with `volatile` only keys with a TTL. Keys sort by a hash of the key, so a
    /// random `from` gives a random run of keys, as Redis's `dictGetSomeKeys` takes a run of
    /// buckets from a random one.
    pub fn sample(
        &self,
        db: u8,
        from: u64,
        volatile: bool,
        limit: usize,
        scan_max: usize,
        wanted: &dyn Fn(&[u8]) -> bool,
    ) -> Result<Vec<Sampled>> {
        let start = keys::data_position(db, from);
        let end = [keys::DATA, db.saturating_add(1)].to_vec();
        let head = keys::data_position(db, 0);
        let wrapped = self
            .tree
            .range(start.clone()..end)
            .chain(self.tree.range(head..start));
        let mut out = Vec::new();
        for item in wrapped.take(scan_max) {
            let (k, v) = item.map_err(sled_err)?;
            let Some((hash, key)) = keys::split_data_key(&k) else {
                continue;
            };
            if !wanted(key) {
                continue;
            }
            let expire_at_ms = StoredValue::decode(&v)?.expire_at_ms;
            if volatile && expire_at_ms.is_none() {
                continue;
            }
            out.push(Sampled {
                key: Bytes::copy_from_slice(key),
                hash,
                expire_at_ms,
                bytes: crate::keyspace::entry_bytes(key, &v),
            });
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The keys of `db` with the soonest deadlines, soonest first, from the expiry index:
    /// volatile-ttl's candidates, exact where Redis samples. Stops once they add up to
    /// `bytes` (no later key of this database could be needed) or at `limit` keys.
    pub fn soonest_expiring(&self, db: u8, bytes: u64, limit: usize) -> Result<Vec<Sampled>> {
        let mut out = Vec::new();
        let mut total = 0u64;
        for item in self.tree.scan_prefix([keys::EXPIRY, db]).take(limit) {
            if total >= bytes {
                break;
            }
            let (k, _) = item.map_err(sled_err)?;
            let Some((at, key)) = keys::split_expiry_key(&k) else {
                continue;
            };
            // The index and the data change in the same batch, so the value is there.
            let Some(v) = self.tree.get(keys::data_key(db, key)).map_err(sled_err)? else {
                continue;
            };
            let size = crate::keyspace::entry_bytes(key, &v);
            total = total.saturating_add(size);
            out.push(Sampled {
                key: Bytes::copy_from_slice(key),
                hash: crate::keyspace::scan_hash(key),
                expire_at_ms: Some(at),
                bytes: size,
            });
        }
        Ok(out)
    }

    /// Whether the key exists and is not expired at `now_ms` (a keyspace hit).
    pub fn get_live(&self, db: u8, key: &[u8], now_ms: u64) -> Result<bool> {
        Ok(View::get(self, db, key)?.is_some_and(|v| !v.is_expired(now_ms)))
    }

    /// (db, keys, keys with a TTL) of every non-empty database, for INFO keyspace.
    pub fn db_sizes(&self) -> Result<Vec<(u8, u64, u64)>> {
        let mut out = Vec::new();
        for db in 0..DATABASES {
            let n = stored_counter(&self.tree, Counter::Keys, db)?;
            if n > 0 {
                out.push((db, n, stored_counter(&self.tree, Counter::Expires, db)?));
            }
        }
        Ok(out)
    }

    fn decode_entry(k: &[u8], v: &[u8]) -> Result<Option<(u64, Bytes, StoredValue)>> {
        let Some((hash, key)) = keys::split_data_key(k) else {
            return Ok(None);
        };
        Ok(Some((
            hash,
            Bytes::copy_from_slice(key),
            StoredValue::decode(v)?,
        )))
    }
}

impl View for Keyspace {
    fn delete_stamp(&self, db: u8, key: &[u8]) -> Result<u64> {
        let v = self
            .tree
            .get(keys::delete_stamp_key(db, key))
            .map_err(sled_err)?;
        Ok(keys::decode_stamp(v.as_deref()))
    }

    fn get(&self, db: u8, key: &[u8]) -> Result<Option<StoredValue>> {
        let k = keys::data_key(db, key);
        self.values.get(&k, || {
            self.tree
                .get(&k)
                .map_err(sled_err)?
                .map(|v| StoredValue::decode(&v).map(|d| (d, v.len())))
                .transpose()
        })
    }

    fn scan(&self, db: u8, cursor: u64, count: usize) -> Result<(Vec<(Bytes, StoredValue)>, u64)> {
        let start = keys::data_position(db, cursor);
        let end = [keys::DATA, db.saturating_add(1)];
        let mut out = Vec::new();
        let mut last_hash = None;
        for item in self.tree.range(start..end.to_vec()) {
            let (k, v) = item.map_err(sled_err)?;
            let Some((hash, key, value)) = Self::decode_entry(&k, &v)? else {
                continue;
            };
            // Stop only between hash groups, so the cursor never splits keys of one hash.
            if out.len() >= count.max(1) && last_hash != Some(hash) {
                return Ok((out, hash));
            }
            last_hash = Some(hash);
            out.push((key, value));
        }
        Ok((out, 0))
    }

    fn all(&self, db: u8) -> Result<Vec<(Bytes, StoredValue)>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([keys::DATA, db]) {
            let (k, v) = item.map_err(sled_err)?;
            if let Some((_, key, value)) = Self::decode_entry(&k, &v)? {
                out.push((key, value));
            }
        }
        Ok(out)
    }

    fn len(&self, db: u8) -> Result<u64> {
        stored_counter(&self.tree, Counter::Keys, db)
    }
}
