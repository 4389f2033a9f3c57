//! The client side of the peer protocol: openraft's network and the node's forwarding calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::AnyError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};

use super::server::{ForwardResult, ReadIndexResult};
use super::status::PeerStatus;
use super::{open, seal, MESSAGE_BYTES_MAX};
use crate::error::{Error, Result};
use crate::pb::peer_client::PeerClient;
use crate::pb::Envelope;

use crate::types::{Entry, LogId, NodeId, NodeInfo, OpKind, TypeConfig};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Most bytes of log entries in one AppendEntries call (at least one entry is always sent).
/// openraft 0.9 gives an AppendEntries call one heartbeat interval (50 ms by default) and
/// resends the same range after a timeout: a payload that cannot be shipped, decoded and
/// flushed by a follower within that time would be resent forever and stall the cluster.
/// openraft's own bound is 300 entries, and one entry may hold up to 1,024 writes.
pub const APPEND_BYTES_MAX: u64 = 256 * 1024;

/// Keeps the longest prefix of `entries` within [`APPEND_BYTES_MAX`] (never fewer than one);
/// the log id of the last entry kept when some were cut.
fn cut_to_budget(entries: &mut Vec<Entry>) -> Option<LogId> {
    let mut bytes = 0u64;
    let keep = entries
        .iter()
        .position(|e| {
            bytes = bytes.saturating_add(bincode::serialized_size(e).unwrap_or(u64::MAX));
            bytes > APPEND_BYTES_MAX
        })
        .map_or(entries.len(), |over| over.max(1));
    if keep == entries.len() {
        return None;
    }
    entries.truncate(keep);
    entries.last().map(|e| e.log_id)
}

/// One channel per peer address, shared by openraft's replication and the node's calls.
#[derive(Clone, Default)]
pub struct PeerClients {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    token: super::PeerToken,
    tls: Option<super::PeerTls>,
    /// When each peer last answered one of this node's raft RPCs (appends and heartbeats
    /// while leading, votes while standing): how operators see an unreachable follower.
    contacts: Arc<Mutex<HashMap<NodeId, Instant>>>,
    /// While this node stands as a leader's named successor: (that leader, its term, until).
    successor: Arc<Mutex<Option<(NodeId, u64, Instant)>>>,
}

#[derive(Clone, Copy)]
enum Rpc {
    AppendEntries,
    Vote,
    InstallSnapshot,
    Forward,
    ReadIndex,
    ReadIndexAt,
    Status,
    Publish,
    ChangeMembership,
    Touch,
    TimeoutNow,
    PreVote,
    HandoffVote,
    TransferLeader,
}

impl PeerClients {
    /// Clients that present `token` on every call and, with `tls`, connect over mutual TLS.
    pub fn new(token: super::PeerToken, tls: Option<super::PeerTls>) -> PeerClients {
        PeerClients {
            channels: Arc::default(),
            token,
            tls,
            contacts: Arc::default(),
            successor: Arc::default(),
        }
    }

    /// Time since each peer last answered a raft RPC of this node, for the peers it has
    /// sent any to since it started.
    pub fn last_contacts(&self) -> Vec<(NodeId, Duration)> {
        let Ok(contacts) = self.contacts.lock() else {
            return Vec::new();
        };
        let mut out: Vec<_> = contacts
            .iter()
            .map(|(&id, at)| (id, at.elapsed()))
            .collect();
        out.sort_unstable_by_key(|&(id, _)| id);
        out
    }

    fn contacted(&self, peer: NodeId) {
        if let Ok(mut contacts) = self.contacts.lock() {
            contacts.insert(peer, Instant::now());
        }
    }

