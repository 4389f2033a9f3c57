//! The `cairn serve` configuration: every flag also from an environment variable.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use cairn_raft::{NodeId, NodeInfo};
use clap::{Args, ValueEnum};

use crate::settings::Settings;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// How the leader makes a read linearizable (`--read-policy`).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReadPolicy {
    /// Under the leader lease: no round while it holds (docs/DECISIONS.md).
    Lease,
    /// A read-index round (a quorum heartbeat) for every batch of reads.
    ReadIndex,
}

/// A value that must never appear in logs or debug output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// Options of `cairn serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// This node's id (≥ 1). In a StatefulSet leave it out: it is the pod ordinal + 1.
    #[arg(long, env = "CAIRN_ID", default_value_t = 0)]
    pub id: NodeId,

    /// The pod's name (`cairn-2`), from the downward API; gives the id (ordinal + 1) and,
    /// with --statefulset-replicas and --statefulset-service, the initial cluster.
    #[arg(long, env = "CAIRN_POD_NAME")]
    pub pod_name: Option<String>,

    /// Replicas of the StatefulSet when it was created: the initial cluster's size.
    #[arg(long, env = "CAIRN_STATEFULSET_REPLICAS")]
    pub statefulset_replicas: Option<u64>,

    /// DNS suffix of the headless Service after the pod name, e.g.
    /// `cairn-headless.default.svc.cluster.local`.
    #[arg(long, env = "CAIRN_STATEFULSET_SERVICE")]
    pub statefulset_service: Option<String>,

    /// Where this node keeps its data (the log, the state and its snapshots).
    #[arg(long, env = "CAIRN_DATA_DIR")]
    pub data_dir: PathBuf,

    /// The members of a new cluster: `1=HOST:PORT@RAFTPORT,2=...`. HOST:PORT is the RESP
    /// address; RAFTPORT the peer port on the same host. A node with data ignores it.
    #[arg(long, env = "CAIRN_INITIAL_CLUSTER", default_value = "")]
    pub initial_cluster: String,

    /// Also serve RESP over TLS on this port (needs --tls-cert-file and --tls-key-file).
    #[arg(long, env = "CAIRN_TLS_PORT")]
    pub tls_port: Option<u16>,

    /// The server's certificate chain (PEM).
    #[arg(long, env = "CAIRN_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,

    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "CAIRN_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,

    /// CA certificates (PEM) that client certificates must chain to.
    #[arg(long, env = "CAIRN_TLS_CA_CERT_FILE")]
    pub tls_ca_cert_file: Option<PathBuf>,

    /// Client certificates, as Redis's tls-auth-clients: `yes` requires one (and
    /// --tls-ca-cert-file), `optional` checks one if given, `no` does not ask.
    #[arg(long, env = "CAIRN_TLS_AUTH_CLIENTS", default_value = "yes",
          value_parser = ["yes", "no", "optional"])]
    pub tls_auth_clients: String,

    /// Join a running cluster through its members' peer addresses (`HOST:RAFTPORT`, several
    /// separated by commas, tried in turn):
    /// this node asks the leader to add it (as a learner that catches up, then a voter). Its
    /// own addresses come from its entry in --initial-cluster. Never initializes a cluster.
    #[arg(long, env = "CAIRN_JOIN")]
    pub join: Option<String>,

    /// Address to listen on (RESP and peer ports).
    #[arg(long, env = "CAIRN_BIND", default_value = "127.0.0.1")]
    pub bind: String,

    /// RESP port; defaults to this node's port in --initial-cluster, else 6379.
    #[arg(long, env = "CAIRN_PORT")]
    pub port: Option<u16>,

    /// Peer (gRPC) port; defaults to this node's @port in --initial-cluster, else 16379.
    #[arg(long, env = "CAIRN_RAFT_PORT")]
    pub raft_port: Option<u16>,

    #[command(flatten)]
    pub backup: BackupConfig,

    /// Seconds between consistency checks proposed by the leader (0: only `CAIRN CHECK`).
    #[arg(long, env = "CAIRN_CHECK_INTERVAL_SECS", default_value_t = 60)]
    pub check_interval_secs: u64,

    /// Answer writes sent to a follower with `-MOVED <slot> <leader>` (Redis Cluster style)
    /// instead of forwarding them, for cluster-aware clients.
    #[arg(long, env = "CAIRN_REDIRECT")]
    pub redirect: bool,

    /// Password clients must AUTH with (Redis's requirepass); empty: no AUTH.
    #[arg(
        long,
        env = "CAIRN_REQUIREPASS",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub requirepass: Secret,

    /// Dataset size limit (Redis's maxmemory, with its units: `100mb`, `1gb`); 0: none. The
    /// size is cairn's deterministic measure (keys, values, per-key overhead), INFO memory's
    /// used_memory. Give every node the same value; CONFIG SET replaces it on all of them.
    #[arg(long, env = "CAIRN_MAXMEMORY", default_value = "0", value_parser = crate::settings::parse_memory_arg)]
    pub maxmemory: u64,

    /// What happens over maxmemory (Redis's maxmemory-policy): noeviction refuses writes;
    /// allkeys-lru|lfu|random and volatile-lru|lfu|random|ttl evict (decided by the leader).
    #[arg(long, env = "CAIRN_MAXMEMORY_POLICY", default_value = "noeviction", value_parser = crate::settings::POLICIES.to_vec())]
    pub maxmemory_policy: String,

    /// A secret every member shares: peer RPCs (append, vote, forward, membership) without
    /// it are refused, so a stranger on the network cannot join the cluster's consensus.
    /// Empty: peers are not authenticated.
    #[arg(
        long,
        env = "CAIRN_CLUSTER_SECRET",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub cluster_secret: Secret,

    /// Peer mTLS: this node's certificate chain (PEM), presented to peers in both directions.
    /// It must name the host of this node's peer address (DNS name or IP subjectAltName).
    /// With --peer-tls-key-file and --peer-tls-ca-cert-file, peer RPCs run over TLS and a
    /// caller without a certificate from that CA is refused.
    #[arg(long, env = "CAIRN_PEER_TLS_CERT_FILE")]
    pub peer_tls_cert_file: Option<PathBuf>,

    /// Peer mTLS: the private key of --peer-tls-cert-file (PEM).
    #[arg(long, env = "CAIRN_PEER_TLS_KEY_FILE")]
    pub peer_tls_key_file: Option<PathBuf>,

    /// Peer mTLS: the CA (PEM) that signs every member's peer certificate.
    #[arg(long, env = "CAIRN_PEER_TLS_CA_CERT_FILE")]
    pub peer_tls_ca_cert_file: Option<PathBuf>,

    /// HTTP port for /healthz, /readyz and /metrics (off when not given).
    #[arg(long, env = "CAIRN_HTTP_PORT")]
    pub http_port: Option<u16>,

    /// Heartbeat interval in milliseconds.
    #[arg(long, env = "CAIRN_HEARTBEAT_MS", default_value_t = 50)]
    pub heartbeat_ms: u64,

    /// Election timeout lower bound in milliseconds. A killed leader is replaced after about
    /// the upper bound (openraft's leader lease) plus a random timeout between the bounds.
    #[arg(long, env = "CAIRN_ELECTION_TIMEOUT_MIN_MS", default_value_t = 250)]
    pub election_timeout_min_ms: u64,

    /// Election timeout upper bound in milliseconds.
    #[arg(long, env = "CAIRN_ELECTION_TIMEOUT_MAX_MS", default_value_t = 450)]
    pub election_timeout_max_ms: u64,

    /// How linearizable reads are confirmed: `lease` serves them on the leader with no round
    /// while its lease holds (a bounded clock-rate drift is assumed, as with any lease);
    /// `read-index` asks a quorum for every batch. Follower reads ask the leader either way.
    #[arg(long, env = "CAIRN_READ_POLICY", value_enum, default_value_t = ReadPolicy::Lease)]
    pub read_policy: ReadPolicy,

    /// Build a snapshot (and purge the log) after this many applied entries.
    #[arg(long, env = "CAIRN_SNAPSHOT_THRESHOLD", default_value_t = 50_000)]
    pub snapshot_threshold: u64,

    /// Log entries kept behind a snapshot, so a briefly lagging follower catches up from the
    /// log instead of needing the whole snapshot.
    #[arg(long, env = "CAIRN_SNAPSHOT_LOGS_KEEP", default_value_t = 1000)]
    pub snapshot_logs_keep: u64,

    /// Largest bulk string a client may send, bytes (Redis's proto-max-bulk-len).
    #[arg(long, env = "CAIRN_MAX_BULK_LEN", default_value_t = 512 * 1024 * 1024)]
    pub max_bulk_len: usize,

    /// Largest single write (one command, or one MULTI/EXEC), bytes as logged. openraft 0.9
    /// gives a follower one heartbeat interval to receive and flush an AppendEntries call;
    /// a larger entry cannot be replicated in time (16 MiB was the most that went through at
    /// the default 50 ms heartbeat on a 2-core machine), so it is refused up front.
    /// The default lets 8 MiB values through with room for keys and overhead.
    #[arg(long, env = "CAIRN_MAX_WRITE_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_write_bytes: u64,

    /// Most arguments in one request.
    #[arg(long, env = "CAIRN_MAX_ARGS", default_value_t = 1024 * 1024)]
    pub max_args: usize,

    /// Most simultaneous client connections (Redis's maxclients).
    #[arg(long, env = "CAIRN_MAX_CLIENTS", default_value_t = 10_000)]
    pub max_clients: usize,

    /// Free space (MiB) kept in reserve on the data dir's disk: below it, writes are refused
    /// with `-MISCONF` (reads go on) until space is freed.
    #[arg(long, env = "CAIRN_DISK_RESERVE_MB", default_value_t = 64)]
    pub disk_reserve_mb: u64,

    /// The size (MiB) of a new Raft log segment file (smaller when the disk has less room):
    /// the log is deleted a whole segment at a time once a snapshot covers it.
    #[arg(long, env = "CAIRN_LOG_SEGMENT_MB", default_value_t = 64)]
    pub log_segment_mb: u64,

    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `cairn=debug`.
    #[arg(long, env = "CAIRN_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log format.
    #[arg(long, env = "CAIRN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

