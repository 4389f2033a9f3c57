//! Lists: a ring buffer (`VecDeque`), so pushes and pops at either end are O(1) and an index
//! is O(1) (Redis's quicklist is O(n) there). The content digest is the polynomial
//! `Σ h(e_i) · B^i mod P` (see [`super::digest`]): a push or pop at either end updates it in
//! O(1), a set at an index in O(log n); edits in the middle (LINSERT, LREM), which are O(n)
//! anyway, recompute it.

use std::collections::VecDeque;

use bytes::Bytes;
use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::digest::{self, seed, B, B_INV};
use super::hash::ELEMENT_OVERHEAD;

#[derive(Clone, Debug)]
pub struct ListValue {
    items: VecDeque<Bytes>,
    poly: u64,
    /// B^len mod P.
    pow: u64,
    bytes: u64,
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue {
            items: VecDeque::new(),
            poly: 0,
            pow: 1,
            bytes: 0,
        }
    }
}

impl PartialEq for ListValue {
    fn eq(&self, other: &ListValue) -> bool {
        self.items == other.items
    }
}

fn h(e: &[u8]) -> u64 {
    digest::hash_mod(seed::LIST, e)
}

fn share(e: &[u8]) -> u64 {
    e.len() as u64 + ELEMENT_OVERHEAD
}

impl ListValue {
    pub fn new() -> ListValue {
        ListValue::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn digest(&self) -> u64 {
        digest::mix(self.poly ^ self.items.len() as u64)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn get(&self, i: usize) -> Option<&Bytes> {
        self.items.get(i)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Bytes> + ExactSizeIterator {
        self.items.iter()
    }

    /// Elements `start..end` (clamped).
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &Bytes> {
        let end = end.min(self.items.len());
        self.items.range(start.min(end)..end)
    }

    pub fn push_front(&mut self, e: Bytes) {
        self.poly = digest::add(h(&e), digest::mul(B, self.poly));
        self.pow = digest::mul(self.pow, B);
        self.bytes += share(&e);
        self.items.push_front(e);
    }

    pub fn push_back(&mut self, e: Bytes) {
        self.poly = digest::add(self.poly, digest::mul(h(&e), self.pow));
        self.pow = digest::mul(self.pow, B);
        self.bytes += share(&e);
        self.items.push_back(e);
    }

    pub fn pop_front(&mut self) -> Option<Bytes> {
        let e = self.items.pop_front()?;
        self.poly = digest::mul(digest::sub(self.poly, h(&e)), B_INV);
        self.pow = digest::mul(self.pow, B_INV);
        self.bytes = self.bytes.saturating_sub(share(&e));
        Some(e)
    }

    pub fn pop_back(&mut self) -> Option<Bytes> {
        let e = self.items.pop_back()?;
        self.pow = digest::mul(self.pow, B_INV);
        self.poly = digest::sub(self.poly, digest::mul(h(&e), self.pow));
        self.bytes = self.bytes.saturating_sub(share(&e));
        Some(e)
    }

    /// Replaces the element at `i`; the old one.
    pub fn set(&mut self, i: usize, e: Bytes) -> Option<Bytes> {
        let slot = self.items.get_mut(i)?;
        let old = std::mem::replace(slot, e.clone());
        let weight = digest::pow(B, i as u64);
        let delta = digest::sub(h(&e), h(&old));
        self.poly = digest::add(self.poly, digest::mul(delta, weight));
        self.bytes = self.bytes.saturating_sub(share(&old)) + share(&e);
        Some(old)
    }

    /// Inserts at `i` (O(n)).
    pub fn insert(&mut self, i: usize, e: Bytes) {
        self.items.insert(i.min(self.items.len()), e);
        self.rebuild();
    }

    /// Keeps the elements for which `keep` says so (O(n)); how many were removed.
    pub fn retain(&mut self, mut keep: impl FnMut(usize, &Bytes) -> bool) -> usize {
        let before = self.items.len();
        let mut i = 0;
        self.items.retain(|e| {
            let k = keep(i, e);
            i += 1;
            k
        });
        let removed = before - self.items.len();
        if removed > 0 {
            self.rebuild();
        }
        removed
    }

    /// Keeps elements `start..end` only (LTRIM), in O(removed).
    pub fn trim(&mut self, start: usize, end: usize) {
        let end = end.min(self.items.len());
        let start = start.min(end);
        while self.items.len() > end {
            self.pop_back();
        }
        for _ in 0..start {
            self.pop_front();
        }
    }

    fn rebuild(&mut self) {
        let mut poly = 0;
        let mut pow = 1;
        let mut bytes = 0;
        for e in &self.items {
            poly = digest::add(poly, digest::mul(h(e), pow));
            pow = digest::mul(pow, B);
            bytes += share(e);
        }
        self.poly = poly;
        self.pow = pow;
        self.bytes = bytes;
    }
}

impl FromIterator<Bytes> for ListValue {
    fn from_iter<I: IntoIterator<Item = Bytes>>(iter: I) -> Self {
        let mut l = ListValue::new();
        for e in iter {
            l.push_back(e);
        }
        l
    }
}

/// Serialized as a sequence, head first, as `VecDeque<Bytes>` was.
impl Serialize for ListValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.items.len()))?;
        for e in &self.items {
            seq.serialize_element(e)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ListValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ListValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence of elements")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<ListValue, A::Error> {
                let mut l = ListValue::new();
                while let Some(e) = a.next_element::<Bytes>()? {
                    l.push_back(e);
                }
                Ok(l)
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn fresh(l: &ListValue) -> ListValue {
        l.iter().cloned().collect()
    }

    #[test]
    fn the_digest_depends_on_the_elements_and_their_order_only() {
        let mut l = ListValue::new();
        for (i, s) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            if i % 2 == 0 {
                l.push_back(b(s));
            } else {
                l.push_front(b(s));
            }
        }
        assert_eq!(l.digest(), fresh(&l).digest());
        l.pop_front();
        l.pop_back();
        l.set(1, b("x"));
        assert_eq!(l.digest(), fresh(&l).digest());
        assert_eq!(l.bytes(), fresh(&l).bytes());
        l.insert(1, b("y"));
        l.retain(|_, e| e.as_ref() != b"x");
        l.trim(1, 2);
        assert_eq!(l.digest(), fresh(&l).digest());
        let mut other = fresh(&l);
        other.push_back(b("z"));
        other.pop_front();
        assert_ne!(other.digest(), l.digest());
        let ab: ListValue = [b("a"), b("b")].into_iter().collect();
        let ba: ListValue = [b("b"), b("a")].into_iter().collect();
        assert_ne!(ab.digest(), ba.digest());
    }
}
