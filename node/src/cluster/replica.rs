//! [`Replica`]: this node's copy of the data and what is known of it: the keyspace (reads),
//! the state machine (snapshots, checks, replicated settings), whether the copy is known
//! consistent, the key accesses that drive eviction, and the data dir's size. The parts that
//! only look at the data (the consistency checker, expiry, CLUSTER's key listings) take this
//! and the [`Cluster`](super::handle::Cluster), not the whole node.

use std::sync::Arc;

use cairn_raft::store::{Keyspace, StateMachine};

use crate::cache::access::Access;
use crate::cluster::integrity::Integrity;

pub struct Replica {
    pub keyspace: Keyspace,
    pub sm: StateMachine,
    /// Whether this replica's data is known to be consistent (see `checker`).
    pub integrity: Integrity,
    /// Key accesses served here (and, on the leader, reported by followers): LRU and LFU.
    pub access: Arc<Access>,
    /// The data dir's size on disk, measured when asked (INFO, metrics).
    pub data_dir_bytes: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl Replica {
    /// The consistency checks this replica applied (index, digest).
    pub fn checks(&self) -> Vec<(u64, u64)> {
        self.sm.checks().unwrap_or_default()
    }
}
