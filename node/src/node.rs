//! The node: one process's raft instance, keyspace, peers and shared server state, and the
//! start-up sequence that wires them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use cairn_raft::election::Elections;
use cairn_raft::lease::LeaderLease;
use cairn_raft::network::{
    PeerClients, PeerNetwork, PeerService, PeerToken, Sinks, MESSAGE_BYTES_MAX,
};
use cairn_raft::pb::peer_server::PeerServer;
use cairn_raft::proposer::Proposer;
use cairn_raft::store::{Keyspace, StateMachine, Store};
use cairn_raft::{NodeId, NodeInfo, Raft};
use tokio::sync::watch;

use crate::cluster::checker::Integrity;
use crate::cluster::read_barrier::ReadBarrier;
use crate::cluster::router::RequestIds;
use crate::config::ServeConfig;
use crate::observe::metrics::Metrics;
use crate::observe::stats::Stats;
use crate::server::clients::Clients;
use crate::server::pubsub::Hub;
use crate::settings::Settings;

/// Shared state of a running node.
pub struct Node {
    pub id: NodeId,
    pub raft: Raft,
    /// The leader's door into the log: batches concurrent writes into one entry.
    pub proposer: Proposer,
    pub keyspace: Keyspace,
    pub sm: StateMachine,
    /// Whether this replica's data is known to be consistent (see `checker`).
    pub integrity: Integrity,
    pub peers: PeerClients,
    pub config: ServeConfig,
    pub settings: Arc<Settings>,
    pub clients: Clients,
    pub stats: Stats,
    /// Key accesses served here (and, on the leader, reported by followers): LRU and LFU.
    pub access: Arc<crate::cache::access::Access>,
    pub metrics: Metrics,
    pub reads: ReadBarrier,
    /// The leader lease that serves reads without a round (see `cairn_raft::lease`).
    pub lease: Arc<LeaderLease>,
    /// When this node last heard from a leader; decides when it stands for election.
    pub elections: Arc<Elections>,
    /// Ids for this process's client writes, so a retried write is applied once.
    pub request_ids: RequestIds,
    /// This node's pub/sub subscriptions.
    pub pubsub: Arc<Hub>,
    /// This node's client-side caching clients and the keys they read.
    pub tracking: crate::cache::tracking::Tracking,
    pub slowlog: crate::observe::slowlog::SlowLog,
    pub latency: crate::observe::latency::LatencyMonitor,
    pub monitors: crate::observe::monitor::Monitors,
    /// Blocked clients' queue: served first come, first served.
    pub turnstile: crate::server::blocking::Turnstile,
    pub started: Instant,
    pub run_id: String,
    /// Backups this node took (see `backup::schedule`).
    pub backup: crate::backup::schedule::BackupStatus,
    /// The log archive, as this node knows it (see `backup::archive`).
    pub archive: crate::backup::archive::ArchiveStatus,
    /// SAVE/BGSAVE state.
    pub saves: crate::backup::save::Saves,
    /// Whether the data dir's disk takes writes (see `cairn_raft::store::disk`).
    pub disk: Arc<cairn_raft::store::disk::Disk>,
    /// Flips to true when the node begins to shut down.
    pub shutdown: watch::Receiver<bool>,
    /// Set when the node must stop by itself, with the exit code (`CAIRN REPAIR`).
    pub exit: watch::Sender<Option<i32>>,
    pub data_dir_bytes: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl Node {
    /// How long a client request waits for a leader before `-CLUSTERDOWN`: long enough to
    /// ride out an election, short enough not to hang.
    /// Asks the process to exit with `code` (see `repair`); main waits for it.
    pub fn request_exit(&self, code: i32) {
        self.exit.send_replace(Some(code));
    }

    pub fn leader_wait(&self) -> Duration {
        Duration::from_millis(self.config.election_timeout_max_ms * 3 + 500)
    }

    /// The current leader and how to reach it, as this node knows it. Reads the server
    /// metrics, which change only with votes, roles and membership (not with every entry).
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

    /// A setting's value: the replicated one (CONFIG SET of maxmemory and the eviction
    /// settings goes through the log) if it was ever set, else this node's own.
    pub fn setting(&self, name: &str) -> Option<String> {
        crate::settings::effective(&self.sm.replicated_settings(), &self.settings, name)
    }

    /// The consistency checks this replica applied (index, digest).
    pub fn store_checks(&self) -> Vec<(u64, u64)> {
        self.sm.checks().unwrap_or_default()
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
}

/// openraft's configuration from ours.
fn raft_config(cfg: &ServeConfig) -> anyhow::Result<openraft::Config> {
    let config = openraft::Config {
        cluster_name: "cairn".into(),
        heartbeat_interval: cfg.heartbeat_ms,
        // openraft's voters refuse candidates for `election_timeout_max` after a heartbeat,
        // with no exception for a successor the leader named; cairn's peer service enforces
        // the real bound (ours) and makes that exception (`cairn_raft::transfer`), so
        // openraft's is cut to its minimum. The minimum is also the vote RPC's timeout.
        election_timeout_min: cfg.election_timeout_min_ms,
        election_timeout_max: cfg.election_timeout_min_ms + 1,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(cfg.snapshot_threshold),
        max_in_snapshot_log_to_keep: cfg.snapshot_logs_keep,
        // 3 MiB chunks: well under the peer message limit, each with its own crc32.
        snapshot_max_chunk_size: 3 * 1024 * 1024,
        install_snapshot_timeout: 10_000,
        // Elections are driven by `cairn_raft::election`, after a pre-vote.
        enable_elect: false,
        ..Default::default()
    };
    config.validate().context("raft configuration")
}

/// Opens the data dir, starts raft and the peer server, and bootstraps the cluster if this
/// node is the one to do it. Returns the node; the caller starts the RESP server.
pub async fn start(cfg: ServeConfig, shutdown: watch::Receiver<bool>) -> anyhow::Result<Arc<Node>> {
    let mut cfg = cfg.resolve()?;
    cfg.validate()?;
    if let Some(via) = crate::cluster::repair::take_marker(&cfg.data_dir)? {
        cfg.join = Some(via);
    }
    let (_, raft_port) = cfg.ports()?;
    let options = cairn_raft::store::Options {
        disk_reserve_bytes: cfg.disk_reserve_mb.saturating_mul(1 << 20),
        segment_bytes: cfg.log_segment_mb.clamp(1, 1024) << 20,
    };
    let store = Store::open_with(&cfg.data_dir, options).with_context(|| {
        format!(
            "refusing to start: the data dir {} failed its checks",
            cfg.data_dir.display()
        )
    })?;
    let fresh = store.is_fresh()?;
    let keyspace = store.sm.keyspace();
    let token = PeerToken::from_secret(&cfg.cluster_secret.0);
    let peer_tls = cfg.peer_tls()?;
    let network = PeerNetwork {
        clients: PeerClients::new(token.clone(), peer_tls.clone()),
    };
    let peers = network.clients.clone();
    let raft = Raft::new(
        cfg.id,
        Arc::new(raft_config(&cfg)?),
        network,
        store.log.clone(),
        store.sm.clone(),
    )
    .await
    .context("starting raft")?;

    let peer_addr: SocketAddr = format!("{}:{raft_port}", cfg.bind)
        .parse()
        .with_context(|| format!("bad bind address {}", cfg.bind))?;
    let listener = tokio::net::TcpListener::bind(peer_addr)
        .await
        .with_context(|| format!("binding the peer port {peer_addr}"))?;
    let proposer = Proposer::start(raft.clone(), store.disk.clone());
    store.disk.watch();
    let pubsub = Arc::new(Hub::default());
    let sink = pubsub.clone();
    let access = Arc::new(crate::cache::access::Access::default());
    let settings = Arc::new(Settings::new(&cfg));
    let (touched, local, sm) = (access.clone(), settings.clone(), store.sm.clone());
    let lease = Arc::new(LeaderLease::new(
        cfg.id,
        Duration::from_millis(cfg.election_timeout_max_ms),
        cfg.read_policy == crate::config::ReadPolicy::Lease,
        !fresh,
    ));
    let log = store.log.clone();
    let elections = Arc::new(Elections::new(
        Duration::from_millis(cfg.election_timeout_min_ms),
        Duration::from_millis(cfg.election_timeout_max_ms),
        Box::new(move || log.last_log_id()),
    ));
    elections.spawn(cfg.id, raft.clone(), peers.clone(), lease.clone());
    let service = PeerServer::new(PeerService::new(
        cairn_raft::transfer::Handoff {
            id: cfg.id,
            raft: raft.clone(),
            proposer: proposer.clone(),
            lease: lease.clone(),
            peers: peers.clone(),
        },
        store.sm.clone(),
        Sinks {
            publish: Arc::new(move |channel, message| sink.deliver(channel, message)),
            touch: Arc::new(move |report| {
                let lfu = crate::cache::eviction::lfu(&sm.replicated_settings(), &local);
                touched.reported(report, lfu);
            }),
        },
        elections.clone(),
    ))
    .max_decoding_message_size(MESSAGE_BYTES_MAX)
    .max_encoding_message_size(MESSAGE_BYTES_MAX);
    // Checked before a request is decoded: without the secret, nothing reaches raft.
    let service =
        tonic::service::interceptor::InterceptedService::new(service, move |r| token.check(r));
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = &peer_tls {
        // Fails here, at start, on a certificate or key that does not parse or match.
        server = server
            .tls_config(tls.server())
            .context("peer TLS (--peer-tls-cert-file, --peer-tls-key-file)")?;
    }
    let mut stop = shutdown.clone();
    tokio::spawn(async move {
        let incoming = tokio_stream_from(listener);
        let result = server
            .concurrency_limit_per_connection(256)
            .tcp_nodelay(true)
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "peer server stopped");
        }
    });

