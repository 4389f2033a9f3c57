//! The node: the handles a running process shares among its tasks and sessions. Three are
//! their own types, so the parts that need only one take that one: [`Cluster`] (raft, the
//! write path, peers, lease), [`Replica`] (this node's copy of the data) and
//! [`Backups`](crate::backup::handle::Backups). The rest (clients, observability, settings)
//! are fields here, each defined in the module that owns it. Sessions, INFO and metrics take
//! the whole node: they answer about all of it. `start` builds it.

use std::sync::Arc;
use std::time::Instant;

use crate::cache::lookups::Recorder;
use crate::cluster::handle::Cluster;
use crate::cluster::read_barrier::ReadBarrier;
use crate::cluster::replica::Replica;
use crate::observe::metrics::Metrics;
use crate::observe::stats::Stats;
use crate::server::clients::Clients;
use crate::server::pubsub::Hub;
use crate::settings::Settings;

/// Shared state of a running node.
pub struct Node {
    /// This node in the Raft cluster: raft, the write path's parts, peers, lease, config.
    pub cluster: Arc<Cluster>,
    /// This node's copy of the data: keyspace, state machine, integrity, key accesses.
    pub replica: Arc<Replica>,
    pub settings: Arc<Settings>,
    pub clients: Clients,
    pub stats: Arc<Stats>,
    pub metrics: Metrics,
    pub reads: Arc<ReadBarrier>,
    /// This node's pub/sub subscriptions.
    pub pubsub: Arc<Hub>,
    /// This node's client-side caching clients and the keys they read.
    pub tracking: crate::cache::tracking::Tracking,
    pub slowlog: crate::observe::slowlog::SlowLog,
    pub latency: crate::observe::latency::LatencyMonitor,
    pub monitors: crate::observe::monitor::Monitors,
    /// Blocked clients' queue: served first come, first served.
    pub turnstile: crate::server::turnstile::Turnstile,
    pub started: Instant,
    pub run_id: String,
    /// Backups, the log archive and saves: their tasks take this handle, not the node.
    pub backups: Arc<crate::backup::handle::Backups>,
}

impl Node {
    /// A setting's value: the replicated one (CONFIG SET of maxmemory and the eviction
    /// settings goes through the log) if it was ever set, else this node's own.
    pub fn setting(&self, name: &str) -> Option<String> {
        crate::settings::effective(&self.replica.sm.replicated_settings(), &self.settings, name)
    }

    /// A client stops tracking (CLIENT TRACKING OFF, RESET, or it closed); the store stops
    /// recording changes once no client of the node tracks.
    pub fn stop_tracking(&self, client: u64) {
        self.tracking.disable(client);
        self.replica.sm.set_tracking(self.tracking.any());
    }

    /// A recorder of a run of commands' key accesses and hits at `now_ms`.
    pub fn recorder(&self, now_ms: u64, reads_touch: bool) -> Recorder<'_> {
        let leading = self.cluster.is_leader();
        Recorder::new(
            &self.replica,
            &self.settings,
            &self.stats,
            leading,
            now_ms,
            reads_touch,
        )
    }
}

pub fn random_hex(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}
