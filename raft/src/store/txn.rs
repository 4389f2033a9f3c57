//! A write overlay over the state-machine tree for one batch of log entries.
//!
//! Commands in a batch see each other's writes through the overlay; nothing reaches sled until
//! [`SledTxn::commit`] turns the overlay into one atomic `apply_batch`, together with the
//! applied log id. A crash therefore never separates data, expiry index, counters and the
//! applied id.

use std::collections::{BTreeMap, HashMap};

use cairn_protocol::acl::Users;
use cairn_protocol::Reply;

use crate::error::{Error, Result};
use crate::keyspace::{entry_bytes, entry_digest, StoredValue, Txn, DATABASES};
use crate::types::{ReplicatedSettings, RequestId};

use super::cache::{ValueCache, Written};
use super::keys::{self, Counter};
use super::replies::{Group, ReplyTable};

const DBS: usize = DATABASES as usize;

pub struct SledTxn<'a> {
    tree: &'a sled::Tree,
    /// The at-most-once records, changed as the batch applies (see `replies`).
    replies: &'a mut ReplyTable,
    /// Reply records made by this batch, by log time: one sled key per time at commit.
    groups: BTreeMap<u64, Group>,
    /// Full tree key → new value (`None`: delete).
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Values read from the tree in this batch (a write usually reads its key twice: once for
    /// the command, once to maintain counters and the expiry index).
    reads: HashMap<Vec<u8>, Option<StoredValue>>,
    /// Databases cleared in this batch: their stored keys are all deleted at commit.
    cleared: [bool; DBS],
    /// Change of each database's counters since the batch began (or since it was cleared).
    deltas: [[i64; 3]; DBS],
    /// Change of each database's digest (wrapping) since the batch began or was cleared.
    digest_deltas: [u64; DBS],
    /// The version stamped on values written now: the index of the entry being applied.
    stamp: u64,
}

/// The ACL users stored under `a` (none stored: empty).
pub(super) fn decode_acl_users(stored: Option<&[u8]>) -> Result<Users> {
    match stored {
        None => Ok(Users::new()),
        Some(v) => bincode::deserialize(v).map_err(|e| Error::Corrupt {
            path: "state machine".into(),
            what: format!("ACL users: {e}"),
        }),
    }
}

/// The replicated settings stored under `o` (none stored: empty).
pub(super) fn decode_settings(stored: Option<&[u8]>) -> Result<ReplicatedSettings> {
    match stored {
        None => Ok(ReplicatedSettings::new()),
        Some(v) => bincode::deserialize(v).map_err(|e| Error::Corrupt {
            path: "state machine".into(),
            what: format!("replicated settings: {e}"),
        }),
    }
}

pub(super) fn sled_err(e: sled::Error) -> Error {
    Error::Storage(e.to_string())
}

impl<'a> SledTxn<'a> {
    pub fn new(tree: &'a sled::Tree, replies: &'a mut ReplyTable) -> Self {
        SledTxn {
            tree,
            replies,
            groups: BTreeMap::new(),
            writes: BTreeMap::new(),
            reads: HashMap::new(),
            cleared: [false; DBS],
            deltas: [[0; 3]; DBS],
            digest_deltas: [0; DBS],
            stamp: 0,
        }
    }

    /// Stages a metadata record.
    pub fn put_meta(&mut self, name: &str, value: Vec<u8>) {
        self.writes.insert(keys::meta_key(name), Some(value));
    }

    fn db_index(db: u8) -> Result<usize> {
        if db < DATABASES {
            Ok(usize::from(db))
        } else {
            Err(Error::Storage(format!("database {db} out of range")))
        }
    }

    fn bump(&mut self, db: usize, counter: Counter, by: i64) {
        self.deltas[db][counter as usize] += by;
    }

    /// A database's digest including this batch's writes so far.
    fn db_digest(&self, db: u8) -> Result<u64> {
        let i = Self::db_index(db)?;
        let base = if self.cleared[i] {
            0
        } else {
            stored_counter(self.tree, Counter::Digest, db)?
        };
        Ok(base.wrapping_add(self.digest_deltas[i]))
    }

    /// Builds the atomic batch and applies it.
    fn stamp_delete(&mut self, db: u8, key: &[u8]) {
        self.writes.insert(
            keys::delete_stamp_key(db, key).to_vec(),
            Some(self.stamp.to_le_bytes().to_vec()),
        );
    }

    /// Values written from now on carry `index` (the entry being applied) as their version.
    pub fn set_stamp(&mut self, index: u64) {
        self.stamp = index;
    }

