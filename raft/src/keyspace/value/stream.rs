//! Streams: entries by ID in a B-tree (XADD, XDEL, a range or a lookup in O(log n)), the
//! node layout Redis's radix tree of listpacks would have (so approximate trims remove whole
//! nodes exactly where Redis would), and consumer groups with their pending entries (PEL) by
//! ID and per consumer.
//!
//! Nodes: Redis appends to its tail node until it holds `stream-node-max-entries` entries
//! (live and deleted) or `stream-node-max-bytes` bytes, and `~` trims only whole nodes. Here
//! a node is its first ID and its counts; its size in bytes is estimated from the listpack
//! encoding (see [`entry_lp_bytes`]).
//!
//! The content digest and the size are kept up to date as the stream changes (O(1) per
//! entry or pending entry): the digest sums each entry's and each pending entry's hash, and
//! mixes in the counters and each group's position when asked (O(groups)).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use cairn_protocol::command::stream::StreamId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::digest::{self, mix};

/// Bytes counted per entry, pending entry, consumer and group beyond their names and values.
const OVERHEAD: u64 = 48;

/// One entry's fields and values, in order.
pub type Fields = Vec<(Bytes, Bytes)>;

/// A node of Redis's radix tree: the listpack holding a run of consecutive entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub live: u64,
    pub deleted: u64,
    /// The listpack's estimated size.
    pub bytes: u64,
    /// The last ID appended to the node (deleted or not).
    pub last: StreamId,
    /// The first entry's fields (Redis's master entry): later entries with the same fields
    /// cost less.
    master: Vec<Bytes>,
}

/// A pending entry: delivered to `consumer`, not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nack {
    pub consumer: Bytes,
    /// Unix milliseconds of the last delivery (the entry's time that delivered it).
    pub delivery_time: u64,
    pub delivery_count: u64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Consumer {
    /// Unix milliseconds of the last command of this consumer.
    pub seen_time: u64,
    pub pel: BTreeSet<StreamId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub last_id: StreamId,
    /// How many entries the group has read (`None`: unknown, Redis's -1).
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Bytes, Consumer>,
}

/// What a stream holds: everything but the derived digest and size.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Content {
    entries: BTreeMap<StreamId, Fields>,
    nodes: BTreeMap<StreamId, Node>,
    last_id: StreamId,
    max_deleted: StreamId,
    entries_added: u64,
    groups: BTreeMap<Bytes, Group>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamValue {
    c: Content,
    /// Sum of the entries' and pending entries' hashes (wrapping).
    sum: u64,
    bytes: u64,
}

impl Default for StreamValue {
    fn default() -> Self {
        StreamValue {
            c: Content::default(),
            sum: 0,
            bytes: OVERHEAD,
        }
    }
}

impl Serialize for StreamValue {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.c.serialize(s)
    }
}

impl<'de> Deserialize<'de> for StreamValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let c = Content::deserialize(d)?;
        let mut v = StreamValue {
            c,
            sum: 0,
            bytes: 0,
        };
        v.recount();
        Ok(v)
    }
}

fn entry_hash(id: StreamId, fields: &Fields) -> u64 {
    let mut h = mix(id.ms ^ mix(id.seq.wrapping_add(0x5354_5245)));
    for (i, (f, v)) in fields.iter().enumerate() {
        h = h.wrapping_add(mix(digest::field(f, v).wrapping_add(i as u64)));
    }
    mix(h)
}

fn entry_bytes(fields: &Fields) -> u64 {
    fields
        .iter()
        .map(|(f, v)| (f.len() + v.len()) as u64 + 16)
        .sum::<u64>()
        + OVERHEAD
}

fn nack_hash(group: &[u8], id: StreamId, n: &Nack) -> u64 {
    mix(digest::hash(0x4e41_434b, group)
        ^ mix(id.ms ^ mix(id.seq))
        ^ mix(digest::hash(0x434f_4e53, &n.consumer))
        ^ mix(n.delivery_time.wrapping_mul(31) ^ n.delivery_count))
}

