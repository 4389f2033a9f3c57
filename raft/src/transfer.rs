//! Leadership transfer (Raft's §3.10), built on openraft 0.9, which has none.
//!
//! The leader stops proposing, waits until the successor's log matches its own, gives up its
//! lease for the rest of its term and stops its heartbeats, then sends the successor
//! [`TimeoutNow`]. The successor stands at once; its vote requests say "the leader of term T
//! named me" ([`HandoffVote`]). A voter that follows that very leader in that very term grants
//! such a vote without waiting out the leader's lease: the leader gave the lease up before it
//! named anyone, so no read can count on the promise any more. The old leader votes too (it
//! holds no lease), so in a 3-node cluster the successor wins in one round trip and a vote's
//! fsync. Voters of any other leader or term treat the request as an ordinary vote.
//!
//! If the successor is not elected in time, the old leader takes its heartbeats and proposals
//! back up and leads on, in the same term, without a lease (see [`crate::lease`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::raft::VoteRequest;
use openraft::{RaftMetrics, ServerState};
use serde::{Deserialize, Serialize};

use crate::lease::LeaderLease;
use crate::network::PeerClients;
use crate::proposer::Proposer;
use crate::types::{NodeId, NodeInfo, Raft};

/// A leader names its successor: stand for election now (after `after_ms`, which a leader of
/// the previous version set to its lease; this version sends 0). A hand-off from an older
/// term, or one that arrives after a newer leader is known, is ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimeoutNow {
    /// The leader handing over.
    pub leader: NodeId,
    /// Its term.
    pub term: u64,
    pub after_ms: u64,
}

/// A vote request of a successor named by `leader` of `term`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandoffVote {
    pub leader: NodeId,
    pub term: u64,
    pub vote: VoteRequest<NodeId>,
}

/// Why a transfer did not happen, in words for the operator.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
pub enum TransferError {
    #[error("this node is not the leader (leader: {})", .0.map_or("unknown".to_string(), |l| l.to_string()))]
    NotLeader(Option<NodeId>),
    #[error("node {0} is not a voter of this cluster")]
    NotVoter(NodeId),
    #[error("node {0} is already the leader")]
    AlreadyLeader(NodeId),
    #[error("no other voter to hand leadership to")]
    NoSuccessor,
    #[error("node {0} did not catch up with the leader's log in time")]
    NotCaughtUp(NodeId),
    #[error("node {0} could not be reached: {1}")]
    Unreachable(NodeId, String),
    #[error("node {0} was not elected in time; the old leader leads on")]
    NotElected(NodeId),
    #[error("a leadership transfer is already running")]
    InProgress,
}

/// The new leader's id, or why there is none.
pub type TransferResult = Result<NodeId, TransferError>;

/// How long the successor may take to match the leader's log.
const CATCH_UP_WAIT: Duration = Duration::from_secs(1);
/// How long the old leader waits for the successor's election before it leads on. Longer
/// than a successor stands ([`SUCCESSOR_FOR`]), so no hand-off vote can outlast it.
const ELECTED_WAIT: Duration = Duration::from_millis(1000);
/// How long a named successor's vote requests are hand-off votes.
const SUCCESSOR_FOR: Duration = Duration::from_millis(600);
/// Election rounds a successor stands in, and the wait for a result after each.
const ROUNDS: usize = 3;
const ROUND_WAIT: Duration = Duration::from_millis(150);
/// The longest wait a (previous version's) hand-off may ask for.
const AFTER_MAX: Duration = Duration::from_secs(10);

/// What a leader needs to hand over.
#[derive(Clone)]
pub struct Handoff {
    pub id: NodeId,
    pub raft: Raft,
    pub proposer: Proposer,
    pub lease: Arc<LeaderLease>,
    pub peers: PeerClients,
}

/// What the old leader does once the hand-off is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Takes writes again (as a follower they are forwarded to the new leader).
    Resume,
    /// Keeps its proposer closed: it is stopping.
    Stop,
}

impl Handoff {
    /// Hands leadership to `to`, or to the most caught-up voter.
    pub async fn transfer(&self, to: Option<NodeId>, then: Then) -> TransferResult {
        let Some(_one_at_a_time) = self.proposer.hand_over() else {
            return Err(TransferError::InProgress);
        };
        let (term, to, addr) = self.successor(to)?;
        tracing::info!(successor = to, term, "leadership transfer: starting");
        let started = Instant::now();
        // The log stops growing here, so the successor can match it.
        self.proposer.close();
        let result = self.hand_over(term, to, &addr).await;
        self.raft.runtime_config().heartbeat(true);
        self.lease.end_handoff();
        if then == Then::Resume {
            self.proposer.reopen();
        }
        match &result {
            Ok(l) => tracing::info!(
                leader = l,
                took_ms = started.elapsed().as_millis() as u64,
                "leadership transfer: done"
            ),
            Err(e) => tracing::warn!(error = %e, "leadership transfer failed"),
        }
        result
    }