    /// Writes the batch as one atomic sled batch, through `values` so that no cached value
    /// outlives what the batch changed.
    pub fn commit(mut self, values: &ValueCache) -> Result<()> {
        for (time, group) in std::mem::take(&mut self.groups) {
            let Some((first, _)) = group.first() else {
                continue;
            };
            let key = keys::reply_group_key(time, first.origin, first.seq);
            let value = bincode::serialize(&group).map_err(|e| Error::Storage(e.to_string()))?;
            self.writes.insert(key.to_vec(), Some(value));
        }
        let mut batch = sled::Batch::default();
        for db in 0..DATABASES {
            let i = usize::from(db);
            if self.cleared[i] {
                for prefix in [[keys::DATA, db], [keys::EXPIRY, db]] {
                    for item in self.tree.scan_prefix(prefix) {
                        let (k, _) = item.map_err(sled_err)?;
                        batch.remove(k);
                    }
                }
            }
            for counter in Counter::COUNTS {
                let delta = self.deltas[i][counter as usize];
                if !self.cleared[i] && delta == 0 {
                    continue;
                }
                let base = if self.cleared[i] {
                    0
                } else {
                    stored_counter(self.tree, counter, db)?
                };
                let value = base.saturating_add_signed(delta);
                batch.insert(&keys::counter_key(counter, db), &value.to_be_bytes());
            }
            if self.cleared[i] || self.digest_deltas[i] != 0 {
                let value = self.db_digest(db)?;
                batch.insert(
                    &keys::counter_key(Counter::Digest, db),
                    &value.to_be_bytes(),
                );
            }
        }
        // sled's Batch keeps the last operation per key, so these override the clears above.
        for (k, v) in &self.writes {
            match v {
                Some(v) => batch.insert(k.as_slice(), v.as_slice()),
                None => batch.remove(k.as_slice()),
            }
        }
        let written = if self.cleared.iter().any(|c| *c) {
            Written::Everything
        } else {
            let data = self
                .writes
                .keys()
                .filter(|k| k.first() == Some(&keys::DATA));
            Written::Keys(data.map(Vec::as_slice).collect())
        };
        values.apply(written, || self.tree.apply_batch(batch).map_err(sled_err))
    }
}

/// A key's bytes as a counter change (sizes are far below `i64::MAX`).
fn bytes_delta(key: &[u8], encoded: &[u8]) -> i64 {
    i64::try_from(entry_bytes(key, encoded)).unwrap_or(i64::MAX)
}

/// A database's counter as last committed.
pub(super) fn stored_counter(tree: &sled::Tree, counter: Counter, db: u8) -> Result<u64> {
    match tree.get(keys::counter_key(counter, db)).map_err(sled_err)? {
        None => Ok(0),
        Some(v) => {
            let bytes: [u8; 8] = v.as_ref().try_into().map_err(|_| Error::Corrupt {
                path: "state machine".into(),
                what: format!("{counter:?} counter of db {db} is {} bytes", v.len()),
            })?;
            Ok(u64::from_be_bytes(bytes))
        }
    }
}