fn consumer_hash(group: &[u8], name: &[u8], c: &Consumer) -> u64 {
    mix(digest::hash(0x4752_5550, group) ^ mix(digest::hash(0x434f_4e53, name)) ^ c.seen_time)
}

/// A listpack element's size: its bytes and about two of header and back-length.
fn lp_len(len: usize) -> u64 {
    len as u64 + 2
}

/// An entry's estimated bytes in a listpack whose master fields are `master`: flags, the ID
/// deltas, the fields (omitted when they are the master's) and values, the back count.
fn entry_lp_bytes(master: &[Bytes], fields: &Fields) -> u64 {
    let same = master.len() == fields.len() && master.iter().zip(fields).all(|(m, (f, _))| m == f);
    let body: u64 = if same {
        fields.iter().map(|(_, v)| lp_len(v.len())).sum()
    } else {
        2 + fields
            .iter()
            .map(|(f, v)| lp_len(f.len()) + lp_len(v.len()))
            .sum::<u64>()
    };
    3 * 2 + body + 2
}

/// The node limits (`stream-node-max-entries`, `stream-node-max-bytes`; 0 is none).
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    pub entries: u64,
    pub bytes: u64,
}

/// Why XADD could not append.
#[derive(Debug, PartialEq, Eq)]
pub enum AddError {
    /// The ID is not above the last one.
    NotGreater,
    /// The last ID is the largest possible.
    Exhausted,
}

impl StreamValue {
    fn recount(&mut self) {
        self.sum = 0;
        self.bytes = OVERHEAD;
        for (id, fields) in &self.c.entries {
            self.sum = self.sum.wrapping_add(entry_hash(*id, fields));
            self.bytes += entry_bytes(fields);
        }
        for (name, g) in &self.c.groups {
            self.bytes += name.len() as u64 + OVERHEAD;
            for (id, n) in &g.pel {
                self.sum = self.sum.wrapping_add(nack_hash(name, *id, n));
                self.bytes += OVERHEAD;
            }
            for (cname, c) in &g.consumers {
                self.sum = self.sum.wrapping_add(consumer_hash(name, cname, c));
                self.bytes += cname.len() as u64 + OVERHEAD;
            }
        }
    }

    pub fn len(&self) -> u64 {
        self.c.entries.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.c.entries.is_empty()
    }

    pub fn last_id(&self) -> StreamId {
        self.c.last_id
    }

    /// The first entry's ID, 0-0 when empty (Redis's `first_id`).
    pub fn first_id(&self) -> StreamId {
        self.c.entries.keys().next().copied().unwrap_or_default()
    }

    /// The last live entry's ID, 0-0 when empty.
    pub fn last_live_id(&self) -> StreamId {
        self.c
            .entries
            .keys()
            .next_back()
            .copied()
            .unwrap_or_default()
    }

    pub fn max_deleted(&self) -> StreamId {
        self.c.max_deleted
    }

    pub fn entries_added(&self) -> u64 {
        self.c.entries_added
    }

    pub fn nodes(&self) -> usize {
        self.c.nodes.len()
    }

    pub fn get(&self, id: StreamId) -> Option<&Fields> {
        self.c.entries.get(&id)
    }

