//! Batched proposals: the leader's single door into the Raft log.
//!
//! Client writes (local or forwarded) are queued here; one task drains whatever has queued,
//! stamps it with the leader's clock and proposes it as one log entry, without waiting for
//! the previous entry to commit. Under load many writes share one append, one replication
//! round and one flush; at rest a write waits for nobody. The queue keeps arrival order, so a
//! client's pipelined writes stay in order.

use openraft::error::{ClientWriteError, Fatal, ForwardToLeader, RaftError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::store::disk::Disk;
use crate::types::{now_ms, NodeId, NodeInfo, OpKind, Raft, WriteOp};
use cairn_protocol::Reply;

/// Most operations in one log entry.
pub const BATCH_OPS_MAX: usize = 1024;
/// Most bytes of operations in one log entry (a single larger op still makes one entry), so
/// an entry fits in one AppendEntries call (see the network's `APPEND_BYTES_MAX`).
pub const ENTRY_BYTES_MAX: u64 = crate::network::APPEND_BYTES_MAX;
/// Most operations waiting to be proposed; senders wait beyond it (backpressure).
const QUEUE_MAX: usize = 16 * 1024;
/// Log entries proposed and not yet applied, at most. While the pipeline is full, new writes
/// queue up and go out together in the next entry: this is what makes batches grow under
/// load (without it every write would become its own entry and its own flush).
const IN_FLIGHT_MAX: usize = 2;

pub type ProposeError = RaftError<NodeId, ClientWriteError<NodeId, NodeInfo>>;
pub type ProposeResult = Result<Reply, ProposeError>;

struct Pending {
    op: OpKind,
    reply: oneshot::Sender<ProposeResult>,
}

#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::Sender<Pending>,
    /// Set when this leader is stepping down: no new entries (see [`Proposer::close`]).
    closed: Arc<AtomicBool>,
    /// One permit per entry in flight (taken before the closed check, kept until applied).
    in_flight: Arc<Semaphore>,
    /// Held by a leadership transfer, which closes and reopens proposals: one at a time.
    handing_over: Arc<tokio::sync::Mutex<()>>,
    /// While this node's disk is full, writes are refused before they reach the log.
    disk: Arc<Disk>,
}

/// What a closed proposer answers: not the leader, leader unknown, as a deposed leader
/// would; the caller (a follower forwarding, or the router) waits for the next leader.
fn not_leader() -> ProposeError {
    RaftError::APIError(ClientWriteError::ForwardToLeader(ForwardToLeader::empty()))
}

impl Proposer {
    /// Starts the proposing task for `raft`.
    pub fn start(raft: Raft, disk: Arc<Disk>) -> Proposer {
        let (tx, rx) = mpsc::channel(QUEUE_MAX);
        let closed = Arc::new(AtomicBool::new(false));
        let in_flight = Arc::new(Semaphore::new(IN_FLIGHT_MAX));
        tokio::spawn(run(raft, rx, closed.clone(), in_flight.clone()));
        Proposer {
            tx,
            closed,
            in_flight,
            handing_over: Arc::default(),
            disk,
        }
    }

    /// Stops proposing: queued and new writes are answered "not the leader" so that a
    /// stepping-down leader's log stops growing and its successor can catch up with it.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// After [`Proposer::close`]: waits (at most `within`) until no entry it proposed is in
    /// flight, so the log stops growing; false if some still were at the deadline. An entry
    /// holds its permit from before the closed check until it is applied, so once every
    /// permit is free nothing more is proposed.
    pub async fn drain(&self, within: std::time::Duration) -> bool {
        let all = u32::try_from(IN_FLIGHT_MAX).unwrap_or(u32::MAX);
        tokio::time::timeout(within, self.in_flight.acquire_many(all))
            .await
            .is_ok_and(|permits| permits.is_ok())
    }

    /// The right to close and reopen proposals for a leadership transfer; `None` while
    /// another transfer has it.
    pub fn hand_over(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        self.handing_over.clone().try_lock_owned().ok()
    }

    /// Proposes again after [`Proposer::close`] (a hand-off is over, whatever its outcome).
    pub fn reopen(&self) {
        self.closed.store(false, Ordering::SeqCst);
    }

