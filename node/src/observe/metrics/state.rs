//! One metric per quantity, named by Prometheus's conventions (unit suffixes, `_total`
//! counters, labels only of bounded sets: db numbers, peer ids, results). The gauges mirror
//! state and are read at scrape time; the counters mirror the INFO counters, which CONFIG
//! RESETSTAT may zero (Prometheus takes that as a counter reset, as after a restart).
//! docs/METRICS.md describes each one.

use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// The INFO counters exported as Prometheus counters: (INFO field, metric name, help).
const COUNTERS: [(&str, &str, &str); 11] = [
    (
        "total_connections_received",
        "cairn_connections_received_total",
        "Client connections accepted.",
    ),
    (
        "total_net_input_bytes",
        "cairn_net_input_bytes_total",
        "Bytes read from clients.",
    ),
    (
        "total_net_output_bytes",
        "cairn_net_output_bytes_total",
        "Bytes written to clients.",
    ),
    (
        "rejected_connections",
        "cairn_rejected_connections_total",
        "Client connections refused (maxclients).",
    ),
    (
        "expired_keys",
        "cairn_expired_keys_total",
        "Keys deleted because their TTL ran out.",
    ),
    (
        "evicted_keys",
        "cairn_evicted_keys_total",
        "Keys evicted to stay under maxmemory.",
    ),
    (
        "keyspace_hits",
        "cairn_keyspace_hits_total",
        "Key lookups by reads that found the key.",
    ),
    (
        "keyspace_misses",
        "cairn_keyspace_misses_total",
        "Key lookups by reads that did not find the key.",
    ),
    (
        "cairn_connection_panics",
        "cairn_connection_panics_total",
        "Client connections closed by an internal error (a bug).",
    ),
    (
        "cairn_lease_reads",
        "cairn_lease_reads_total",
        "Linearizable read batches served under the leader lease.",
    ),
    (
        "cairn_read_index_rounds",
        "cairn_read_index_rounds_total",
        "Read-index rounds (a quorum heartbeat or a leader RPC) taken for reads.",
    ),
];

