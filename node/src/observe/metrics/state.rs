//! One metric per quantity, named by Prometheus's conventions (unit suffixes, `_total`
//! counters, labels only of bounded sets: db numbers, peer ids, results). The gauges mirror
//! state and are read at scrape time; the counters mirror the INFO counters, which CONFIG
//! RESETSTAT may zero (Prometheus takes that as a counter reset, as after a restart).
//! docs/METRICS.md describes each one.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use crate::node::Node;
use crate::observe::stats::Stats;

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
    gauges: Vec<(Field, IntGauge)>,
    floats: Vec<(FloatField, Gauge)>,
    leader_changes: IntCounter,
    peer_contact: prometheus::GaugeVec,
    reachable: IntGaugeVec,
    /// Member peers that never answered this node: since when it has looked for them.
    unheard: std::sync::Mutex<std::collections::HashMap<u64, std::time::Instant>>,
    lag: IntGaugeVec,
    db_keys: IntGaugeVec,
    db_expiring: IntGaugeVec,
    policy: IntGaugeVec,
    backups: IntCounterVec,
    archive_uploads: IntCounterVec,
    counters: Vec<(&'static str, IntCounter)>,
}

/// Integer gauges, each one metric.
#[derive(Clone, Copy)]
enum Field {
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
enum FloatField {
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

