//! Sorted sets: member → score in an insertion-ordered hash map (O(1) ZSCORE, random picks,
//! ZSCAN), and the elements ordered by (score, member), as Redis orders them, in an
//! order-statistic tree (`indexset`: O(log n) insert, remove, rank and select), so ZADD is
//! O(log n) and a rank or score range O(log n + m), as Redis documents. Up to
//! [`SMALL_MAX`] elements the order is a sorted vector instead: the tree allocates a
//! 1,024-slot node even for one element.
//!
//! Scores are never NaN. -0 and 0 compare equal, as C's `<` does in Redis.

use std::cmp::Ordering;

use bytes::Bytes;
use indexmap::IndexMap;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::digest;
use super::hash::ELEMENT_OVERHEAD;

/// The most elements kept in a sorted vector (Redis's `zset-max-listpack-entries`).
pub const SMALL_MAX: usize = 128;

/// An element in score order.
#[derive(Clone, Debug)]
pub struct ZKey {
    pub score: f64,
    pub member: Bytes,
}

impl PartialEq for ZKey {
    fn eq(&self, other: &ZKey) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ZKey {}

impl PartialOrd for ZKey {
    fn partial_cmp(&self, other: &ZKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ZKey {
    fn cmp(&self, other: &ZKey) -> Ordering {
        self.score
            .partial_cmp(&other.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| self.member.cmp(&other.member))
    }
}

#[derive(Clone, Debug)]
enum Order {
    Small(Vec<ZKey>),
    Large(indexset::BTreeSet<ZKey>),
}

impl Order {
    fn len(&self) -> usize {
        match self {
            Order::Small(v) => v.len(),
            Order::Large(t) => t.len(),
        }
    }

    fn insert(&mut self, k: ZKey) {
        match self {
            Order::Small(v) => {
                let at = v.partition_point(|e| *e < k);
                v.insert(at, k);
                if v.len() > SMALL_MAX {
                    let mut t = indexset::BTreeSet::new();
                    for e in v.drain(..) {
                        t.insert(e);
                    }
                    *self = Order::Large(t);
                }
            }
            Order::Large(t) => {
                t.insert(k);
            }
        }
    }

    fn remove(&mut self, k: &ZKey) {
        match self {
            Order::Small(v) => {
                if let Ok(at) = v.binary_search(k) {
                    v.remove(at);
                }
            }
            Order::Large(t) => {
                t.remove(k);
            }
        }
    }

    /// How many elements sort before `k`.
    fn rank(&self, k: &ZKey) -> usize {
        match self {
            Order::Small(v) => v.partition_point(|e| e < k),
            Order::Large(t) => t.rank(k),
        }
    }

    fn get(&self, i: usize) -> Option<&ZKey> {
        match self {
            Order::Small(v) => v.get(i),
            Order::Large(t) => t.get_index(i),
        }
    }

    fn range(&self, start: usize, end: usize) -> Box<dyn DoubleEndedIterator<Item = &ZKey> + '_> {
        let end = end.min(self.len());
        let start = start.min(end);
        match self {
            Order::Small(v) => Box::new(v[start..end].iter()),
            Order::Large(t) => Box::new(t.range_idx(start..end)),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ZSetValue {
    members: IndexMap<Bytes, f64, foldhash::fast::RandomState>,
    order: Order,
    digest: u64,
    bytes: u64,
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue {
            members: IndexMap::default(),
            order: Order::Small(Vec::new()),
            digest: 0,
            bytes: 0,
        }
    }
}

impl PartialEq for ZSetValue {
    fn eq(&self, other: &ZSetValue) -> bool {
        self.members.len() == other.members.len()
            && self
                .members
                .iter()
                .all(|(m, s)| other.score(m).is_some_and(|o| o.to_bits() == s.to_bits()))
    }
}

/// The smallest member that sorts after `m`.
fn just_after(m: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(m.len() + 1);
    v.extend_from_slice(m);
    v.push(0);
    Bytes::from(v)
}

impl ZSetValue {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn digest(&self) -> u64 {
        self.digest
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.members.get(member).copied()
    }

    /// Sets a member's score (never NaN); the old score, if it was there.
    pub fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        let old = self.remove(&member);
        self.digest = self.digest.wrapping_add(digest::member(&member, score));
        self.bytes += member.len() as u64 + ELEMENT_OVERHEAD;
        self.order.insert(ZKey {
            score,
            member: member.clone(),
        });
        self.members.insert(member, score);
        old
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (m, score) = self.members.swap_remove_entry(member)?;
        self.order.remove(&ZKey {
            score,
            member: m.clone(),
        });
        self.digest = self.digest.wrapping_sub(digest::member(&m, score));
        self.bytes = self.bytes.saturating_sub(m.len() as u64 + ELEMENT_OVERHEAD);
        Some(score)
    }

    /// The member's 0-based position in score order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.order.rank(&ZKey {
            score,
            member: Bytes::copy_from_slice(member),
        }))
    }

    /// The element at a 0-based position in score order.
    pub fn by_rank(&self, i: usize) -> Option<(&Bytes, f64)> {
        self.order.get(i).map(|k| (&k.member, k.score))
    }

    /// Elements at positions `start..end` in score order.
    pub fn range(
        &self,
        start: usize,
        end: usize,
    ) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> + '_ {
        self.order.range(start, end).map(|k| (&k.member, k.score))
    }

    /// How many elements have a score below `score` (`inclusive`: at most `score`).
    pub fn count_below(&self, score: f64, inclusive: bool) -> usize {
        let bound = if inclusive {
            if score == f64::INFINITY {
                return self.len();
            }
            score.next_up()
        } else {
            score
        };
        self.order.rank(&ZKey {
            score: bound,
            member: Bytes::new(),
        })
    }

    /// How many elements, in score order, come before the first whose member is at least
    /// `member` (`inclusive`: more than it): the start or end of a lex range. A lex range is
    /// meant for a set whose scores are all equal, where this is a search of the tree; with
    /// mixed scores Redis still compares members only while it walks the score order, and so
    /// does the binary search over positions here (the same answer whenever the members
    /// happen to be in order, as in Redis's tests).
    pub fn count_lex_below(&self, member: &[u8], inclusive: bool) -> usize {
        let last = self.len().checked_sub(1).and_then(|i| self.by_rank(i));
        let (Some((_, score)), Some((_, last))) = (self.by_rank(0), last) else {
            return 0;
        };
        if score != last {
            let before = |i: usize| {
                self.order.get(i).is_some_and(|k| {
                    if inclusive {
                        k.member.as_ref() <= member
                    } else {
                        k.member.as_ref() < member
                    }
                })
            };
            let (mut lo, mut hi) = (0, self.len());
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if before(mid) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            return lo;
        }
        let member = if inclusive {
            just_after(member)
        } else {
            Bytes::copy_from_slice(member)
        };
        self.order.rank(&ZKey { score, member })
    }

    /// Members and scores in insertion order (ZSCAN, random picks).
    pub fn members(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> + ExactSizeIterator {
        self.members.iter().map(|(m, s)| (m, *s))
    }

    pub fn member_at(&self, i: usize) -> Option<(&Bytes, f64)> {
        self.members.get_index(i).map(|(m, s)| (m, *s))
    }
}

