//! Stored values: native structures per Redis type (see the submodules), their encoding in
//! snapshots and DUMP payloads, and what a key counts for in the digest and the dataset size.
//!
//! A key's value and its absolute expiry time live together, so a read is one lookup.
//! Collections are behind an `Arc`: a snapshot shares them, and a write copies one only if a
//! snapshot still holds it (`Arc::make_mut`). Every value keeps its content digest and size
//! up to date as it changes, so a write accounts for a key in O(1) whatever its size.

pub mod digest;
pub mod hash;
pub mod list;
pub mod stream;
pub mod string;
pub mod zset;

use std::num::NonZeroU64;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use hash::{HashValue, SetValue};
pub use list::ListValue;
pub use stream::StreamValue;
pub use string::Str;
pub use zset::ZSetValue;

use crate::error::{Error, Result};

/// The encoding written in front of every stored value: format 1 is the value alone; format 2
/// (written since) is the write version (u64, little-endian) and then the value.
const VALUE_FORMAT_V1: u8 = 1;
const VALUE_FORMAT: u8 = 2;

/// A Redis value with its expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredValue {
    /// Absolute expiry time, unix milliseconds (never 0, so it takes 8 bytes; encoded as an
    /// `Option<u64>`). See [`StoredValue::expire_at_ms`].
    expire: Option<NonZeroU64>,
    pub data: Data,
    /// The log index of the entry that last wrote the key (0 for values written before
    /// versions were kept). WATCH records it, so any write between WATCH and EXEC aborts the
    /// transaction, even one that puts back the same value. Set by the keyspace on every
    /// write.
    #[serde(skip)]
    pub version: u64,
}

/// The Redis data types. New types are appended (the variant index is in snapshots), and
/// each encodes as its old `std` collection did (string bytes, a map, a sequence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Data {
    Str(Str),
    /// Never empty: an emptied hash is deleted.
    Hash(Arc<HashValue>),
    /// Never empty: an emptied set is deleted.
    Set(Arc<SetValue>),
    /// Head first. Never empty: an emptied list is deleted.
    List(Arc<ListValue>),
    /// Scores are never NaN. Never empty: an emptied sorted set is deleted.
    ZSet(Arc<ZSetValue>),
    /// May be empty: a stream stays when its last entry goes, as in Redis.
    Stream(Arc<StreamValue>),
}

impl Serialize for Str {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.bytes().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(Str::new(Bytes::deserialize(d)?))
    }
}

impl Data {
    /// A string value.
    pub fn string(bytes: impl Into<Bytes>) -> Data {
        Data::Str(Str::new(bytes.into()))
    }

    /// A collection with no elements: Redis never keeps one, the key is deleted instead.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Data::Str(_) => false,
            Data::Hash(m) => m.is_empty(),
            Data::Set(s) => s.is_empty(),
            Data::List(l) => l.is_empty(),
            Data::ZSet(z) => z.is_empty(),
            Data::Stream(_) => false,
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
            Data::Stream(_) => "stream",
        }
    }

    fn type_tag(&self) -> u64 {
        match self {
            Data::Str(_) => 1,
            Data::Hash(_) => 2,
            Data::Set(_) => 3,
            Data::List(_) => 4,
            Data::ZSet(_) => 5,
            Data::Stream(_) => 6,
        }
    }

    /// The digest of the value's content (see [`digest`]).
    pub fn content_digest(&self) -> u64 {
        match self {
            Data::Str(s) => s.digest(),
            Data::Hash(h) => h.digest(),
            Data::Set(s) => s.digest(),
            Data::List(l) => l.digest(),
            Data::ZSet(z) => z.digest(),
            Data::Stream(s) => s.digest(),
        }
    }

    /// The value's share of the dataset size: its bytes and a fixed overhead per element.
    pub fn mem_bytes(&self) -> u64 {
        match self {
            Data::Str(s) => s.len() as u64 + hash::ELEMENT_OVERHEAD,
            Data::Hash(h) => h.bytes(),
            Data::Set(s) => s.bytes(),
            Data::List(l) => l.bytes(),
            Data::ZSet(z) => z.bytes(),
            Data::Stream(s) => s.bytes(),
        }
    }
}

impl StoredValue {
    /// A value to store; the store stamps its version when it writes it.
    pub fn new(data: Data, expire_at_ms: Option<u64>) -> StoredValue {
        StoredValue {
            expire: expire_at_ms.and_then(NonZeroU64::new),
            data,
            version: 0,
        }
    }

    pub fn string(bytes: impl Into<Bytes>, expire_at_ms: Option<u64>) -> StoredValue {
        StoredValue::new(Data::string(bytes), expire_at_ms)
    }

    /// Absolute expiry time, unix milliseconds.
    pub fn expire_at_ms(&self) -> Option<u64> {
        self.expire.map(NonZeroU64::get)
    }

    /// Sets (or clears) the expiry; a deadline of 0 (1970) is no deadline.
    pub fn set_expire_at_ms(&mut self, at: Option<u64>) {
        self.expire = at.and_then(NonZeroU64::new);
    }

