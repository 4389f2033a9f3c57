//! The keyspace: Redis values and the semantics of every command on them.
//!
//! Pure logic over two small storage traits, so it can be tested without sled and so the
//! engine behind it could be swapped. Writes go through [`apply`], which is deterministic: it
//! reads no clock (time is the op's stamp), no randomness and no local configuration. Reads go
//! through [`read`], which hides keys that are logically expired at the reader's clock.

mod acl;
mod bits;
pub mod dump;
mod exec;
mod hash;
mod keys;
mod lcs;
mod list;
pub mod once;
mod random;
mod read;
mod scan;
mod set;
mod sort;
mod strings;
#[cfg(test)]
mod testing;
pub mod value;
mod zalgebra;
mod zset;

pub use exec::{needs_whole_db, watch_digest};
pub use read::read;
pub use value::{entry_bytes, entry_digest, scan_hash, Data, StoredValue, KEY_OVERHEAD_BYTES};

use bytes::Bytes;
use cairn_protocol::acl::Users;
use cairn_protocol::Reply;

use crate::error::Result;
use crate::types::{OpKind, ReplicatedSettings, RequestId, WriteOp};

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
    /// The keyspace digest as of the writes so far (see `store::digest`).
    fn digest(&mut self) -> Result<u64>;
    /// The reply recorded for a write applied under `id` (`Some(None)`: applied, reply not
    /// kept), or `None` if no write with that id is remembered.
    fn recorded_reply(&mut self, id: &RequestId) -> Result<Option<Option<Reply>>>;
    /// Remembers that the write `id` was applied at log time `now` with `reply`.
    fn record_reply(&mut self, id: &RequestId, now: u64, reply: Option<Reply>) -> Result<()>;
    /// Forgets every record made before log time `before`. Log time only, so every replica
    /// forgets the same records at the same entry, however its batches were cut.
    fn forget_replies(&mut self, before: u64) -> Result<()>;
    /// The ACL users as last changed through the log (empty: never changed, so Redis's
    /// default user alone).
    fn acl_users(&mut self) -> Result<Users>;
    /// The log index of the latest delete (or flush) of a key like `key` in `db` (keys share
    /// buckets), 0 if none was recorded.
    fn delete_stamp(&mut self, db: u8, key: &[u8]) -> Result<u64>;
    fn put_acl_users(&mut self, users: &Users) -> Result<()>;
    /// The settings changed through the log (CONFIG SET of replicated names).
    fn settings(&mut self) -> Result<ReplicatedSettings>;
    fn put_settings(&mut self, settings: &ReplicatedSettings) -> Result<()>;
}

