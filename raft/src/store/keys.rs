//! The keys of snapshot records: the layout of the sled tree that held the state machine
//! before it moved to memory, kept as the snapshot format so that snapshots and backups of
//! either version load in the other.
//!
//! - `d` db hash(8, BE) key → encoded [`StoredValue`](crate::keyspace::StoredValue).
//! - `r` log time(8, BE) origin(8, BE) seq(8, BE) → a group of at-most-once reply records
//!   made at that log time (bincode `Vec<(RequestId, Option<Reply>)>`), named by its first id.
//! - `a` → the ACL users (bincode `cairn_protocol::acl::Users`), once any was set.
//! - `o` → the replicated settings (bincode `types::ReplicatedSettings`), once any was set.
//! - `s` → the script cache (bincode map SHA-1 hex → source), once a script was loaded.
//! - `f` → the FUNCTION libraries (bincode map name → library), once one was loaded.
//! - `k` db bucket(2, BE) → the log index of the latest delete of a key in that bucket (u64,
//!   LE), for WATCH on missing keys.

use crate::keyspace::scan_hash;

pub const DATA: u8 = b'd';
pub const REPLY: u8 = b'r';
pub const ACL: u8 = b'a';
pub const SETTINGS: u8 = b'o';
pub const DELETE_STAMP: u8 = b'k';
pub const SCRIPTS: u8 = b's';
pub const LIBRARIES: u8 = b'f';

/// Length of the `d` db hash prefix in front of a user key.
const DATA_PREFIX_LEN: usize = 10;

pub fn data_key(db: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(DATA_PREFIX_LEN + key.len());
    k.push(DATA);
    k.push(db);
    k.extend_from_slice(&scan_hash(key).to_be_bytes());
    k.extend_from_slice(key);
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

/// The key of a delete-stamp bucket.
pub fn delete_stamp_key_of_bucket(db: u8, bucket: u16) -> [u8; 4] {
    let [hi, lo] = bucket.to_be_bytes();
    [DELETE_STAMP, db, hi, lo]
}

/// The database and bucket of a delete-stamp key.
pub fn split_delete_stamp_key(full: &[u8]) -> Option<(u8, u16)> {
    match full {
        [DELETE_STAMP, db, hi, lo] => Some((*db, u16::from_be_bytes([*hi, *lo]))),
        _ => None,
    }
}

/// A stored delete stamp (absent: no delete since the data dir began).
pub fn decode_stamp(v: Option<&[u8]>) -> u64 {
    v.and_then(|v| v.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

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
