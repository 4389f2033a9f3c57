//! A voter that comes back without its data dir (a lost disk, a new PersistentVolume).
//!
//! Raft's safety rests on what a voter persisted: its vote, and the entries it acknowledged.
//! A node that lost both and voted at once could elect a leader that lacks entries the
//! cluster committed with its help, or vote twice in one term. So a node that starts without
//! data is amnesiac ([`cairn_raft::lease::LeaderLease::amnesiac`]: it refuses votes and
//! pre-votes and never stands) until this check clears it:
//!
//! - if the other members answer and none is part of a cluster yet, this is a first start
//!   and it votes as any new member does;
//! - if one is part of a cluster that names this node, this node may have lost its data (or
//!   is new and started after the others had bootstrapped: from here the two look alike).
//!   It does not stand until it has applied what the members had applied when it asked
//!   (everything committed then, so everything it may have acknowledged), received from the
//!   leader as any lagging follower does, by snapshot if the log was purged;
//! - while members do not answer, it asks again.
//!
//! Meanwhile it votes only if every other member answered and the *leader* was among them
//! (the member that leads in the highest term any answer names; with every member answering,
//! a deposed leader cut off from its successor cannot pass for it): the leader had applied
//! every entry committed before this node
//! restarted, so the leader's last applied entry is a floor, and a candidate whose log
//! reaches it holds every write this node's lost copy helped make durable. Raft's rule would
//! ask the same of a candidate if this node still held that log, so this node votes as if it
//! did ([`cairn_raft::lease::LeaderLease::set_vote_floor`]). Without that, a fresh cluster
//! whose leader died in its first second, before the late starter caught up, could not elect
//! (the survivors need its vote). If a member or the leader did not answer, the floor from
//! the others may be behind a commit they had not heard of, so it votes only once caught up:
//! a cluster that
//! needs its vote then waits for a member that remembers, the safe outcome (that member may
//! hold the only other copy of a committed write).
//!
//! What no check restores is a vote it cast, before it lost its data, in a term newer than
//! any it hears of afterwards; a node that kept its data never loses it.

use std::sync::Arc;

use cairn_raft::network::PeerStatus;
use cairn_raft::types::LogId;

use crate::cluster::bootstrap::{probe_others, RETRY_EVERY};
use crate::cluster::handle::Cluster;

/// Starts the check for a node that started without data (not for a joining node: it is
/// added as a learner and has nothing to forget).
pub fn spawn(cluster: Arc<Cluster>) {
    tokio::spawn(async move {
        let Some(found) = lost_data(&cluster).await else {
            cluster.lease.remembers();
            return;
        };
        let target = found.applied;
        match found.leader_applied {
            Some(floor) => {
                cluster.lease.set_vote_floor(floor);
                tracing::warn!(
                    applied_by_members = target,
                    floor = %floor,
                    "this node is a member of a running cluster but started without data (its \
                     data dir was lost, or it is new and started after the others formed the \
                     cluster): it votes only for logs that reach what the leader had applied, \
                     and will not stand until it holds that"
                );
            }
            None => tracing::warn!(
                applied_by_members = target,
                "this node is a member of a running cluster but started without data, and either \
                 a member did not answer or none leads: it will not vote until it holds what \
                 the cluster had applied"
            ),
        }
        let mut metrics = cluster.raft.metrics();
        let mut shutdown = cluster.shutdown.clone();
        loop {
            let applied = metrics.borrow_and_update().last_applied.map(|l| l.index);
            if applied >= Some(target) {
                break;
            }
            tokio::select! {
                changed = metrics.changed() => if changed.is_err() { return },
                _ = shutdown.changed() => return,
            }
        }
        cluster.lease.remembers();
        tracing::info!(
            applied = target,
            "caught up after starting without data: voting again"
        );
    });
}

/// What the members said when this node, started without data, asked them.
struct Found {
    /// The highest index any member had applied.
    applied: u64,
    /// The last entry the leader had applied, if every member answered, the leader among
    /// them.
    leader_applied: Option<LogId>,
}

/// `Some` if a member is part of a cluster that names this node; `None` on a first start.
/// Asks until every other member has answered or one says it is in a cluster.
async fn lost_data(cluster: &Cluster) -> Option<Found> {
    let members = cluster.config.members().ok()?;
    let mut shutdown = cluster.shutdown.clone();
    loop {
        let mut all_answered = true;
        let mut in_cluster = Vec::new();
        for (id, answer) in probe_others(cluster, &members).await {
            match answer {
                Ok(status) => {
                    let names_me = status.members.iter().any(|(m, _)| *m == cluster.id);
                    if status.initialized && names_me {
                        in_cluster.push(status);
                    }
                }
                Err(e) => {
                    tracing::debug!(peer = id, error = %e, "no answer yet from a member");
                    all_answered = false;
                }
            }
        }
        let applied = in_cluster.iter().map(|s| s.last_applied.unwrap_or(0)).max();
        // A cluster being bootstrapped has applied nothing yet: nothing to forget.
        match applied {
            Some(applied) if applied > 0 => {
                let leader_applied = if all_answered {
                    leader_applied(&in_cluster)
                } else {
                    None
                };
                return Some(Found {
                    applied,
                    leader_applied,
                });
            }
            _ if all_answered => return None,
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY_EVERY) => {}
            _ = shutdown.changed() => return None,
        }
    }
}

/// The last applied entry of the member that says it leads, if it leads in the highest term
/// any answer names (a deposed leader that has not heard of its successor may have missed
/// commits). A member of the previous version does not send the entry's term: `None`.
fn leader_applied(answers: &[PeerStatus]) -> Option<LogId> {
    let newest = answers.iter().map(|s| s.term).max()?;
    answers
        .iter()
        .find(|s| s.leader == Some(s.id) && s.term == newest)
        .and_then(|s| s.applied_log)
}