/// Read-only access to the committed keyspace.
pub trait View {
    /// The log index of the latest delete of a key like `key` in `db` (see `Txn::delete_stamp`).
    fn delete_stamp(&self, db: u8, key: &[u8]) -> Result<u64>;
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
    txn.forget_replies(op.now_ms.saturating_sub(once::REPLY_KEPT_MS))?;
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
        // The store turns this into `[index, digest]`: only it knows the entry's index.
        OpKind::Check => Ok(Reply::Integer(txn.digest()? as i64)),
        OpKind::Exec { db, items, watched } => exec::apply(txn, *db, items, watched, now),
        OpKind::Once { id, op } => once::apply(txn, id, op, now),
        OpKind::Acl(op) => acl::apply(txn, op),
        OpKind::Config(pairs) => {
            let mut settings = txn.settings()?;
            for (name, value) in pairs {
                settings.insert(name.clone(), value.clone());
            }
            txn.put_settings(&settings)?;
            Ok(Reply::ok())
        }
        OpKind::Evict { db, keys } => {
            let mut removed = 0;
            for key in keys {
                if txn.delete(*db, key)? {
                    removed += 1;
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
            W::Copy {
                key,
                destination,
                db,
                replace,
            } => self.copy(key, destination, *db, *replace),
            W::Move { key, db } => self.move_to(key, *db),
            W::HSet { key, pairs, hmset } => self.hset(key, pairs, *hmset),
            W::HSetNx { key, field, value } => self.hsetnx(key, field, value),
            W::HDel { key, fields } => self.hdel(key, fields),
            W::HIncrBy { key, field, delta } => self.hincrby(key, field, *delta),
            W::HIncrByFloat { key, field, delta } => self.hincrbyfloat(key, field, *delta),
            W::SAdd { key, members } => self.sadd(key, members),
            W::SRem { key, members } => self.srem(key, members),
            W::SPop { key, count } => self.spop(key, *count),
            W::SMove {
                source,
                destination,
                member,
            } => self.smove(source, destination, member),
            W::SStore {
                op,
                destination,
                keys,
            } => self.sstore(*op, destination, keys),
            W::LPush {
                key,
                end,
                elements,
                existing,
            } => self.lpush(key, *end, elements, *existing),
            W::LPop { key, end, count } => self.lpop(key, *end, *count),
            W::LSet {
                key,
                index,
                element,
            } => self.lset(key, *index, element),
            W::LInsert {
                key,
                before,
                pivot,
                element,
            } => self.linsert(key, *before, pivot, element),
            W::LRem {
                key,
                count,
                element,
            } => self.lrem(key, *count, element),
            W::LTrim { key, start, stop } => self.ltrim(key, *start, *stop),
            W::LMove {
                source,
                destination,
                from,
                to,
            } => self.lmove(source, destination, *from, *to),
            W::ZAdd {
                key,
                pairs,
                condition,
                compare,
                ch,
                incr,
            } => self.zadd(key, pairs, *condition, *compare, *ch, *incr),
            W::ZRem { key, members } => self.zrem(key, members),
            W::ZIncrBy { key, delta, member } => self.zincrby(key, *delta, member),
            W::ZPop { key, max, count } => self.zpop(key, *max, *count),
            W::ZRangeStore {
                destination,
                key,
                range,
            } => self.zrangestore(destination, key, range),
            W::ZRemRange { key, by } => self.zremrange(key, by),
            W::ZStore {
                op,
                destination,
                keys,
                weights,
                aggregate,
            } => self.zstore(*op, destination, keys, weights, *aggregate),
            W::LMPop { keys, end, count } => self.lmpop(keys, *end, *count),
            W::ZMPop { keys, max, count } => self.zmpop(keys, *max, *count),
            W::SetBit { key, offset, value } => self.setbit(key, *offset, *value),
            W::BitOp {
                op,
                destination,
                keys,
            } => self.bitop(*op, destination, keys),
            W::Restore {
                key,
                expiry,
                payload,
                replace,
                hint: _,
            } => self.restore(key, *expiry, payload, *replace),
            W::SortStore { spec, destination } => self.sort_store(spec, destination),
        }
    }

    /// Stores a collection value, or deletes the key when the collection is empty.
    pub(crate) fn put_or_delete(&mut self, key: &[u8], value: StoredValue) -> Result<()> {
        if value.data.is_empty_collection() {
            self.txn.delete(self.db, key)?;
        } else {
            self.txn.put(self.db, key, value)?;
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cairn_protocol::long_double::LongDouble;
    use cairn_protocol::WriteCommand;

    use super::*;

    /// The keyspace in memory, for testing [`apply`] alone; the second map holds the
    /// at-most-once records: id → (log time, reply).
    #[derive(Default)]
    pub(crate) struct MemTxn(
        pub(crate) BTreeMap<(u8, Vec<u8>), StoredValue>,
        pub(crate) BTreeMap<(u64, u64), (u64, Option<Reply>)>,
        pub(crate) Users,
        /// The version stamped on values written now (the "entry index").
        pub(crate) u64,
        /// The stamp of the latest delete (any database).
        pub(crate) u64,
        pub(crate) ReplicatedSettings,
    );

    impl Txn for MemTxn {
        fn get(&mut self, db: u8, key: &[u8]) -> Result<Option<StoredValue>> {
            Ok(self.0.get(&(db, key.to_vec())).cloned())
        }
        fn put(&mut self, db: u8, key: &[u8], mut value: StoredValue) -> Result<()> {
            value.version = self.3;
            self.0.insert((db, key.to_vec()), value);
            Ok(())
        }
        fn delete(&mut self, db: u8, key: &[u8]) -> Result<bool> {
            let existed = self.0.remove(&(db, key.to_vec())).is_some();
            if existed {
                self.4 = self.3;
            }
            Ok(existed)
        }
        fn clear(&mut self, db: u8) -> Result<()> {
            if self.0.keys().any(|(d, _)| *d == db) {
                self.4 = self.3;
            }
            self.0.retain(|(d, _), _| *d != db);
            Ok(())
        }
        /// Computed from scratch: the reference the incremental store digest must equal.
        fn digest(&mut self) -> Result<u64> {
            self.0.iter().try_fold(0u64, |acc, ((db, k), v)| {
                Ok(acc.wrapping_add(entry_digest(*db, k, &v.encode()?)))
            })
        }
        fn recorded_reply(&mut self, id: &RequestId) -> Result<Option<Option<Reply>>> {
            Ok(self.1.get(&(id.origin, id.seq)).map(|(_, r)| r.clone()))
        }
        fn record_reply(&mut self, id: &RequestId, now: u64, reply: Option<Reply>) -> Result<()> {
            self.1.insert((id.origin, id.seq), (now, reply));
            Ok(())
        }
        fn forget_replies(&mut self, before: u64) -> Result<()> {
            self.1.retain(|_, (at, _)| *at >= before);
            Ok(())
        }
        fn acl_users(&mut self) -> Result<Users> {
            Ok(self.2.clone())
        }
        fn delete_stamp(&mut self, _db: u8, _key: &[u8]) -> Result<u64> {
            Ok(self.4)
        }
        fn put_acl_users(&mut self, users: &Users) -> Result<()> {
            self.2 = users.clone();
            Ok(())
        }
        fn settings(&mut self) -> Result<ReplicatedSettings> {
            Ok(self.5.clone())
        }
        fn put_settings(&mut self, settings: &ReplicatedSettings) -> Result<()> {
            self.5 = settings.clone();
            Ok(())
        }
    }

    pub(crate) fn run(txn: &mut MemTxn, cmd: WriteCommand) -> Reply {
        txn.3 += 1;
        let op = WriteOp {
            now_ms: 1_000,
            ops: vec![OpKind::Command { db: 0, cmd }],
        };
        match apply(txn, &op) {
            Ok(mut replies) if replies.len() == 1 => replies.remove(0),
            other => panic!("apply failed: {other:?}"),
        }
    }

    /// INCRBYFLOAT as the parser logs it.
    fn incrbyfloat(txn: &mut MemTxn, delta: f64) -> Reply {
        run(
            txn,
            WriteCommand::IncrByFloat {
                key: Bytes::from_static(b"k"),
                delta: LongDouble::from_f64_text(delta),
            },
        )
    }

    fn set(txn: &mut MemTxn, value: &'static str) {
        let reply = run(
            txn,
            WriteCommand::Set {
                key: Bytes::from_static(b"k"),
                value: Bytes::from_static(value.as_bytes()),
                condition: None,
                get: false,
                ttl: cairn_protocol::command::SetTtl::Clear,
            },
        );
        assert_eq!(reply, Reply::ok());
    }

    #[test]
    fn incrbyfloat_computes_in_long_double_like_redis() {
        let mut txn = MemTxn::default();
        set(&mut txn, "0.1");
        // f64 would say 0.30000000000000004; Redis on x86-64 says 0.3.
        assert_eq!(incrbyfloat(&mut txn, 0.2), Reply::bulk("0.3"));
        assert_eq!(incrbyfloat(&mut txn, 0.3), Reply::bulk("0.6"));
        set(&mut txn, "9223372036854775807");
        assert_eq!(
            incrbyfloat(&mut txn, 1.0),
            Reply::bulk("9223372036854775808")
        );
        set(&mut txn, "1.23456789012345678901234");
        assert_eq!(
            incrbyfloat(&mut txn, 0.0),
            Reply::bulk("1.23456789012345679")
        );
        // Past f64's range but within long double's.
        set(&mut txn, "1e308");
        let Reply::Bulk(sum) = incrbyfloat(&mut txn, 1e308) else {
            panic!("not a bulk reply")
        };
        assert!(sum.starts_with(b"19999999999999999999337175931169129132112"));
        set(&mut txn, "1e5000");
        assert_eq!(
            incrbyfloat(&mut txn, 1.0),
            Reply::error("ERR value is not a valid float")
        );
        // An increment with more digits than an f64 holds.
        set(&mut txn, "5.3e+09");
        let delta = LongDouble::parse(b"1740816960299813499").unwrap_or(LongDouble::ZERO);
        let key = Bytes::from_static(b"k");
        let exact = WriteCommand::IncrByFloat { key, delta };
        assert_eq!(run(&mut txn, exact), Reply::bulk("1740816965599813499"));
        set(&mut txn, "0.1");
        assert_eq!(incrbyfloat(&mut txn, 0.2), Reply::bulk("0.3"));
        set(&mut txn, "inf");
        assert_eq!(
            incrbyfloat(&mut txn, 1.0),
            Reply::error("ERR increment would produce NaN or Infinity")
        );
    }
}
