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
//! - if one is part of a cluster that names this node, this node lost its data: it stays
//!   amnesiac until it has applied what the members had applied when it asked (everything
//!   committed then, so everything it may have acknowledged), received from the leader as
//!   any lagging follower does, by snapshot if the log was purged; then it votes again;
//! - while members do not answer, it asks again.
//!
//! A cluster that needs the amnesiac's vote to elect a leader waits for a member that
//! remembers: that is the safe outcome (it may hold the only other copy of a committed write).

use std::sync::Arc;

use crate::cluster::bootstrap::{probe_others, RETRY_EVERY};
use crate::cluster::handle::Cluster;

/// Starts the check for a node that started without data (not for a joining node: it is
/// added as a learner and has nothing to forget).
pub fn spawn(cluster: Arc<Cluster>) {
    tokio::spawn(async move {
        let Some(target) = lost_data(&cluster).await else {
            cluster.lease.set_amnesiac(false);
            return;
        };
        tracing::warn!(
            applied_by_members = target,
            "this node is a member of a running cluster but started without data: it will not \
             vote until it holds what the cluster had applied"
        );
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
        cluster.lease.set_amnesiac(false);
        tracing::info!(
            applied = target,
            "caught up after starting without data: voting again"
        );
    });
}

/// `Some(index)` if a member is part of a cluster that names this node and had applied up
/// to `index` (the highest any answering member had); `None` on a first start. Asks until
/// every other member has answered or one says it is in a cluster.
async fn lost_data(cluster: &Cluster) -> Option<u64> {
    let members = cluster.config.members().ok()?;
    let mut shutdown = cluster.shutdown.clone();
    loop {
        let mut all_answered = true;
        let mut applied: Option<u64> = None;
        for (id, answer) in probe_others(cluster, &members).await {
            match answer {
                Ok(status) => {
                    let names_me = status.members.iter().any(|(m, _)| *m == cluster.id);
                    if status.initialized && names_me {
                        applied = applied.max(Some(status.last_applied.unwrap_or(0)));
                    }
                }
                Err(e) => {
                    tracing::debug!(peer = id, error = %e, "no answer yet from a member");
                    all_answered = false;
                }
            }
        }
        // A cluster being bootstrapped has applied nothing yet: nothing to forget.
        match applied {
            Some(index) if index > 0 => return Some(index),
            _ if all_answered => return None,
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY_EVERY) => {}
            _ = shutdown.changed() => return None,
        }
    }
}