impl ServeConfig {
    /// The settings CONFIG GET shows at start: Redis's defaults with what the flags set.
    pub fn settings(&self) -> Settings {
        let (port, _) = self.ports().unwrap_or((6379, 16379));
        Settings::new([
            ("port", port.to_string()),
            ("bind", self.bind.clone()),
            ("dir", self.data_dir.display().to_string()),
            ("maxclients", self.max_clients.to_string()),
            ("proto-max-bulk-len", self.max_bulk_len.to_string()),
            ("requirepass", self.requirepass.0.clone()),
            ("maxmemory", self.maxmemory.to_string()),
            ("maxmemory-policy", self.maxmemory_policy.clone()),
        ])
    }

    /// Fills the id and the initial cluster from the StatefulSet options when they are not
    /// given directly: `cairn-2` is id 3, and member i is `cairn-(i-1).<service>`.
    pub fn resolve(mut self) -> anyhow::Result<ServeConfig> {
        let Some(pod) = self.pod_name.clone() else {
            return Ok(self);
        };
        let (set, ordinal) = pod
            .rsplit_once('-')
            .and_then(|(set, n)| Some((set.to_string(), n.parse::<u64>().ok()?)))
            .with_context(|| format!("pod name {pod:?} does not end in -<ordinal>"))?;
        if self.id == 0 {
            self.id = ordinal + 1;
        }
        if self.initial_cluster.is_empty() {
            if let (Some(n), Some(service)) = (self.statefulset_replicas, &self.statefulset_service)
            {
                let port = self.port.unwrap_or(6379);
                let raft_port = self.raft_port.unwrap_or(16379);
                let member = |i: u64| format!("{}={set}-{i}.{service}:{port}@{raft_port}", i + 1);
                let mut members: Vec<String> = (0..n).map(member).collect();
                // A pod beyond the initial replicas was added by scaling up: it joins the
                // running cluster through the initial members instead of bootstrapping.
                if ordinal >= n {
                    members.push(member(ordinal));
                    if self.join.is_none() {
                        self.join = Some(
                            (0..n)
                                .map(|i| format!("{set}-{i}.{service}:{raft_port}"))
                                .collect::<Vec<_>>()
                                .join(","),
                        );
                    }
                }
                self.initial_cluster = members.join(",");
            }
        }
        Ok(self)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.id == 0 {
            bail!("--id must be at least 1 (or give --pod-name to derive it)");
        }
        if self.heartbeat_ms == 0 || self.election_timeout_min_ms <= self.heartbeat_ms * 2 {
            bail!("--election-timeout-min-ms must exceed twice --heartbeat-ms");
        }
        if self.election_timeout_max_ms <= self.election_timeout_min_ms {
            bail!("--election-timeout-max-ms must exceed --election-timeout-min-ms");
        }
        Ok(())
    }

