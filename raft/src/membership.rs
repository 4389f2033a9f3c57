//! Membership changes, run on the leader: add a node (as a learner that catches up from a
//! snapshot and the log, then promoted to voter) or remove one (the leader too: it steps
//! down once the new membership is committed).

use std::collections::BTreeSet;

use openraft::ChangeMembers;
use serde::{Deserialize, Serialize};

use crate::types::{NodeId, NodeInfo, Raft};

/// A change asked of the leader (peer RPC `ChangeMembership`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberChange {
    Add { id: NodeId, info: NodeInfo },
    Remove { id: NodeId },
}

/// What became of a change: a line for the operator, or why it was refused. `NotLeader`
/// names the leader to ask instead, when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeOutcome {
    Done(String),
    NotLeader(Option<NodeId>),
    Refused(String),
}

/// Runs `change` on this node, which must be the leader.
pub async fn change(raft: &Raft, change: MemberChange) -> ChangeOutcome {
    let metrics = raft.metrics().borrow().clone();
    let voters: BTreeSet<NodeId> = metrics.membership_config.membership().voter_ids().collect();
    let nodes: Vec<(NodeId, NodeInfo)> = metrics
        .membership_config
        .nodes()
        .map(|(id, n)| (*id, n.clone()))
        .collect();
    let not_leader = ChangeOutcome::NotLeader(metrics.current_leader);
    if metrics.current_leader != Some(metrics.id) {
        return not_leader;
    }
    match change {
        MemberChange::Add { id, info } => {
            if let Some((_, known)) = nodes.iter().find(|(n, _)| *n == id) {
                if *known != info {
                    return ChangeOutcome::Refused(format!(
                        "node {id} is a member at {known}; remove it first to give it a new address"
                    ));
                }
                if voters.contains(&id) {
                    return ChangeOutcome::Done(format!("node {id} is already a voter"));
                }
            }
            // Blocks until the learner has caught up with the log as of now.
            if let Err(e) = raft.add_learner(id, info, true).await {
                return refused_or_moved(e.to_string(), not_leader);
            }
            let add = ChangeMembers::AddVoterIds(BTreeSet::from([id]));
            match raft.change_membership(add, false).await {
                Ok(r) => ChangeOutcome::Done(format!(
                    "node {id} added as a voter at log index {}",
                    r.log_id.index
                )),
                Err(e) => refused_or_moved(e.to_string(), not_leader),
            }
        }
        MemberChange::Remove { id } => {
            if !nodes.iter().any(|(n, _)| *n == id) {
                return ChangeOutcome::Refused(format!("node {id} is not a member"));
            }
            if voters.contains(&id) && voters.len() == 1 {
                return ChangeOutcome::Refused("the last voter cannot be removed".into());
            }
            let change = if voters.contains(&id) {
                ChangeMembers::RemoveVoters(BTreeSet::from([id]))
            } else {
                ChangeMembers::RemoveNodes(BTreeSet::from([id]))
            };
            match raft.change_membership(change, false).await {
                Ok(r) => ChangeOutcome::Done(format!(
                    "node {id} removed at log index {}",
                    r.log_id.index
                )),
                Err(e) => refused_or_moved(e.to_string(), not_leader),
            }
        }
    }
}

/// openraft's errors as outcomes: leadership lost midway means "ask the new leader".
fn refused_or_moved(text: String, not_leader: ChangeOutcome) -> ChangeOutcome {
    if text.contains("forward") || text.contains("ForwardToLeader") {
        not_leader
    } else {
        ChangeOutcome::Refused(text)
    }
}
