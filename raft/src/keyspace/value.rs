//! Stored values and their on-disk encoding.
//!
//! A key's value and its absolute expiry time live together, so a read is one lookup. The
//! encoding starts with a format byte so that later versions can migrate old records.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The encoding written in front of every stored value: format 1 is the value alone; format 2
/// (written since) is the write version (u64, little-endian) and then the value.
const VALUE_FORMAT_V1: u8 = 1;
const VALUE_FORMAT: u8 = 2;

/// A Redis value with its expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredValue {
    /// Absolute expiry time, unix milliseconds.
    pub expire_at_ms: Option<u64>,
    pub data: Data,
    /// The log index of the entry that last wrote the key (0 for values written before
    /// versions were kept). WATCH records it, so any write between WATCH and EXEC aborts the
    /// transaction, even one that puts back the same value. Set by the store on every put.
    #[serde(skip)]
    pub version: u64,
}

/// The Redis data types. New types are appended (the variant index is on disk).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Data {
    Str(Bytes),
    /// Field → value, in field order (deterministic). Never empty: an emptied hash is deleted.
    Hash(BTreeMap<Bytes, Bytes>),
    /// Never empty: an emptied set is deleted.
    Set(BTreeSet<Bytes>),
    /// Head first. Never empty: an emptied list is deleted.
    List(VecDeque<Bytes>),
    /// Sorted set: member → score, in member order (deterministic); the score order is derived
    /// when needed. Scores are never NaN. Never empty: an emptied sorted set is deleted.
    ZSet(BTreeMap<Bytes, f64>),
}

impl Data {
    /// A collection with no elements: Redis never keeps one, the key is deleted instead.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Data::Str(_) => false,
            Data::Hash(m) => m.is_empty(),
            Data::Set(s) => s.is_empty(),
            Data::List(l) => l.is_empty(),
            Data::ZSet(z) => z.is_empty(),
        }
    }

    /// The name TYPE answers with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Data::Str(_) => "string",
            Data::Hash(_) => "hash",
            Data::Set(_) => "set",
            Data::List(_) => "list",
            Data::ZSet(_) => "zset",
        }
    }
}

impl StoredValue {
    /// A value to store; the store stamps its version when it writes it.
    pub fn new(data: Data, expire_at_ms: Option<u64>) -> StoredValue {
        StoredValue {
            expire_at_ms,
            data,
            version: 0,
        }
    }

    pub fn string(bytes: impl Into<Bytes>, expire_at_ms: Option<u64>) -> StoredValue {
        StoredValue {
            expire_at_ms,
            data: Data::Str(bytes.into()),
            version: 0,
        }
    }

    /// Whether the value is logically gone at `now_ms`. As in Redis, a key expires once the
    /// clock has passed its expiry time (`now > when`).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms.is_some_and(|at| now_ms > at)
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = vec![VALUE_FORMAT];
        out.extend_from_slice(&self.version.to_le_bytes());
        bincode::serialize_into(&mut out, self)
            .map_err(|e| Error::Storage(format!("encoding a value: {e}")))?;
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<StoredValue> {
        let undecodable = |e: bincode::Error| Error::Corrupt {
            path: "keyspace".into(),
            what: format!("undecodable value: {e}"),
        };
        match bytes.split_first() {
            Some((&VALUE_FORMAT_V1, rest)) => bincode::deserialize(rest).map_err(undecodable),
            Some((&VALUE_FORMAT, rest)) if rest.len() >= 8 => {
                let (version, rest) = rest.split_at(8);
                let mut value: StoredValue = bincode::deserialize(rest).map_err(undecodable)?;
                value.version = u64::from_le_bytes(version.try_into().unwrap_or_default());
                Ok(value)
            }
            Some((v, _)) => Err(Error::Corrupt {
                path: "keyspace".into(),
                what: format!("unknown value format {v}"),
            }),
            None => Err(Error::Corrupt {
                path: "keyspace".into(),
                what: "empty value record".into(),
            }),
        }
    }
}

/// The position of a key in scan order: a stable 64-bit FNV-1a hash. Keys are stored in hash
/// order so a SCAN cursor (the next hash to visit) stays valid while keys come and go, which
/// gives Redis's guarantee: a key present for the whole iteration is returned.
pub fn scan_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Bytes counted per key beyond its key and encoded value: the data-tree key prefix, the
/// expiry-index entry and the counters' share, rounded up.
pub const KEY_OVERHEAD_BYTES: u64 = 48;