    /// The peer mTLS material, when configured; all three files or none.
    pub fn peer_tls(&self) -> anyhow::Result<Option<cairn_raft::network::PeerTls>> {
        let read =
            |f: &PathBuf| std::fs::read(f).with_context(|| format!("reading {}", f.display()));
        match (
            &self.peer_tls_cert_file,
            &self.peer_tls_key_file,
            &self.peer_tls_ca_cert_file,
        ) {
            (None, None, None) => Ok(None),
            (Some(cert), Some(key), Some(ca)) => Ok(Some(cairn_raft::network::PeerTls::from_pem(
                &read(cert)?,
                &read(key)?,
                &read(ca)?,
            ))),
            _ => bail!(
                "peer TLS needs all of --peer-tls-cert-file, --peer-tls-key-file and \
                 --peer-tls-ca-cert-file"
            ),
        }
    }

    pub fn members(&self) -> anyhow::Result<BTreeMap<NodeId, NodeInfo>> {
        parse_initial_cluster(&self.initial_cluster)
    }

    /// The RESP and peer ports this node listens on.
    pub fn ports(&self) -> anyhow::Result<(u16, u16)> {
        let me = self.members()?.remove(&self.id);
        let port_of = |addr: &str| addr.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        let resp = self
            .port
            .or_else(|| me.as_ref().and_then(|m| port_of(&m.resp_addr)))
            .unwrap_or(6379);
        let raft = self
            .raft_port
            .or_else(|| me.as_ref().and_then(|m| port_of(&m.raft_addr)))
            .unwrap_or(16379);
        Ok((resp, raft))
    }
}

