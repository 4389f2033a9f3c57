//! The gRPC service a node offers its peers.

use bytes::Bytes;
use std::sync::Arc;

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, VoteRequest, VoteResponse};
use serde::Serialize;
use tonic::{Request, Response as TonicResponse, Status};

use super::status::PeerStatus;
use super::{open, seal};
use crate::election::{Elections, PreVote};
use crate::membership::MemberChange;
use crate::pb::peer_server::Peer;
use crate::pb::Envelope;
use crate::store::StateMachine;
use crate::transfer::{Handoff, HandoffVote, Then, TimeoutNow};
use crate::types::{NodeId, NodeInfo, OpKind, TypeConfig};

/// A forwarded write's outcome as it travels back to the follower: the reply in raft's own type
/// (see [`crate::logged`]), since nodes of two builds talk during a rolling upgrade.
pub type ForwardResult = Result<crate::logged::Reply, crate::proposer::ProposeError>;
pub type ReadIndexResult = Result<u64, RaftError<NodeId, CheckIsLeaderError<NodeId, NodeInfo>>>;
/// A read index and the leader's wall clock (ms since the epoch) when it confirmed it.
pub type ReadIndexAtResult =
    Result<(u64, u64), RaftError<NodeId, CheckIsLeaderError<NodeId, NodeInfo>>>;

/// The most writes one Forward call may carry (a pipelined run from one client).
pub const FORWARD_BATCH_MAX: usize = 1024;

/// Delivers a pub/sub message (channel, message) to the node's subscribers; how many got it.
/// The node owns subscriptions; this crate only carries messages between nodes.
pub type PublishSink = std::sync::Arc<dyn Fn(&Bytes, &Bytes) -> usize + Send + Sync>;

/// The most key accesses one Touch call may carry: a follower's report of one period.
pub const TOUCH_BATCH_MAX: usize = 8192;

/// One reported access summary: (db, scan hash of the key, accesses in the period).
pub type Touched = (u8, u64, u32);

/// Takes the key accesses another node reports: the node owns access tracking; this crate
/// only carries the reports.
pub type TouchSink = std::sync::Arc<dyn Fn(Vec<Touched>) + Send + Sync>;

/// What the node gives the peer service besides raft: where pub/sub messages and access
/// reports from other nodes go.
pub struct Sinks {
    pub publish: PublishSink,
    pub touch: TouchSink,
}

pub struct PeerService {
    /// The node's raft parts: also what a leadership transfer needs.
    parts: Handoff,
    sm: StateMachine,
    sinks: Sinks,
    elections: Arc<Elections>,
}

impl PeerService {
    /// The service over the node's raft parts (`parts`: also what a leadership transfer
    /// needs), its state machine, where messages from other nodes go, and its elections.
    pub fn new(parts: Handoff, sm: StateMachine, sinks: Sinks, elections: Arc<Elections>) -> Self {
        PeerService {
            parts,
            sm,
            sinks,
            elections,
        }
    }

    /// A vote request through the ordinary checks: refused while this node holds a lease,
    /// is quiet after a restart or amnesiac, or heard from a leader less than an election
    /// timeout ago (that leader may hold a lease counting on this voter).
    async fn vote_checked(
        &self,
        rpc: VoteRequest<NodeId>,
        skip_leader_lease: bool,
    ) -> Result<TonicResponse<Envelope>, Status> {
        if self.parts.lease.refuses_vote(rpc.last_log_id)
            || (!skip_leader_lease && self.elections.leader_heard_recently())
        {
            // Refused with this node's own vote, which the candidate ignores.
            let vote = self.parts.raft.metrics().borrow().vote;
            tracing::info!(candidate = %rpc.vote, "refusing a vote: a lease may run, or this node forgot");
            let refused: Result<VoteResponse<NodeId>, RaftError<NodeId>> =
                Ok(VoteResponse::new(vote, None, false));
            return reply(&refused);
        }
        let result = self.parts.raft.vote(rpc).await;
        if matches!(&result, Ok(r) if r.vote_granted) {
            self.elections.granted_vote();
        }
        reply(&result)
    }

    /// A read index for a follower's read: from the lease when this node holds one (no
    /// round), else from a quorum round, which also renews the lease.
    async fn read_index(&self) -> ReadIndexResult {
        if let Some(leased) = self.parts.lease.read_index(&self.parts.raft) {
            self.parts.lease.renew_if_due(&self.parts.raft, &leased);
            return Ok(leased.index);
        }
        self.parts
            .lease
            .round(&self.parts.raft)
            .await
            .map(|read| read.map_or(0, |l| l.index))
    }
}

fn bad_request(e: crate::Error) -> Status {
    Status::invalid_argument(e.to_string())
}

fn reply<T: Serialize>(value: &T) -> Result<TonicResponse<Envelope>, Status> {
    seal(value)
        .map(TonicResponse::new)
        .map_err(|e| Status::internal(e.to_string()))
}