    fn channel(&self, addr: &str) -> Result<Channel> {
        let mut map = self
            .channels
            .lock()
            .map_err(|_| Error::Raft("peer channel map poisoned".into()))?;
        if let Some(c) = map.get(addr) {
            return Ok(c.clone());
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
            .map_err(|e| Error::BadMessage(format!("peer address {addr:?}: {e}")))?;
        if let Some(tls) = &self.tls {
            endpoint = endpoint
                .tls_config(tls.client())
                .map_err(|e| Error::BadMessage(format!("peer TLS for {addr}: {e}")))?;
        }
        let endpoint = endpoint
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5));
        // Lazy: the name is resolved when connecting, and again on every reconnect.
        let channel = endpoint.connect_lazy();
        map.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        addr: &str,
        rpc: Rpc,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, CallError> {
        let resp = self.call_raw(addr, rpc, req, timeout).await?;
        open::<Resp>(&resp).map_err(CallError::Other)
    }

    /// [`Self::call`] without decoding the answer (for answers of more than one version).
    async fn call_raw<Req: Serialize>(
        &self,
        addr: &str,
        rpc: Rpc,
        req: &Req,
        timeout: Duration,
    ) -> Result<Envelope, CallError> {
        let channel = self.channel(addr).map_err(CallError::Unreachable)?;
        let mut client = PeerClient::new(channel)
            .max_decoding_message_size(MESSAGE_BYTES_MAX)
            .max_encoding_message_size(MESSAGE_BYTES_MAX);
        let mut request = tonic::Request::new(seal(req).map_err(CallError::Other)?);
        request.set_timeout(timeout);
        self.token.attach(&mut request);
        let fut = async {
            match rpc {
                Rpc::AppendEntries => client.append_entries(request).await,
                Rpc::Vote => client.vote(request).await,
                Rpc::InstallSnapshot => client.install_snapshot(request).await,
                Rpc::Forward => client.forward(request).await,
                Rpc::ReadIndex => client.read_index(request).await,
                Rpc::ReadIndexAt => client.read_index_at(request).await,
                Rpc::Status => client.status(request).await,
                Rpc::Publish => client.publish(request).await,
                Rpc::ChangeMembership => client.change_membership(request).await,
                Rpc::Touch => client.touch(request).await,
                Rpc::TimeoutNow => client.timeout_now(request).await,
                Rpc::PreVote => client.pre_vote(request).await,
                Rpc::HandoffVote => client.handoff_vote(request).await,
                Rpc::TransferLeader => client.transfer_leader(request).await,
            }
        };
        // The outer timeout also covers connecting.
        let resp = tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| CallError::Timeout)?
            .map_err(|s| match s.code() {
                // Only a failure to connect proves the request was never delivered.
                tonic::Code::Unavailable if is_connect_error(&s) => {
                    CallError::Unreachable(Error::Unreachable {
                        node: 0,
                        reason: with_causes(&s),
                    })
                }
                tonic::Code::DeadlineExceeded => CallError::Timeout,
                _ => CallError::Other(Error::BadMessage(format!("{}: {}", s.code(), s.message()))),
            })?;
        Ok(resp.into_inner())
    }

    /// Sends client writes to the leader at `addr`, to be proposed in this order, and waits
    /// for their replies.
    pub async fn forward(
        &self,
        addr: &str,
        ops: &[OpKind],
        timeout: Duration,
    ) -> Result<Vec<crate::proposer::ProposeResult>, CallError> {
        let results: Vec<ForwardResult> = self.call(addr, Rpc::Forward, &ops, timeout).await?;
        let mut out = Vec::with_capacity(results.len());
        for result in results {
            out.push(result.map(cairn_protocol::Reply::from));
        }
        Ok(out)
    }

    /// Asks the leader at `addr` for a read index.
    pub async fn read_index(
        &self,
        addr: &str,
        timeout: Duration,
    ) -> Result<ReadIndexResult, CallError> {
        self.call(addr, Rpc::ReadIndex, &(), timeout).await
    }

    /// Asks the leader at `addr` for a read index and its clock (see the `ReadIndexAt` RPC).
    pub async fn read_index_at(
        &self,
        addr: &str,
        timeout: Duration,
    ) -> Result<super::ReadIndexAtResult, CallError> {
        self.call(addr, Rpc::ReadIndexAt, &(), timeout).await
    }

    pub async fn status(&self, addr: &str, timeout: Duration) -> Result<PeerStatus, CallError> {
        let resp = self.call_raw(addr, Rpc::Status, &(), timeout).await?;
        PeerStatus::open(&resp).map_err(CallError::Other)
    }

    /// Asks the node at `addr` (the leader) to change the membership.
    pub async fn change_membership(
        &self,
        addr: &str,
        change: &crate::membership::MemberChange,
        timeout: Duration,
    ) -> Result<crate::membership::ChangeOutcome, CallError> {
        self.call(addr, Rpc::ChangeMembership, change, timeout)
            .await
    }

    /// Asks the node at `addr` to deliver a pub/sub message to its subscribers; how many got it.
    pub async fn publish(
        &self,
        addr: &str,
        channel: bytes::Bytes,
        message: bytes::Bytes,
        timeout: Duration,
    ) -> Result<usize, CallError> {
        let delivered: u64 = self
            .call(addr, Rpc::Publish, &(channel, message), timeout)
            .await?;
        Ok(usize::try_from(delivered).unwrap_or(usize::MAX))
    }

    /// Reports key accesses this node served to the leader at `addr` (at most
    /// [`super::server::TOUCH_BATCH_MAX`]).
    pub async fn touch(
        &self,
        addr: &str,
        touched: &[super::server::Touched],
        timeout: Duration,
    ) -> Result<(), CallError> {
        self.call(addr, Rpc::Touch, &touched, timeout).await
    }

    /// Tells the follower at `addr` that this leader has stopped and it should stand for
    /// election (see [`super::server::TimeoutNow`]).
    pub async fn timeout_now(
        &self,
        addr: &str,
        request: &crate::transfer::TimeoutNow,
        timeout: Duration,
    ) -> Result<(), CallError> {
        self.call(addr, Rpc::TimeoutNow, request, timeout).await
    }

    /// Asks the voter at `addr` whether it would vote for this node (see
    /// [`crate::election`]).
    pub async fn pre_vote(
        &self,
        addr: &str,
        request: &crate::election::PreVote,
        timeout: Duration,
    ) -> Result<bool, CallError> {
        self.call(addr, Rpc::PreVote, request, timeout).await
    }

    /// Asks the leader at `addr` to hand leadership to `to`, or to the voter it picks (see
    /// [`crate::transfer`]).
    pub async fn transfer_leader(
        &self,
        addr: &str,
        to: Option<NodeId>,
        timeout: Duration,
    ) -> Result<crate::transfer::TransferResult, CallError> {
        self.call(addr, Rpc::TransferLeader, &to, timeout).await
    }

    /// From now until `until`, this node's vote requests are hand-off votes for `leader`'s
    /// term `term` (it was named successor by [`super::TimeoutNow`]).
    pub fn stand_as_successor(&self, leader: NodeId, term: u64, until: Instant) {
        *self.successor.lock().unwrap_or_else(|e| e.into_inner()) = Some((leader, term, until));
    }

    /// The hand-off this node stands in, if one is running.
    fn successor_of(&self) -> Option<(NodeId, u64)> {
        let mut s = self.successor.lock().unwrap_or_else(|e| e.into_inner());
        match *s {
            Some((leader, term, until)) if Instant::now() < until => Some((leader, term)),
            _ => {
                *s = None;
                None
            }
        }
    }
}

