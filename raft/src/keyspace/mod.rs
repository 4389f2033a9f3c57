//! The keyspace: the replicated state in memory ([`state`]), Redis values in native
//! structures ([`value`]) and the semantics of every command on them.
//!
//! Writes go through [`apply`], which is deterministic: it reads no clock (time is the op's
//! stamp), no randomness and no local configuration, and changes values in place at the cost
//! Redis documents for each command. Reads go through [`read`], which hides keys that are
//! logically expired at the reader's clock.

mod acl;
mod bitfield;
mod bits;
pub mod dump;
mod exec;
mod geo;
mod hash;
pub mod hll;
mod keys;
mod lcs;
mod list;
pub mod notify;
pub mod once;
mod random;
mod read;
mod scan;
pub mod script;
mod set;
mod sort;
pub mod state;
pub mod stream;
mod strings;
#[cfg(test)]
mod testing;
pub mod value;
mod zalgebra;
mod zset;

pub use exec::{needs_whole_db, watch_digest};
pub use read::read;
pub use state::State;
pub use value::{entry_bytes, key_digest, scan_hash, Data, StoredValue, KEY_OVERHEAD_BYTES};

use std::sync::Arc;

use cairn_protocol::Reply;

use crate::error::Result;
use crate::types::{OpKind, WriteOp};

/// The number of logical databases, as in Redis.
pub const DATABASES: u8 = cairn_protocol::command::DATABASES;

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Applies one log entry's operations in order and returns their replies. `index` is the
/// entry's log index: the version of every value it writes. Redis errors (wrong type, not an
/// integer) are replies; `Err` is reserved for failures of the node itself.
/// The entry is taken by value: its commands become the command model's types again without a
/// copy (see [`crate::logged`]).
pub fn apply(state: &mut State, index: u64, op: WriteOp) -> Result<Vec<Reply>> {
    state
        .replies
        .forget_before(op.now_ms.saturating_sub(once::REPLY_KEPT_MS));
    state.scripts_in_entry = 0;
    // Read per entry: a CONFIG SET of the setting applies from the next entry on.
    state.notify.flags = state
        .settings
        .get(notify::SETTING)
        .and_then(|text| notify::parse_flags(text))
        .unwrap_or(0);
    let now = op.now_ms;
    op.ops
        .into_iter()
        .map(|kind| apply_one(state, index, kind, now))
        .collect()
}

fn apply_one(state: &mut State, index: u64, kind: OpKind, now: u64) -> Result<Reply> {
    state.notify.changes.clear();
    fn ctx(state: &mut State, db: u8, now: u64, stamp: u64) -> Ctx<'_> {
        Ctx {
            state,
            db,
            now,
            stamp,
        }
    }
    match kind {
        OpKind::Command { db, cmd } => {
            if db >= DATABASES {
                return Ok(Reply::from(
                    cairn_protocol::errors::RedisError::DbIndexOutOfRange,
                ));
            }
            ctx(state, db, now, index).command(&cmd.into())
        }
        OpKind::ExpireKeys { db, keys } => {
            let mut c = ctx(state, db, now, index);
            let mut removed = 0;
            for key in &keys {
                if c.get(key).is_some_and(|v| v.is_expired(now)) {
                    c.expire_now(key);
                    removed += 1;
                }
            }
            Ok(Reply::Integer(removed))
        }
        // The store turns this into `[index, digest]`.
        OpKind::Check => Ok(Reply::Integer(state.digest() as i64)),
        OpKind::Exec { db, items, watched } => {
            exec::apply(&mut ctx(state, db, now, index), items, &watched)
        }
        OpKind::Once { id, op } => once::apply(state, index, &id, *op, now),
        OpKind::Tracked { origin, op } => {
            state.notify.origin = Some(origin);
            let reply = apply_one(state, index, *op, now);
            state.notify.origin = None;
            reply
        }
        OpKind::Acl(op) => acl::apply(state, &op),
        OpKind::Config(pairs) => {
            for (name, value) in pairs {
                state.settings.insert(name, value);
            }
            Ok(Reply::ok())
        }
        OpKind::Evict { db, keys } => {
            let mut c = ctx(state, db, now, index);
            let removed = keys
                .iter()
                .filter(|key| {
                    let gone = c.delete(key);
                    if gone {
                        c.state.notify.raise(notify::EVICTED, "evicted", db, key);
                    }
                    gone
                })
                .count();
            Ok(Reply::Integer(removed as i64))
        }
    }
}

