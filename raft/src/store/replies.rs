//! The at-most-once reply records (see `keyspace::once`), kept in memory and in sled.
//!
//! A forwarded write's id is looked up on every application, so the records live in a hash
//! map; sled holds them for durability and snapshots, one key per group of records that one
//! apply batch made at one log time (not one per write: a record per write cost followers
//! half their pipelined write throughput). The map is a function of the sled records, which
//! are a function of the log, so every replica decides alike: it is rebuilt from sled at start
//! and after a snapshot is installed, and changed only by `apply`, in step with the batch
//! that persists the change.

use std::collections::{BTreeSet, HashMap};

use cairn_protocol::Reply;

use super::keys;
use super::txn::sled_err;
use crate::error::{Error, Result};
use crate::types::RequestId;

/// One group's records, as stored.
pub(super) type Group = Vec<(RequestId, Option<Reply>)>;

#[derive(Default)]
pub struct ReplyTable {
    by_id: HashMap<RequestId, (u64, Option<Reply>)>,
    /// (log time, id): forgetting order.
    by_time: BTreeSet<(u64, u64, u64)>,
}

impl ReplyTable {
    /// Reads every record group from the state-machine tree.
    pub(super) fn load(tree: &sled::Tree) -> Result<ReplyTable> {
        let mut table = ReplyTable::default();
        for item in tree.scan_prefix([keys::REPLY]) {
            let (k, v) = item.map_err(sled_err)?;
            let corrupt = |what: String| Error::Corrupt {
                path: "state machine".into(),
                what,
            };
            let time = keys::reply_group_time(&k)
                .ok_or_else(|| corrupt(format!("reply record key of {} bytes", k.len())))?;
            let group: Group = bincode::deserialize(&v)
                .map_err(|e| corrupt(format!("reply record at log time {time}: {e}")))?;
            for (id, reply) in group {
                table.insert(id, time, reply);
            }
        }
        Ok(table)
    }

    pub(super) fn get(&self, id: &RequestId) -> Option<Option<Reply>> {
        self.by_id.get(id).map(|(_, r)| r.clone())
    }

    pub(super) fn insert(&mut self, id: RequestId, time: u64, reply: Option<Reply>) {
        if let Some((old, _)) = self.by_id.insert(id, (time, reply)) {
            self.by_time.remove(&(old, id.origin, id.seq));
        }
        self.by_time.insert((time, id.origin, id.seq));
    }

    /// Forgets every record made before log time `before`.
    pub(super) fn forget_before(&mut self, before: u64) {
        while let Some(&(time, origin, seq)) = self.by_time.first() {
            if time >= before {
                break;
            }
            self.by_time.pop_first();
            self.by_id.remove(&RequestId { origin, seq });
        }
    }
}
