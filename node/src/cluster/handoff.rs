//! Leadership transfer, as the operator and the process's life ask for it (the protocol is
//! `cairn_raft::transfer`):
//!
//! - `CAIRN TRANSFER-LEADER [id]` on any node: the leader hands over to `id`, or to its most
//!   caught-up voter; the reply says who leads once it is done.
//! - `CLUSTER FAILOVER [FORCE]` on a follower, as in Redis Cluster: that follower becomes the
//!   leader. Sent to the leader it answers Redis's error.
//! - `CAIRN MEMBER REMOVE` of the leader hands over first (see `admin`).
//! - SIGTERM of the leader (and an exit asked by a command): it hands over before it stops,
//!   so writes pause for one election round instead of a lease and an election timeout.

use cairn_protocol::errors::RedisError;
use std::time::Duration;

use bytes::Bytes;
use cairn_protocol::Reply;
use cairn_raft::transfer::{Then, TransferError, TransferResult};
use cairn_raft::NodeId;

use crate::cluster::handle::Cluster;

/// A transfer on the leader is bounded by its own waits (catch-up, election); this covers
/// asking the leader for one.
const ASK_LEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// When this node leads, hands leadership over before it stops (proposals stay closed).
pub async fn hand_over_if_leader(cluster: &Cluster) {
    if cluster.leader().is_some_and(|(l, _)| l == cluster.id) {
        if let Err(e) = cluster.handoff().transfer(None, Then::Stop).await {
            tracing::warn!(error = %e, "stopping without a hand-off");
        }
    }
}

/// Stops raft (after [`hand_over_if_leader`]); no write is proposed any more.
pub async fn stop_raft(cluster: &Cluster) {
    cluster.proposer.close();
    if let Err(e) = cluster.raft.shutdown().await {
        tracing::warn!(error = %e, "raft shutdown");
    }
}

/// Hands leadership to `to` (or the best voter): here when this node leads, else through the
/// leader it knows.
pub async fn transfer(cluster: &Cluster, to: Option<NodeId>) -> TransferResult {
    match cluster.leader() {
        Some((l, _)) if l == cluster.id => cluster.handoff().transfer(to, Then::Resume).await,
        Some((l, info)) => cluster
            .peers
            .transfer_leader(&info.raft_addr, to, ASK_LEADER_TIMEOUT)
            .await
            .map_err(|e| TransferError::Unreachable(l, e.to_string()))?,
        None => Err(TransferError::NotLeader(None)),
    }
}

/// `CAIRN TRANSFER-LEADER [id]`: `+OK <new leader id>` once it leads.
pub async fn transfer_leader(cluster: &Cluster, args: &[Bytes]) -> Reply {
    let to = match args {
        [] => None,
        [id] => match String::from_utf8_lossy(id).parse::<u64>() {
            Ok(id) if id > 0 => Some(id),
            _ => return Reply::from(RedisError::NodeIdNotPositive),
        },
        _ => {
            return Reply::error(
                "ERR wrong number of arguments for 'cairn|transfer-leader' command",
            )
        }
    };
    match transfer(cluster, to).await {
        Ok(leader) => Reply::Simple(format!("OK {leader}")),
        Err(e) => Reply::error(format!("ERR {e}")),
    }
}

/// `CLUSTER FAILOVER [FORCE]` on a follower: it becomes the leader; `+OK` once it leads.
pub async fn cluster_failover(cluster: &Cluster, args: &[Bytes]) -> Reply {
    match args {
        [] => {}
        [opt] if opt.eq_ignore_ascii_case(b"force") => {}
        [opt] if opt.eq_ignore_ascii_case(b"takeover") => {
            return Reply::error(
                "ERR CLUSTER FAILOVER TAKEOVER is not supported: a leader is elected by a quorum",
            )
        }
        [_] => return Reply::from(RedisError::Syntax),
        _ => return Reply::error("ERR wrong number of arguments for 'cluster|failover' command"),
    }
    if cluster.leader().is_some_and(|(l, _)| l == cluster.id) {
        return Reply::error("ERR You should send CLUSTER FAILOVER to a replica");
    }
    match transfer(cluster, Some(cluster.id)).await {
        Ok(leader) if leader == cluster.id => Reply::ok(),
        Ok(leader) => Reply::error(format!("ERR node {leader} was elected instead")),
        Err(e) => Reply::error(format!("ERR {e}")),
    }
}