/// The state of one command's application: the keyspace, the database it runs in, the
/// entry's time and log index.
pub(crate) struct Ctx<'a> {
    pub state: &'a mut State,
    pub db: u8,
    pub now: u64,
    /// The entry's log index: the version of every value written now.
    pub stamp: u64,
}

impl Ctx<'_> {
    /// Runs one write command and raises its keyspace events.
    fn command(&mut self, cmd: &cairn_protocol::WriteCommand) -> Result<Reply> {
        if !self.state.notify.on() {
            return self.run(cmd);
        }
        // Commands nest (scripts, transactions): each raises events for its own changes.
        let mark = self.state.notify.changes.len();
        let reply = self.run(cmd)?;
        let changes = self.state.notify.changes.split_off(mark);
        notify::command_events(&mut self.state.notify, self.db, cmd, &changes);
        Ok(reply)
    }

    fn run(&mut self, cmd: &cairn_protocol::WriteCommand) -> Result<Reply> {
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
                self.clear(self.db);
                Ok(Reply::ok())
            }
            W::FlushAll => {
                for db in 0..DATABASES {
                    self.clear(db);
                }
                Ok(Reply::ok())
            }
            W::SwapDb { a, b } => {
                self.state.notify.flushed |= self.state.notify.track;
                self.state.swap_dbs(*a, *b, self.stamp);
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
            W::PfAdd { key, elements } => self.pfadd(key, elements),
            W::PfMerge {
                destination,
                sources,
            } => self.pfmerge(destination, sources),
            W::PfDebugToDense { key } => self.pfdebug_todense(key),
            W::GeoAdd {
                key,
                condition,
                ch,
                points,
            } => self.geoadd(key, *condition, *ch, points),
            W::GeoSearchStore {
                destination,
                key,
                query,
                store_dist,
                ..
            } => self.geosearchstore(destination, key, query, *store_dist),
            W::BitField { key, ops } => self.bitfield(key, ops),
            W::XAdd {
                key,
                nomkstream,
                trim,
                id,
                fields,
            } => self.xadd(key, *nomkstream, trim.as_ref(), *id, fields),
            W::XDel { key, ids } => self.xdel(key, ids),
            W::XTrim { key, trim } => self.xtrim(key, trim),
            W::XSetId {
                key,
                last,
                entries_added,
                max_deleted,
            } => self.xsetid(key, *last, *entries_added, *max_deleted),
            W::XGroup(op) => self.xgroup(op),
            W::XReadGroup(r) => self.xreadgroup(r),
            W::XAck { key, group, ids } => self.xack(key, group, ids),
            W::XClaim(c) => self.xclaim(c),
            W::XAutoClaim(c) => self.xautoclaim(c),
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
            W::Eval {
                script,
                keys,
                args,
                read_only,
            } => self.eval(script, keys, args, *read_only),
            W::ScriptLoad { body } => self.script_load(body),
            W::ScriptFlush => Ok(self.script_flush()),
            W::FunctionLoad { code, replace } => self.function_load(code, *replace),
            W::FunctionDelete { library } => Ok(self.function_delete(library)),
            W::FunctionFlush => Ok(self.function_flush()),
            W::FunctionRestore { payload, policy } => Ok(self.function_restore(payload, *policy)),
            W::FCall {
                function,
                keys,
                args,
                read_only,
            } => self.fcall(function, keys, args, *read_only),
        }
    }

    /// Empties database `db`. Every delete-stamp bucket counts as deleted from (a WATCH on any
    /// missing key of the database aborts, which is always safe), instead of a pass over
    /// every key; freeing millions of keys happens on another thread, not on the apply path.
    fn clear(&mut self, db: u8) {
        self.state.notify.flushed |= self.state.notify.track;
        let old = std::mem::take(self.db_mut(db));
        if old.len == 0 {
            return;
        }
        self.state.stamp_all(db, self.stamp);
        free_elsewhere(old);
    }

    fn db_mut(&mut self, db: u8) -> &mut state::Db {
        // `db` is checked against DATABASES before any command runs.
        let i = usize::from(db).min(self.state.dbs.len().saturating_sub(1));
        &mut self.state.dbs[i]
    }

    /// The stored value of `key` in this database, expired or not.
    pub fn get(&self, key: &[u8]) -> Option<&StoredValue> {
        self.state.get(self.db, key)
    }

    /// The live value of `key` (a cheap clone: collections are shared): an expired value is
    /// deleted here (deterministically, at the op's time) and reported as absent.
    pub fn live(&mut self, key: &[u8]) -> Result<Option<StoredValue>> {
        Ok(self.live_ref(key).cloned())
    }

    /// [`Ctx::live`] without the clone.
    pub fn live_ref(&mut self, key: &[u8]) -> Option<&StoredValue> {
        if self.get(key).is_some_and(|v| v.is_expired(self.now)) {
            self.expire_now(key);
            return None;
        }
        self.get(key)
    }

    /// Deletes an expired key: not a change by the command that found it, but an "expired"
    /// event of its own.
    pub(crate) fn expire_now(&mut self, key: &[u8]) {
        let db = self.db;
        if self.db_mut(db).remove(key).is_some() {
            self.state.stamp_delete(db, key, self.stamp);
            self.state.notify.touch(key);
            self.state.notify.raise(notify::EXPIRED, "expired", db, key);
        }
    }

    /// Stores `value` at `key` in database `db`, stamped with this entry's version.
    pub fn put_in(&mut self, db: u8, key: &[u8], value: StoredValue) {
        self.store(db, key, value, true);
    }

    /// Stores `value`; a key that `may_be_new` and was absent counts as created ("new").
    fn store(&mut self, db: u8, key: &[u8], mut value: StoredValue, may_be_new: bool) {
        value.version = self.stamp;
        self.state.notify.touch(key);
        if self.state.notify.on() {
            if may_be_new && self.state.get(db, key).is_none() {
                self.state.notify.changed(db, key, notify::Change::Created);
            }
            self.state.notify.changed(db, key, notify::Change::Written);
        }
        self.db_mut(db).put(key, value);
    }

    /// Stores `value` at `key` in this database.
    pub fn put(&mut self, key: &[u8], value: StoredValue) {
        self.put_in(self.db, key, value);
    }

    /// Deletes `key` from database `db`; whether it was there.
    pub fn delete_in(&mut self, db: u8, key: &[u8]) -> bool {
        let removed = self.db_mut(db).remove(key).is_some();
        if removed {
            self.state.notify.touch(key);
            self.state.stamp_delete(db, key, self.stamp);
            self.state.notify.changed(db, key, notify::Change::Deleted);
        }
        removed
    }

    /// Deletes `key` from this database; whether it was there.
    pub fn delete(&mut self, key: &[u8]) -> bool {
        self.delete_in(self.db, key)
    }

    /// Stores a collection value, or deletes the key when the collection is empty.
    pub(crate) fn put_or_delete(&mut self, key: &[u8], value: StoredValue) {
        if value.data.is_empty_collection() {
            if self.delete(key) {
                let db = self.db;
                self.state.notify.changed(db, key, notify::Change::Emptied);
            }
        } else {
            self.put(key, value);
        }
    }

    /// Changes the live value at `key` in place: `f` gets it (`None` for a missing key, in
    /// which case `create` makes the value to start from, or nothing happens) and what it
    /// leaves is stored, or deleted if it is an emptied collection. A value of another type
    /// than `kind` is not touched: the WRONGTYPE reply. The value is taken out of the
    /// keyspace while `f` runs, so a collection held by nothing else (no snapshot) is
    /// changed without a copy.
    pub(crate) fn modify<T>(
        &mut self,
        key: &[u8],
        kind: Kind,
        create: bool,
        f: impl FnOnce(&mut StoredValue) -> T,
    ) -> std::result::Result<Option<T>, Reply> {
        let db = self.db;
        let (mut value, existed) = match self.live_ref(key) {
            Some(v) if !kind.matches(&v.data) => return Err(Reply::error(WRONGTYPE)),
            Some(_) => match self.db_mut(db).remove(key) {
                Some(v) => (v, true),
                None => return Ok(None),
            },
            None if create => (StoredValue::new(kind.empty(), None), false),
            None => return Ok(None),
        };
        let out = f(&mut value);
        if !value.data.is_empty_collection() {
            self.store(db, key, value, !existed);
        } else if existed {
            // Taken out above: what remains of the deletion is its stamp and its change.
            self.state.stamp_delete(db, key, self.stamp);
            self.state.notify.touch(key);
            self.state.notify.changed(db, key, notify::Change::Emptied);
        }
        Ok(Some(out))
    }
}

