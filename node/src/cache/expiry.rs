//! Active expiry, run by the leader only: expired keys are found in the expiry index and
//! deleted through the log in bounded batches, so every replica removes the same keys
//! (DESIGN.md invariant 6). Followers only hide expired keys on read.

use std::sync::Arc;
use std::time::Duration;

use cairn_raft::keyspace::DATABASES;
use cairn_raft::types::now_ms;
use cairn_raft::OpKind;

use crate::cluster::handle::Cluster;
use crate::cluster::replica::Replica;
use crate::observe::stats::Stats;

/// Keys deleted per proposal.
const BATCH_MAX: usize = 256;
/// Proposals per db per cycle, so one busy db cannot starve the rest.
const ROUNDS_MAX: usize = 16;
const CYCLE: Duration = Duration::from_millis(100);

/// Runs active expiry while this node leads; counts removed keys in `stats`.
pub fn spawn(cluster: Arc<Cluster>, replica: Arc<Replica>, stats: Arc<Stats>) {
    tokio::spawn(async move {
        let mut shutdown = cluster.shutdown.clone();
        let mut tick = tokio::time::interval(CYCLE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if !cluster.is_leader() {
                continue;
            }
            for db in 0..DATABASES {
                if let Err(e) = expire_db(&cluster, &replica, &stats, db).await {
                    tracing::debug!(db, error = %e, "active expiry");
                    break;
                }
            }
        }
    });
}

async fn expire_db(
    cluster: &Cluster,
    replica: &Replica,
    stats: &Stats,
    db: u8,
) -> anyhow::Result<()> {
    for _ in 0..ROUNDS_MAX {
        let now = now_ms();
        let keys = replica.keyspace.expired_keys(db, now, BATCH_MAX)?;
        if keys.is_empty() {
            return Ok(());
        }
        let n = keys.len();
        let results = cluster
            .proposer
            .propose(vec![OpKind::ExpireKeys { db, keys }])
            .await;
        for r in results {
            if let cairn_protocol::Reply::Integer(removed) = r? {
                Stats::add(&stats.expired_keys, removed.max(0) as u64);
            }
        }
        if n < BATCH_MAX {
            return Ok(());
        }
    }
    Ok(())
}