/// Parses `1=host:6379@16379,2=...` (Redis Cluster's `ip:port@cport` notation).
pub fn parse_initial_cluster(spec: &str) -> anyhow::Result<BTreeMap<NodeId, NodeInfo>> {
    let mut out = BTreeMap::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .with_context(|| format!("member {part:?}: expected ID=HOST:PORT@RAFTPORT"))?;
        let id: NodeId = id
            .trim()
            .parse()
            .with_context(|| format!("member {part:?}: id is not a number"))?;
        let (resp_addr, raft_port) = addr
            .split_once('@')
            .with_context(|| format!("member {part:?}: missing @RAFTPORT"))?;
        let (host, port) = resp_addr
            .rsplit_once(':')
            .with_context(|| format!("member {part:?}: missing :PORT"))?;
        port.parse::<u16>()
            .with_context(|| format!("member {part:?}: bad port"))?;
        raft_port
            .parse::<u16>()
            .with_context(|| format!("member {part:?}: bad raft port"))?;
        if id == 0 || out.contains_key(&id) {
            bail!("member {part:?}: ids must be unique and at least 1");
        }
        out.insert(
            id,
            NodeInfo {
                resp_addr: resp_addr.to_string(),
                raft_addr: format!("{host}:{raft_port}"),
            },
        );
    }
    Ok(out)
}

/// Backup options of `cairn serve`.
#[derive(Debug, Clone, Args)]
pub struct BackupConfig {
    /// Take backups on a schedule to this URL (`file:///path`, `s3://bucket/prefix`,
    /// `gs://...`, `az://...`); also the default destination of `CAIRN BACKUP`.
    #[arg(long, env = "CAIRN_BACKUP_TO")]
    pub backup_to: Option<String>,

