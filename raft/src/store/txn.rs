//! A write overlay over the state-machine tree for one batch of log entries.
//!
//! Commands in a batch see each other's writes through the overlay; nothing reaches sled until
//! [`SledTxn::commit`] turns the overlay into one atomic `apply_batch`, together with the
//! applied log id. A crash therefore never separates data, expiry index, counters and the
//! applied id.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::keyspace::{StoredValue, Txn, DATABASES};

use super::keys;

pub struct SledTxn<'a> {
    tree: &'a sled::Tree,
    /// Full tree key → new value (`None`: delete).
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Databases cleared in this batch: their stored keys are all deleted at commit.
    cleared: [bool; DATABASES as usize],
    /// Change of each database's key count since the batch began (or since it was cleared).
    count_delta: [i64; DATABASES as usize],
}

pub(super) fn sled_err(e: sled::Error) -> Error {
    Error::Storage(e.to_string())
}

impl<'a> SledTxn<'a> {
    pub fn new(tree: &'a sled::Tree) -> Self {
        SledTxn {
            tree,
            writes: BTreeMap::new(),
            cleared: [false; DATABASES as usize],
            count_delta: [0; DATABASES as usize],
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

    /// Builds the atomic batch and applies it.
    pub fn commit(self) -> Result<()> {
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
            if self.cleared[i] || self.count_delta[i] != 0 {
                let base = if self.cleared[i] {
                    0
                } else {
                    stored_count(self.tree, db)?
                };
                let count = base.saturating_add_signed(self.count_delta[i]);
                batch.insert(&keys::count_key(db), &count.to_be_bytes());
            }
        }
        // sled's Batch keeps the last operation per key, so these override the clears above.
        for (k, v) in self.writes {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        self.tree.apply_batch(batch).map_err(sled_err)
    }
}

/// A database's key count as last committed.
pub(super) fn stored_count(tree: &sled::Tree, db: u8) -> Result<u64> {
    match tree.get(keys::count_key(db)).map_err(sled_err)? {
        None => Ok(0),
        Some(v) => {
            let bytes: [u8; 8] = v.as_ref().try_into().map_err(|_| Error::Corrupt {
                path: "state machine".into(),
                what: format!("key counter of db {db} is {} bytes", v.len()),
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
        self.tree
            .get(&full)
            .map_err(sled_err)?
            .map(|v| StoredValue::decode(&v))
            .transpose()
    }

    fn put(&mut self, db: u8, key: &[u8], value: StoredValue) -> Result<()> {
        let i = Self::db_index(db)?;
        let old = self.get(db, key)?;
        match &old {
            None => self.count_delta[i] += 1,
            Some(o) => {
                if let Some(at) = o.expire_at_ms {
                    if Some(at) != value.expire_at_ms {
                        self.writes.insert(keys::expiry_key(db, at, key), None);
                    }
                }
            }
        }
        if let Some(at) = value.expire_at_ms {
            self.writes
                .insert(keys::expiry_key(db, at, key), Some(Vec::new()));
        }
        self.writes
            .insert(keys::data_key(db, key), Some(value.encode()?));
        Ok(())
    }

    fn delete(&mut self, db: u8, key: &[u8]) -> Result<bool> {
        let i = Self::db_index(db)?;
        let Some(old) = self.get(db, key)? else {
            return Ok(false);
        };
        if let Some(at) = old.expire_at_ms {
            self.writes.insert(keys::expiry_key(db, at, key), None);
        }
        self.writes.insert(keys::data_key(db, key), None);
        self.count_delta[i] -= 1;
        Ok(true)
    }

    fn clear(&mut self, db: u8) -> Result<()> {
        let i = Self::db_index(db)?;
        let data = [keys::DATA, db];
        let expiry = [keys::EXPIRY, db];
        self.writes
            .retain(|k, _| !(k.starts_with(&data) || k.starts_with(&expiry)));
        self.cleared[i] = true;
        self.count_delta[i] = 0;
        Ok(())
    }
}
