//! The replicated state in memory: every database's keys (by hash slot, see [`slots`]), the
//! expiry index, the running digest and dataset size, and the tables beside the data
//! (at-most-once replies, ACL users, settings, delete stamps).
//!
//! It is durable through the Raft log and snapshots (the store's job): nothing here touches
//! the disk, so a read or an apply never waits for it. A snapshot takes it in O(slots) (see
//! `store::image`): slots, collections and the reply table are shared, and a later write
//! copies only what it changes.
//!
//! Every write goes through [`Db::put`] and [`Db::remove`], which keep the counters, the
//! digest and the expiry index in O(1) per key, whatever the value's size: values keep their
//! own content digest and size up to date (see `keyspace::value`).

pub mod replies;
pub mod slots;

use std::collections::BTreeSet;

use bytes::Bytes;
use cairn_protocol::acl::Users;

use super::value::digest::{hash, mix};
use super::value::{db_key_digest, entry_bytes, StoredValue};
use super::DATABASES;
use crate::types::{LogId, ReplicatedSettings, StoredMembership};
pub use replies::ReplyTable;
pub use slots::{Key, Place, Slots};

/// Delete-stamp buckets per database (see [`State::delete_stamp`]).
pub const STAMP_BUCKETS: usize = 4096;

/// One database.
#[derive(Clone, Default)]
pub struct Db {
    pub keys: Slots,
    /// (deadline, key) of every key with a TTL, soonest first: the leader's active expiry and
    /// volatile-ttl eviction read it.
    pub expires: BTreeSet<(u64, Bytes)>,
    /// Number of keys.
    pub len: u64,
    /// Wrapping sum of `db_key_digest` of every key: the consistency check compares it.
    pub digest: u64,
    /// Sum of `entry_bytes` of every key: `used_memory`, the same on every replica.
    pub bytes: u64,
}

/// The whole replicated state.
#[derive(Clone)]
pub struct State {
    pub dbs: Vec<Db>,
    pub replies: ReplyTable,
    pub acl: Users,
    pub settings: ReplicatedSettings,
    /// The script cache (SCRIPT LOAD, EVAL): replicated, so EVALSHA finds the same scripts
    /// on every node.
    pub scripts: crate::keyspace::script::catalog::Scripts,
    /// FUNCTION libraries, replicated likewise.
    pub libraries: crate::keyspace::script::catalog::Libraries,
    /// Per database (empty until its first delete), the log index of the latest delete of a
    /// key in each bucket of the scan hash's top 12 bits: WATCH on a missing key compares it.
    pub stamps: Vec<Vec<u64>>,
    pub applied: Option<LogId>,
    pub membership: StoredMembership,
    /// Keyspace events raised while applying, taken by the store after each batch: not
    /// state (never in an image or a digest).
    pub notify: crate::keyspace::notify::Notifications,
    /// Scripts run so far in the entry being applied (reset per entry): the low bits of
    /// each run's fencing token. Not state either.
    pub scripts_in_entry: u64,
}

impl Default for State {
    fn default() -> Self {
        State {
            dbs: vec![Db::default(); usize::from(DATABASES)],
            replies: ReplyTable::default(),
            acl: Users::new(),
            settings: ReplicatedSettings::new(),
            scripts: Default::default(),
            libraries: Default::default(),
            stamps: vec![Vec::new(); usize::from(DATABASES)],
            applied: None,
            membership: StoredMembership::default(),
            notify: Default::default(),
            scripts_in_entry: 0,
        }
    }
}

/// The delete-stamp bucket of a key.
pub fn stamp_bucket(key: &[u8]) -> usize {
    (super::scan_hash(key) >> 52) as usize
}