/// Drops `value` on a thread of its own (freeing a large keyspace or collection takes a
/// while), or here if no thread can be started.
pub(crate) fn free_elsewhere<T: Send + 'static>(value: T) {
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(value)));
    let theirs = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("cairn-free".into())
        .spawn(move || drop(theirs.lock().map(|mut v| v.take())));
    if spawned.is_err() {
        drop(slot.lock().map(|mut v| v.take()));
    }
}

/// A Redis type, as commands expect it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Hash,
    Set,
    List,
    ZSet,
    Stream,
}

impl Kind {
    fn matches(self, data: &Data) -> bool {
        matches!(
            (self, data),
            (Kind::Str, Data::Str(_))
                | (Kind::Hash, Data::Hash(_))
                | (Kind::Set, Data::Set(_))
                | (Kind::List, Data::List(_))
                | (Kind::ZSet, Data::ZSet(_))
                | (Kind::Stream, Data::Stream(_))
        )
    }

    fn empty(self) -> Data {
        match self {
            Kind::Str => Data::string(bytes::Bytes::new()),
            Kind::Hash => Data::Hash(Arc::default()),
            Kind::Set => Data::Set(Arc::default()),
            Kind::List => Data::List(Arc::default()),
            Kind::ZSet => Data::ZSet(Arc::default()),
            Kind::Stream => Data::Stream(Arc::default()),
        }
    }
}

