//! Applying log entries to the in-memory state: the keyspace's [`Txn`] over [`State`].
//!
//! Changes land in place. Readers never see a batch half applied because `apply` holds the
//! state's write lock for the whole batch; a crash loses nothing because the state is
//! rebuilt from the last snapshot and the log.

use cairn_protocol::acl::Users;
use cairn_protocol::Reply;

use super::State;
use crate::error::{Error, Result};
use crate::keyspace::{StoredValue, Txn, DATABASES};
use crate::types::{ReplicatedSettings, RequestId};

pub struct MemTxn<'a> {
    state: &'a mut State,
    /// The index of the entry being applied: the version of values written now.
    stamp: u64,
}

impl<'a> MemTxn<'a> {
    pub fn new(state: &'a mut State) -> Self {
        MemTxn { state, stamp: 0 }
    }

    /// Values written from now on carry `index` (the entry being applied) as their version.
    pub fn set_stamp(&mut self, index: u64) {
        self.stamp = index;
    }

    fn db(&mut self, db: u8) -> Result<&mut super::Db> {
        self.state
            .dbs
            .get_mut(usize::from(db))
            .ok_or_else(|| Error::Storage(format!("database {db} out of range")))
    }
}

impl Txn for MemTxn<'_> {
    fn get(&mut self, db: u8, key: &[u8]) -> Result<Option<StoredValue>> {
        Ok(self.db(db)?.keys.get(key).cloned())
    }

    fn put(&mut self, db: u8, key: &[u8], mut value: StoredValue) -> Result<()> {
        value.version = self.stamp;
        self.db(db)?.put(db, key, value)
    }

    fn delete(&mut self, db: u8, key: &[u8]) -> Result<bool> {
        let existed = self.db(db)?.delete(db, key)?;
        if existed {
            self.state.stamp_delete(db, key, self.stamp);
        }
        Ok(existed)
    }

    fn clear(&mut self, db: u8) -> Result<()> {
        let stamp = self.stamp;
        let old = std::mem::take(self.db(db)?);
        if old.len == 0 {
            return Ok(());
        }
        // Every bucket counts as deleted from (a WATCH on any missing key of the database
        // aborts, which is always safe), instead of a pass over every key.
        if let Some(s) = self.state.stamps.get_mut(usize::from(db)) {
            s.clear();
            s.resize(super::STAMP_BUCKETS, stamp);
        }
        // Freeing millions of keys takes a while: not on the apply path.
        std::thread::spawn(move || drop(old));
        Ok(())
    }

    fn digest(&mut self) -> Result<u64> {
        Ok(self.state.digest())
    }

    fn recorded_reply(&mut self, id: &RequestId) -> Result<Option<Option<Reply>>> {
        Ok(self.state.replies.get(id))
    }

    fn record_reply(&mut self, id: &RequestId, now: u64, reply: Option<Reply>) -> Result<()> {
        self.state.replies.insert(*id, now, reply);
        Ok(())
    }

    fn forget_replies(&mut self, before: u64) -> Result<()> {
        self.state.replies.forget_before(before);
        Ok(())
    }

    fn acl_users(&mut self) -> Result<Users> {
        Ok(self.state.acl.clone())
    }

    fn delete_stamp(&mut self, db: u8, key: &[u8]) -> Result<u64> {
        Ok(self.state.delete_stamp(db, key))
    }

    fn put_acl_users(&mut self, users: &Users) -> Result<()> {
        self.state.acl = users.clone();
        Ok(())
    }

    fn settings(&mut self) -> Result<ReplicatedSettings> {
        Ok(self.state.settings.clone())
    }

    fn put_settings(&mut self, settings: &ReplicatedSettings) -> Result<()> {
        self.state.settings = settings.clone();
        Ok(())
    }
}

const _: () = assert!(DATABASES as usize <= 256);
