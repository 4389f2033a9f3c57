//! Linearizable reads: from the leader lease, or through ReadIndex rounds, batched.
//!
//! On a leader that holds a lease (`cairn_raft::lease`, `--read-policy lease`, the default) a
//! read waits only until its node has applied the leader's last log index, and reads; the
//! reader checks the lease again afterwards and, if it ran out meanwhile (a pause), reads
//! again after a round. Otherwise a read waits for a read-index round that *started after* the read arrived: the leader
//! confirms with a quorum that it is still leader and names an index (openraft's
//! `get_read_log_id`); a follower asks the leader for it over the peer protocol. The reader
//! then waits until its own node has applied that index and reads locally. All reads that
//! arrive while a round is in flight share the next round, so under load one quorum round
//! serves many reads.
//!
//! A follower's round also brings back the leader's wall clock, and the reads it releases
//! judge TTLs by that clock (plus the time elapsed since, by this node's monotonic clock):
//! expiry is decided by the leader's clock everywhere, so a follower whose wall clock is
//! wrong neither hides keys early nor shows them late (docs/DECISIONS.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_protocol::Reply;
use cairn_raft::lease::Leased;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::cluster::handle::Cluster;
use crate::observe::stats::Stats;

/// Reads that may wait for a round at once; more get an error instead of queueing forever.
const WAITING_MAX: usize = 65_536;
const RPC_TIMEOUT: Duration = Duration::from_secs(2);

type Waiter = oneshot::Sender<Result<Round, Reply>>;

/// One read-index round's answer.
#[derive(Clone, Copy)]
struct Round {
    index: u64,
    /// The leader's wall clock (ms) at the round and when it arrived here; `None` when this
    /// node led the round, or the leader predates `ReadIndexAt`.
    clock: Option<(u64, Instant)>,
}

/// The time a linearizable read judges TTLs by, and the lease it was served under.
#[derive(Clone, Copy, Debug)]
pub struct ReadTime {
    clock: Option<(u64, Instant)>,
    lease: Option<Leased>,
}

impl ReadTime {
    /// This node's own clock.
    pub fn local() -> ReadTime {
        ReadTime {
            clock: None,
            lease: None,
        }
    }

    /// Whether what was read under this time may be answered: always after a round; under a
    /// lease, only if the lease still holds now that the read is done.
    pub fn still_valid(&self, cluster: &Cluster) -> bool {
        self.lease
            .is_none_or(|leased| cluster.lease.still_valid(&cluster.raft, &leased))
    }

    /// Milliseconds since the epoch: the leader's clock carried forward, or this node's.
    pub fn now_ms(&self) -> u64 {
        match self.clock {
            Some((leader_ms, at)) => {
                leader_ms.saturating_add(u64::try_from(at.elapsed().as_millis()).unwrap_or(0))
            }
            None => cairn_raft::types::now_ms(),
        }
    }
}

pub struct ReadBarrier {
    /// Lease reads and read-index rounds are counted here (INFO).
    stats: Arc<Stats>,
    tx: mpsc::Sender<Waiter>,
    rx: Mutex<Option<mpsc::Receiver<Waiter>>>,
}

impl ReadBarrier {
    pub fn new(stats: Arc<Stats>) -> Self {
        let (tx, rx) = mpsc::channel(WAITING_MAX);
        ReadBarrier {
            stats,
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }

    /// Starts the round loop (once).
    pub fn start(&self, cluster: Arc<Cluster>) {
        let Ok(mut slot) = self.rx.try_lock() else {
            return;
        };
        let Some(mut rx) = slot.take() else {
            return;
        };
        let stats = self.stats.clone();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while rx.recv_many(&mut batch, WAITING_MAX).await > 0 {
                let result = read_index(&cluster, &stats).await;
                for w in batch.drain(..) {
                    let _ = w.send(result.clone());
                }
            }
        });
    }

    /// Waits until this node may serve a linearizable read; `Err` is the reply to send.
    /// Check [`ReadTime::still_valid`] after reading.
    pub async fn wait(&self, cluster: &Cluster) -> Result<ReadTime, Reply> {
        if let Some(leased) = cluster.lease.read_index(&cluster.raft) {
            cluster.lease.renew_if_due(&cluster.raft, &leased);
            Stats::add(&self.stats.lease_reads, 1);
            let time = ReadTime {
                clock: None,
                lease: Some(leased),
            };
            return applied(cluster, leased.index, time).await;
        }
        self.wait_round(cluster).await
    }

    /// [`ReadBarrier::wait`] through a read-index round, whatever the lease.
    pub async fn wait_round(&self, cluster: &Cluster) -> Result<ReadTime, Reply> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .try_send(tx)
            .map_err(|_| Reply::error("TRYAGAIN too many reads waiting for a read index"))?;
        let round = rx
            .await
            .map_err(|_| Reply::error("ERR read barrier stopped"))??;
        let time = ReadTime {
            clock: round.clock,
            lease: None,
        };
        applied(cluster, round.index, time).await
    }
}

/// Waits until this node has applied `index`, then hands back `time`.
async fn applied(cluster: &Cluster, index: u64, time: ReadTime) -> Result<ReadTime, Reply> {
    let applied = cluster
        .raft
        .metrics()
        .borrow()
        .last_applied
        .map(|l| l.index);
    if applied >= Some(index) || index == 0 {
        return Ok(time);
    }
    cluster
        .raft
        .wait(Some(cluster.leader_wait()))
        .applied_index_at_least(Some(index), "linearizable read")
        .await
        .map(|_| time)
        .map_err(|e| Reply::error(format!("TRYAGAIN replica is catching up: {e}")))
}

/// One read-index round.
async fn read_index(cluster: &Cluster, stats: &Stats) -> Result<Round, Reply> {
    let deadline = Instant::now() + cluster.leader_wait();
    loop {
        let Some((leader, info)) = cluster.wait_leader(deadline).await else {
            return Err(crate::cluster::router::cluster_down());
        };
        let outcome = if leader == cluster.id {
            // Bounded: a leader cut off from its quorum cannot confirm its leadership.
            Stats::add(&stats.read_index_rounds, 1);
            match tokio::time::timeout(RPC_TIMEOUT, cluster.lease.round(&cluster.raft)).await {
                Ok(r) => r
                    .map(|read| Round {
                        index: read.map_or(0, |l| l.index),
                        clock: None,
                    })
                    .map_err(|e| e.to_string()),
                Err(_) => Err("timed out confirming leadership".to_string()),
            }
        } else {
            Stats::add(&stats.read_index_rounds, 1);
            follower_round(cluster, &info.raft_addr).await
        };
        match outcome {
            Ok(round) => return Ok(round),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "read index round failed; retrying");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => return Err(crate::cluster::router::cluster_down()),
        }
    }
}

/// A follower's round through the leader at `addr`: `ReadIndexAt`, or plain `ReadIndex`
/// (and this node's clock) from a leader of an earlier version, during a rolling upgrade.
async fn follower_round(cluster: &Cluster, addr: &str) -> Result<Round, String> {
    match cluster.peers.read_index_at(addr, RPC_TIMEOUT).await {
        Ok(r) => r
            .map(|(index, leader_ms)| Round {
                index,
                clock: Some((leader_ms, Instant::now())),
            })
            .map_err(|e| e.to_string()),
        Err(e) if e.to_string().contains("Unimplemented") => {
            match cluster.peers.read_index(addr, RPC_TIMEOUT).await {
                Ok(r) => r
                    .map(|index| Round { index, clock: None })
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
        Err(e) => Err(e.to_string()),
    }
}