/// One key's share of the dataset size (`used_memory`, MEMORY USAGE): its bytes, its encoded
/// value's bytes and [`KEY_OVERHEAD_BYTES`]. A function of the replicated data only, so every
/// replica computes the same size, and maxmemory means the same on every node.
pub fn entry_bytes(key: &[u8], encoded: &[u8]) -> u64 {
    (key.len() as u64)
        .saturating_add(encoded.len() as u64)
        .saturating_add(KEY_OVERHEAD_BYTES)
}

/// One key's contribution to the keyspace digest: a 64-bit hash of (db, key, encoded value).
/// The digest of a keyspace is the wrapping sum of its keys' contributions, so it is
/// independent of order and maintained in O(1) per write (add the new, subtract the old).
/// Part of the check protocol between replicas: must never change.
pub fn entry_digest(db: u8, key: &[u8], encoded: &[u8]) -> u64 {
    let mut h = scan_hash(&[db]);
    for part in [key, encoded] {
        h ^= part.len() as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        for b in part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // splitmix64's finalizer: spreads FNV's weak high bits over the whole word.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_round_trips() -> Result<()> {
        let v = StoredValue::string("abc", Some(42));
        assert_eq!(StoredValue::decode(&v.encode()?)?, v);
        Ok(())
    }

    #[test]
    fn collections_round_trip() -> Result<()> {
        let hash = StoredValue {
            expire_at_ms: None,
            data: Data::Hash(BTreeMap::from([(Bytes::from("f"), Bytes::from("v"))])),
            version: 0,
        };
        assert_eq!(StoredValue::decode(&hash.encode()?)?, hash);
        let set = StoredValue {
            expire_at_ms: Some(7),
            data: Data::Set(BTreeSet::from([Bytes::from("a"), Bytes::from("b")])),
            version: 0,
        };
        assert_eq!(StoredValue::decode(&set.encode()?)?, set);
        let list = StoredValue {
            expire_at_ms: None,
            data: Data::List(VecDeque::from([Bytes::from("b"), Bytes::from("a")])),
            version: 0,
        };
        assert_eq!(StoredValue::decode(&list.encode()?)?, list);
        let zset = StoredValue {
            expire_at_ms: None,
            data: Data::ZSet(BTreeMap::from([(Bytes::from("m"), -1.5)])),
            version: 0,
        };
        assert_eq!(StoredValue::decode(&zset.encode()?)?, zset);
        // Sorted sets are variant 4, after lists (after the format byte and the version).
        assert_eq!(zset.encode()?[9..14], [0, 4, 0, 0, 0]);
        // Format 1 (no version) still decodes.
        let mut v1 = vec![VALUE_FORMAT_V1];
        v1.extend_from_slice(
            &bincode::serialize(&zset).map_err(|e| Error::Storage(e.to_string()))?,
        );
        assert_eq!(StoredValue::decode(&v1)?, zset);
        let versioned = StoredValue {
            version: 77,
            ..zset
        };
        assert_eq!(StoredValue::decode(&versioned.encode()?)?.version, 77);
        // Lists are variant 3, after strings, hashes and sets.
        assert_eq!(list.encode()?[9..14], [0, 3, 0, 0, 0]);
        // The variant index is on disk: strings stay variant 0.
        let s = StoredValue::string("x", None).encode()?;
        assert_eq!(
            s,
            [
                VALUE_FORMAT,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0, // version
                0, // no expiry
                0,
                0,
                0,
                0, // Data::Str
                1,
                0,
                0,
                0,
                0,
                0,
                0,
                0, // length
                b'x'
            ]
        );
        Ok(())
    }

    #[test]
    fn garbage_is_corruption_not_panic() {
        assert!(StoredValue::decode(&[]).is_err());
        assert!(StoredValue::decode(&[9, 1, 2]).is_err());
        assert!(StoredValue::decode(&[VALUE_FORMAT, 0xff]).is_err());
    }

    #[test]
    fn scan_hash_is_stable() {
        // Part of the on-disk layout: must never change.
        assert_eq!(scan_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(scan_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
