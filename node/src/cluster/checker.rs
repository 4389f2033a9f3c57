//! Replica consistency checking (DESIGN.md invariant 4).
//!
//! The leader proposes a `Check` entry on a schedule (`--check-interval-secs`) and on
//! `CAIRN CHECK`; every replica records the digest of its whole keyspace at exactly that log
//! index (maintained incrementally by apply, O(1) per write). Every node compares its own
//! records with the leader's, which it reads over the peer protocol: a replica whose digest
//! differs at the same index has diverged. It says so in its logs, INFO and metrics, and
//! stops serving reads (writes still go to the leader).

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_protocol::Reply;
use cairn_raft::network::{PeerStatus, DIGEST_SCHEME};
use cairn_raft::{NodeId, OpKind};

use crate::cluster::handle::Cluster;
use crate::cluster::replica::Replica;

const PEER_TIMEOUT: Duration = Duration::from_millis(700);
/// How long a check round waits for every replica to apply the check entry.
const APPLY_WAIT: Duration = Duration::from_secs(5);

/// Every member's recorded digest at check `index`, waiting up to `wait` for each to apply it.
async fn digests_at(
    cluster: &Cluster,
    replica: &Replica,
    index: u64,
    wait: Duration,
) -> Vec<(NodeId, Option<u64>)> {
    let members: Vec<(NodeId, cairn_raft::NodeInfo)> = cluster.members();
    let mut out = Vec::new();
    for (id, info) in members {
        let deadline = Instant::now() + wait;
        let recorded = loop {
            let checks = if id == cluster.id {
                Some(replica.checks())
            } else {
                // Only records of this digest scheme compare (see `DIGEST_SCHEME`).
                cluster
                    .peers
                    .status(&info.raft_addr, PEER_TIMEOUT)
                    .await
                    .ok()
                    .map(|s: PeerStatus| {
                        s.checks
                            .into_iter()
                            .filter(|(i, _)| i & DIGEST_SCHEME != 0)
                            .map(|(i, d)| (i & !DIGEST_SCHEME, d))
                            .collect()
                    })
            };
            let found = checks
                .as_ref()
                .and_then(|c| c.iter().find(|(i, _)| *i == index).map(|(_, d)| *d));
            if found.is_some() || Instant::now() >= deadline {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        out.push((id, recorded));
    }
    out
}

/// The digest a majority of all members recorded, if there is one.
fn majority(digests: &[(NodeId, Option<u64>)]) -> Option<u64> {
    let need = digests.len() / 2 + 1;
    digests
        .iter()
        .filter_map(|(_, d)| *d)
        .find(|d| digests.iter().filter(|(_, x)| *x == Some(*d)).count() >= need)
}

/// Judges this node at check `index` against the majority; records the verdict.
async fn judge(
    cluster: &Cluster,
    replica: &Replica,
    index: u64,
    wait: Duration,
) -> (Vec<(NodeId, Option<u64>)>, Option<u64>) {
    let digests = digests_at(cluster, replica, index, wait).await;
    let agreed = majority(&digests);
    let mine = digests
        .iter()
        .find(|(id, _)| *id == cluster.id)
        .and_then(|(_, d)| *d);
    if let (Some(agreed), Some(mine)) = (agreed, mine) {
        replica.integrity.record(index, agreed == mine);
        if agreed != mine {
            replica.integrity.set_problem(format!(
                "digest at log index {index} is {mine:016x}, a majority of the cluster has {agreed:016x}"
            ));
        }
    }
    (digests, agreed)
}

/// The scheduled loop: the leader proposes checks; every node compares with the leader.
pub fn spawn(cluster: Arc<Cluster>, replica: Arc<Replica>) {
    let every = cluster.config.check_interval_secs;
    if every == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut shutdown = cluster.shutdown.clone();
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let Some((leader, _)) = cluster.leader() else {
                continue;
            };
            if leader == cluster.id {
                if let Err(e) = propose_check(&cluster).await {
                    tracing::warn!(error = %e, "proposing a consistency check");
                }
            }
            // Every node judges itself on its newest check against the majority.
            if let Some((index, _)) = replica.checks().last() {
                judge(&cluster, &replica, *index, APPLY_WAIT).await;
            }
        }
    });
}

/// Proposes a check entry through the write path; its (index, leader-side digest).
async fn propose_check(cluster: &Cluster) -> anyhow::Result<(u64, u64)> {
    let outcome = crate::cluster::router::write_ops(cluster, vec![OpKind::Check])
        .await
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no outcome"))?;
    let crate::cluster::router::Outcome::Reply(Reply::Array(parts)) = outcome else {
        anyhow::bail!("the check entry was not applied: {outcome:?}");
    };
    match parts.as_slice() {
        [Reply::Integer(index), Reply::Bulk(hex)] => {
            let digest = u64::from_str_radix(&String::from_utf8_lossy(hex), 16)?;
            Ok((*index as u64, digest))
        }
        other => anyhow::bail!("unexpected check reply {other:?}"),
    }
}

/// `CAIRN CHECK`: a check round now. Proposes a check entry, waits for every member to apply
/// it, compares their digests at that index and reports one line per member.
pub async fn run_round(cluster: &Cluster, replica: &Replica) -> Reply {
    let (index, digest) = match propose_check(cluster).await {
        Ok(r) => r,
        Err(e) => return Reply::error(format!("ERR consistency check failed: {e}")),
    };
    let (digests, agreed) = judge(cluster, replica, index, APPLY_WAIT).await;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "check at log index {index}: leader digest {digest:016x}"
    );
    let mut all_ok = true;
    for (id, recorded) in digests {
        let verdict = match (recorded, agreed) {
            (Some(d), Some(a)) if d == a => "ok".to_string(),
            (Some(d), _) => {
                all_ok = false;
                format!("MISMATCH {d:016x}")
            }
            (None, _) => {
                all_ok = false;
                "no answer (not applied in time, or unreachable)".to_string()
            }
        };
        let _ = writeln!(out, "  node {id}: {verdict}");
    }
    let _ = writeln!(
        out,
        "result: {}",
        if all_ok { "consistent" } else { "INCONSISTENT" }
    );
    Reply::Verbatim(out)
}