    /// Time between scheduled backups (`30m`, `1h`, `1d`).
    #[arg(long, env = "CAIRN_BACKUP_INTERVAL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub backup_interval: Duration,

    /// Complete backups to keep; older ones are deleted once a newer one has been verified
    /// (0: keep all).
    #[arg(long, env = "CAIRN_BACKUP_KEEP", default_value_t = 24)]
    pub backup_keep: usize,

    /// The node that takes scheduled backups (a follower spares the leader); default: the
    /// leader.
    #[arg(long, env = "CAIRN_BACKUP_NODE")]
    pub backup_node: Option<u64>,

    /// Encrypt backups with this key (64 hex digits, or 32 raw bytes); also from the
    /// env var CAIRN_BACKUP_KEY. Never logged.
    #[arg(long, env = "CAIRN_BACKUP_KEY_FILE")]
    pub backup_key_file: Option<PathBuf>,

    /// Compressed bytes per uploaded part (at least 64 KiB): smaller parts suit stores that
    /// limit request sizes; each part in flight is held in memory.
    #[arg(long, env = "CAIRN_BACKUP_PART_SIZE", default_value_t = crate::backup::PART_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(65536..=(1 << 30)))]
    pub backup_part_size: u64,

    /// Ship committed log entries continuously to this URL (the schemes of --backup-to; it
    /// may be the same URL), a segment at least every second under load: with backups at
    /// the same place, `cairn backup restore URL --to-time T` restores any point in time.
    /// Encrypted with the backup key when one is set.
    #[arg(long, env = "CAIRN_ARCHIVE_TO")]
    pub archive_to: Option<String>,

    /// The node that ships the archive; default: the leader.
    #[arg(long, env = "CAIRN_ARCHIVE_NODE")]
    pub archive_node: Option<u64>,

    /// A name for this cluster, recorded in backup manifests.
    #[arg(long, env = "CAIRN_CLUSTER_NAME", default_value = "cairn")]
    pub cluster_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_members() -> anyhow::Result<()> {
        let m = parse_initial_cluster("1=127.0.0.1:6379@16379, 2=cairn-1.cairn:6379@16379")?;
        assert_eq!(m[&1].resp_addr, "127.0.0.1:6379");
        assert_eq!(m[&1].raft_addr, "127.0.0.1:16379");
        assert_eq!(m[&2].raft_addr, "cairn-1.cairn:16379");
        assert!(parse_initial_cluster("1=a:1").is_err());
        assert!(parse_initial_cluster("0=a:1@2").is_err());
        assert!(parse_initial_cluster("1=a:1@2,1=b:1@2").is_err());
        Ok(())
    }

    #[test]
    fn statefulset_identity() -> anyhow::Result<()> {
        use clap::Parser;
        #[derive(Parser)]
        struct P {
            #[command(flatten)]
            c: ServeConfig,
        }
        let p = P::try_parse_from([
            "x",
            "--data-dir",
            "/d",
            "--pod-name",
            "cairn-2",
            "--statefulset-replicas",
            "3",
            "--statefulset-service",
            "cairn-headless.ns.svc.cluster.local",
        ])?;
        let c = p.c.resolve()?;
        assert_eq!(c.id, 3);
        let m = c.members()?;
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[&1].resp_addr,
            "cairn-0.cairn-headless.ns.svc.cluster.local:6379"
        );
        assert_eq!(
            m[&3].raft_addr,
            "cairn-2.cairn-headless.ns.svc.cluster.local:16379"
        );
        assert_eq!(c.ports()?, (6379, 16379));
        assert_eq!(c.join, None);
        // A pod added by scaling up joins through the initial members.
        let p = P::try_parse_from([
            "x",
            "--data-dir",
            "/d",
            "--pod-name",
            "cairn-4",
            "--statefulset-replicas",
            "3",
            "--statefulset-service",
            "svc",
        ])?;
        let c = p.c.resolve()?;
        assert_eq!(c.id, 5);
        assert_eq!(c.members()?[&5].raft_addr, "cairn-4.svc:16379");
        assert_eq!(
            c.join.as_deref(),
            Some("cairn-0.svc:16379,cairn-1.svc:16379,cairn-2.svc:16379")
        );
        Ok(())
    }
}
