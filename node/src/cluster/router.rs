//! The write path: a run of writes from one connection goes to the leader, proposed in order.
//! On the leader they are proposed locally; on a follower they are forwarded over the peer
//! protocol and the replies come back on the client's connection.
//!
//! A write that is forwarded carries a [`RequestId`] from its first forward on, and replicas
//! apply an id at most once (see `cairn_raft::keyspace::once`). So a forwarded write whose
//! outcome is unknown (the leader died or timed out mid-call) is simply sent again, to
//! whichever node leads next, and its first reply comes back. Writes proposed by the leader
//! itself carry no id (recording replies costs the leader about a quarter of its write
//! throughput): openraft answers them once they are applied, or with ForwardToLeader when
//! their entry was truncated, so they need no retry unless their node loses its leadership
//! and then they are retried only when certainly not applied. When the outcome stays unknown
//! (for [`RETRY_FOR`], or a local proposal timed out), the client's connection is closed
//! without a reply, as a network failure would: an error reply would claim the write failed.

use std::time::{Duration, Instant};

use cairn_protocol::Reply;
use cairn_raft::keyspace::once::REPLY_KEPT_MS;
use cairn_raft::network::CallError;
use cairn_raft::proposer::ProposeResult;
use cairn_raft::{OpKind, RequestId};
use openraft::error::{ClientWriteError, RaftError};

use crate::cluster::handle::Cluster;
use crate::cluster::handle::RequestIds;

/// How long one attempt of a batch of writes may take (proposed here or forwarded).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write whose outcome is unknown is retried before the client is told nothing.
const RETRY_FOR: Duration = Duration::from_secs(20);
// A retry must find the record of its first application: replicas keep it far longer.
const _: () = assert!(RETRY_FOR.as_millis() as u64 * 2 <= REPLY_KEPT_MS);

/// A write on its way, with its request id once it has been forwarded: from then on every
/// attempt carries the id, wherever it goes.
struct InFlight {
    op: OpKind,
    id: Option<RequestId>,
}

impl InFlight {
    /// Whether the op may be sent again after an unknown outcome: it carries an id, or it is
    /// one of the leader's own idempotent entries (checks, expiry).
    fn retryable(&self) -> bool {
        self.id.is_some() || !self.is_client_write()
    }

    /// A client's write (as opposed to the leader's own check and expiry entries).
    fn is_client_write(&self) -> bool {
        matches!(
            self.op,
            OpKind::Command { .. } | OpKind::Exec { .. } | OpKind::Acl(_) | OpKind::Tracked { .. }
        )
    }

    fn logged(&self) -> OpKind {
        match self.id {
            Some(id) => OpKind::Once {
                id,
                op: Box::new(self.op.clone()),
            },
            None => self.op.clone(),
        }
    }

    /// Gives a client write its id, before it first leaves this node.
    fn tag(&mut self, ids: &RequestIds) {
        if self.id.is_none() && self.is_client_write() {
            self.id = Some(ids.next());
        }
    }
}

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

/// Executes operations through the leader in order; one outcome each.
pub async fn write_ops(cluster: &Cluster, ops: Vec<OpKind>) -> Vec<Outcome> {
    let mut ops: Vec<InFlight> = ops
        .into_iter()
        .map(|op| InFlight { op, id: None })
        .collect();
    let mut outcomes: Vec<Option<Outcome>> = (0..ops.len()).map(|_| None).collect();
    let limit = cluster.config.max_write_bytes;
    let disk_full = cluster.disk.refusal();
    for (op, outcome) in ops.iter().zip(outcomes.iter_mut()) {
        // This node cannot persist what it would apply: refused here, as the leader refuses
        // when its own disk is full (the proposer).
        if let Some(refusal) = &disk_full {
            *outcome = Some(Outcome::Reply(Reply::error(refusal.clone())));
            continue;
        }
        let bytes = op.op.encoded_len();
        if bytes > limit {
            *outcome = Some(Outcome::Reply(Reply::error(format!(
                "ERR write of {bytes} bytes is over max-write-bytes ({limit}): it could not be replicated in time"
            ))));
        }
    }
    let give_up = Instant::now() + RETRY_FOR;
    let mut leader_deadline = Instant::now() + cluster.leader_wait();
    // Whether an attempt may have reached a leader: from then on, failure is never certain.
    let mut maybe_applied = false;
    // Indexes of ops still to do, in order.
    let mut todo: Vec<usize> = (0..ops.len()).filter(|i| outcomes[*i].is_none()).collect();
    while !todo.is_empty() {
        let results = match attempt(
            cluster,
            &mut ops,
            &todo,
            leader_deadline.min(give_up),
            give_up,
        )
        .await
        {
            Attempt::Done(results) => results,
            Attempt::NoLeader if !maybe_applied => {
                for i in todo {
                    outcomes[i] = Some(Outcome::Reply(cluster_down()));
                }
                break;
            }
            Attempt::Unknown if !todo.iter().all(|i| ops[*i].retryable()) => break,
            Attempt::NoLeader | Attempt::Unknown => {
                maybe_applied = true;
                if Instant::now() >= give_up {
                    break;
                }
                // A fresh wait for the next leader, and a moment for it to be known.
                leader_deadline = Instant::now() + cluster.leader_wait();
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let mut retry = Vec::new();
        for (i, r) in todo.iter().zip(results) {
            match r {
                Ok(reply) => outcomes[*i] = Some(Outcome::Reply(reply)),
                // Not proposed, or truncated before commit: retried on the next leader.
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => retry.push(*i),
                Err(e) if ops[*i].retryable() => {
                    tracing::warn!(error = %e, "write failed; retrying");
                    maybe_applied = true;
                    retry.push(*i);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "write failed with an unknown outcome");
                    outcomes[*i] = Some(Outcome::Unknown);
                }
            }
        }
        if !retry.is_empty() {
            if Instant::now() >= leader_deadline.min(give_up) {
                for i in retry {
                    outcomes[i] = Some(if maybe_applied {
                        Outcome::Unknown
                    } else {
                        Outcome::Reply(cluster_down())
                    });
                }
                break;
            }
            // Let the new leader become known before retrying: as soon as this node's view of
            // the leader changes (a transfer completes in a few ms), else after a short step.
            let tried = cluster.leader().map(|(l, _)| l);
            let step = tokio::time::sleep(RETRY_STEP);
            match tried {
                Some(l) => tokio::select! {
                    () = step => {}
                    () = cluster.leader_changed(l) => {}
                },
                None => step.await,
            }
        }
        todo = retry;
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::Unknown))
        .collect()
}

