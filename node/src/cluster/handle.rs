//! The cluster handle: what the write path, reads, membership and leadership hand-off need of
//! this node's place in the Raft cluster, and nothing else: its id, raft, the proposer, the
//! peer clients, the leader lease and elections, request ids, the disk (writes stop when it
//! is full), the configuration and the shutdown signal. Functions that only talk to the
//! cluster take this, not the whole node.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_raft::election::Elections;
use cairn_raft::lease::LeaderLease;
use cairn_raft::network::PeerClients;
use cairn_raft::proposer::Proposer;
use cairn_raft::store::disk::Disk;
use cairn_raft::transfer::Handoff;
use cairn_raft::{NodeId, NodeInfo, Raft, RequestId};
use tokio::sync::watch;

use crate::config::ServeConfig;

pub struct Cluster {
    pub id: NodeId,
    pub raft: Raft,
    /// The leader's door into the log: batches concurrent writes into one entry.
    pub proposer: Proposer,
    pub peers: PeerClients,
    /// The leader lease that serves reads without a round (see `cairn_raft::lease`).
    pub lease: Arc<LeaderLease>,
    /// When this node last heard from a leader; decides when it stands for election.
    pub elections: Arc<Elections>,
    /// Ids for this process's client writes, so a retried write is applied once.
    pub request_ids: RequestIds,
    /// Whether the data dir's disk takes writes (see `cairn_raft::store::disk`).
    pub disk: Arc<Disk>,
    pub config: Arc<ServeConfig>,
    /// Flips to true when the node begins to shut down.
    pub shutdown: watch::Receiver<bool>,
    /// Set when the node must stop by itself, with the exit code (SHUTDOWN, `CAIRN
    /// REPAIR`); main waits for it.
    pub exit: watch::Sender<Option<i32>>,
}

impl Cluster {
    /// Asks the process to exit with `code`.
    pub fn request_exit(&self, code: i32) {
        self.exit.send_replace(Some(code));
    }

    /// How long a client request waits for a leader before `-CLUSTERDOWN`: long enough to
    /// ride out an election, short enough not to hang.
    pub fn leader_wait(&self) -> Duration {
        Duration::from_millis(self.config.election_timeout_max_ms * 3 + 500)
    }

    /// The current leader and how to reach it, as this node knows it. Reads the server
    /// metrics, which change only with votes, roles and membership (not with every entry).
    /// Whether this node is the leader as far as Raft knows (no lease check: for reporting,
    /// routing hints and role names, never for serving a read).
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().current_leader == Some(self.id)
    }

    pub fn leader(&self) -> Option<(NodeId, NodeInfo)> {
        let m = self.raft.server_metrics();
        let m = m.borrow();
        let id = m.current_leader?;
        if id != self.id && self.elections.leader_silent() {
            // Unheard of for an election timeout: gone, or cut off from this node.
            return None;
        }
        let info = m.membership_config.membership().get_node(&id)?.clone();
        Some((id, info))
    }

    /// The last log index applied here (0: none yet).
    pub fn applied(&self) -> u64 {
        self.raft
            .metrics()
            .borrow()
            .last_applied
            .map_or(0, |l| l.index)
    }

    /// The members of the membership this node knows, with how to reach each.
    pub fn members(&self) -> Vec<(NodeId, NodeInfo)> {
        self.raft
            .metrics()
            .borrow()
            .membership_config
            .nodes()
            .map(|(id, n)| (*id, n.clone()))
            .collect()
    }

    /// Waits until some node is known as leader, at most `deadline`.
    pub async fn wait_leader(&self, deadline: Instant) -> Option<(NodeId, NodeInfo)> {
        let mut rx = self.raft.server_metrics();
        loop {
            if let Some(l) = self.leader() {
                return Some(l);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, rx.changed()).await {
                Ok(Ok(())) => {}
                // Raft stopped, or the deadline passed.
                Ok(Err(_)) | Err(_) => return self.leader(),
            }
        }
    }

    /// Resolves once this node no longer sees `leader` as the leader (an election started, or
    /// another node won one); never, while raft runs and `leader` leads.
    pub async fn leader_changed(&self, leader: NodeId) {
        let mut rx = self.raft.server_metrics();
        loop {
            if rx.borrow_and_update().current_leader != Some(leader) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// The parts a leadership transfer works with (see `cairn_raft::transfer`).
    pub fn handoff(&self) -> Handoff {
        Handoff {
            id: self.id,
            raft: self.raft.clone(),
            proposer: self.proposer.clone(),
            lease: self.lease.clone(),
            peers: self.peers.clone(),
        }
    }
}

/// Hands out the ids of this process's client writes: a random origin per process start, so
/// ids never repeat across restarts, and a counter.
pub struct RequestIds {
    origin: u64,
    next: AtomicU64,
}

impl RequestIds {
    pub fn new() -> RequestIds {
        RequestIds {
            origin: rand::random(),
            next: AtomicU64::new(0),
        }
    }

    /// This process's origin: random, so ids from different runs never collide.
    pub fn origin(&self) -> u64 {
        self.origin
    }

    pub fn next(&self) -> RequestId {
        RequestId {
            origin: self.origin,
            seq: self.next.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}
