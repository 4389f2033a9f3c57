//! The write path: a run of writes from one connection goes to the leader, proposed in order.
//! On the leader they are proposed locally; on a follower they are forwarded over the peer
//! protocol and the replies come back on the client's connection.
//!
//! A write is retried only when it certainly did not happen (openraft answered
//! ForwardToLeader, or the leader could not be connected to). When the outcome is unknown
//! (a timeout after the request was sent), the client's connection is closed without a
//! reply, as a network failure would: an error reply would claim the write failed.

use std::time::{Duration, Instant};

use cairn_protocol::{Reply, WriteCommand};
use cairn_raft::network::{CallError, ForwardResult};
use cairn_raft::OpKind;
use openraft::error::{ClientWriteError, RaftError};

use crate::node::Node;

/// How long a batch of writes may take (proposed here or forwarded) before its outcome is
/// unknown.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// The result of one write.
#[derive(Debug)]
pub enum Outcome {
    Reply(Reply),
    /// The write may or may not have been applied.
    Unknown,
}

pub fn cluster_down() -> Reply {
    Reply::error("CLUSTERDOWN The cluster is down: no leader elected")
}

/// Executes client writes in order; one outcome each.
pub async fn write_batch(node: &Node, db: u8, cmds: Vec<WriteCommand>) -> Vec<Outcome> {
    let ops: Vec<OpKind> = cmds
        .into_iter()
        .map(|cmd| OpKind::Command { db, cmd })
        .collect();
    write_ops(node, ops).await
}

/// Executes operations through the leader in order; one outcome each.
pub async fn write_ops(node: &Node, ops: Vec<OpKind>) -> Vec<Outcome> {
    let mut outcomes: Vec<Option<Outcome>> = (0..ops.len()).map(|_| None).collect();
    let deadline = Instant::now() + node.leader_wait();
    // Indexes of ops still to do, in order.
    let mut todo: Vec<usize> = (0..ops.len()).collect();
    while !todo.is_empty() {
        let Some((leader, info)) = node.wait_leader(deadline).await else {
            for i in todo {
                outcomes[i] = Some(Outcome::Reply(cluster_down()));
            }
            break;
        };
        let batch: Vec<OpKind> = todo.iter().map(|i| ops[*i].clone()).collect();
        let results: Vec<ForwardResult> = if leader == node.id {
            // A leader cut off from its quorum cannot commit: give up after a bound, with an
            // unknown outcome (the entry may still commit if the partition heals).
            match tokio::time::timeout(FORWARD_TIMEOUT, node.proposer.propose(batch)).await {
                Ok(r) => r,
                Err(_) => {
                    for i in todo {
                        outcomes[i] = Some(Outcome::Unknown);
                    }
                    break;
                }
            }
        } else {
            match node
                .peers
                .forward(&info.raft_addr, &batch, FORWARD_TIMEOUT)
                .await
            {
                Ok(r) if r.len() == batch.len() => r,
                Ok(_) => {
                    tracing::warn!(
                        leader,
                        "a forward answered with the wrong number of replies"
                    );
                    for i in todo {
                        outcomes[i] = Some(Outcome::Unknown);
                    }
                    break;
                }
                Err(e @ (CallError::Timeout | CallError::Other(_))) => {
                    tracing::warn!(leader, error = %e, "forwarded writes have an unknown outcome");
                    for i in todo {
                        outcomes[i] = Some(Outcome::Unknown);
                    }
                    break;
                }
                Err(CallError::Unreachable(e)) => {
                    tracing::debug!(leader, error = %e, "leader unreachable; waiting for a new one");
                    if Instant::now() >= deadline {
                        for i in todo {
                            outcomes[i] = Some(Outcome::Reply(cluster_down()));
                        }
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        };
        let mut retry = Vec::new();
        for (i, r) in todo.iter().zip(results) {
            match r {
                Ok(reply) => outcomes[*i] = Some(Outcome::Reply(reply)),
                // Not proposed, or truncated before commit: certainly not applied.
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => retry.push(*i),
                Err(e) => {
                    tracing::warn!(error = %e, "write failed");
                    outcomes[*i] = Some(Outcome::Unknown);
                }
            }
        }
        if !retry.is_empty() && Instant::now() >= deadline {
            for i in retry {
                outcomes[i] = Some(Outcome::Reply(cluster_down()));
            }
            break;
        }
        if !retry.is_empty() {
            // Let the new leader become known before retrying.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        todo = retry;
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::Unknown))
        .collect()
}