/// The status message followed by its chain of causes ("tcp connect error: Connection
/// refused (os error 111)"), for logs and for [`is_connect_error`].
fn with_causes(s: &tonic::Status) -> String {
    let mut text = s.message().to_string();
    let mut source = std::error::Error::source(s);
    while let Some(e) = source {
        let cause = e.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = e.source();
    }
    text
}

fn is_connect_error(s: &tonic::Status) -> bool {
    let text = with_causes(s).to_ascii_lowercase();
    // Name resolution or connection setup failed: nothing was sent on a connection.
    (text.contains("dns error") || text.contains("connect") || text.contains("connection refused"))
        && !text.contains("reset")
}

/// Why a peer call failed, before any answer of the peer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Could not connect: the request was not delivered.
    #[error("unreachable: {0}")]
    Unreachable(Error),
    /// No answer in time: the request may or may not have been executed.
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Other(Error),
}

impl CallError {
    fn into_rpc<E: std::error::Error>(self) -> RPCError<NodeId, NodeInfo, E> {
        match self {
            CallError::Unreachable(e) => RPCError::Unreachable(Unreachable::new(&e)),
            CallError::Timeout => {
                RPCError::Network(NetworkError::new(&AnyError::error("timed out")))
            }
            CallError::Other(e) => RPCError::Network(NetworkError::new(&e)),
        }
    }
}

