//! Leadership hand-off when a leader stops (SIGTERM, or an exit asked by a command).
//!
//! openraft 0.9 cannot transfer leadership, and voters refuse every candidate until the old
//! leader's lease has run out. So the leader stops proposing, picks the voter whose log
//! matches its own furthest, gives it a moment to receive the last entries, stops raft (no more
//! heartbeats), and tells it to stand for election as soon as the lease has run out
//! ([`TimeoutNow`]). The successor is then elected about one lease after the stop, instead
//! of one lease plus a random election timeout, and it is the most caught-up follower
//! rather than whichever timer fires first.

use std::time::{Duration, Instant};

use cairn_raft::network::TimeoutNow;
use cairn_raft::NodeId;

use crate::node::Node;

/// How long the successor may take to receive the leader's last entries before the stop.
const CATCH_UP_WAIT: Duration = Duration::from_secs(1);
/// Added to the lease so that every voter's lease has surely run out when the successor asks.
const LEASE_MARGIN_MS: u64 = 50;

/// Stops raft, handing leadership over first when this node leads.
pub async fn stop_raft(node: &Node) {
    let successor = successor(node);
    if let Some((id, _)) = &successor {
        // The log stops growing here, so the successor can match it.
        node.proposer.close();
        wait_caught_up(node, *id).await;
    }
    let term = node.raft.metrics().borrow().current_term;
    if let Err(e) = node.raft.shutdown().await {
        tracing::warn!(error = %e, "raft shutdown");
    }
    // Raft is stopped, so no round renews it: this node votes for its successor.
    node.lease.end();
    let Some((id, addr)) = successor else {
        return;
    };
    let request = TimeoutNow {
        leader: node.id,
        term,
        after_ms: node.config.election_timeout_max_ms + LEASE_MARGIN_MS,
    };
    match node
        .peers
        .timeout_now(&addr, &request, Duration::from_secs(1))
        .await
    {
        Ok(()) => tracing::info!(successor = id, "leader hand-off: successor told to stand"),
        Err(e) => tracing::warn!(successor = id, error = %e, "leader hand-off failed"),
    }
}

/// When this node leads: the other voter with the furthest matched log, and its peer address.
fn successor(node: &Node) -> Option<(NodeId, String)> {
    let m = node.raft.metrics().borrow().clone();
    if m.current_leader != Some(node.id) {
        return None;
    }
    let replication = m.replication.as_ref()?;
    let membership = m.membership_config.membership();
    let best = membership
        .voter_ids()
        .filter(|v| *v != node.id)
        .max_by_key(|v| replication.get(v).copied().flatten().map(|l| l.index))?;
    let addr = membership.get_node(&best)?.raft_addr.clone();
    Some((best, addr))
}

/// Waits (bounded) until `id` has matched this leader's last log entry.
async fn wait_caught_up(node: &Node, id: NodeId) {
    let deadline = Instant::now() + CATCH_UP_WAIT;
    let mut metrics = node.raft.metrics();
    while Instant::now() < deadline {
        let caught_up = {
            let m = metrics.borrow_and_update();
            let matched = m
                .replication
                .as_ref()
                .and_then(|r| r.get(&id).copied().flatten())
                .map(|l| l.index);
            matched.is_some() && matched == m.last_log_index
        };
        if caught_up {
            return;
        }
        if tokio::time::timeout_at(deadline.into(), metrics.changed())
            .await
            .is_err()
        {
            return;
        }
    }
}