    let data_dir = cfg.data_dir.clone();
    let request_ids = RequestIds::new();
    let node = Arc::new(Node {
        id: cfg.id,
        raft: raft.clone(),
        proposer,
        keyspace,
        sm: store.sm.clone(),
        integrity: Integrity::default(),
        peers: peers.clone(),
        settings,
        clients: Clients::default(),
        stats: Stats::default(),
        access,
        metrics: Metrics::new()?,
        reads: ReadBarrier::new(),
        lease,
        elections,
        tracking: crate::cache::tracking::Tracking::new(request_ids.origin()),
        request_ids,
        pubsub,
        slowlog: crate::observe::slowlog::SlowLog::new(),
        latency: crate::observe::latency::LatencyMonitor::default(),
        monitors: crate::observe::monitor::Monitors::for_scripts(),
        turnstile: crate::server::blocking::Turnstile::default(),
        started: Instant::now(),
        run_id: random_hex(40),
        backup: Default::default(),
        archive: Default::default(),
        saves: Default::default(),
        shutdown,
        exit: watch::Sender::new(None),
        data_dir_bytes: Box::new(move || dir_size(&data_dir)),
        disk: store.disk.clone(),
        config: cfg,
    });
    crate::server::pubsub::publish_key_events(node.pubsub.clone(), store.sm.key_events());
    run_invalidations(node.clone());
    node.slowlog.configure(&node);
    node.latency.configure(&node);
    node.reads.start(node.clone());
    crate::cluster::checker::spawn(node.clone());
    if fresh && node.config.join.is_none() {
        crate::cluster::amnesia::spawn(node.clone());
    } else {
        // A joining node is added as a learner; a node with data remembers its vote.
        node.lease.set_amnesiac(false);
    }
    crate::cluster::bootstrap::spawn(node.clone(), fresh);
    crate::cache::expiry::spawn(node.clone());
    crate::cache::eviction::spawn(node.clone());
    crate::cache::access::spawn_reporter(node.clone());
    crate::observe::stats::spawn_sampler(node.clone());
    crate::backup::schedule::spawn(node.clone());
    crate::backup::archive::writer::spawn(node.clone(), store.log.clone());
    node.metrics.watch(&node);
    tracing::info!(id = node.id, peer = %peer_addr, fresh, "node started");
    Ok(node)
}

fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |l| async move {
        let r = l.accept().await.map(|(s, _)| {
            let _ = s.set_nodelay(true);
            s
        });
        Some((r, l))
    })
}

pub fn random_hex(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

fn dir_size(path: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(path) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Sends the node's invalidations as batches apply, for as long as the store lives; turns
/// the store's change recording on while any client tracks (checked per batch).
fn run_invalidations(node: Arc<Node>) {
    let mut changes = node.sm.key_changes();
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
        loop {
            let received = tokio::select! {
                received = changes.recv() => received,
                _ = tick.tick() => {
                    let max = node
                        .settings
                        .get("tracking-table-max-keys")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    node.tracking.limit(&|id| node.clients.peer(id), max);
                    continue;
                }
            };
            match received {
                Ok(batch) => node
                    .tracking
                    .invalidate(&|id| node.clients.peer(id), &batch),
                Err(RecvError::Lagged(lost)) => {
                    // Which keys changed is unknown: everything is invalid.
                    tracing::warn!(batches = lost, "tracking fell behind: invalidating all");
                    let all = cairn_raft::store::KeyChanges {
                        keys: Vec::new(),
                        flushed: true,
                    };
                    node.tracking.invalidate(&|id| node.clients.peer(id), &all);
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}

/// A client stops tracking (CLIENT TRACKING OFF, RESET, or it closed); the store stops
/// recording changes once no client of the node tracks.
pub fn stop_tracking(node: &Node, client: u64) {
    node.tracking.disable(client);
    node.sm.set_tracking(node.tracking.any());
}
