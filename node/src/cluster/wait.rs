//! WAIT numreplicas timeout, as a Raft cluster answers it.
//!
//! In Redis, WAIT blocks until `numreplicas` replicas have acknowledged every write the
//! connection made (or the timeout passes) and answers how many have. In cairn a write is
//! acknowledged only once a quorum of voters has stored it, so acknowledged writes survive
//! the loss of any minority whatever WAIT says. WAIT counts the other members (voters and
//! learners; the node answering is not counted, as a master does not count itself) that have
//! applied everything the cluster had committed when WAIT arrived, which includes every write
//! this connection had acknowledged: "how many other nodes would answer a read of my writes
//! from their own copy now". It never answers fewer than the truth, and may wait for writes
//! of other clients committed just before it.

use std::time::{Duration, Instant};

use cairn_protocol::Reply;
use futures::future::join_all;

use crate::cluster::handle::Cluster;
use crate::cluster::read_barrier::ReadBarrier;

/// How often the members are asked again while WAIT waits.
const POLL: Duration = Duration::from_millis(10);
/// How long one member may take to answer before it counts as not holding the writes.
const PEER_TIMEOUT: Duration = Duration::from_millis(500);

/// Answers WAIT: blocks until `replicas` other members hold this node's committed writes, or
/// `timeout_ms` passes (0: no limit), and answers how many do.
pub async fn wait(cluster: &Cluster, reads: &ReadBarrier, replicas: i64, timeout_ms: u64) -> Reply {
    let deadline = (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms));
    // After a read barrier this node has applied everything committed before WAIT arrived.
    // Without a leader the barrier waits for one; the timeout bounds that wait too, and
    // nothing confirmed by then counts as no member.
    let barrier = reads.wait(cluster);
    let barrier = match deadline {
        Some(d) => match tokio::time::timeout_at(d.into(), barrier).await {
            Ok(result) => result,
            Err(_) => return Reply::Integer(0),
        },
        None => barrier.await,
    };
    if let Err(e) = barrier {
        return e;
    }
    let target = cluster.applied();
    loop {
        let holding = holding(cluster, target).await;
        let expired = deadline.is_some_and(|d| Instant::now() >= d);
        if i64::try_from(holding).unwrap_or(i64::MAX) >= replicas || expired {
            return Reply::Integer(i64::try_from(holding).unwrap_or(i64::MAX));
        }
        let pause = deadline.map_or(POLL, |d| {
            POLL.min(d.saturating_duration_since(Instant::now()))
        });
        tokio::time::sleep(pause).await;
    }
}

/// How many other members have applied `target`.
async fn holding(cluster: &Cluster, target: u64) -> usize {
    let others: Vec<String> = cluster
        .raft
        .metrics()
        .borrow()
        .membership_config
        .nodes()
        .filter(|(id, _)| **id != cluster.id)
        .map(|(_, info)| info.raft_addr.clone())
        .collect();
    let answers = join_all(
        others
            .iter()
            .map(|addr| cluster.peers.status(addr, PEER_TIMEOUT)),
    )
    .await;
    answers
        .into_iter()
        .filter(|a| matches!(a, Ok(s) if s.last_applied.is_some_and(|i| i >= target)))
        .count()
}
