//! Linearizable reads (ReadIndex), batched.
//!
//! A read waits for a read-index round that *started after* the read arrived: the leader
//! confirms with a quorum that it is still leader and names an index (openraft's
//! `get_read_log_id`); a follower asks the leader for it over the peer protocol. The reader
//! then waits until its own node has applied that index and reads locally. All reads that
//! arrive while a round is in flight share the next round, so under load one quorum round
//! serves many reads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_protocol::Reply;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::node::Node;

/// Reads that may wait for a round at once; more get an error instead of queueing forever.
const WAITING_MAX: usize = 65_536;
const RPC_TIMEOUT: Duration = Duration::from_secs(2);

type Waiter = oneshot::Sender<Result<u64, Reply>>;

pub struct ReadBarrier {
    tx: mpsc::Sender<Waiter>,
    rx: Mutex<Option<mpsc::Receiver<Waiter>>>,
}

impl ReadBarrier {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel(WAITING_MAX);
        ReadBarrier {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }

    /// Starts the round loop (once).
    pub fn start(&self, node: Arc<Node>) {
        let Ok(mut slot) = self.rx.try_lock() else {
            return;
        };
        let Some(mut rx) = slot.take() else {
            return;
        };
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while rx.recv_many(&mut batch, WAITING_MAX).await > 0 {
                let result = read_index(&node).await;
                for w in batch.drain(..) {
                    let _ = w.send(result.clone());
                }
            }
        });
    }

    /// Waits until this node may serve a linearizable read; `Err` is the reply to send.
    pub async fn wait(&self, node: &Node) -> Result<(), Reply> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .try_send(tx)
            .map_err(|_| Reply::error("TRYAGAIN too many reads waiting for a read index"))?;
        let index = rx
            .await
            .map_err(|_| Reply::error("ERR read barrier stopped"))??;
        let applied = node.raft.metrics().borrow().last_applied.map(|l| l.index);
        if applied >= Some(index) || index == 0 {
            return Ok(());
        }
        node.raft
            .wait(Some(node.leader_wait()))
            .applied_index_at_least(Some(index), "linearizable read")
            .await
            .map(|_| ())
            .map_err(|e| Reply::error(format!("TRYAGAIN replica is catching up: {e}")))
    }
}

/// One read-index round.
async fn read_index(node: &Node) -> Result<u64, Reply> {
    let deadline = Instant::now() + node.leader_wait();
    loop {
        let Some((leader, info)) = node.wait_leader(deadline).await else {
            return Err(crate::router::cluster_down());
        };
        let outcome = if leader == node.id {
            // Bounded: a leader cut off from its quorum cannot confirm its leadership.
            match tokio::time::timeout(RPC_TIMEOUT, node.raft.get_read_log_id()).await {
                Ok(r) => r
                    .map(|(read, _)| read.map_or(0, |l| l.index))
                    .map_err(|e| e.to_string()),
                Err(_) => Err("timed out confirming leadership".to_string()),
            }
        } else {
            match node.peers.read_index(&info.raft_addr, RPC_TIMEOUT).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        };
        match outcome {
            Ok(index) => return Ok(index),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "read index round failed; retrying");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => return Err(crate::router::cluster_down()),
        }
    }
}