impl FromIterator<(Bytes, f64)> for ZSetValue {
    fn from_iter<I: IntoIterator<Item = (Bytes, f64)>>(iter: I) -> Self {
        let mut z = ZSetValue::default();
        for (m, s) in iter {
            z.insert(m, s);
        }
        z
    }
}

/// Serialized as a map of member to score, as `BTreeMap<Bytes, f64>` was.
impl Serialize for ZSetValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.members.len()))?;
        for (member, score) in &self.members {
            m.serialize_entry(member, score)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for ZSetValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ZSetValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of members to scores")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<ZSetValue, A::Error> {
                let mut z = ZSetValue::default();
                while let Some((m, s)) = a.next_entry::<Bytes, f64>()? {
                    if s.is_nan() {
                        return Err(serde::de::Error::custom("a NaN score"));
                    }
                    z.insert(m, s);
                }
                Ok(z)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn ranks_and_ranges_across_the_small_to_large_switch() {
        let mut z = ZSetValue::default();
        // Scores 0..300 inserted out of order; member names sort the other way.
        for i in (0..300u32).rev().step_by(2).chain((0..300u32).step_by(2)) {
            z.insert(b(&format!("m{:03}", 299 - i)), f64::from(i));
        }
        assert_eq!(z.len(), 300);
        assert_eq!(z.by_rank(0), Some((&b("m299"), 0.0)));
        assert_eq!(z.rank(&b("m000")), Some(299));
        assert_eq!(z.count_below(10.0, false), 10);
        assert_eq!(z.count_below(10.0, true), 11);
        assert_eq!(z.count_below(f64::INFINITY, true), 300);
        let top: Vec<f64> = z.range(297, 300).rev().map(|(_, s)| s).collect();
        assert_eq!(top, vec![299.0, 298.0, 297.0]);
        // Re-scoring moves the element.
        z.insert(b("m299"), 1000.0);
        assert_eq!(z.rank(&b("m299")), Some(299));
        for i in 0..290u32 {
            z.remove(&b(&format!("m{:03}", 299 - i)));
        }
        assert_eq!(z.len(), 10);
        let rebuilt: ZSetValue = z.members().map(|(m, s)| (m.clone(), s)).collect();
        assert_eq!(rebuilt.digest(), z.digest());
        assert_eq!(rebuilt.bytes(), z.bytes());
    }

    #[test]
    fn lex_ranges_at_one_score() {
        let z: ZSetValue = ["a", "b", "c", "d"].iter().map(|m| (b(m), 0.0)).collect();
        assert_eq!(z.count_lex_below(b"b", false), 1);
        assert_eq!(z.count_lex_below(b"b", true), 2);
        assert_eq!(z.count_lex_below(b"bb", true), 2);
    }
}