impl Db {
    /// Adds (`sign` 1) or removes (-1) a stored value's share of the counters and index.
    fn account(&mut self, key: &[u8], value: &StoredValue, add: bool) {
        let digest = db_key_digest(key, value);
        let bytes = entry_bytes(key, value);
        if add {
            self.digest = self.digest.wrapping_add(digest);
            self.bytes = self.bytes.saturating_add(bytes);
            self.len += 1;
            if let Some(at) = value.expire_at_ms() {
                self.expires.insert((at, Bytes::copy_from_slice(key)));
            }
        } else {
            self.digest = self.digest.wrapping_sub(digest);
            self.bytes = self.bytes.saturating_sub(bytes);
            self.len = self.len.saturating_sub(1);
            if let Some(at) = value.expire_at_ms() {
                self.expires.remove(&(at, Bytes::copy_from_slice(key)));
            }
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<&StoredValue> {
        self.keys.get(key)
    }

    /// Stores a value, replacing any, keeping the counters and index.
    pub fn put(&mut self, key: &[u8], value: StoredValue) {
        self.account(key, &value, true);
        if let Some(old) = self.keys.insert(key, value) {
            self.account(key, &old, false);
        }
    }

    /// Takes a key's value out, keeping the counters and index.
    pub fn remove(&mut self, key: &[u8]) -> Option<StoredValue> {
        let old = self.keys.remove(key)?;
        self.account(key, &old, false);
        Some(old)
    }
}

impl State {
    /// The delete stamp of `key`'s bucket in `db` (0: none since the data dir began).
    pub fn delete_stamp(&self, db: u8, key: &[u8]) -> u64 {
        self.stamps
            .get(usize::from(db))
            .and_then(|s| s.get(stamp_bucket(key)))
            .copied()
            .unwrap_or(0)
    }

    pub fn stamp_delete(&mut self, db: u8, key: &[u8], index: u64) {
        if let Some(s) = self.stamps.get_mut(usize::from(db)) {
            if s.is_empty() {
                s.resize(STAMP_BUCKETS, 0);
            }
            s[stamp_bucket(key)] = index;
        }
    }

    /// Every bucket of `db` counts as deleted from at `index` (FLUSHDB).
    pub fn stamp_all(&mut self, db: u8, index: u64) {
        if let Some(s) = self.stamps.get_mut(usize::from(db)) {
            s.clear();
            s.resize(STAMP_BUCKETS, index);
        }
    }

    /// The whole keyspace's digest: each database's, placed by its number, summed (digest
    /// scheme 2: a database's own digest does not depend on its number, so SWAPDB is O(1)).
    pub fn digest(&self) -> u64 {
        (0u64..).zip(&self.dbs).fold(0, |acc, (i, d)| {
            acc.wrapping_add(mix(hash(i, b"db") ^ d.digest))
        })
    }

    /// SWAPDB: databases `a` and `b` trade places, keys, indexes, digests and delete stamps
    /// alike. Every bucket of both counts as deleted at `index`, so a WATCH of a key missing
    /// in either sees the swap.
    pub fn swap_dbs(&mut self, a: u8, b: u8, index: u64) {
        let (a, b) = (usize::from(a), usize::from(b));
        if a == b || a >= self.dbs.len() || b >= self.dbs.len() {
            return;
        }
        self.dbs.swap(a, b);
        self.stamps.swap(a, b);
        for db in [a, b] {
            self.stamp_all(db as u8, index);
        }
    }

    /// The dataset size: every database's bytes.
    pub fn used_bytes(&self) -> u64 {
        self.dbs
            .iter()
            .fold(0, |acc, d| acc.saturating_add(d.bytes))
    }

    /// Recomputes every database's digest from its keys: (db, running, recomputed) where
    /// they differ. Equal unless the running digest has a bug.
    pub fn digest_mismatches(&self) -> Vec<(u8, u64, u64)> {
        let mut bad = Vec::new();
        for (db, d) in (0..DATABASES).zip(&self.dbs) {
            let computed = d
                .keys
                .iter()
                .fold(0u64, |acc, (k, v)| acc.wrapping_add(db_key_digest(k, v)));
            if computed != d.digest {
                bad.push((db, d.digest, computed));
            }
        }
        bad
    }

    pub fn db(&self, db: u8) -> Option<&Db> {
        self.dbs.get(usize::from(db))
    }

    /// Brings what reading `keys` in `db` will touch into the cache, all keys at once (see
    /// [`Slots::warm`]): for a pipeline of reads, before they run one by one.
    pub fn warm(&self, db: u8, keys: &[&[u8]]) {
        if let Some(db) = self.db(db) {
            db.keys.warm(keys);
        }
    }

    /// The value of `key` in `db`, expired or not.
    pub fn get(&self, db: u8, key: &[u8]) -> Option<&StoredValue> {
        self.db(db)?.get(key)
    }

    /// The value of `key` in `db` unless it has expired by `now_ms`.
    pub fn get_live(&self, db: u8, key: &[u8], now_ms: u64) -> Option<&StoredValue> {
        self.get(db, key).filter(|v| !v.is_expired(now_ms))
    }

    /// The number of keys stored in `db`, including expired ones not yet removed (as Redis).
    pub fn len(&self, db: u8) -> u64 {
        self.db(db).map_or(0, |d| d.len)
    }

    /// Up to about `count` keys in scan order from `cursor` (see [`Place::cursor`]), never
    /// stopping between keys of one cursor position; and the cursor to continue from (0:
    /// done).
    pub fn scan(&self, db: u8, cursor: u64, count: usize) -> (Vec<(&Key, &StoredValue)>, u64) {
        let Some(d) = self.db(db) else {
            return (Vec::new(), 0);
        };
        let mut out = Vec::new();
        let mut last: Option<u64> = None;
        for (place, k, v) in d.keys.iter_from(Place::from_cursor(cursor), false) {
            let at = place.cursor();
            if out.len() >= count.max(1) && last != Some(at) {
                return (out, at);
            }
            last = Some(at);
            out.push((k, v));
        }
        (out, 0)
    }
}
