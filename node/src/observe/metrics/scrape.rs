//! Reading the node into the state gauges at scrape time, and the text exposition. Apart from
//! the metric definitions (`state`, `legacy`) so that the node can own its metrics without
//! the definitions depending on the node.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use prometheus::{Encoder, IntCounter, TextEncoder};

use super::legacy::Legacy;
use super::state::{Field, FloatField, State};
use crate::cluster::handle::Cluster;
use crate::cluster::replica::Replica;
use crate::node::Node;
use crate::observe::stats::Stats;

impl super::Metrics {
    /// Starts what must watch the node between scrapes (leader changes).
    pub fn watch(&self, cluster: &Cluster) {
        self.state.watch_leader(cluster);
    }

    /// The text exposition, with state gauges refreshed from the node.
    pub fn render(&self, node: &Node) -> String {
        self.state.refresh(node);
        self.legacy.refresh(node);
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "encoding metrics");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl State {
    /// Counts leader changes as they happen (a scrape would miss the ones between two).
    pub fn watch_leader(self: &Arc<Self>, cluster: &Cluster) {
        let mut rx = cluster.raft.metrics();
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
        let m = node.cluster.raft.metrics().borrow().clone();
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let membership = m.membership_config.membership();
        let voters = membership.voter_ids().count();
        let limits = crate::cache::eviction::Limits::of(&node.replica, &node.settings);
        let backup = node.backups.status.last();
        let timeout = node.cluster.config.election_timeout_max_ms;
        let leader = node.cluster.leader().map(|(id, _)| id).filter(|&id| {
            id != node.cluster.id || m.millis_since_quorum_ack.is_some_and(|ms| ms <= timeout)
        });
        for (field, gauge) in &self.gauges {
            gauge.set(match field {
                Field::Term => int(m.current_term),
                Field::IsLeader => i64::from(m.current_leader == Some(node.cluster.id)),
                Field::HasLeader => i64::from(leader.is_some()),
                Field::LeaderId => int(leader.unwrap_or(0)),
                Field::LastLogIndex => int(m.last_log_index.unwrap_or(0)),
                Field::AppliedIndex => int(m.last_applied.map_or(0, |l| l.index)),
                Field::SnapshotIndex => int(m.snapshot.map_or(0, |l| l.index)),
                Field::PurgedIndex => int(m.purged.map_or(0, |l| l.index)),
                Field::Voters => voters as i64,
                Field::Learners => membership.nodes().count().saturating_sub(voters) as i64,
                Field::ConsistencyOk => i64::from(node.replica.integrity.problem().is_none()),
                Field::ConsistencyCheckedIndex => {
                    node.replica.integrity.last().map_or(0, |(i, _)| int(i))
                }
                Field::DiskFull => i64::from(node.cluster.disk.full().is_some()),
                Field::DiskFreeBytes => int(node.cluster.disk.free()),
                Field::DiskReserveBytes => int(node.cluster.disk.reserve()),
                Field::DataDirBytes => int((node.replica.data_dir_bytes)()),
                Field::ConnectedClients => node.clients.len() as i64,
                Field::MemoryUsedBytes => int(node.replica.keyspace.used_bytes()),
                Field::MemoryMaxBytes => int(limits.maxmemory),
                Field::BackupInProgress => {
                    i64::from(node.backups.status.in_progress.load(Ordering::Relaxed))
                }
                Field::BackupLastIndex => backup.as_ref().map_or(0, |b| int(b.index)),
                Field::BackupLastSizeBytes => backup.as_ref().map_or(0, |b| int(b.stored_bytes)),
                Field::ArchiveActive => {
                    i64::from(node.backups.archive.active.load(Ordering::Relaxed))
                }
                Field::ArchiveLastIndex => {
                    int(node.backups.archive.last_index.load(Ordering::Relaxed))
                }
                Field::ArchiveLagEntries => int(node
                    .backups
                    .archive
                    .lag(crate::backup::archive::applied_index(&node.backups))),
                Field::ArchiveGaps => node.backups.archive.gap_list().len() as i64,
            });
        }
        let interval = node.cluster.config.backup.backup_interval.as_secs_f64();
        for (field, gauge) in &self.floats {
            gauge.set(match field {
                FloatField::SnapshotTimestamp => snapshot_time(&node.replica),
                FloatField::BackupLastSuccess => backup
                    .as_ref()
                    .map_or(0.0, |b| b.created_at_ms as f64 / 1000.0),
                FloatField::BackupNewest => {
                    node.backups.status.newest_ms.load(Ordering::Relaxed) as f64 / 1000.0
                }
                FloatField::BackupLastDuration => backup
                    .as_ref()
                    .map_or(0.0, |b| b.duration_ms as f64 / 1000.0),
                FloatField::ArchiveNewest => {
                    node.backups.archive.newest_ms.load(Ordering::Relaxed) as f64 / 1000.0
                }
                FloatField::ArchiveDelay => node.backups.archive.delay_secs(),
                FloatField::BackupInterval => {
                    if node.cluster.config.backup.backup_to.is_some() {
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
        for (peer, age) in self.contact_ages(&node.cluster, membership) {
            self.peer_contact
                .with_label_values(&[&peer.to_string()])
                .set(age.as_secs_f64());
            if membership.voter_ids().any(|v| v == peer) && age.as_millis() <= u128::from(timeout) {
                reachable += 1;
            }
        }
        if m.current_leader == Some(node.cluster.id) {
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
        if let Ok(sizes) = node.replica.keyspace.db_sizes() {
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
            node.backups.status.ok.load(Ordering::Relaxed),
        );
        mirror(
            &self.backups.with_label_values(&["failed"]),
            node.backups.status.failed.load(Ordering::Relaxed),
        );
        let archive = &node.backups.archive;
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
        cluster: &Cluster,
        membership: &openraft::Membership<u64, cairn_raft::NodeInfo>,
    ) -> Vec<(u64, std::time::Duration)> {
        let heard = cluster.peers.last_contacts();
        let mut unheard = self.unheard.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (&peer, _) in membership.nodes() {
            if peer == cluster.id {
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
fn snapshot_time(replica: &Replica) -> f64 {
    replica
        .sm
        .current_snapshot_file()
        .ok()
        .flatten()
        .and_then(|f| std::fs::metadata(f).ok()?.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Legacy {
    pub fn refresh(&self, node: &Node) {
        let m = node.cluster.raft.metrics().borrow().clone();
        let as_i64 = |v: Option<u64>| v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        let fields = [
            ("term", as_i64(Some(m.current_term))),
            (
                "is_leader",
                i64::from(m.current_leader == Some(node.cluster.id)),
            ),
            ("leader_id", as_i64(m.current_leader)),
            ("last_log_index", as_i64(m.last_log_index)),
            ("applied_index", as_i64(m.last_applied.map(|l| l.index))),
            ("snapshot_index", as_i64(m.snapshot.map(|l| l.index))),
            ("purged_index", as_i64(m.purged.map(|l| l.index))),
            ("members", m.membership_config.nodes().count() as i64),
            (
                "consistent",
                i64::from(node.replica.integrity.problem().is_none()),
            ),
            (
                "last_check_index",
                node.replica.integrity.last().map_or(0, |(i, _)| i as i64),
            ),
        ];
        for (field, value) in fields {
            self.raft.with_label_values(&[field]).set(value);
        }
        self.keys.reset();
        if let Ok(sizes) = node.replica.keyspace.db_sizes() {
            for (db, keys, expires) in sizes {
                let db = db.to_string();
                self.keys.with_label_values(&[&db, "all"]).set(keys as i64);
                self.keys
                    .with_label_values(&[&db, "with_ttl"])
                    .set(expires as i64);
            }
        }
        let process = [
            ("resident_bytes", crate::observe::info::rss_bytes() as f64),
            ("data_dir_bytes", (node.replica.data_dir_bytes)() as f64),
            ("uptime_seconds", node.started.elapsed().as_secs_f64()),
            (
                "used_memory_bytes",
                node.replica.keyspace.used_bytes() as f64,
            ),
            (
                "maxmemory_bytes",
                crate::cache::eviction::Limits::of(&node.replica, &node.settings).maxmemory as f64,
            ),
        ];
        for (field, value) in process {
            self.process.with_label_values(&[field]).set(value);
        }
        for (field, value) in crate::backup::schedule::metrics(&node.backups) {
            self.backup.with_label_values(&[field]).set(value);
        }
        for (field, counter) in node.stats.named() {
            self.counters
                .with_label_values(&[field])
                .set(i64::try_from(Stats::get(counter)).unwrap_or(i64::MAX));
        }
    }
}
