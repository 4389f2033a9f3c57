//! Cluster bootstrap: the member with the lowest id in `--initial-cluster` initializes the
//! cluster, once it has seen every other member answer and none of them is already part of a
//! cluster. A node with data, or any other member, never initializes: it waits to be contacted
//! by the leader. So a node that lost its data dir cannot fork a second cluster.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_raft::network::{CallError, PeerStatus};
use cairn_raft::{NodeId, NodeInfo};

use crate::cluster::handle::Cluster;

const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// How often a start-up check asks the members again while some do not answer.
pub const RETRY_EVERY: Duration = Duration::from_millis(300);

/// Every member's answer to `Status` but this node's own, in id order (bootstrap, and the
/// check of a node that started without data).
pub async fn probe_others(
    cluster: &Cluster,
    members: &BTreeMap<NodeId, NodeInfo>,
) -> Vec<(NodeId, Result<PeerStatus, CallError>)> {
    let mut answers = Vec::new();
    for (id, info) in members.iter().filter(|(id, _)| **id != cluster.id) {
        answers.push((
            *id,
            cluster.peers.status(&info.raft_addr, PROBE_TIMEOUT).await,
        ));
    }
    answers
}

pub fn spawn(cluster: Arc<Cluster>, fresh: bool) {
    let members = match cluster.config.members() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "bad --initial-cluster");
            return;
        }
    };
    if let Some(via) = cluster.config.join.clone() {
        // A joining node is added by the cluster's leader; it never starts a cluster.
        crate::cluster::membership::spawn_join(cluster, via);
        return;
    }
    if !fresh || members.keys().next() != Some(&cluster.id) {
        return;
    }
    tokio::spawn(async move {
        let mut shutdown = cluster.shutdown.clone();
        loop {
            if *shutdown.borrow() {
                return;
            }
            if cluster
                .raft
                .metrics()
                .borrow()
                .membership_config
                .nodes()
                .count()
                > 0
            {
                return; // someone else's leader reached us first
            }
            let mut all_fresh = true;
            for (id, answer) in probe_others(&cluster, &members).await {
                match answer {
                    Ok(status) if status.initialized => {
                        tracing::info!(peer = id, "peer is already in a cluster: not initializing");
                        return;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::info!(peer = id, error = %e, "waiting for peer before initializing");
                        all_fresh = false;
                    }
                }
            }
            if all_fresh {
                match cluster.raft.initialize(members.clone()).await {
                    Ok(()) => tracing::info!(members = members.len(), "initialized the cluster"),
                    Err(e) => tracing::warn!(error = %e, "initialize"),
                }
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY_EVERY) => {}
                _ = shutdown.changed() => {}
            }
        }
    });
}