    async fn hand_over(&self, term: u64, to: NodeId, addr: &str) -> TransferResult {
        // Entries proposed before the close are appended and applied first: an entry that
        // lands after the successor matched the log would make its log older than this
        // node's, and this node would refuse it the vote.
        if !self.proposer.drain(CATCH_UP_WAIT).await || !self.caught_up(to).await {
            return Err(TransferError::NotCaughtUp(to));
        }
        // No lease from here on in this term, and no heartbeat that would renew the voters'.
        self.lease.begin_handoff(term);
        self.raft.runtime_config().heartbeat(false);
        // Anything appended meanwhile (not through the proposer) must reach it too.
        if !self.caught_up(to).await {
            return Err(TransferError::NotCaughtUp(to));
        }
        let request = TimeoutNow {
            leader: self.id,
            term,
            after_ms: 0,
        };
        self.peers
            .timeout_now(addr, &request, ROUND_WAIT)
            .await
            .map_err(|e| TransferError::Unreachable(to, e.to_string()))?;
        let me = self.id;
        self.raft
            .wait(Some(ELECTED_WAIT))
            .metrics(
                |m| m.current_leader.is_some_and(|l| l != me),
                "a successor elected",
            )
            .await
            .ok()
            .and_then(|m| m.current_leader)
            .ok_or(TransferError::NotElected(to))
    }

    /// The successor (this term, its id and peer address), if this node leads.
    fn successor(&self, to: Option<NodeId>) -> Result<(u64, NodeId, String), TransferError> {
        let m = self.raft.metrics().borrow().clone();
        if m.state != ServerState::Leader || m.current_leader != Some(self.id) {
            return Err(TransferError::NotLeader(m.current_leader));
        }
        let membership = m.membership_config.membership();
        let to = match to {
            Some(to) if to == self.id => return Err(TransferError::AlreadyLeader(to)),
            Some(to) if !membership.voter_ids().any(|v| v == to) => {
                return Err(TransferError::NotVoter(to))
            }
            Some(to) => to,
            None => membership
                .voter_ids()
                .filter(|v| *v != self.id)
                .max_by_key(|v| matched(&m, *v))
                .ok_or(TransferError::NoSuccessor)?,
        };
        let addr = membership
            .get_node(&to)
            .ok_or(TransferError::NotVoter(to))?
            .raft_addr
            .clone();
        Ok((m.current_term, to, addr))
    }

    /// Waits (bounded) until `to` has matched this leader's last log entry.
    async fn caught_up(&self, to: NodeId) -> bool {
        self.raft
            .wait(Some(CATCH_UP_WAIT))
            .metrics(
                |m| {
                    let matched = matched(m, to);
                    matched.is_some() && matched == m.last_log_index
                },
                "the successor caught up",
            )
            .await
            .is_ok()
    }
}

/// The last log index `voter` has matched, as this leader's replication reports it.
fn matched(m: &RaftMetrics<NodeId, NodeInfo>, voter: NodeId) -> Option<u64> {
    m.replication
        .as_ref()
        .and_then(|r| r.get(&voter).copied().flatten())
        .map(|l| l.index)
}

/// The successor's side of [`TimeoutNow`]: stands for election at once (after `after_ms`), in
/// up to [`ROUNDS`] rounds, asking hand-off votes, unless the cluster has moved on.
pub fn stand(raft: Raft, peers: PeerClients, handoff: TimeoutNow) {
    let wait = Duration::from_millis(handoff.after_ms).min(AFTER_MAX);
    tracing::info!(
        from = handoff.leader,
        term = handoff.term,
        ?wait,
        "leadership hand-off: standing for election"
    );
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        let m = raft.metrics().borrow().clone();
        // Someone else already took over, or this is a hand-off from an older term.
        if m.current_term != handoff.term || m.current_leader.is_some_and(|l| l != handoff.leader) {
            tracing::info!(term = m.current_term, leader = ?m.current_leader,
                "leadership hand-off: not standing, the cluster has moved on");
            return;
        }
        peers.stand_as_successor(handoff.leader, handoff.term, Instant::now() + SUCCESSOR_FOR);
        for _ in 0..ROUNDS {
            if let Err(e) = raft.trigger().elect().await {
                tracing::warn!(error = %e, "leadership hand-off: could not stand for election");
                return;
            }
            let old = handoff.leader;
            let elected = raft
                .wait(Some(ROUND_WAIT))
                .metrics(
                    |m| m.current_leader.is_some_and(|l| l != old),
                    "elected after a hand-off",
                )
                .await;
            if elected.is_ok() {
                return;
            }
        }
    });
}

/// Whether a hand-off vote comes from the successor of the leader this voter follows, in its
/// term: only then may the voter skip waiting out that leader's lease.
pub fn named_by_my_leader(raft: &Raft, ask: &HandoffVote) -> bool {
    let vote = raft.metrics().borrow().vote;
    vote.is_committed()
        && vote.leader_id().get_term() == ask.term
        && vote.leader_id().voted_for() == Some(ask.leader)
}
