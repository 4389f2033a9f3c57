//! One database's keys, grouped by hash slot (CRC16, as Redis Cluster), each slot ordered by
//! the keys' scan hashes.
//!
//! The grouping gives three things at once:
//! - a SCAN cursor that is a position (slot, hash), valid while keys come and go, which is
//!   Redis's guarantee that a key present for the whole iteration is returned;
//! - the keys of one slot, listed and counted cheaply (CLUSTER GETKEYSINSLOT/COUNTKEYSINSLOT);
//! - cheap point-in-time copies: each slot is behind its own `Arc`, so a snapshot takes the
//!   16,384 pointers and a later write copies only the slot it changes (`Arc::make_mut`).
//!
//! Keys with equal scan hashes share a bucket, in insertion order. A key of up to 22 bytes
//! (most keys) is stored inline in its entry ([`Key`]), without an allocation of its own.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::keyspace::{scan_hash, StoredValue};

/// The longest key stored inline.
const INLINE_MAX: usize = 22;

/// A key as the keyspace holds it: 24 bytes, inline up to [`INLINE_MAX`] bytes.
#[derive(Clone)]
pub enum Key {
    Inline(u8, [u8; INLINE_MAX]),
    Heap(Box<[u8]>),
}

impl Key {
    pub fn new(key: &[u8]) -> Key {
        match u8::try_from(key.len()) {
            Ok(len) if key.len() <= INLINE_MAX => {
                let mut buf = [0u8; INLINE_MAX];
                buf[..key.len()].copy_from_slice(key);
                Key::Inline(len, buf)
            }
            _ => Key::Heap(Box::from(key)),
        }
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Key::Inline(len, buf) => &buf[..usize::from(*len).min(INLINE_MAX)],
            Key::Heap(b) => b,
        }
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

/// Hash slots per database, as in Redis Cluster.
pub const SLOTS: usize = cairn_protocol::slot::SLOTS as usize;
/// A SCAN cursor holds the slot in its top bits and the top of the scan hash below.
const HASH_BITS: u32 = 64 - 14;

/// Keys with the same scan hash.
#[derive(Clone, Debug)]
pub enum Bucket {
    One(Key, StoredValue),
    Many(Vec<(Key, StoredValue)>),
}

impl Bucket {
    fn get(&self, key: &[u8]) -> Option<&StoredValue> {
        match self {
            Bucket::One(k, v) => (&k[..] == key).then_some(v),
            Bucket::Many(items) => items.iter().find(|(k, _)| &k[..] == key).map(|(_, v)| v),
        }
    }

    fn get_mut(&mut self, key: &[u8]) -> Option<&mut StoredValue> {
        match self {
            Bucket::One(k, v) => (**k == *key).then_some(v),
            Bucket::Many(items) => items.iter_mut().find(|(k, _)| **k == *key).map(|(_, v)| v),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &StoredValue)> {
        let (one, many) = match self {
            Bucket::One(k, v) => (Some((k, v)), &[][..]),
            Bucket::Many(items) => (None, items.as_slice()),
        };
        one.into_iter().chain(many.iter().map(|(k, v)| (k, v)))
    }
}

/// The keys of one slot, by scan hash.
pub type Slot = BTreeMap<u64, Bucket>;

/// A database's slots; a slot with no keys is `None`.
#[derive(Clone, Default)]
pub struct Slots {
    slots: Vec<Option<Arc<Slot>>>,
}

/// Where a key lives: its slot and its scan hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub slot: usize,
    pub hash: u64,
}

impl Place {
    pub fn of(key: &[u8]) -> Place {
        Place {
            slot: usize::from(cairn_protocol::slot::key_slot(key)),
            hash: scan_hash(key),
        }
    }

    /// The SCAN cursor that resumes at this place.
    pub fn cursor(self) -> u64 {
        ((self.slot as u64) << HASH_BITS) | (self.hash >> (64 - HASH_BITS))
    }

    /// The first place a cursor stands for.
    pub fn from_cursor(cursor: u64) -> Place {
        Place {
            slot: (cursor >> HASH_BITS) as usize,
            hash: cursor << (64 - HASH_BITS),
        }
    }
}

impl Slots {
    fn slot(&self, slot: usize) -> Option<&Slot> {
        self.slots.get(slot)?.as_deref()
    }

    /// The slot to change, copied first if a snapshot still holds it.
    fn slot_mut(&mut self, slot: usize) -> &mut Slot {
        if self.slots.is_empty() {
            self.slots.resize(SLOTS, None);
        }
        Arc::make_mut(self.slots[slot].get_or_insert_with(Arc::default))
    }