pub struct State {
    pub(super) gauges: Vec<(Field, IntGauge)>,
    pub(super) floats: Vec<(FloatField, Gauge)>,
    pub(super) leader_changes: IntCounter,
    pub(super) peer_contact: prometheus::GaugeVec,
    pub(super) reachable: IntGaugeVec,
    /// Member peers that never answered this node: since when it has looked for them.
    pub(super) unheard: std::sync::Mutex<std::collections::HashMap<u64, std::time::Instant>>,
    pub(super) lag: IntGaugeVec,
    pub(super) db_keys: IntGaugeVec,
    pub(super) db_expiring: IntGaugeVec,
    pub(super) policy: IntGaugeVec,
    pub(super) backups: IntCounterVec,
    pub(super) archive_uploads: IntCounterVec,
    pub(super) counters: Vec<(&'static str, IntCounter)>,
}

/// Integer gauges, each one metric.
#[derive(Clone, Copy)]
pub(super) enum Field {
    Term,
    IsLeader,
    HasLeader,
    LeaderId,
    LastLogIndex,
    AppliedIndex,
    SnapshotIndex,
    PurgedIndex,
    Voters,
    Learners,
    ConsistencyOk,
    ConsistencyCheckedIndex,
    DiskFull,
    DiskFreeBytes,
    DiskReserveBytes,
    DataDirBytes,
    ConnectedClients,
    MemoryUsedBytes,
    MemoryMaxBytes,
    BackupInProgress,
    BackupLastIndex,
    BackupLastSizeBytes,
    ArchiveActive,
    ArchiveLastIndex,
    ArchiveLagEntries,
    ArchiveGaps,
}

const FIELDS: [(Field, &str, &str); 26] = [
    (Field::Term, "cairn_raft_term", "The current Raft term."),
    (Field::IsLeader, "cairn_raft_is_leader", "1 on the leader, else 0."),
    (Field::HasLeader, "cairn_raft_has_leader", "1 if this node knows a live leader (one it heard from within an election timeout; on the leader, a quorum acknowledged it within that time), else 0."),
    (Field::LeaderId, "cairn_raft_leader_id", "The id of the live leader this node knows (0: none)."),
    (Field::LastLogIndex, "cairn_raft_last_log_index", "Index of the last entry in this node's log."),
    (Field::AppliedIndex, "cairn_raft_applied_index", "Index of the last entry applied to this node's keyspace."),
    (Field::SnapshotIndex, "cairn_raft_snapshot_index", "Last index the current snapshot covers (0: none)."),
    (Field::PurgedIndex, "cairn_raft_purged_index", "Last index deleted from the log (covered by a snapshot)."),
    (Field::Voters, "cairn_raft_voters", "Voting members in the membership this node knows."),
    (Field::Learners, "cairn_raft_learners", "Non-voting members (learners catching up)."),
    (Field::ConsistencyOk, "cairn_consistency_ok", "0 once this replica's state was found to differ from the leader's or from its own digest (it then stops serving reads), else 1."),
    (Field::ConsistencyCheckedIndex, "cairn_consistency_checked_index", "Log index of the last consistency check this node took part in (0: none yet)."),
    (Field::DiskFull, "cairn_disk_full", "1 while the data dir's disk refuses writes (free space under the reserve, or a write waiting for space), else 0."),
    (Field::DiskFreeBytes, "cairn_disk_free_bytes", "Free bytes on the data dir's file system."),
    (Field::DiskReserveBytes, "cairn_disk_reserve_bytes", "Free space under which writes are refused (--disk-reserve-mb)."),
    (Field::DataDirBytes, "cairn_data_dir_bytes", "Bytes in the data dir (log, snapshots, catalogue)."),
    (Field::ConnectedClients, "cairn_connected_clients", "Connected RESP clients."),
    (Field::MemoryUsedBytes, "cairn_memory_used_bytes", "The dataset's memory as INFO used_memory counts it, which maxmemory limits."),
    (Field::MemoryMaxBytes, "cairn_memory_max_bytes", "maxmemory (0: no limit)."),
    (Field::BackupInProgress, "cairn_backup_in_progress", "1 while this node takes a backup."),
    (Field::BackupLastIndex, "cairn_backup_last_index", "Log index of the last backup this node took (0: none)."),
    (Field::BackupLastSizeBytes, "cairn_backup_last_size_bytes", "Stored bytes of the last backup this node took."),
    (Field::ArchiveActive, "cairn_archive_active", "1 while this node ships the log archive (--archive-to), else 0."),
    (Field::ArchiveLastIndex, "cairn_archive_last_index", "The last log index the archive holds, as this node last listed or shipped it (0: none or unknown)."),
    (Field::ArchiveLagEntries, "cairn_archive_lag_entries", "On the shipping node: entries applied that the archive does not hold yet."),
    (Field::ArchiveGaps, "cairn_archive_gaps", "Index ranges missing from the archive, as this node knows (log purged before it was shipped)."),
];

/// Float gauges (seconds).
#[derive(Clone, Copy)]
pub(super) enum FloatField {
    SnapshotTimestamp,
    BackupLastSuccess,
    BackupNewest,
    BackupLastDuration,
    BackupInterval,
    ArchiveNewest,
    ArchiveDelay,
}

const FLOAT_FIELDS: [(FloatField, &str, &str); 7] = [
    (FloatField::SnapshotTimestamp, "cairn_raft_snapshot_timestamp_seconds", "When this node's current snapshot was written (Unix time; 0: none)."),
    (FloatField::BackupLastSuccess, "cairn_backup_last_success_timestamp_seconds", "When the last backup this node took was made (Unix time; 0: none since it started)."),
    (FloatField::BackupNewest, "cairn_backup_newest_timestamp_seconds", "When the newest complete backup at the scheduled destination was made, as this node last listed it while backups were its turn (Unix time; 0: none found or not its turn yet)."),
    (FloatField::BackupLastDuration, "cairn_backup_last_duration_seconds", "How long the last backup this node took ran."),
    (FloatField::BackupInterval, "cairn_backup_interval_seconds", "Time between scheduled backups (0: no schedule, --backup-to unset)."),
    (FloatField::ArchiveNewest, "cairn_archive_newest_timestamp_seconds", "The newest entry stamp the archive holds, as this node knows (Unix time; 0: none)."),
    (FloatField::ArchiveDelay, "cairn_archive_delay_seconds", "On the shipping node: how long the archive has been behind its applied index (0: caught up). Under load it stays near a second."),
];

fn registered<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    c: C,
) -> anyhow::Result<C> {
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

impl State {
    pub fn new(registry: &Registry) -> anyhow::Result<State> {
        let gauges = FIELDS
            .iter()
            .map(|&(f, name, help)| Ok((f, registered(registry, IntGauge::new(name, help)?)?)))
            .collect::<anyhow::Result<_>>()?;
        let floats = FLOAT_FIELDS
            .iter()
            .map(|&(f, name, help)| Ok((f, registered(registry, Gauge::new(name, help)?)?)))
            .collect::<anyhow::Result<_>>()?;
        let counters = COUNTERS
            .iter()
            .map(|&(field, name, help)| {
                Ok((field, registered(registry, IntCounter::new(name, help)?)?))
            })
            .collect::<anyhow::Result<_>>()?;
        let vec = |name: &str, help: &str, label: &str| -> anyhow::Result<IntGaugeVec> {
            registered(registry, IntGaugeVec::new(Opts::new(name, help), &[label])?)
        };
        Ok(State {
            gauges,
            floats,
            counters,
            leader_changes: registered(
                registry,
                IntCounter::new(
                    "cairn_raft_leader_changes_total",
                    "Leaders this node has seen elected (a new leader, or a new term), since it started.",
                )?,
            )?,
            peer_contact: registered(
                registry,
                prometheus::GaugeVec::new(
                    Opts::new(
                        "cairn_raft_peer_last_contact_seconds",
                        "Seconds since each peer last answered this node's Raft RPCs: on the leader, \
                         its heartbeats, so a follower that stops answering grows without bound.",
                    ),
                    &["peer"],
                )?,
            )?,
            unheard: Default::default(),
            reachable: registered(
                registry,
                IntGaugeVec::new(
                    Opts::new(
                        "cairn_raft_voters_reachable",
                        "On the leader only: voters (itself included) that answered it within an \
                         election timeout. At a majority of cairn_raft_voters, one more loss \
                         stops writes.",
                    ),
                    &[],
                )?,
            )?,
            lag: vec(
                "cairn_replication_lag_entries",
                "On the leader: entries each follower is behind the leader's log.",
                "follower",
            )?,
            db_keys: vec("cairn_db_keys", "Keys per database.", "db")?,
            db_expiring: vec("cairn_db_keys_expiring", "Keys with a TTL per database.", "db")?,
            policy: vec(
                "cairn_maxmemory_policy_info",
                "1 for the maxmemory-policy in force.",
                "policy",
            )?,
            archive_uploads: registered(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "cairn_archive_uploads_total",
                        "Archive segments this node uploaded since it started, by result (ok, failed).",
                    ),
                    &["result"],
                )?,
            )?,
            backups: registered(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "cairn_backups_total",
                        "Backups this node took since it started, by result (ok, failed).",
                    ),
                    &["result"],
                )?,
            )?,
        })
    }
}
