//! Hashes and sets: insertion-ordered hash maps (`indexmap`), so a field is read, written or
//! removed in O(1), a random field is picked in O(1), and the order (hence HGETALL's, SPOP's
//! and HSCAN's) is a function of the writes alone, the same on every replica and kept by
//! snapshots. Removal swaps the last element into the hole (O(1)).
//!
//! Each keeps its content digest (the wrapping sum of its elements') and its size in bytes.

use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::digest;

/// Internal hashing only (order never depends on it): random per process.
type State = foldhash::fast::RandomState;

/// Bytes counted per element beyond its own bytes (`used_memory`).
pub const ELEMENT_OVERHEAD: u64 = 16;

#[derive(Clone, Debug, Default)]
pub struct HashValue {
    map: IndexMap<Bytes, Bytes, State>,
    digest: u64,
    bytes: u64,
}

impl PartialEq for HashValue {
    fn eq(&self, other: &HashValue) -> bool {
        self.map.len() == other.map.len() && self.map.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl HashValue {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn digest(&self) -> u64 {
        self.digest
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn get(&self, field: &[u8]) -> Option<&Bytes> {
        self.map.get(field)
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.map.contains_key(field)
    }

    fn share(f: &[u8], v: &[u8]) -> u64 {
        (f.len() + v.len()) as u64 + ELEMENT_OVERHEAD
    }

    /// Sets a field; its old value, if any.
    pub fn insert(&mut self, field: Bytes, value: Bytes) -> Option<Bytes> {
        let d = digest::field(&field, &value);
        let share = Self::share(&field, &value);
        let old = match self.map.get_mut(&field) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                self.map.insert(field.clone(), value);
                None
            }
        };
        if let Some(o) = &old {
            self.digest = self.digest.wrapping_sub(digest::field(&field, o));
            self.bytes = self.bytes.saturating_sub(Self::share(&field, o));
        }
        self.digest = self.digest.wrapping_add(d);
        self.bytes = self.bytes.saturating_add(share);
        old
    }

    pub fn remove(&mut self, field: &[u8]) -> Option<Bytes> {
        let (f, v) = self.map.swap_remove_entry(field)?;
        self.digest = self.digest.wrapping_sub(digest::field(&f, &v));
        self.bytes = self.bytes.saturating_sub(Self::share(&f, &v));
        Some(v)
    }

    /// Fields and values in the hash's order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, &Bytes)> + ExactSizeIterator {
        self.map.iter()
    }

    pub fn get_index(&self, i: usize) -> Option<(&Bytes, &Bytes)> {
        self.map.get_index(i)
    }
}

impl FromIterator<(Bytes, Bytes)> for HashValue {
    fn from_iter<I: IntoIterator<Item = (Bytes, Bytes)>>(iter: I) -> Self {
        let mut h = HashValue::default();
        for (f, v) in iter {
            h.insert(f, v);
        }
        h
    }
}

/// Serialized as a map, as `BTreeMap<Bytes, Bytes>` was: old snapshots and dumps load.
impl Serialize for HashValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.map.len()))?;
        for (f, v) in &self.map {
            m.serialize_entry(f, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for HashValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HashValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of fields to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<HashValue, A::Error> {
                let mut h = HashValue::default();
                while let Some((f, v)) = a.next_entry::<Bytes, Bytes>()? {
                    h.insert(f, v);
                }
                Ok(h)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Clone, Debug, Default)]
pub struct SetValue {
    set: IndexSet<Bytes, State>,
    digest: u64,
    bytes: u64,
}

impl PartialEq for SetValue {
    fn eq(&self, other: &SetValue) -> bool {
        self.set.len() == other.set.len() && self.set.iter().all(|m| other.contains(m))
    }
}

impl SetValue {
    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn digest(&self) -> u64 {
        self.digest
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.set.contains(member)
    }

    /// Adds a member; whether it was new.
    pub fn insert(&mut self, member: Bytes) -> bool {
        let d = digest::hash(digest::seed::SET, &member);
        let share = member.len() as u64 + ELEMENT_OVERHEAD;
        if !self.set.insert(member) {
            return false;
        }
        self.digest = self.digest.wrapping_add(d);
        self.bytes = self.bytes.saturating_add(share);
        true
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.set.swap_take(member) {
            Some(m) => {
                self.forget(&m);
                true
            }
            None => false,
        }
    }

    fn forget(&mut self, m: &[u8]) {
        self.digest = self.digest.wrapping_sub(digest::hash(digest::seed::SET, m));
        self.bytes = self.bytes.saturating_sub(m.len() as u64 + ELEMENT_OVERHEAD);
    }

    /// Removes the member at position `i` (SPOP).
    pub fn remove_index(&mut self, i: usize) -> Option<Bytes> {
        let m = self.set.swap_remove_index(i)?;
        self.forget(&m);
        Some(m)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Bytes> + ExactSizeIterator {
        self.set.iter()
    }

    pub fn get_index(&self, i: usize) -> Option<&Bytes> {
        self.set.get_index(i)
    }
}

impl FromIterator<Bytes> for SetValue {
    fn from_iter<I: IntoIterator<Item = Bytes>>(iter: I) -> Self {
        let mut s = SetValue::default();
        for m in iter {
            s.insert(m);
        }
        s
    }
}

/// Serialized as a sequence, as `BTreeSet<Bytes>` was.
impl Serialize for SetValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.set.len()))?;
        for m in &self.set {
            seq.serialize_element(m)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for SetValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SetValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence of members")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<SetValue, A::Error> {
                let mut s = SetValue::default();
                while let Some(m) = a.next_element::<Bytes>()? {
                    s.insert(m);
                }
                Ok(s)
            }
        }
        d.deserialize_seq(V)
    }
}