    /// Counts leader changes as they happen (a scrape would miss the ones between two).
    pub fn watch_leader(self: &Arc<Self>, node: &Arc<Node>) {
        let mut rx = node.raft.metrics();
        let me = self.clone();
        tokio::spawn(async move {
            let mut seen: Option<(u64, u64)> = None;
            loop {
                let now = {
                    let m = rx.borrow_and_update();
                    m.current_leader.map(|l| (m.current_term, l))
                };
                if now.is_some() && now != seen {
                    if seen.is_some() {
                        me.leader_changes.inc();
                    }
                    seen = now;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }

    pub fn refresh(&self, node: &Node) {
        let m = node.raft.metrics().borrow().clone();
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let membership = m.membership_config.membership();
        let voters = membership.voter_ids().count();
        let limits = crate::cache::eviction::Limits::of(node);
        let backup = node.backup.last();
        let timeout = node.config.election_timeout_max_ms;
        let leader = node.leader().map(|(id, _)| id).filter(|&id| {
            id != node.id || m.millis_since_quorum_ack.is_some_and(|ms| ms <= timeout)
        });
        for (field, gauge) in &self.gauges {
            gauge.set(match field {
                Field::Term => int(m.current_term),
                Field::IsLeader => i64::from(m.current_leader == Some(node.id)),
                Field::HasLeader => i64::from(leader.is_some()),
                Field::LeaderId => int(leader.unwrap_or(0)),
                Field::LastLogIndex => int(m.last_log_index.unwrap_or(0)),
                Field::AppliedIndex => int(m.last_applied.map_or(0, |l| l.index)),
                Field::SnapshotIndex => int(m.snapshot.map_or(0, |l| l.index)),
                Field::PurgedIndex => int(m.purged.map_or(0, |l| l.index)),
                Field::Voters => voters as i64,
                Field::Learners => membership.nodes().count().saturating_sub(voters) as i64,
                Field::ConsistencyOk => i64::from(node.integrity.problem().is_none()),
                Field::ConsistencyCheckedIndex => node.integrity.last().map_or(0, |(i, _)| int(i)),
                Field::DiskFull => i64::from(node.disk.full().is_some()),
                Field::DiskFreeBytes => int(node.disk.free()),
                Field::DiskReserveBytes => int(node.disk.reserve()),
                Field::DataDirBytes => int((node.data_dir_bytes)()),
                Field::ConnectedClients => node.clients.len() as i64,
                Field::MemoryUsedBytes => int(node.keyspace.used_bytes()),
                Field::MemoryMaxBytes => int(limits.maxmemory),
                Field::BackupInProgress => {
                    i64::from(node.backup.in_progress.load(Ordering::Relaxed))
                }
                Field::BackupLastIndex => backup.as_ref().map_or(0, |b| int(b.index)),
                Field::BackupLastSizeBytes => backup.as_ref().map_or(0, |b| int(b.stored_bytes)),
                Field::ArchiveActive => i64::from(node.archive.active.load(Ordering::Relaxed)),
                Field::ArchiveLastIndex => int(node.archive.last_index.load(Ordering::Relaxed)),
                Field::ArchiveLagEntries => int(node
                    .archive
                    .lag(crate::backup::archive::applied_index(node))),
                Field::ArchiveGaps => node.archive.gap_list().len() as i64,
            });
        }
        let interval = node.config.backup.backup_interval.as_secs_f64();
        for (field, gauge) in &self.floats {
            gauge.set(match field {
                FloatField::SnapshotTimestamp => snapshot_time(node),
                FloatField::BackupLastSuccess => backup
                    .as_ref()
                    .map_or(0.0, |b| b.created_at_ms as f64 / 1000.0),
                FloatField::BackupNewest => {
                    node.backup.newest_ms.load(Ordering::Relaxed) as f64 / 1000.0
                }
                FloatField::BackupLastDuration => backup
                    .as_ref()
                    .map_or(0.0, |b| b.duration_ms as f64 / 1000.0),
                FloatField::ArchiveNewest => {
                    node.archive.newest_ms.load(Ordering::Relaxed) as f64 / 1000.0
                }
                FloatField::ArchiveDelay => node.archive.delay_secs(),
                FloatField::BackupInterval => {
                    if node.config.backup.backup_to.is_some() {
                        interval
                    } else {
                        0.0
                    }
                }
            });
        }
        self.peer_contact.reset();
        self.reachable.reset();
        let mut reachable = 1; // itself
        for (peer, age) in self.contact_ages(node, membership) {
            self.peer_contact
                .with_label_values(&[&peer.to_string()])
                .set(age.as_secs_f64());
            if membership.voter_ids().any(|v| v == peer) && age.as_millis() <= u128::from(timeout) {
                reachable += 1;
            }
        }
        if m.current_leader == Some(node.id) {
            self.reachable.with_label_values::<&str>(&[]).set(reachable);
        }
        self.lag.reset();
        if let Some(replication) = &m.replication {
            let last = m.last_log_index.unwrap_or(0);
            for (id, matched) in replication {
                let matched = matched.as_ref().map_or(0, |l| l.index);
                self.lag
                    .with_label_values(&[&id.to_string()])
                    .set(int(last.saturating_sub(matched)));
            }
        }
        self.db_keys.reset();
        self.db_expiring.reset();
        if let Ok(sizes) = node.keyspace.db_sizes() {
            for (db, keys, expires) in sizes {
                let db = db.to_string();
                self.db_keys.with_label_values(&[&db]).set(keys as i64);
                self.db_expiring
                    .with_label_values(&[&db])
                    .set(expires as i64);
            }
        }
        self.policy.reset();
        self.policy
            .with_label_values(&[limits.policy.name()])
            .set(1);
        mirror(
            &self.backups.with_label_values(&["ok"]),
            node.backup.ok.load(Ordering::Relaxed),
        );
        mirror(
            &self.backups.with_label_values(&["failed"]),
            node.backup.failed.load(Ordering::Relaxed),
        );
        let archive = &node.archive;
        mirror(
            &self.archive_uploads.with_label_values(&["ok"]),
            archive.ok.load(Ordering::Relaxed),
        );
        mirror(
            &self.archive_uploads.with_label_values(&["failed"]),
            archive.failed.load(Ordering::Relaxed),
        );
        for (field, counter) in node.stats.named() {
            if let Some((_, c)) = self.counters.iter().find(|(f, _)| *f == field) {
                mirror(c, Stats::get(counter));
            }
        }
    }
}

impl State {
    /// The time since each member peer last answered this node; for a peer that never has,
    /// the time since this node first found it missing (a follower that is down when a new
    /// leader takes over has never answered that leader). Peers no longer members are no
    /// longer contacted, so their age would mean nothing: they are left out.
    fn contact_ages(
        &self,
        node: &Node,
        membership: &openraft::Membership<u64, cairn_raft::NodeInfo>,
    ) -> Vec<(u64, std::time::Duration)> {
        let heard = node.peers.last_contacts();
        let mut unheard = self.unheard.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (&peer, _) in membership.nodes() {
            if peer == node.id {
                continue;
            }
            match heard.iter().find(|(id, _)| *id == peer) {
                Some(&(_, age)) => {
                    unheard.remove(&peer);
                    out.push((peer, age));
                }
                None => {
                    let since = unheard.entry(peer).or_insert_with(std::time::Instant::now);
                    out.push((peer, since.elapsed()));
                }
            }
        }
        unheard.retain(|id, _| membership.nodes().any(|(m, _)| m == id));
        out
    }
}

/// Brings a Prometheus counter to `value`; a smaller value (CONFIG RESETSTAT) starts it again.
fn mirror(counter: &IntCounter, value: u64) {
    let have = counter.get();
    if value < have {
        counter.reset();
        counter.inc_by(value);
    } else {
        counter.inc_by(value - have);
    }
}

/// The current snapshot file's modification time: when it was written, or restored.
fn snapshot_time(node: &Node) -> f64 {
    node.sm
        .current_snapshot_file()
        .ok()
        .flatten()
        .and_then(|f| std::fs::metadata(f).ok()?.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}
