//! The read side of the keyspace: a cheap, cloneable handle on the applied state that the
//! node serves reads from, concurrently with `apply` (which holds the write lock only while
//! it applies one batch).

use std::ops::Deref;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLockReadGuard};

use bytes::Bytes;

use super::sm::Shared;
use crate::error::Result;
use crate::keyspace::state::{Place, State};
use crate::keyspace::{entry_bytes, scan_hash, StoredValue, DATABASES};

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
    pub(super) shared: Arc<Shared>,
}

/// Redis's answer while a replica loads its dataset; clients retry on it.
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";

/// Permission to read, and the state to read: hold it for a run of reads (never across an
/// await, and never take a second one in the same thread while holding it).
pub struct Reading<'a>(RwLockReadGuard<'a, State>);

impl Deref for Reading<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

fn sampled(key: &[u8], value: &StoredValue) -> Sampled {
    Sampled {
        key: Bytes::copy_from_slice(key),
        hash: scan_hash(key),
        expire_at_ms: value.expire_at_ms(),
        bytes: entry_bytes(key, value),
    }
}

impl Keyspace {
    /// Whether a snapshot is being loaded now (INFO's `loading`).
    pub fn is_loading(&self) -> bool {
        self.shared.loading.load(Ordering::SeqCst)
    }

    /// The state to read, or `None` while a snapshot is being loaded (answer [`LOADING`]).
    pub fn reading(&self) -> Option<Reading<'_>> {
        if self.is_loading() {
            return None;
        }
        Some(Reading(self.shared.read()))
    }

    /// Keys of `db` whose expiry is at or before `now_ms`, oldest deadline first, at most
    /// `limit`: the leader's candidates for active expiry.
    pub fn expired_keys(&self, db: u8, now_ms: u64, limit: usize) -> Result<Vec<Bytes>> {
        let state = self.shared.read();
        let Some(d) = state.dbs.get(usize::from(db)) else {
            return Ok(Vec::new());
        };
        Ok(d.expires
            .iter()
            .take_while(|(at, _)| *at < now_ms)
            .take(limit)
            .map(|(_, k)| k.clone())
            .collect())
    }

    /// The dataset size as of the last applied batch: every key's bytes, its value's encoded
    /// bytes and a fixed per-key overhead (`keyspace::entry_bytes`), summed over databases.
    /// Every replica computes it from the same log, so it is the same on all of them.
    pub fn used_bytes(&self) -> u64 {
        self.shared.used_bytes.load(Ordering::Relaxed)
    }

    /// Eviction candidates: up to `limit` keys of `db` that `wanted` accepts, in scan order
    /// from scan position `from`, wrapping around once, looking at `scan_max` entries at
    /// most; with `volatile` only keys with a TTL. A random `from` gives a random run of
    /// keys, as Redis's `dictGetSomeKeys` takes a run of buckets from a random one.
    pub fn sample(
        &self,
        db: u8,
        from: u64,
        volatile: bool,
        limit: usize,
        scan_max: usize,
        wanted: &dyn Fn(&[u8]) -> bool,
    ) -> Result<Vec<Sampled>> {
        let state = self.shared.read();
        let Some(d) = state.dbs.get(usize::from(db)) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (_, key, value) in d
            .keys
            .iter_from(Place::from_cursor(from), true)
            .take(scan_max)
        {
            if !wanted(key) || (volatile && value.expire_at_ms().is_none()) {
                continue;
            }
            out.push(sampled(key, value));
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
        let state = self.shared.read();
        let Some(d) = state.dbs.get(usize::from(db)) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut total = 0u64;
        for (_, key) in d.expires.iter().take(limit) {
            if total >= bytes {
                break;
            }
            let Some(value) = d.keys.get(key) else {
                continue;
            };
            let s = sampled(key, value);
            total = total.saturating_add(s.bytes);
            out.push(s);
        }
        Ok(out)
    }

    /// (db, keys, keys with a TTL) of every non-empty database, for INFO keyspace.
    pub fn db_sizes(&self) -> Result<Vec<(u8, u64, u64)>> {
        let state = self.shared.read();
        Ok((0..DATABASES)
            .zip(&state.dbs)
            .filter(|(_, d)| d.len > 0)
            .map(|(db, d)| (db, d.len, d.expires.len() as u64))
            .collect())
    }
}
