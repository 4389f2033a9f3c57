//! The byte layout of the state-machine tree. One sled tree holds the whole state machine, so
//! one atomic batch can change data, the expiry index, counters and the applied log id.
//!
//! - `d` db hash(8, BE) key → encoded [`StoredValue`](crate::keyspace::StoredValue); keys sort
//!   by scan hash so a SCAN cursor is a position that survives inserts and deletes.
//! - `x` db expire_at_ms(8, BE) key → empty: the expiry index, oldest deadline first.
//! - `c` db → number of keys in db (u64, BE).
//! - `e` db → number of keys with a TTL in db (u64, BE).
//! - `u` db → bytes of db's keys and values with their per-key overhead (u64, BE): the
//!   deterministic used memory (`keyspace::entry_bytes`).
//! - `g` db → digest of db: wrapping sum of `entry_digest` of its keys (u64, BE).
//! - `m` name → metadata (bincode): last applied log id, membership, current snapshot.
//! - `r` log time(8, BE) origin(8, BE) seq(8, BE) → a group of at-most-once reply records
//!   made by one apply batch at that log time (bincode `Vec<(RequestId, Option<Reply>)>`),
//!   named by its first id; oldest first (see `store::replies`).
//! - `a` → the ACL users (bincode `cairn_protocol::acl::Users`), once any was set.
//! - `o` → the replicated settings (bincode `types::ReplicatedSettings`), once any was set.
//! - `k` db bucket(2, BE) → the log index of the latest delete of a key in that bucket (u64,
//!   LE), for WATCH on missing keys.

use crate::keyspace::scan_hash;

pub const DATA: u8 = b'd';
pub const EXPIRY: u8 = b'x';
pub const COUNT: u8 = b'c';
pub const EXPIRES_COUNT: u8 = b'e';
pub const DIGEST: u8 = b'g';
pub const BYTES: u8 = b'u';
pub const META: u8 = b'm';
pub const REPLY: u8 = b'r';
pub const ACL: u8 = b'a';
/// `o` → the settings changed through the log (CONFIG SET of replicated names).
pub const SETTINGS: u8 = b'o';
/// `k` db bucket(2) → the log index of the latest delete of a key in that bucket (u64, LE).
pub const DELETE_STAMP: u8 = b'k';
/// The prefixes of the keys a snapshot carries: data, at-most-once records, ACL users, delete
/// stamps, replicated settings.
pub const IN_SNAPSHOT: [u8; 5] = [DATA, REPLY, ACL, DELETE_STAMP, SETTINGS];

/// Length of the `d` db hash prefix in front of a user key.
pub const DATA_PREFIX_LEN: usize = 10;

pub fn data_key(db: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(DATA_PREFIX_LEN + key.len());
    k.push(DATA);
    k.push(db);
    k.extend_from_slice(&scan_hash(key).to_be_bytes());
    k.extend_from_slice(key);
    k
}

/// The start of db's data at scan position `hash`.
pub fn data_position(db: u8, hash: u64) -> Vec<u8> {
    let mut k = vec![DATA, db];
    k.extend_from_slice(&hash.to_be_bytes());
    k
}

/// The user key and its scan hash from a data key, if it is one.
pub fn split_data_key(full: &[u8]) -> Option<(u64, &[u8])> {
    if full.len() < DATA_PREFIX_LEN || full[0] != DATA {
        return None;
    }
    let hash = u64::from_be_bytes(full[2..DATA_PREFIX_LEN].try_into().ok()?);
    Some((hash, &full[DATA_PREFIX_LEN..]))
}

pub fn expiry_key(db: u8, at_ms: u64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(10 + key.len());
    k.push(EXPIRY);
    k.push(db);
    k.extend_from_slice(&at_ms.to_be_bytes());
    k.extend_from_slice(key);
    k
}

/// Where the index of the latest delete of a key like `key` is kept: WATCH on a missing key
/// compares it, so a key created and deleted again between WATCH and EXEC aborts the
/// transaction. Keys share 4,096 buckets per database (the top 12 bits of their scan hash):
/// a delete of another key of the bucket aborts too, which is safe, and rare.
pub fn delete_stamp_key(db: u8, key: &[u8]) -> [u8; 4] {
    let bucket = (scan_hash(key) >> 52) as u16;
    let [hi, lo] = bucket.to_be_bytes();
    [DELETE_STAMP, db, hi, lo]
}

/// A stored delete stamp (absent: no delete since the data dir began).
pub fn decode_stamp(v: Option<&[u8]>) -> u64 {
    v.and_then(|v| v.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

/// The deadline and user key from an expiry-index key.
pub fn split_expiry_key(full: &[u8]) -> Option<(u64, &[u8])> {
    if full.len() < 10 || full[0] != EXPIRY {
        return None;
    }
    let at = u64::from_be_bytes(full[2..10].try_into().ok()?);
    Some((at, &full[10..]))
}

/// The per-database counters kept beside the data.
#[derive(Debug, Clone, Copy)]
pub enum Counter {
    /// Keys stored (DBSIZE, INFO keyspace `keys=`).
    Keys = 0,
    /// Keys with a TTL (INFO keyspace `expires=`).
    Expires = 1,
    /// The dataset bytes of the database (INFO memory `used_memory`, maxmemory).
    Bytes = 2,
    /// The database's digest (wrapping sum, not a count).
    Digest = 3,
}

impl Counter {
    /// The counters that count (everything but the digest), in their index order.
    pub const COUNTS: [Counter; 3] = [Counter::Keys, Counter::Expires, Counter::Bytes];
}

pub fn counter_key(counter: Counter, db: u8) -> [u8; 2] {
    match counter {
        Counter::Keys => [COUNT, db],
        Counter::Expires => [EXPIRES_COUNT, db],
        Counter::Bytes => [BYTES, db],
        Counter::Digest => [DIGEST, db],
    }
}

pub fn meta_key(name: &str) -> Vec<u8> {
    let mut k = vec![META];
    k.extend_from_slice(name.as_bytes());
    k
}

pub const META_APPLIED: &str = "applied";
pub const META_MEMBERSHIP: &str = "membership";
pub const META_SNAPSHOT: &str = "snapshot";
/// Set while a received snapshot is being loaded; a node that finds it at start finishes the load.
pub const META_INSTALLING: &str = "installing";
/// The last consistency checks this replica applied: `Vec<(log index, digest)>`.
pub const META_CHECKS: &str = "checks";

/// The key of a group of reply records made at log time `at_ms`, named by its first id.
pub fn reply_group_key(at_ms: u64, origin: u64, seq: u64) -> [u8; 25] {
    let mut k = [0u8; 25];
    k[0] = REPLY;
    k[1..9].copy_from_slice(&at_ms.to_be_bytes());
    k[9..17].copy_from_slice(&origin.to_be_bytes());
    k[17..25].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The log time of a reply-group key.
pub fn reply_group_time(full: &[u8]) -> Option<u64> {
    if full.len() != 25 || full[0] != REPLY {
        return None;
    }
    Some(u64::from_be_bytes(full[1..9].try_into().ok()?))
}

/// Whether a state-machine key belongs in a snapshot: the data, the at-most-once records and
/// the ACL users (the expiry index and the counters, used bytes included, are rebuilt from the
/// data when loading).
pub fn in_snapshot(full: &[u8]) -> bool {
    full.first().is_some_and(|p| IN_SNAPSHOT.contains(p))
}