    pub fn get(&self, key: &[u8]) -> Option<&StoredValue> {
        let p = Place::of(key);
        self.slot(p.slot)?.get(&p.hash)?.get(key)
    }

    /// Brings what looking up `keys` will read into the cache, in stages: first every key's
    /// slot-table entry, then every slot's header, then every key's tree node and entry.
    /// Each stage's loads depend only on the stage before, so a pipeline's sixteen misses
    /// at each level are in flight together rather than one key's four misses in a row
    /// (a profile of pipelined GETs found `get` waiting on exactly those four).
    pub fn warm(&self, keys: &[&[u8]]) {
        const GROUP: usize = 32;
        for group in keys.chunks(GROUP) {
            let mut places = [Place { slot: 0, hash: 0 }; GROUP];
            for (place, key) in places.iter_mut().zip(group) {
                *place = Place::of(key);
            }
            let places = &places[..group.len()];
            for p in places {
                std::hint::black_box(self.slots.get(p.slot).is_some_and(Option::is_some));
            }
            for p in places {
                std::hint::black_box(self.slot(p.slot).map(BTreeMap::len));
            }
            for (p, key) in places.iter().zip(group) {
                let found = self.slot(p.slot).and_then(|s| s.get(&p.hash)?.get(key));
                std::hint::black_box(found.map(StoredValue::expire_at_ms));
            }
        }
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut StoredValue> {
        let p = Place::of(key);
        self.slots.get(p.slot)?.as_ref()?.get(&p.hash)?.get(key)?;
        self.slot_mut(p.slot).get_mut(&p.hash)?.get_mut(key)
    }

    /// Stores `value` at `key`; the previous value, if any.
    pub fn insert(&mut self, key: &[u8], value: StoredValue) -> Option<StoredValue> {
        let p = Place::of(key);
        let slot = self.slot_mut(p.slot);
        match slot.get_mut(&p.hash) {
            None => {
                slot.insert(p.hash, Bucket::One(Key::new(key), value));
                None
            }
            Some(bucket) => {
                if let Some(v) = bucket.get_mut(key) {
                    return Some(std::mem::replace(v, value));
                }
                let taken = std::mem::replace(bucket, Bucket::Many(Vec::new()));
                let mut items = match taken {
                    Bucket::One(k, v) => vec![(k, v)],
                    Bucket::Many(items) => items,
                };
                items.push((Key::new(key), value));
                *bucket = Bucket::Many(items);
                None
            }
        }
    }

    /// Removes `key`; its value, if it was there.
    pub fn remove(&mut self, key: &[u8]) -> Option<StoredValue> {
        let p = Place::of(key);
        self.slot(p.slot)?.get(&p.hash)?.get(key)?;
        let slot = self.slot_mut(p.slot);
        let bucket = slot.get_mut(&p.hash)?;
        let removed = match bucket {
            Bucket::One(..) => match slot.remove(&p.hash) {
                Some(Bucket::One(_, v)) => Some(v),
                _ => None,
            },
            Bucket::Many(items) => {
                let at = items.iter().position(|(k, _)| **k == *key)?;
                let (_, v) = items.remove(at);
                if items.len() == 1 {
                    if let Some((k, v)) = items.pop() {
                        *bucket = Bucket::One(k, v);
                    }
                }
                Some(v)
            }
        };
        if slot.is_empty() {
            self.slots[p.slot] = None;
        }
        removed
    }

    /// Every key, in slot then scan-hash order.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &StoredValue)> {
        self.slots
            .iter()
            .flatten()
            .flat_map(|s| s.values())
            .flat_map(Bucket::iter)
    }

    /// The keys from place `from` on (wrapping around to the start once when `wrap`), in
    /// scan order.
    pub fn iter_from(
        &self,
        from: Place,
        wrap: bool,
    ) -> impl Iterator<Item = (Place, &Key, &StoredValue)> {
        let tail = self.places(from.slot, self.slots.len(), Some(from.hash));
        let head = self.places(0, if wrap { from.slot + 1 } else { 0 }, None);
        let stop = from;
        tail.chain(head.take_while(move |(p, _, _)| (p.slot, p.hash) < (stop.slot, stop.hash)))
    }