    /// Proposes `ops` (in this order, with nothing in between from this caller) and waits
    /// for their replies.
    pub async fn propose(&self, ops: Vec<OpKind>) -> Vec<ProposeResult> {
        if let Some(refusal) = self.disk.refusal() {
            let mut refused = Vec::with_capacity(ops.len());
            for _ in &ops {
                refused.push(Ok(Reply::error(refusal.clone())));
            }
            return refused;
        }
        if self.closed.load(Ordering::SeqCst) {
            let mut refused = Vec::with_capacity(ops.len());
            for _ in &ops {
                refused.push(Err(not_leader()));
            }
            return refused;
        }
        let mut waiting = Vec::with_capacity(ops.len());
        for op in ops {
            let (reply, rx) = oneshot::channel();
            if self.tx.send(Pending { op, reply }).await.is_err() {
                waiting.push(None);
            } else {
                waiting.push(Some(rx));
            }
        }
        let mut out = Vec::with_capacity(waiting.len());
        for w in waiting {
            out.push(match w {
                Some(rx) => rx.await.unwrap_or(Err(RaftError::Fatal(Fatal::Stopped))),
                None => Err(RaftError::Fatal(Fatal::Stopped)),
            });
        }
        out
    }
}

/// The index of the first pending op that would take an entry past [`ENTRY_BYTES_MAX`]
/// (never 0, so a single large op still goes out alone), or the batch's length.
fn byte_cut(batch: &[Pending]) -> usize {
    let mut bytes = 0u64;
    batch
        .iter()
        .position(|p| {
            bytes = bytes.saturating_add(p.op.encoded_len());
            bytes > ENTRY_BYTES_MAX
        })
        .map_or(batch.len(), |over| over.max(1))
}

async fn run(
    raft: Raft,
    mut rx: mpsc::Receiver<Pending>,
    closed: Arc<AtomicBool>,
    in_flight: Arc<Semaphore>,
) {
    let mut batch = Vec::with_capacity(BATCH_OPS_MAX);
    // Ops cut from the last entry by its byte bound: they lead the next one.
    let mut carry: Vec<Pending> = Vec::new();
    let mut last_stamp = 0;
    loop {
        if carry.is_empty() {
            if rx.recv_many(&mut batch, BATCH_OPS_MAX).await == 0 {
                return;
            }
        } else {
            batch.append(&mut carry);
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        // Whatever queued while we waited for a slot joins this entry.
        if batch.len() < BATCH_OPS_MAX {
            while let Ok(p) = rx.try_recv() {
                batch.push(p);
                if batch.len() >= BATCH_OPS_MAX {
                    break;
                }
            }
        }
        if closed.load(Ordering::SeqCst) {
            for p in batch.drain(..).chain(carry.drain(..)) {
                let _ = p.reply.send(Err(not_leader()));
            }
            continue;
        }
        carry = batch.split_off(byte_cut(&batch));
        // Never stamp a later entry earlier than an earlier one, even if the clock steps back.
        last_stamp = now_ms().max(last_stamp);
        let (ops, replies): (Vec<OpKind>, Vec<_>) =
            batch.drain(..).map(|p| (p.op, p.reply)).unzip();
        let started = std::time::Instant::now();
        let n_ops = ops.len();
        let proposal = WriteOp {
            now_ms: last_stamp,
            ops,
        };
        match raft.client_write_ff(proposal).await {
            Err(fatal) => {
                for r in replies {
                    let _ = r.send(Err(RaftError::Fatal(fatal.clone())));
                }
            }
            // Answer when applied, without holding up the next batch.
            Ok(done) => {
                tokio::spawn(async move {
                    let result = done.await;
                    drop(permit);
                    tracing::debug!(
                        ops = n_ops,
                        elapsed_us = started.elapsed().as_micros() as u64,
                        "proposal applied"
                    );
                    match result {
                        Ok(Ok(resp)) => {
                            let mut results = resp.data.0.into_iter();
                            for r in replies {
                                let reply = results.next().unwrap_or_else(|| {
                                    Reply::error("ERR internal: missing reply for a batched write")
                                });
                                let _ = r.send(Ok(reply));
                            }
                        }
                        Ok(Err(e)) => {
                            for r in replies {
                                let _ = r.send(Err(RaftError::APIError(e.clone())));
                            }
                        }
                        Err(_) => {
                            for r in replies {
                                let _ = r.send(Err(RaftError::Fatal(Fatal::Stopped)));
                            }
                        }
                    }
                });
            }
        }
    }
}
