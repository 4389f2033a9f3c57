//! The `Status` RPC's answer: a node's view of the cluster, for bootstrap, the lost-disk
//! check, the consistency checker and `CAIRN STATUS`.

use serde::{Deserialize, Serialize};

use crate::pb::Envelope;
use crate::store::StateMachine;
use crate::types::{LogId, NodeId, NodeInfo, Raft};

/// A node's view of the cluster, as answered to the `Status` RPC.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerStatus {
    pub id: NodeId,
    /// Whether the node has a vote or log: it is, or was, part of a cluster.
    pub initialized: bool,
    pub leader: Option<NodeId>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    pub last_applied: Option<u64>,
    pub members: Vec<(NodeId, NodeInfo)>,
    /// The consistency checks this node applied: (log index, digest), oldest first, each
    /// index marked with [`DIGEST_SCHEME`].
    pub checks: Vec<(u64, u64)>,
    /// The last applied entry with its term (`last_applied` is its index). Last, so a node
    /// of the previous version decodes this answer (bincode ignores trailing bytes); from
    /// such a node it is `None` (see [`PeerStatus::open`]).
    pub applied_log: Option<LogId>,
}

/// The answer of a node of the previous version: [`PeerStatus`] without `applied_log`.
#[derive(Deserialize)]
struct PeerStatusBefore {
    id: NodeId,
    initialized: bool,
    leader: Option<NodeId>,
    term: u64,
    last_log_index: Option<u64>,
    last_applied: Option<u64>,
    members: Vec<(NodeId, NodeInfo)>,
    checks: Vec<(u64, u64)>,
}

/// Marks the log indexes of the checks a node reports: its digests are of this scheme
/// (scheme 2: per key from content digests kept by each value, see `keyspace::value::digest`,
/// summed per database and each database's sum placed by its number, so SWAPDB is O(1)).
/// Scheme 1 (each key's digest included its database number) was marked `1 << 63`, and the
/// versions before it reported bare indexes: during a rolling upgrade each side finds no
/// comparable record from the other (no answer, which never makes a majority against a
/// node) instead of a mismatch.
pub const DIGEST_SCHEME: u64 = 1 << 62;

impl PeerStatus {
    /// This node's status, from its raft metrics and its state machine's checks.
    pub fn of(id: NodeId, raft: &Raft, sm: &StateMachine) -> PeerStatus {
        let m = raft.metrics().borrow().clone();
        PeerStatus {
            id,
            initialized: m.vote.leader_id().term > 0 || m.last_log_index.is_some(),
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index,
            last_applied: m.last_applied.map(|l| l.index),
            members: m
                .membership_config
                .nodes()
                .map(|(id, n)| (*id, n.clone()))
                .collect(),
            checks: sm
                .checks()
                .unwrap_or_default()
                .into_iter()
                .map(|(index, digest)| (index | DIGEST_SCHEME, digest))
                .collect(),
            applied_log: m.last_applied,
        }
    }

    /// Decodes the answer of a node of this version or of the previous one.
    pub fn open(env: &Envelope) -> crate::Result<PeerStatus> {
        super::open::<PeerStatus>(env).or_else(|_| {
            super::open::<PeerStatusBefore>(env).map(|s| PeerStatus {
                id: s.id,
                initialized: s.initialized,
                leader: s.leader,
                term: s.term,
                last_log_index: s.last_log_index,
                last_applied: s.last_applied,
                members: s.members,
                checks: s.checks,
                applied_log: None,
            })
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> PeerStatus {
        PeerStatus {
            id: 2,
            initialized: true,
            leader: Some(1),
            term: 3,
            last_log_index: Some(10),
            last_applied: Some(9),
            members: vec![],
            checks: vec![(8 | DIGEST_SCHEME, 77)],
            applied_log: Some(LogId::new(openraft::CommittedLeaderId::new(3, 1), 9)),
        }
    }

    #[test]
    fn answers_of_both_versions_decode_on_both() {
        let new = sample();
        let env = super::super::seal(&new).unwrap();
        let back = PeerStatus::open(&env).unwrap();
        assert_eq!(back.applied_log, new.applied_log);
        let old: PeerStatusBefore = super::super::open(&env).unwrap();
        assert_eq!((old.id, old.last_applied), (2, Some(9)));
        let before = (
            new.id,
            new.initialized,
            new.leader,
            new.term,
            new.last_log_index,
            new.last_applied,
            new.members.clone(),
            new.checks.clone(),
        );
        let env = super::super::seal(&before).unwrap();
        let back = PeerStatus::open(&env).unwrap();
        assert_eq!(
            (back.id, back.last_applied, back.applied_log),
            (2, Some(9), None)
        );
        assert_eq!(back.checks, new.checks);
    }
}