    fn places(
        &self,
        from: usize,
        to: usize,
        first_hash: Option<u64>,
    ) -> impl Iterator<Item = (Place, &Key, &StoredValue)> {
        let to = to.min(self.slots.len());
        let from = from.min(to);
        self.slots[from..to]
            .iter()
            .enumerate()
            .filter_map(move |(i, s)| Some((from + i, s.as_deref()?)))
            .flat_map(move |(slot, s)| {
                let start = if slot == from {
                    first_hash.unwrap_or(0)
                } else {
                    0
                };
                s.range(start..).flat_map(move |(hash, b)| {
                    b.iter()
                        .map(move |(k, v)| (Place { slot, hash: *hash }, k, v))
                })
            })
    }

    /// The keys of one slot.
    pub fn slot_keys(&self, slot: usize) -> impl Iterator<Item = (&Key, &StoredValue)> {
        self.slot(slot)
            .into_iter()
            .flat_map(|s| s.values())
            .flat_map(Bucket::iter)
    }

    /// How many keys one slot holds.
    pub fn slot_len(&self, slot: usize) -> usize {
        self.slot(slot)
            .map_or(0, |s| s.values().map(|b| b.iter().count()).sum())
    }

    /// A copy that shares every slot: O(slots), whatever the number of keys.
    pub fn share(&self) -> Slots {
        self.clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v(s: &str) -> StoredValue {
        StoredValue::string(bytes::Bytes::copy_from_slice(s.as_bytes()), None)
    }

    #[test]
    fn keys_are_inline_up_to_22_bytes() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        for len in [0, 1, 22, 23, 100] {
            let k: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let key = Key::new(&k);
            assert_eq!(&*key, &k[..]);
            assert_eq!(matches!(key, Key::Inline(..)), len <= 22);
        }
    }

    #[test]
    fn insert_get_remove() {
        let mut s = Slots::default();
        assert!(s.insert(b"a", v("1")).is_none());
        assert!(s.insert(b"{a}b", v("2")).is_none());
        assert_eq!(s.insert(b"a", v("3")), Some(v("1")));
        assert_eq!(s.get(b"a"), Some(&v("3")));
        assert_eq!(s.slot_len(Place::of(b"a").slot), 2);
        assert_eq!(s.remove(b"a"), Some(v("3")));
        assert_eq!(s.get(b"a"), None);
        assert_eq!(s.remove(b"{a}b"), Some(v("2")));
        assert_eq!(s.iter().count(), 0);
    }

    #[test]
    fn warming_changes_nothing_whatever_the_keys() {
        let empty = Slots::default();
        empty.warm(&[b"a", b"b"]);
        assert_eq!(empty.get(b"a"), None);
        let mut s = Slots::default();
        for i in 0..100 {
            s.insert(format!("k{i}").as_bytes(), v("x"));
        }
        // More keys than one group, present and absent, repeated, and none at all.
        let names: Vec<String> = (0..90).map(|i| format!("k{}", i * 2)).collect();
        let keys: Vec<&[u8]> = names.iter().map(|k| k.as_bytes()).collect();
        s.warm(&keys);
        s.warm(&[]);
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(s.get(key).is_some(), i * 2 < 100, "{i}");
        }
        assert_eq!(s.iter().count(), 100);
    }

    #[test]
    fn a_shared_copy_does_not_see_later_writes() {
        let mut s = Slots::default();
        for i in 0..1000 {
            s.insert(format!("k{i}").as_bytes(), v("old"));
        }
        let frozen = s.share();
        for i in 0..1000 {
            s.insert(format!("k{i}").as_bytes(), v("new"));
        }
        s.remove(b"k1");
        assert!(frozen.iter().all(|(_, val)| *val == v("old")));
        assert_eq!(frozen.iter().count(), 1000);
        assert_eq!(s.iter().count(), 999);
    }

    #[test]
    fn iteration_from_a_cursor_visits_every_key_once() {
        let mut s = Slots::default();
        for i in 0..500 {
            s.insert(format!("key:{i}").as_bytes(), v("x"));
        }
        let all: Vec<Place> = s
            .iter_from(Place::from_cursor(0), false)
            .map(|(p, _, _)| p)
            .collect();
        assert_eq!(all.len(), 500);
        let mid = all[250];
        let wrapped: Vec<Place> = s.iter_from(mid, true).map(|(p, _, _)| p).collect();
        assert_eq!(wrapped.len(), 500);
        assert_eq!(wrapped[0], mid);
        assert_eq!(Place::from_cursor(mid.cursor()).slot, mid.slot);
    }
}
