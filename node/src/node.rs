//! The node: the handles a running process shares among its tasks and sessions. The
//! [`Cluster`] handle (raft, the write path, peers, lease) is its own type, so the parts that
//! only talk to the cluster take that; the rest (keyspace, clients, observability, backups)
//! are fields here, each defined in the module that owns it. `start` builds it.

use std::sync::Arc;
use std::time::Instant;

use cairn_raft::store::{Keyspace, StateMachine};
use tokio::sync::watch;

use crate::cluster::handle::Cluster;
use crate::cluster::integrity::Integrity;
use crate::cluster::read_barrier::ReadBarrier;
use crate::config::ServeConfig;
use crate::observe::metrics::Metrics;
use crate::observe::stats::Stats;
use crate::server::clients::Clients;
use crate::server::pubsub::Hub;
use crate::settings::Settings;

/// Shared state of a running node.
pub struct Node {
    /// This node in the Raft cluster: raft, the write path's parts, peers, lease, config.
    pub cluster: Arc<Cluster>,
    pub keyspace: Keyspace,
    pub sm: StateMachine,
    /// Whether this replica's data is known to be consistent (see `checker`).
    pub integrity: Integrity,
    pub config: Arc<ServeConfig>,
    pub settings: Arc<Settings>,
    pub clients: Clients,
    pub stats: Arc<Stats>,
    /// Key accesses served here (and, on the leader, reported by followers): LRU and LFU.
    pub access: Arc<crate::cache::access::Access>,
    pub metrics: Metrics,
    pub reads: ReadBarrier,
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
    /// Backups this node took (see `backup::schedule`).
    pub backup: crate::backup::status::BackupStatus,
    /// The log archive, as this node knows it (see `backup::archive`).
    pub archive: crate::backup::archive::status::ArchiveStatus,
    /// SAVE/BGSAVE state.
    pub saves: crate::backup::status::Saves,
    /// Set when the node must stop by itself, with the exit code (`CAIRN REPAIR`).
    pub exit: watch::Sender<Option<i32>>,
    pub data_dir_bytes: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl Node {
    /// Asks the process to exit with `code` (see `repair`); main waits for it.
    pub fn request_exit(&self, code: i32) {
        self.exit.send_replace(Some(code));
    }

    /// A setting's value: the replicated one (CONFIG SET of maxmemory and the eviction
    /// settings goes through the log) if it was ever set, else this node's own.
    pub fn setting(&self, name: &str) -> Option<String> {
        crate::settings::effective(&self.sm.replicated_settings(), &self.settings, name)
    }

    /// The consistency checks this replica applied (index, digest).
    pub fn store_checks(&self) -> Vec<(u64, u64)> {
        self.sm.checks().unwrap_or_default()
    }
}

pub fn random_hex(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// A client stops tracking (CLIENT TRACKING OFF, RESET, or it closed); the store stops
/// recording changes once no client of the node tracks.
pub fn stop_tracking(node: &Node, client: u64) {
    node.tracking.disable(client);
    node.sm.set_tracking(node.tracking.any());
}