#[tonic::async_trait]
impl Peer for PeerService {
    async fn append_entries(
        &self,
        req: Request<Envelope>,
    ) -> Result<TonicResponse<Envelope>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> = open(req.get_ref()).map_err(bad_request)?;
        // The leader this node follows (or a newer one) is heard from when its append
        // arrives, not only when raft has stored it: a large entry can take longer to store
        // than the leader waits for an answer (one heartbeat interval), and the leader then
        // sends it again, alive all along. Counting only completed appends made followers
        // stand for election under a stream of megabyte writes.
        if rpc.vote >= self.parts.raft.metrics().borrow().vote {
            self.elections.heard_from_leader();
        }
        let result = self.parts.raft.append_entries(rpc).await;
        if matches!(&result, Ok(r) if !matches!(r, AppendEntriesResponse::HigherVote(_))) {
            self.elections.heard_from_leader();
        }
        reply(&result)
    }

    async fn vote(&self, req: Request<Envelope>) -> Result<TonicResponse<Envelope>, Status> {
        let rpc: VoteRequest<NodeId> = open(req.get_ref()).map_err(bad_request)?;
        self.vote_checked(rpc, false).await
    }

    async fn handoff_vote(
        &self,
        req: Request<Envelope>,
    ) -> Result<TonicResponse<Envelope>, Status> {
        let ask: HandoffVote = open(req.get_ref()).map_err(bad_request)?;
        let named = crate::transfer::named_by_my_leader(&self.parts.raft, &ask);
        tracing::info!(candidate = %ask.vote.vote, leader = ask.leader, term = ask.term, named,
            "hand-off vote");
        self.vote_checked(ask.vote, named).await
    }

    async fn transfer_leader(
        &self,
        req: Request<Envelope>,
    ) -> Result<TonicResponse<Envelope>, Status> {
        let to: Option<NodeId> = open(req.get_ref()).map_err(bad_request)?;
        reply(&self.parts.transfer(to, Then::Resume).await)
    }

    async fn install_snapshot(
        &self,
        req: Request<Envelope>,
    ) -> Result<TonicResponse<Envelope>, Status> {
        let rpc = open(req.get_ref()).map_err(bad_request)?;
        let result = self.parts.raft.install_snapshot(rpc).await;
        if result.is_ok() {
            self.elections.heard_from_leader();
        }
        reply(&result)
    }

    async fn pre_vote(&self, req: Request<Envelope>) -> Result<TonicResponse<Envelope>, Status> {
        let ask = PreVote::open(req.get_ref()).map_err(bad_request)?;
        let granted = self
            .elections
            .grants_pre_vote(&self.parts.raft, &self.parts.lease, &ask);
        tracing::debug!(candidate = ask.candidate, granted, "pre-vote");
        reply(&granted)
    }

    async fn forward(&self, req: Request<Envelope>) -> Result<TonicResponse<Envelope>, Status> {
        let ops: Vec<OpKind> = open(req.get_ref()).map_err(bad_request)?;
        if ops.len() > FORWARD_BATCH_MAX {
            return Err(Status::invalid_argument(format!(
                "forward batch of {} ops (at most {FORWARD_BATCH_MAX})",
                ops.len()
            )));
        }
        let mut results: Vec<ForwardResult> = Vec::with_capacity(ops.len());
        for result in self.parts.proposer.propose(ops).await {
            results.push(result.map(crate::logged::Reply::from));
        }
        reply(&results)
    }

    async fn read_index(&self, _req: Request<Envelope>) -> Result<TonicResponse<Envelope>, Status> {
        reply(&PeerService::read_index(self).await)
    }

    async fn read_index_at(
        &self,
        _req: Request<Envelope>,
    ) -> Result<TonicResponse<Envelope>, Status> {
        let result: ReadIndexAtResult = PeerService::read_index(self)
            .await
            .map(|index| (index, crate::types::now_ms()));
        reply(&result)
    }

    async fn status(&self, _req: Request<Envelope>) -> Result<TonicResponse<Envelope>, Status> {
        reply(&PeerStatus::of(self.parts.id, &self.parts.raft, &self.sm))
    }

    async fn change_membership(
        &self,
        req: Request<Envelope>,
    ) -> Result<TonicResponse<Envelope>, Status> {
        let change: MemberChange = open(req.get_ref()).map_err(bad_request)?;
        reply(&crate::membership::change(&self.parts.raft, change).await)
    }

    async fn publish(&self, req: Request<Envelope>) -> Result<TonicResponse<Envelope>, Status> {
        let (channel, message): (Bytes, Bytes) = open(req.get_ref()).map_err(bad_request)?;
        reply(&((self.sinks.publish)(&channel, &message) as u64))
    }

    async fn touch(&self, req: Request<Envelope>) -> Result<TonicResponse<Envelope>, Status> {
        let touched: Vec<Touched> = open(req.get_ref()).map_err(bad_request)?;
        if touched.len() > TOUCH_BATCH_MAX {
            return Err(Status::invalid_argument(format!(
                "{} accesses in one report, at most {TOUCH_BATCH_MAX}",
                touched.len()
            )));
        }
        (self.sinks.touch)(touched);
        reply(&())
    }

    async fn timeout_now(&self, req: Request<Envelope>) -> Result<TonicResponse<Envelope>, Status> {
        let handoff: TimeoutNow = open(req.get_ref()).map_err(bad_request)?;
        crate::transfer::stand(self.parts.raft.clone(), self.parts.peers.clone(), handoff);
        reply(&())
    }
}