/// The collection inside a value known to be of its kind (see [`Ctx::modify`]), mutable;
/// copied first only if a snapshot still shares it.
pub(crate) fn hash_mut(v: &mut StoredValue) -> Option<&mut value::HashValue> {
    match &mut v.data {
        Data::Hash(h) => Some(Arc::make_mut(h)),
        _ => None,
    }
}

pub(crate) fn set_mut(v: &mut StoredValue) -> Option<&mut value::SetValue> {
    match &mut v.data {
        Data::Set(s) => Some(Arc::make_mut(s)),
        _ => None,
    }
}

pub(crate) fn list_mut(v: &mut StoredValue) -> Option<&mut value::ListValue> {
    match &mut v.data {
        Data::List(l) => Some(Arc::make_mut(l)),
        _ => None,
    }
}

pub(crate) fn zset_mut(v: &mut StoredValue) -> Option<&mut value::ZSetValue> {
    match &mut v.data {
        Data::ZSet(z) => Some(Arc::make_mut(z)),
        _ => None,
    }
}

pub(crate) fn str_mut(v: &mut StoredValue) -> Option<&mut value::Str> {
    match &mut v.data {
        Data::Str(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use cairn_protocol::long_double::LongDouble;
    use cairn_protocol::WriteCommand;

    use super::*;

    /// Applies one write at time 1000 as the next log entry.
    pub(crate) fn run(state: &mut State, cmd: WriteCommand) -> Reply {
        let index = state.applied.map_or(1, |l| l.index + 1);
        state.applied = Some(crate::types::LogId::new(
            openraft::CommittedLeaderId::new(1, 1),
            index,
        ));
        let op = WriteOp {
            now_ms: 1_000,
            ops: vec![OpKind::command(0, cmd)],
        };
        match apply(state, index, op) {
            Ok(mut replies) if replies.len() == 1 => replies.remove(0),
            other => panic!("apply failed: {other:?}"),
        }
    }

    /// INCRBYFLOAT as the parser logs it.
    fn incrbyfloat(txn: &mut State, delta: f64) -> Reply {
        run(
            txn,
            WriteCommand::IncrByFloat {
                key: Bytes::from_static(b"k"),
                delta: LongDouble::from_f64_text(delta),
            },
        )
    }

    fn set(txn: &mut State, value: &'static str) {
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
        let mut txn = State::default();
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
