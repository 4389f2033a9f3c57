//! The start-up sequence: opens the data dir, starts raft and the peer server, builds the
//! node's handles (the [`Cluster`] first, then the [`Node`] around it) and starts the
//! background tasks that use them. The composition root: it imports every part, and no part
//! imports it.

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
use cairn_raft::store::Store;
use cairn_raft::Raft;
use tokio::sync::watch;

use crate::backup::handle::Backups;
use crate::cluster::handle::{Cluster, RequestIds};
use crate::cluster::integrity::Integrity;
use crate::cluster::read_barrier::ReadBarrier;
use crate::cluster::replica::Replica;
use crate::config::ServeConfig;
use crate::observe::metrics::Metrics;
use crate::observe::stats::Stats;
use crate::server::clients::Clients;
use crate::server::pubsub::Hub;

use crate::node::{random_hex, Node};

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
    let settings = Arc::new(cfg.settings());
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
    let data_dir = cfg.data_dir.clone();
    let config = Arc::new(cfg);
    let cluster = Arc::new(Cluster {
        id: config.id,
        raft: raft.clone(),
        proposer,
        peers: peers.clone(),
        lease,
        elections: elections.clone(),
        request_ids: RequestIds::new(),
        disk: store.disk.clone(),
        config,
        shutdown: shutdown.clone(),
        exit: watch::Sender::new(None),
    });
    let service = PeerServer::new(PeerService::new(
        cluster.handoff(),
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

    let origin = cluster.request_ids.origin();
    let stats: Arc<Stats> = Arc::default();
    let reads = Arc::new(ReadBarrier::new(stats.clone()));
    let started = Instant::now();
    let backups = Arc::new(Backups::new(
        cluster.clone(),
        store.sm.clone(),
        reads.clone(),
        started,
    ));
    let replica = Arc::new(Replica {
        keyspace,
        sm: store.sm.clone(),
        integrity: Integrity::default(),
        access,
        data_dir_bytes: Box::new(move || dir_size(&data_dir)),
    });
    let node = Arc::new(Node {
        cluster,
        replica,
        settings,
        clients: Clients::default(),
        stats: stats.clone(),
        metrics: Metrics::new()?,
        reads,
        tracking: crate::cache::tracking::Tracking::new(origin),
        pubsub,
        slowlog: crate::observe::slowlog::SlowLog::new(),
        latency: crate::observe::latency::LatencyMonitor::default(),
        monitors: crate::observe::monitor::Monitors::for_scripts(),
        turnstile: crate::server::turnstile::Turnstile::default(),
        started,
        run_id: random_hex(40),
        backups,
    });
    crate::server::pubsub::publish_key_events(node.pubsub.clone(), store.sm.key_events());
    run_invalidations(node.clone());
    node.slowlog.configure(&node.settings);
    node.latency.configure(&node.settings);
    node.reads.start(node.cluster.clone());
    crate::cluster::checker::spawn(node.cluster.clone(), node.replica.clone());
    if fresh && node.cluster.config.join.is_none() {
        crate::cluster::amnesia::spawn(node.cluster.clone());
    } else {
        // A joining node is added as a learner; a node with data remembers its vote.
        node.cluster.lease.remembers();
    }
    crate::cluster::bootstrap::spawn(node.cluster.clone(), fresh);
    crate::cache::expiry::spawn(
        node.cluster.clone(),
        node.replica.clone(),
        node.stats.clone(),
    );
    crate::cache::eviction::spawn(crate::cache::eviction::Evictor {
        cluster: node.cluster.clone(),
        replica: node.replica.clone(),
        settings: node.settings.clone(),
        stats: node.stats.clone(),
    });
    crate::cache::access::spawn_reporter(node.replica.access.clone(), node.cluster.clone());
    crate::observe::stats::spawn_sampler(node.stats.clone(), node.cluster.shutdown.clone());
    crate::backup::schedule::spawn(node.backups.clone());
    crate::backup::archive::writer::spawn(node.backups.clone(), store.log.clone());
    node.metrics.watch(&node.cluster);
    tracing::info!(id = node.cluster.id, peer = %peer_addr, fresh, "node started");
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
    let mut changes = node.replica.sm.key_changes();
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