    /// Entries from `start` to `end` inclusive, in order (or from `end` down).
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (&StreamId, &Fields)> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        let r = self.c.entries.range(start..=end);
        if rev {
            Box::new(r.rev())
        } else {
            Box::new(r)
        }
    }

    pub fn digest(&self) -> u64 {
        let c = &self.c;
        let mut h = mix(self.sum ^ 0x5354_524d);
        h = mix(h ^ mix(c.last_id.ms) ^ c.last_id.seq.rotate_left(17));
        h = mix(h ^ mix(c.max_deleted.ms) ^ c.max_deleted.seq.rotate_left(29));
        h = mix(h ^ c.entries_added ^ (c.nodes.len() as u64).rotate_left(40));
        for (name, g) in &c.groups {
            h = h.wrapping_add(mix(digest::hash(0x4752_5550, name)
                ^ mix(g.last_id.ms)
                ^ g.last_id.seq.rotate_left(11)
                ^ g.entries_read.map_or(u64::MAX, mix)));
        }
        h
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The ID an XADD would give: `Auto` at `now`, `AutoSeq(ms)`, or an explicit one.
    pub fn next_id(
        &self,
        id: cairn_protocol::command::stream::XAddId,
        now: u64,
    ) -> Result<StreamId, AddError> {
        use cairn_protocol::command::stream::XAddId;
        let last = self.c.last_id;
        if last == StreamId::MAX {
            return Err(AddError::Exhausted);
        }
        let id = match id {
            XAddId::Auto if now > last.ms => StreamId::new(now, 0),
            XAddId::Auto => last.next().ok_or(AddError::Exhausted)?,
            XAddId::AutoSeq(ms) if ms == last.ms => {
                StreamId::new(ms, last.seq.checked_add(1).ok_or(AddError::NotGreater)?)
            }
            XAddId::AutoSeq(ms) => StreamId::new(ms, 0),
            XAddId::Explicit(id) => id,
        };
        if id <= last {
            return Err(AddError::NotGreater);
        }
        Ok(id)
    }

    /// Appends an entry at `id` (above the last ID: see [`StreamValue::next_id`]).
    pub fn append(&mut self, id: StreamId, fields: Fields, limits: NodeLimits) {
        let c = &mut self.c;
        let total: u64 = fields.iter().map(|(f, v)| (f.len() + v.len()) as u64).sum();
        let max_bytes = match limits.bytes {
            0 => 1 << 30,
            b => b.min(1 << 30),
        };
        let tail_fits = c.nodes.values().next_back().is_some_and(|n| {
            n.bytes + total < max_bytes
                && (limits.entries == 0 || n.live + n.deleted < limits.entries)
        });
        if !tail_fits {
            let master: Vec<Bytes> = fields.iter().map(|(f, _)| f.clone()).collect();
            let header = 7 + 4 * 2 + master.iter().map(|f| lp_len(f.len())).sum::<u64>();
            c.nodes.insert(
                id,
                Node {
                    live: 0,
                    deleted: 0,
                    bytes: header,
                    last: id,
                    master,
                },
            );
        }
        if let Some(node) = c.nodes.values_mut().next_back() {
            node.live += 1;
            node.bytes += entry_lp_bytes(&node.master, &fields);
            node.last = id;
        }
        self.sum = self.sum.wrapping_add(entry_hash(id, &fields));
        self.bytes += entry_bytes(&fields);
        c.entries.insert(id, fields);
        c.last_id = id;
        c.entries_added += 1;
    }

    /// The node holding `id`: the one with the greatest first ID not above it.
    fn node_of(&mut self, id: StreamId) -> Option<(StreamId, &mut Node)> {
        self.c
            .nodes
            .range_mut(..=id)
            .next_back()
            .map(|(k, n)| (*k, n))
    }

    /// Removes one entry (XDEL and trims inside a node); whether it was there. A node left
    /// with no live entries goes, as Redis frees its listpack, unless `keep_node`.
    fn remove_entry(&mut self, id: StreamId, keep_node: bool) -> bool {
        let Some(fields) = self.c.entries.remove(&id) else {
            return false;
        };
        self.sum = self.sum.wrapping_sub(entry_hash(id, &fields));
        self.bytes = self.bytes.saturating_sub(entry_bytes(&fields));
        if let Some((first, node)) = self.node_of(id) {
            node.live = node.live.saturating_sub(1);
            node.deleted += 1;
            if node.live == 0 && !keep_node {
                self.c.nodes.remove(&first);
            }
        }
        drop(fields);
        true
    }

    /// XDEL of one ID: whether it was there; the max deleted ID follows.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let removed = self.remove_entry(id, false);
        if removed && id > self.c.max_deleted {
            self.c.max_deleted = id;
        }
        removed
    }

    /// Trims to `to` (Redis's `streamTrim`): whole nodes from the head while they can all go;
    /// then, unless `approx`, entries inside the next node. `limit` (0: none) bounds the
    /// entries removed. The number removed.
    pub fn trim(
        &mut self,
        to: cairn_protocol::command::stream::TrimTo,
        approx: bool,
        limit: u64,
    ) -> u64 {
        use cairn_protocol::command::stream::TrimTo;
        let mut deleted = 0;
        loop {
            if let TrimTo::MaxLen(max) = to {
                if self.len() <= max {
                    break;
                }
            }
            let Some((&first, node)) = self.c.nodes.iter().next() else {
                break;
            };
            let (live, node_last) = (node.live, node.last);
            if limit > 0 && deleted + live > limit {
                break;
            }
            let whole = match to {
                TrimTo::MaxLen(max) => self.len() - live >= max,
                TrimTo::MinId(min) => node_last < min,
            };
            let next = self
                .c
                .nodes
                .range((std::ops::Bound::Excluded(first), std::ops::Bound::Unbounded))
                .next()
                .map(|(k, _)| *k);
            if whole {
                let ids: Vec<StreamId> = match next {
                    Some(next) => self.c.entries.range(first..next).map(|(k, _)| *k).collect(),
                    None => self.c.entries.range(first..).map(|(k, _)| *k).collect(),
                };
                for id in ids {
                    self.remove_entry(id, true);
                }
                self.c.nodes.remove(&first);
                deleted += live;
                continue;
            }
            if approx {
                break;
            }
            // Entry by entry inside this node, which keeps at least one.
            let ids: Vec<StreamId> = match next {
                Some(next) => self.c.entries.range(first..next).map(|(k, _)| *k).collect(),
                None => self.c.entries.range(first..).map(|(k, _)| *k).collect(),
            };
            for id in ids {
                let stop = match to {
                    TrimTo::MaxLen(max) => self.len() <= max,
                    TrimTo::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                self.remove_entry(id, true);
                deleted += 1;
            }
            break;
        }
        deleted
    }

    /// XSETID: the last ID, and optionally the entries-added counter and max deleted ID.
    pub fn set_id(&mut self, last: StreamId, added: Option<u64>, max_deleted: Option<StreamId>) {
        self.c.last_id = last;
        if let Some(n) = added {
            self.c.entries_added = n;
        }
        if let Some(id) = max_deleted.filter(|id| !id.is_zero()) {
            self.c.max_deleted = id;
        }
    }

    // Consumer groups.

    pub fn groups(&self) -> &BTreeMap<Bytes, Group> {
        &self.c.groups
    }

    pub fn group(&self, name: &[u8]) -> Option<&Group> {
        self.c.groups.get(name)
    }

    /// Creates a group; false if it exists.
    pub fn create_group(&mut self, name: &Bytes, last_id: StreamId, read: Option<u64>) -> bool {
        if self.c.groups.contains_key(name) {
            return false;
        }
        self.bytes += name.len() as u64 + OVERHEAD;
        self.c.groups.insert(
            name.clone(),
            Group {
                last_id,
                entries_read: read,
                pel: BTreeMap::new(),
                consumers: BTreeMap::new(),
            },
        );
        true
    }

    pub fn destroy_group(&mut self, name: &[u8]) -> bool {
        let Some(g) = self.c.groups.get(name) else {
            return false;
        };
        let consumers: Vec<Bytes> = g.consumers.keys().cloned().collect();
        for c in consumers {
            self.delete_consumer(name, &c);
        }
        let orphans: Vec<StreamId> = self
            .c
            .groups
            .get(name)
            .map(|g| g.pel.keys().copied().collect())
            .unwrap_or_default();
        for id in orphans {
            self.remove_nack(name, id);
        }
        self.bytes = self.bytes.saturating_sub(name.len() as u64 + OVERHEAD);
        self.c.groups.remove(name);
        true
    }

    /// Moves a group's position (XGROUP SETID, XREADGROUP, XCLAIM's LASTID).
    pub fn set_group_position(&mut self, name: &[u8], last_id: StreamId, read: Option<u64>) {
        if let Some(g) = self.c.groups.get_mut(name) {
            g.last_id = last_id;
            g.entries_read = read;
        }
    }

    /// Creates a consumer (seen now) if missing; whether it was created. Refreshes the seen
    /// time of an existing one when `refresh`.
    pub fn touch_consumer(&mut self, group: &[u8], name: &Bytes, now: u64, refresh: bool) -> bool {
        let Some(g) = self.c.groups.get_mut(group) else {
            return false;
        };
        match g.consumers.get_mut(name) {
            Some(c) => {
                if refresh {
                    self.sum = self.sum.wrapping_sub(consumer_hash(group, name, c));
                    c.seen_time = now;
                    self.sum = self.sum.wrapping_add(consumer_hash(group, name, c));
                }
                false
            }
            None => {
                let c = Consumer {
                    seen_time: now,
                    pel: BTreeSet::new(),
                };
                self.sum = self.sum.wrapping_add(consumer_hash(group, name, &c));
                self.bytes += name.len() as u64 + OVERHEAD;
                g.consumers.insert(name.clone(), c);
                true
            }
        }
    }

    /// Deletes a consumer and its pending entries; how many it had, `None` if missing.
    pub fn delete_consumer(&mut self, group: &[u8], name: &[u8]) -> Option<u64> {
        let g = self.c.groups.get(group)?;
        let c = g.consumers.get(name)?;
        let ids: Vec<StreamId> = c.pel.iter().copied().collect();
        for id in &ids {
            self.remove_nack(group, *id);
        }
        let g = self.c.groups.get_mut(group)?;
        let c = g.consumers.remove(name)?;
        self.sum = self.sum.wrapping_sub(consumer_hash(group, name, &c));
        self.bytes = self.bytes.saturating_sub(name.len() as u64 + OVERHEAD);
        Some(ids.len() as u64)
    }

    /// Sets the pending entry `id` of `group` (owned by `nack.consumer`, which must exist),
    /// replacing and moving any it had.
    pub fn set_nack(&mut self, group: &[u8], id: StreamId, nack: Nack) {
        self.remove_nack(group, id);
        let Some(g) = self.c.groups.get_mut(group) else {
            return;
        };
        if let Some(c) = g.consumers.get_mut(&nack.consumer) {
            c.pel.insert(id);
        }
        self.sum = self.sum.wrapping_add(nack_hash(group, id, &nack));
        self.bytes += OVERHEAD;
        g.pel.insert(id, nack);
    }

    /// Removes (acknowledges) a pending entry; whether it was pending.
    pub fn remove_nack(&mut self, group: &[u8], id: StreamId) -> bool {
        let Some(g) = self.c.groups.get_mut(group) else {
            return false;
        };
        let Some(n) = g.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = g.consumers.get_mut(&n.consumer) {
            c.pel.remove(&id);
        }
        self.sum = self.sum.wrapping_sub(nack_hash(group, id, &n));
        self.bytes = self.bytes.saturating_sub(OVERHEAD);
        true
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the entries-read counter of `id`
    /// if it can be known.
    pub fn estimate_read(&self, id: StreamId) -> Option<u64> {
        let c = &self.c;
        if c.entries_added == 0 {
            return Some(0);
        }
        if self.is_empty() && id <= c.last_id {
            return Some(c.entries_added);
        }
        if id == c.last_id {
            return Some(c.entries_added);
        }
        if id > c.last_id {
            return None;
        }
        let first = self.first_id();
        if c.max_deleted.is_zero() || c.max_deleted < first {
            if id < first {
                return Some(c.entries_added - self.len());
            }
            if id == first {
                return Some(c.entries_added - self.len() + 1);
            }
        }
        None
    }

    /// Redis's `streamRangeHasTombstones` from `start` to the end.
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        let c = &self.c;
        if self.is_empty() || c.max_deleted.is_zero() || self.first_id() > c.max_deleted {
            return false;
        }
        start <= c.max_deleted
    }

    /// A group's lag (XINFO), `None` when it cannot be known.
    pub fn lag(&self, g: &Group) -> Option<u64> {
        let added = self.c.entries_added;
        if added == 0 {
            return Some(0);
        }
        if let (Some(read), false) = (g.entries_read, self.has_tombstones_from(g.last_id)) {
            return Some(added.saturating_sub(read));
        }
        self.estimate_read(g.last_id)
            .map(|read| added.saturating_sub(read))
    }
}
