//! The keyspace: Redis values and the semantics of every command on them.
//!
//! Pure logic over two small storage traits, so it can be tested without sled and so the
//! engine behind it could be swapped. Writes go through [`apply`], which is deterministic: it
//! reads no clock (time is the op's stamp), no randomness and no local configuration. Reads go
//! through [`read`], which hides keys that are logically expired at the reader's clock.

mod keys;
mod read;
mod strings;
pub mod value;

pub use read::read;
pub use value::{scan_hash, Data, StoredValue};

use bytes::Bytes;
use cairn_protocol::Reply;

use crate::error::Result;
use crate::types::{OpKind, WriteOp};

/// The number of logical databases, as in Redis.
pub const DATABASES: u8 = 16;

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Read-write access to the keyspace during the application of one batch of log entries.
/// Changes become visible to readers atomically when the batch is committed by the store.
pub trait Txn {
    /// The stored value, expired or not.
    fn get(&mut self, db: u8, key: &[u8]) -> Result<Option<StoredValue>>;
    fn put(&mut self, db: u8, key: &[u8], value: StoredValue) -> Result<()>;
    /// Removes the key; whether it existed.
    fn delete(&mut self, db: u8, key: &[u8]) -> Result<bool>;
    /// Removes every key of `db`.
    fn clear(&mut self, db: u8) -> Result<()>;
}

/// Read-only access to the committed keyspace.
pub trait View {
    fn get(&self, db: u8, key: &[u8]) -> Result<Option<StoredValue>>;
    /// Up to about `count` keys in scan order starting at scan hash `cursor`, never stopping
    /// inside a group of keys with the same hash; and the cursor to continue from (0: done).
    fn scan(&self, db: u8, cursor: u64, count: usize) -> Result<(Vec<(Bytes, StoredValue)>, u64)>;
    /// Every key of `db` (KEYS).
    fn all(&self, db: u8) -> Result<Vec<(Bytes, StoredValue)>>;
    /// The number of keys stored in `db`, including expired ones not yet removed (as Redis).
    fn len(&self, db: u8) -> Result<u64>;
    fn is_empty(&self, db: u8) -> Result<bool> {
        Ok(self.len(db)? == 0)
    }
}

/// Applies one log entry's operations in order and returns their replies. Redis errors
/// (wrong type, not an integer) are replies; `Err` is reserved for storage failures.
pub fn apply(txn: &mut dyn Txn, op: &WriteOp) -> Result<Vec<Reply>> {
    op.ops
        .iter()
        .map(|kind| apply_one(txn, kind, op.now_ms))
        .collect()
}

fn apply_one(txn: &mut dyn Txn, kind: &OpKind, now: u64) -> Result<Reply> {
    match kind {
        OpKind::Command { db, cmd } => {
            if *db >= DATABASES {
                return Ok(Reply::error("ERR DB index is out of range"));
            }
            let mut ctx = Ctx { txn, db: *db, now };
            ctx.command(cmd)
        }
        OpKind::ExpireKeys { db, keys } => {
            let mut removed = 0;
            for key in keys {
                if let Some(v) = txn.get(*db, key)? {
                    if v.is_expired(now) {
                        txn.delete(*db, key)?;
                        removed += 1;
                    }
                }
            }
            Ok(Reply::Integer(removed))
        }
    }
}

/// The state of one command's application.
pub(crate) struct Ctx<'a> {
    pub txn: &'a mut dyn Txn,
    pub db: u8,
    pub now: u64,
}

impl Ctx<'_> {
    fn command(&mut self, cmd: &cairn_protocol::WriteCommand) -> Result<Reply> {
        use cairn_protocol::WriteCommand as W;
        match cmd {
            W::Set {
                key,
                value,
                condition,
                get,
                ttl,
            } => self.set(key, value, *condition, *get, *ttl),
            W::SetNx { key, value } => self.setnx(key, value),
            W::GetSet { key, value } => self.getset(key, value),
            W::GetDel { key } => self.getdel(key),
            W::GetEx { key, ttl } => self.getex(key, *ttl),
            W::MSet { pairs } => self.mset(pairs),
            W::MSetNx { pairs } => self.msetnx(pairs),
            W::Append { key, value } => self.append(key, value),
            W::SetRange { key, offset, value } => self.setrange(key, *offset, value),
            W::IncrBy { key, delta } => self.incrby(key, *delta),
            W::IncrByFloat { key, delta } => self.incrbyfloat(key, *delta),
            W::Del { keys } => self.del(keys),
            W::FlushDb => {
                self.txn.clear(self.db)?;
                Ok(Reply::ok())
            }
            W::FlushAll => {
                for db in 0..DATABASES {
                    self.txn.clear(db)?;
                }
                Ok(Reply::ok())
            }
            W::Expire { key, at, condition } => self.expire(key, *at, *condition),
            W::Persist { key } => self.persist(key),
            W::Rename { key, new_key, nx } => self.rename(key, new_key, *nx),
        }
    }

    /// The live value of `key`: an expired value is deleted here (deterministically, at the
    /// op's time) and reported as absent.
    pub fn live(&mut self, key: &[u8]) -> Result<Option<StoredValue>> {
        match self.txn.get(self.db, key)? {
            Some(v) if v.is_expired(self.now) => {
                self.txn.delete(self.db, key)?;
                Ok(None)
            }
            other => Ok(other),
        }
    }
}