/// openraft's network factory.
#[derive(Clone, Default)]
pub struct PeerNetwork {
    pub clients: PeerClients,
}

impl RaftNetworkFactory<TypeConfig> for PeerNetwork {
    type Network = PeerConn;

    async fn new_client(&mut self, target: NodeId, node: &NodeInfo) -> PeerConn {
        PeerConn {
            target,
            addr: node.raft_addr.clone(),
            clients: self.clients.clone(),
        }
    }
}

pub struct PeerConn {
    target: NodeId,
    addr: String,
    clients: PeerClients,
}

impl PeerConn {
    async fn raft_call<Req, Resp, E>(
        &self,
        rpc: Rpc,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, NodeInfo, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let result: Result<Resp, RaftError<NodeId, E>> = self
            .clients
            .call(&self.addr, rpc, req, option.hard_ttl())
            .await
            .map_err(CallError::into_rpc)?;
        // An answer, even a refusal, shows the peer is up and reachable.
        self.clients.contacted(self.target);
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerConn {
    async fn append_entries(
        &mut self,
        mut rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        let sent_last = cut_to_budget(&mut rpc.entries);
        let resp = self.raft_call(Rpc::AppendEntries, &rpc, &option).await?;
        Ok(match (resp, sent_last) {
            // Only a prefix went out: openraft sends the rest next.
            (AppendEntriesResponse::Success, Some(last)) => {
                AppendEntriesResponse::PartialSuccess(Some(last))
            }
            (resp, _) => resp,
        })
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, NodeInfo, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.raft_call(Rpc::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        if let Some((leader, term)) = self.clients.successor_of() {
            let ask = super::HandoffVote {
                leader,
                term,
                vote: rpc.clone(),
            };
            match self.raft_call(Rpc::HandoffVote, &ask, &option).await {
                // A peer of the previous version: an ordinary vote, which waits out the lease.
                Err(RPCError::Network(e)) if e.to_string().contains("Unimplemented") => {}
                other => return other,
            }
        }
        self.raft_call(Rpc::Vote, &rpc, &option).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::types::WriteOp;
    use bytes::Bytes;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(index: u64, value_bytes: usize) -> Entry {
        let cmd = cairn_protocol::WriteCommand::Set {
            key: Bytes::from_static(b"k"),
            value: Bytes::from(vec![b'x'; value_bytes]),
            condition: None,
            get: false,
            ttl: cairn_protocol::command::SetTtl::Clear,
        };
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(WriteOp {
                now_ms: 0,
                ops: vec![OpKind::command(0, cmd)],
            }),
        }
    }

    #[test]
    fn payloads_are_cut_to_the_byte_budget_but_never_empty() {
        let mut small: Vec<Entry> = (1..=10).map(|i| entry(i, 100)).collect();
        assert_eq!(cut_to_budget(&mut small), None);
        assert_eq!(small.len(), 10);

        let third = (APPEND_BYTES_MAX / 3) as usize;
        let mut big: Vec<Entry> = (1..=10).map(|i| entry(i, third)).collect();
        let last = cut_to_budget(&mut big).unwrap();
        assert_eq!(big.len(), 2);
        assert_eq!(last.index, 2);

        let mut huge = vec![entry(7, 2 * APPEND_BYTES_MAX as usize), entry(8, 1)];
        assert_eq!(cut_to_budget(&mut huge).map(|l| l.index), Some(7));
        assert_eq!(huge.len(), 1);

        let mut none: Vec<Entry> = Vec::new();
        assert_eq!(cut_to_budget(&mut none), None);
    }
}