impl Txn for SledTxn<'_> {
    fn get(&mut self, db: u8, key: &[u8]) -> Result<Option<StoredValue>> {
        let i = Self::db_index(db)?;
        let full = keys::data_key(db, key);
        if let Some(staged) = self.writes.get(&full) {
            return staged.as_deref().map(StoredValue::decode).transpose();
        }
        if self.cleared[i] {
            return Ok(None);
        }
        if let Some(cached) = self.reads.get(&full) {
            return Ok(cached.clone());
        }
        let value = self
            .tree
            .get(&full)
            .map_err(sled_err)?
            .map(|v| StoredValue::decode(&v))
            .transpose()?;
        self.reads.insert(full, value.clone());
        Ok(value)
    }

    fn put(&mut self, db: u8, key: &[u8], mut value: StoredValue) -> Result<()> {
        value.version = self.stamp;
        let i = Self::db_index(db)?;
        let old = self.get(db, key)?;
        let old_at = old.as_ref().and_then(|o| o.expire_at_ms);
        match &old {
            None => self.bump(i, Counter::Keys, 1),
            Some(o) => {
                let old_encoded = o.encode()?;
                let d = entry_digest(db, key, &old_encoded);
                self.digest_deltas[i] = self.digest_deltas[i].wrapping_sub(d);
                self.bump(i, Counter::Bytes, -bytes_delta(key, &old_encoded));
            }
        }
        if old_at != value.expire_at_ms {
            if let Some(at) = old_at {
                self.writes.insert(keys::expiry_key(db, at, key), None);
                self.bump(i, Counter::Expires, -1);
            }
            if let Some(at) = value.expire_at_ms {
                self.writes
                    .insert(keys::expiry_key(db, at, key), Some(Vec::new()));
                self.bump(i, Counter::Expires, 1);
            }
        }
        let encoded = value.encode()?;
        self.digest_deltas[i] = self.digest_deltas[i].wrapping_add(entry_digest(db, key, &encoded));
        self.bump(i, Counter::Bytes, bytes_delta(key, &encoded));
        self.writes.insert(keys::data_key(db, key), Some(encoded));
        Ok(())
    }

    fn delete(&mut self, db: u8, key: &[u8]) -> Result<bool> {
        let i = Self::db_index(db)?;
        let Some(old) = self.get(db, key)? else {
            return Ok(false);
        };
        if let Some(at) = old.expire_at_ms {
            self.writes.insert(keys::expiry_key(db, at, key), None);
            self.bump(i, Counter::Expires, -1);
        }
        let old_encoded = old.encode()?;
        let d = entry_digest(db, key, &old_encoded);
        self.digest_deltas[i] = self.digest_deltas[i].wrapping_sub(d);
        self.bump(i, Counter::Bytes, -bytes_delta(key, &old_encoded));
        self.writes.insert(keys::data_key(db, key), None);
        self.stamp_delete(db, key);
        self.bump(i, Counter::Keys, -1);
        Ok(true)
    }

    fn clear(&mut self, db: u8) -> Result<()> {
        let i = Self::db_index(db)?;
        // Every key deleted now stamps its bucket, as a DEL would: stored keys (unless the db
        // was cleared earlier in this batch) and keys written earlier in this batch.
        let mut deleted: Vec<Vec<u8>> = self
            .writes
            .iter()
            .filter(|(_, v)| v.is_some())
            .filter_map(|(k, _)| keys::split_data_key(k).filter(|_| k.get(1) == Some(&db)))
            .map(|(_, key)| key.to_vec())
            .collect();
        if !self.cleared[i] {
            for item in self.tree.scan_prefix([keys::DATA, db]) {
                let (k, _) = item.map_err(sled_err)?;
                if let Some((_, key)) = keys::split_data_key(&k) {
                    deleted.push(key.to_vec());
                }
            }
        }
        for key in deleted {
            self.stamp_delete(db, &key);
        }
        let data = [keys::DATA, db];
        let expiry = [keys::EXPIRY, db];
        self.writes
            .retain(|k, _| !(k.starts_with(&data) || k.starts_with(&expiry)));
        self.cleared[i] = true;
        self.deltas[i] = [0; 3];
        self.digest_deltas[i] = 0;
        Ok(())
    }

    fn delete_stamp(&mut self, db: u8, key: &[u8]) -> Result<u64> {
        let key = keys::delete_stamp_key(db, key);
        Ok(match self.writes.get(&key[..]) {
            Some(staged) => keys::decode_stamp(staged.as_deref()),
            None => keys::decode_stamp(self.tree.get(key).map_err(sled_err)?.as_deref()),
        })
    }

    fn digest(&mut self) -> Result<u64> {
        (0..DATABASES).try_fold(0u64, |acc, db| Ok(acc.wrapping_add(self.db_digest(db)?)))
    }

    fn recorded_reply(&mut self, id: &RequestId) -> Result<Option<Option<Reply>>> {
        Ok(self.replies.get(id))
    }

    fn record_reply(&mut self, id: &RequestId, now: u64, reply: Option<Reply>) -> Result<()> {
        self.replies.insert(*id, now, reply.clone());
        self.groups.entry(now).or_default().push((*id, reply));
        Ok(())
    }

    fn forget_replies(&mut self, before: u64) -> Result<()> {
        self.replies.forget_before(before);
        self.groups = self.groups.split_off(&before);
        let end = keys::reply_group_key(before, 0, 0);
        for item in self.tree.range([keys::REPLY].as_slice()..end.as_slice()) {
            let (k, _) = item.map_err(sled_err)?;
            self.writes.insert(k.to_vec(), None);
        }
        Ok(())
    }

    fn acl_users(&mut self) -> Result<Users> {
        let stored = match self.writes.get(&[keys::ACL][..]) {
            Some(staged) => staged.clone(),
            None => self
                .tree
                .get([keys::ACL])
                .map_err(sled_err)?
                .map(|v| v.to_vec()),
        };
        decode_acl_users(stored.as_deref())
    }

    fn put_acl_users(&mut self, users: &Users) -> Result<()> {
        let value = bincode::serialize(users).map_err(|e| Error::Storage(e.to_string()))?;
        self.writes.insert(vec![keys::ACL], Some(value));
        Ok(())
    }

    fn settings(&mut self) -> Result<ReplicatedSettings> {
        let stored = match self.writes.get(&[keys::SETTINGS][..]) {
            Some(staged) => staged.clone(),
            None => self
                .tree
                .get([keys::SETTINGS])
                .map_err(sled_err)?
                .map(|v| v.to_vec()),
        };
        decode_settings(stored.as_deref())
    }

    fn put_settings(&mut self, settings: &ReplicatedSettings) -> Result<()> {
        let value = bincode::serialize(settings).map_err(|e| Error::Storage(e.to_string()))?;
        self.writes.insert(vec![keys::SETTINGS], Some(value));
        Ok(())
    }
}