enum Attempt {
    /// One result per op.
    Done(Vec<ProposeResult>),
    /// No leader could be found or reached by the deadline: nothing was delivered.
    NoLeader,
    /// The ops may or may not have been applied.
    Unknown,
}

/// One try of `ops[todo]` at the current leader: proposed here when this node leads,
/// forwarded (with request ids) otherwise. `deadline` bounds the wait for a leader,
/// `give_up` the whole write.
async fn attempt(
    cluster: &Cluster,
    ops: &mut [InFlight],
    todo: &[usize],
    deadline: Instant,
    give_up: Instant,
) -> Attempt {
    loop {
        let Some((leader, info)) = cluster.wait_leader(deadline).await else {
            return Attempt::NoLeader;
        };
        if leader == cluster.id {
            let batch: Vec<OpKind> = todo.iter().map(|i| ops[*i].logged()).collect();
            let proposal = cluster.proposer.propose(batch);
            // Ops that may be sent again need not wait for a leader that stepped down.
            // The others wait: openraft answers them when applied (also after this node
            // stepped down), or ForwardToLeader when truncated, so under churn they are
            // answered late rather than never. Only a node cut off from the quorum for the
            // whole write's bound gives up, with an unknown outcome (the entry may still
            // commit if it heals), and the client's connection is closed.
            let result = if todo.iter().all(|i| ops[*i].retryable()) {
                until_leader_changes(cluster, leader, proposal).await
            } else {
                let wait = give_up.saturating_duration_since(Instant::now());
                tokio::time::timeout(wait.max(ATTEMPT_TIMEOUT), proposal)
                    .await
                    .ok()
            };
            return result.map_or(Attempt::Unknown, Attempt::Done);
        }
        for i in todo {
            ops[*i].tag(&cluster.request_ids);
        }
        let batch: Vec<OpKind> = todo.iter().map(|i| ops[*i].logged()).collect();
        let forward = cluster
            .peers
            .forward(&info.raft_addr, &batch, ATTEMPT_TIMEOUT);
        let Some(forwarded) = until_leader_changes(cluster, leader, forward).await else {
            return Attempt::Unknown;
        };
        match forwarded {
            Ok(r) if r.len() == batch.len() => return Attempt::Done(r),
            Ok(_) => {
                tracing::warn!(
                    leader,
                    "a forward answered with the wrong number of replies"
                );
                return Attempt::Unknown;
            }
            Err(e @ (CallError::Timeout | CallError::Other(_))) => {
                tracing::warn!(leader, error = %e, "forwarded writes have an unknown outcome; retrying");
                return Attempt::Unknown;
            }
            Err(CallError::Unreachable(e)) => {
                tracing::debug!(leader, error = %e, "leader unreachable; waiting for a new one");
                if Instant::now() >= deadline {
                    return Attempt::NoLeader;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The longest wait before a write refused with "not leader" is sent again.
const RETRY_STEP: Duration = Duration::from_millis(20);

/// `call`'s result, or `None` once [`ATTEMPT_TIMEOUT`] passes or `leader` stops leading in
/// this node's view: a paused or partitioned leader does not hold writes for the whole
/// timeout when a new leader could take them (a retry is safe, ids are applied once).
async fn until_leader_changes<T>(
    cluster: &Cluster,
    leader: u64,
    call: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        r = tokio::time::timeout(ATTEMPT_TIMEOUT, call) => r.ok(),
        () = cluster.leader_changed(leader) => None,
    }
}
