//! The serving copy of the state machine, in memory: every database's keys (by hash slot,
//! see [`slots`]), the expiry index, the running digest and dataset size, and the replicated
//! tables beside the data (at-most-once replies, ACL users, settings, delete stamps).
//!
//! It is durable through the Raft log and snapshots: at start the newest snapshot is loaded
//! and openraft re-applies the committed log after it. Nothing here touches the disk, so a
//! read or an apply never waits for it.
//!
//! Point-in-time copies for snapshots are O(slots): [`State::freeze`] shares every slot and
//! the persistent reply table; later writes copy only what they change.

pub mod image;
pub mod slots;
mod txn;

use std::collections::BTreeSet;

use bytes::Bytes;
use cairn_protocol::acl::Users;

use crate::error::Result;
use crate::keyspace::{entry_bytes, entry_digest, StoredValue, View, DATABASES};
use crate::types::{LogId, ReplicatedSettings, StoredMembership};
pub use replies::ReplyTable;
pub use slots::{Place, Slots};
pub use txn::MemTxn;

mod replies;

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
    /// Wrapping sum of `entry_digest` of every key: the consistency check compares it.
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
    /// Per database (empty until its first delete), the log index of the latest delete of a
    /// key in each bucket of the scan hash's top 12 bits: WATCH on a missing key compares it.
    pub stamps: Vec<Vec<u64>>,
    pub applied: Option<LogId>,
    pub membership: StoredMembership,
}

impl Default for State {
    fn default() -> Self {
        State {
            dbs: vec![Db::default(); usize::from(DATABASES)],
            replies: ReplyTable::default(),
            acl: Users::new(),
            settings: ReplicatedSettings::new(),
            stamps: vec![Vec::new(); usize::from(DATABASES)],
            applied: None,
            membership: StoredMembership::default(),
        }
    }
}

/// The delete-stamp bucket of a key.
pub fn stamp_bucket(key: &[u8]) -> usize {
    (crate::keyspace::scan_hash(key) >> 52) as usize
}

impl Db {
    /// Adds (`sign` 1) or removes (-1) a stored value's share of the counters and index.
    fn account(&mut self, db: u8, key: &[u8], value: &StoredValue, sign: i8) -> Result<()> {
        let encoded = value.encode()?;
        let digest = entry_digest(db, key, &encoded);
        let bytes = entry_bytes(key, &encoded);
        if sign > 0 {
            self.digest = self.digest.wrapping_add(digest);
            self.bytes = self.bytes.saturating_add(bytes);
            self.len += 1;
            if let Some(at) = value.expire_at_ms {
                self.expires.insert((at, Bytes::copy_from_slice(key)));
            }
        } else {
            self.digest = self.digest.wrapping_sub(digest);
            self.bytes = self.bytes.saturating_sub(bytes);
            self.len = self.len.saturating_sub(1);
            if let Some(at) = value.expire_at_ms {
                self.expires.remove(&(at, Bytes::copy_from_slice(key)));
            }
        }
        Ok(())
    }

    /// Stores a value, keeping the counters and the expiry index.
    pub fn put(&mut self, db: u8, key: &[u8], value: StoredValue) -> Result<()> {
        self.account(db, key, &value, 1)?;
        if let Some(old) = self.keys.insert(key, value) {
            self.account(db, key, &old, -1)?;
        }
        Ok(())
    }

    /// Removes a key; whether it was there.
    pub fn delete(&mut self, db: u8, key: &[u8]) -> Result<bool> {
        match self.keys.remove(key) {
            Some(old) => {
                self.account(db, key, &old, -1)?;
                Ok(true)
            }
            None => Ok(false),
        }
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

    fn stamp_delete(&mut self, db: u8, key: &[u8], index: u64) {
        if let Some(s) = self.stamps.get_mut(usize::from(db)) {
            if s.is_empty() {
                s.resize(STAMP_BUCKETS, 0);
            }
            s[stamp_bucket(key)] = index;
        }
    }

    /// The whole keyspace's digest: the sum of the databases'.
    pub fn digest(&self) -> u64 {
        self.dbs.iter().fold(0, |acc, d| acc.wrapping_add(d.digest))
    }

    /// The dataset size: every database's bytes.
    pub fn used_bytes(&self) -> u64 {
        self.dbs
            .iter()
            .fold(0, |acc, d| acc.saturating_add(d.bytes))
    }

    /// Recomputes every database's digest from its keys: (db, running, recomputed) where
    /// they differ. Equal unless the running digest has a bug.
    pub fn digest_mismatches(&self) -> Result<Vec<(u8, u64, u64)>> {
        let mut bad = Vec::new();
        for (db, d) in (0..DATABASES).zip(&self.dbs) {
            let mut computed = 0u64;
            for (k, v) in d.keys.iter() {
                computed = computed.wrapping_add(entry_digest(db, k, &v.encode()?));
            }
            if computed != d.digest {
                bad.push((db, d.digest, computed));
            }
        }
        Ok(bad)
    }

    fn db(&self, db: u8) -> Option<&Db> {
        self.dbs.get(usize::from(db))
    }
}

impl View for State {
    fn delete_stamp(&self, db: u8, key: &[u8]) -> Result<u64> {
        Ok(State::delete_stamp(self, db, key))
    }

    fn get(&self, db: u8, key: &[u8]) -> Result<Option<StoredValue>> {
        Ok(self.db(db).and_then(|d| d.keys.get(key)).cloned())
    }

    fn scan(&self, db: u8, cursor: u64, count: usize) -> Result<(Vec<(Bytes, StoredValue)>, u64)> {
        let Some(d) = self.db(db) else {
            return Ok((Vec::new(), 0));
        };
        let mut out = Vec::new();
        let mut last: Option<u64> = None;
        for (place, k, v) in d.keys.iter_from(Place::from_cursor(cursor), false) {
            let at = place.cursor();
            // Stop only between cursor positions, so resuming never skips a key.
            if out.len() >= count.max(1) && last != Some(at) {
                return Ok((out, at));
            }
            last = Some(at);
            out.push((k.clone(), v.clone()));
        }
        Ok((out, 0))
    }

    fn all(&self, db: u8) -> Result<Vec<(Bytes, StoredValue)>> {
        Ok(self
            .db(db)
            .map(|d| d.keys.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    fn len(&self, db: u8) -> Result<u64> {
        Ok(self.db(db).map_or(0, |d| d.len))
    }
}
