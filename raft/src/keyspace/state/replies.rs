//! The at-most-once reply records (see `keyspace::once`).
//!
//! A forwarded write's id is looked up on every application, so the records live in a hash
//! map, with a time index to forget them in log-time order. Both are persistent maps
//! (`imbl`): a snapshot takes them in O(1), however many records the last minute of
//! forwarded writes left. The table is a function of the log, so every replica decides
//! alike; it travels in snapshots as groups of records by log time.

use cairn_protocol::Reply;

use crate::logged;
use crate::types::RequestId;

/// One group's records, as a snapshot holds them: replies in raft's own type (see
/// [`crate::logged`]), since snapshots outlive the code that wrote them too.
pub type Group = Vec<(RequestId, Option<logged::Reply>)>;

#[derive(Clone, Default)]
pub struct ReplyTable {
    by_id: imbl::HashMap<RequestId, (u64, Option<logged::Reply>)>,
    /// (log time, origin, seq): forgetting order.
    by_time: imbl::OrdSet<(u64, u64, u64)>,
}

impl ReplyTable {
    /// The recorded reply of `id`: `None` if there is no record, `Some(None)` if the reply was
    /// too large to keep.
    pub fn get(&self, id: &RequestId) -> Option<Option<Reply>> {
        self.by_id.get(id).map(|(_, r)| r.clone().map(Reply::from))
    }

    pub fn insert(&mut self, id: RequestId, time: u64, reply: Option<logged::Reply>) {
        if let Some((old, _)) = self.by_id.insert(id, (time, reply)) {
            self.by_time.remove(&(old, id.origin, id.seq));
        }
        self.by_time.insert((time, id.origin, id.seq));
    }

    /// Forgets every record made before log time `before`.
    pub fn forget_before(&mut self, before: u64) {
        while let Some(&(time, origin, seq)) = self.by_time.get_min() {
            if time >= before {
                break;
            }
            self.by_time.remove_min();
            self.by_id.remove(&RequestId { origin, seq });
        }
    }

    /// The records grouped by log time, oldest first.
    pub fn groups(&self) -> Vec<(u64, Group)> {
        let mut out: Vec<(u64, Group)> = Vec::new();
        for &(time, origin, seq) in self.by_time.iter() {
            let id = RequestId { origin, seq };
            let reply = self.by_id.get(&id).and_then(|(_, r)| r.clone());
            match out.last_mut() {
                Some((t, group)) if *t == time => group.push((id, reply)),
                _ => out.push((time, vec![(id, reply)])),
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