    /// Whether the value is logically gone at `now_ms`. As in Redis, a key expires once the
    /// clock has passed its expiry time (`now > when`).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms().is_some_and(|at| now_ms > at)
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

/// Bytes counted per key beyond its key and its value's bytes: the index entries and the
/// key's bookkeeping, rounded.
pub const KEY_OVERHEAD_BYTES: u64 = 48;

/// One key's share of the dataset size (`used_memory`, MEMORY USAGE): its bytes, its value's
/// ([`Data::mem_bytes`]) and [`KEY_OVERHEAD_BYTES`]. A function of the replicated data only,
/// so every replica computes the same size, and maxmemory means the same on every node.
pub fn entry_bytes(key: &[u8], value: &StoredValue) -> u64 {
    (key.len() as u64)
        .saturating_add(value.data.mem_bytes())
        .saturating_add(KEY_OVERHEAD_BYTES)
}

/// A key with its database, name, type, expiry and content digest, mixed: what WATCH
/// records of a key (with its version). It was also each key's share of the check digest
/// until SWAPDB (digest scheme 2, [`db_key_digest`]); WATCH keeps it, because the digests a
/// node records at WATCH are compared where EXEC applies, on every replica alike, so it must
/// never change.
pub fn key_digest(db: u8, key: &[u8], value: &StoredValue) -> u64 {
    entry_digest(digest::hash(u64::from(db), key), value)
}

/// A key's share of its database's running digest: [`key_digest`] without the database
/// number, so that SWAPDB swaps two databases' digests with them (the state's digest places
/// each database's by its number, see `State::digest`).
pub fn db_key_digest(key: &[u8], value: &StoredValue) -> u64 {
    entry_digest(digest::hash(DB_FREE_SEED, key), value)
}

/// The seed of [`db_key_digest`]'s key hash: not a database number.
const DB_FREE_SEED: u64 = 0x6462_2d66_7265_6521;

fn entry_digest(key_hash: u64, value: &StoredValue) -> u64 {
    let mut h = key_hash;
    h = digest::mix(h ^ value.data.type_tag());
    h = digest::mix(h ^ value.expire_at_ms().unwrap_or(0));
    digest::mix(h.wrapping_add(value.data.content_digest()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, VecDeque};

    use super::*;

    /// The value layout of the versions that kept `std` collections: snapshots and DUMP
    /// payloads they wrote must decode as the same values.
    #[derive(Serialize)]
    struct OldValue {
        expire_at_ms: Option<u64>,
        data: OldData,
    }

    #[derive(Serialize)]
    enum OldData {
        Str(Bytes),
        Hash(BTreeMap<Bytes, Bytes>),
        Set(BTreeSet<Bytes>),
        List(VecDeque<Bytes>),
        ZSet(BTreeMap<Bytes, f64>),
    }

    fn old_encoding(v: &OldValue) -> Vec<u8> {
        let mut out = vec![VALUE_FORMAT];
        out.extend_from_slice(&7u64.to_le_bytes());
        bincode::serialize_into(&mut out, v).unwrap();
        out
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn values_round_trip() -> Result<()> {
        let v = StoredValue::string("abc", Some(42));
        assert_eq!(StoredValue::decode(&v.encode()?)?, v);
        let h: HashValue = [(b("f"), b("v")), (b("g"), b("w"))].into_iter().collect();
        let z: ZSetValue = [(b("m"), -1.5), (b("n"), 2.0)].into_iter().collect();
        for data in [
            Data::Hash(Arc::new(h)),
            Data::Set(Arc::new([b("a"), b("b")].into_iter().collect())),
            Data::List(Arc::new([b("b"), b("a")].into_iter().collect())),
            Data::ZSet(Arc::new(z)),
        ] {
            let v = StoredValue::new(data, Some(7));
            let back = StoredValue::decode(&v.encode()?)?;
            assert_eq!(back, v);
            assert_eq!(back.data.content_digest(), v.data.content_digest());
            assert_eq!(back.data.mem_bytes(), v.data.mem_bytes());
        }
        Ok(())
    }

    #[test]
    fn values_written_with_std_collections_still_decode() -> Result<()> {
        let cases = [
            (OldData::Str(b("x")), Data::string("x")),
            (
                OldData::Hash(BTreeMap::from([(b("f"), b("v"))])),
                Data::Hash(Arc::new([(b("f"), b("v"))].into_iter().collect())),
            ),
            (
                OldData::Set(BTreeSet::from([b("a"), b("b")])),
                Data::Set(Arc::new([b("a"), b("b")].into_iter().collect())),
            ),
            (
                OldData::List(VecDeque::from([b("b"), b("a")])),
                Data::List(Arc::new([b("b"), b("a")].into_iter().collect())),
            ),
            (
                OldData::ZSet(BTreeMap::from([(b("m"), -1.5)])),
                Data::ZSet(Arc::new([(b("m"), -1.5)].into_iter().collect())),
            ),
        ];
        for (old, new) in cases {
            let bytes = old_encoding(&OldValue {
                expire_at_ms: Some(9),
                data: old,
            });
            let v = StoredValue::decode(&bytes)?;
            assert_eq!(v.data, new);
            assert_eq!((v.expire_at_ms(), v.version), (Some(9), 7));
            // And the new encoding is byte for byte the old one.
            assert_eq!(v.encode()?, bytes);
        }
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
        // Part of the snapshot layout and of SCAN cursors: must never change.
        assert_eq!(scan_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(scan_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn key_digests_see_every_part_of_a_key() {
        let v = StoredValue::string("abc", None);
        let base = key_digest(0, b"k", &v);
        assert_ne!(base, key_digest(1, b"k", &v));
        assert_ne!(base, key_digest(0, b"j", &v));
        assert_ne!(base, key_digest(0, b"k", &StoredValue::string("abd", None)));
        assert_ne!(
            base,
            key_digest(0, b"k", &StoredValue::string("abc", Some(1)))
        );
        let list = StoredValue::new(Data::List(Arc::new([b("abc")].into_iter().collect())), None);
        assert_ne!(base, key_digest(0, b"k", &list));
    }
}
