//! INFO and ROLE in Redis's formats, from raft metrics and node state.
//!
//! The replication offset Redis clients see is the Raft applied index (leader: the last log
//! index; a follower: its applied index), so `master_repl_offset - slave_repl_offset` is the
//! lag in entries.

use std::fmt::Write;

use crate::cluster::redis_cluster::host_port;
use cairn_protocol::Reply;

use crate::cache::tracking::Tracking;
use crate::cluster::handle::Cluster;
use crate::cluster::replica::Replica;
use crate::node::Node;
use crate::observe::stats::Stats;

/// The Redis version cairn reports: the command set and replies follow Redis 7.0.
pub const REDIS_VERSION: &str = "7.0.15";

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "backup",
    "archive",
    "stats",
    "replication",
    "cpu",
    "cluster",
    "keyspace",
];

/// The INFO text for the requested sections (empty: the default set).
pub fn render(node: &Node, sections: &[String]) -> String {
    let wanted: Vec<String> = if sections.is_empty() {
        DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect()
    } else if sections.iter().any(|s| {
        matches!(
            s.to_ascii_lowercase().as_str(),
            "all" | "everything" | "default"
        )
    }) {
        DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect()
    } else {
        sections.iter().map(|s| s.to_ascii_lowercase()).collect()
    };
    let mut out = String::new();
    for name in DEFAULT_SECTIONS
        .iter()
        .filter(|n| wanted.iter().any(|w| w == *n))
    {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match *name {
            "server" => server(node, &mut out),
            "clients" => clients(node, &mut out),
            "memory" => memory(node, &mut out),
            "persistence" => persistence(node, &mut out),
            "backup" => crate::backup::schedule::info(&node.backups, &mut out),
            "archive" => crate::backup::archive::info(&node.backups, &mut out),
            "stats" => stats(&node.stats, &node.tracking, &mut out),
            "replication" => replication(&node.cluster, &node.replica, &mut out),
            "cpu" => out.push_str("# CPU\r\n"),
            // Cluster mode as clients see it: with --redirect the node answers MOVED.
            "cluster" => out.push_str(if node.cluster.config.redirect {
                "# Cluster\r\ncluster_enabled:1\r\n"
            } else {
                "# Cluster\r\ncluster_enabled:0\r\n"
            }),
            "keyspace" => keyspace(&node.replica, &mut out),
            _ => {}
        }
    }
    out
}

fn line(out: &mut String, key: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "{key}:{value}\r\n");
}

fn server(node: &Node, out: &mut String) {
    let (port, _) = node.cluster.config.ports().unwrap_or((0, 0));
    out.push_str("# Server\r\n");
    line(out, "redis_version", REDIS_VERSION);
    line(out, "cairn_version", env!("CARGO_PKG_VERSION"));
    line(out, "redis_mode", "standalone");
    line(out, "os", std::env::consts::OS);
    line(out, "arch_bits", 64);
    line(out, "process_id", std::process::id());
    line(out, "run_id", &node.run_id);
    line(out, "tcp_port", port);
    let up = node.started.elapsed().as_secs();
    line(out, "uptime_in_seconds", up);
    line(out, "uptime_in_days", up / 86_400);
    line(out, "cairn_node_id", node.cluster.id);
}

fn clients(node: &Node, out: &mut String) {
    out.push_str("# Clients\r\n");
    line(out, "connected_clients", node.clients.len());
    line(out, "maxclients", node.cluster.config.max_clients);
    line(out, "blocked_clients", node.clients.blocked());
    let (tracking, ..) = node.tracking.counts();
    line(out, "tracking_clients", tracking);
}

fn memory(node: &Node, out: &mut String) {
    out.push_str("# Memory\r\n");
    // used_memory is the dataset measure maxmemory applies to, the same on every replica
    // (keys, encoded values, per-key overhead); the process's own memory is used_memory_rss.
    let used = node.replica.keyspace.used_bytes();
    node.stats.note_used_memory(used);
    let peak = Stats::get(&node.stats.used_memory_peak);
    let rss = rss_bytes();
    let limits = crate::cache::eviction::Limits::of(&node.replica, &node.settings);
    line(out, "used_memory", used);
    line(out, "used_memory_human", human(used));
    line(out, "used_memory_rss", rss);
    line(out, "used_memory_rss_human", human(rss));
    line(out, "used_memory_peak", peak);
    line(out, "used_memory_peak_human", human(peak));
    line(out, "used_memory_dataset", used);
    line(out, "maxmemory", limits.maxmemory);
    line(out, "maxmemory_human", human(limits.maxmemory));
    line(
        out,
        "maxmemory_policy",
        node.setting("maxmemory-policy").unwrap_or_default(),
    );
    let scripts = node
        .replica
        .keyspace
        .reading()
        .map_or(0, |s| s.scripts.len());
    line(out, "number_of_cached_scripts", scripts);
}

/// Redis's `bytesToHuman`: `512B`, `1.50K`, `3.00M`, `1.25G`.
fn human(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f < K {
        format!("{n}B")
    } else if f < K * K {
        format!("{:.2}K", f / K)
    } else if f < K * K * K {
        format!("{:.2}M", f / (K * K))
    } else if f < K * K * K * K {
        format!("{:.2}G", f / (K * K * K))
    } else {
        format!("{:.2}T", f / (K * K * K * K))
    }
}

fn persistence(node: &Node, out: &mut String) {
    out.push_str("# Persistence\r\n");
    line(out, "loading", u8::from(node.replica.keyspace.is_loading()));
    line(out, "aof_enabled", 0);
    line(
        out,
        "rdb_changes_since_last_save",
        crate::backup::save::changes_since_last_save(&node.backups),
    );
    line(
        out,
        "rdb_bgsave_in_progress",
        u8::from(node.backups.saves.in_progress()),
    );
    line(
        out,
        "rdb_last_save_time",
        crate::backup::save::last_save_unix(&node.backups),
    );
    line(
        out,
        "rdb_last_bgsave_status",
        node.backups.saves.last_status(),
    );
    line(out, "cairn_data_dir_bytes", (node.replica.data_dir_bytes)());
    let full = node.cluster.disk.full();
    line(out, "cairn_disk_full", u8::from(full.is_some()));
    if let Some(why) = full {
        line(out, "cairn_disk_full_reason", why);
    }
    line(out, "cairn_disk_free_bytes", node.cluster.disk.free());
    line(out, "cairn_disk_reserve_bytes", node.cluster.disk.reserve());
    let m = node.cluster.raft.metrics().borrow().clone();
    line(
        out,
        "cairn_snapshot_index",
        m.snapshot.map_or(-1, |s| s.index as i64),
    );
    line(
        out,
        "cairn_purged_index",
        m.purged.map_or(-1, |s| s.index as i64),
    );
}

fn stats(stats: &Stats, tracking: &Tracking, out: &mut String) {
    out.push_str("# Stats\r\n");
    for (name, counter) in stats.named() {
        line(out, name, Stats::get(counter));
    }
    line(out, "instantaneous_ops_per_sec", stats.instantaneous_ops());
    let (_, keys, items, prefixes) = tracking.counts();
    line(out, "tracking_total_keys", keys);
    line(out, "tracking_total_items", items);
    line(out, "tracking_total_prefixes", prefixes);
}

fn replication(cluster: &Cluster, replica: &Replica, out: &mut String) {
    let m = cluster.raft.metrics().borrow().clone();
    let applied = m.last_applied.map_or(0, |l| l.index);
    out.push_str("# Replication\r\n");
    if m.current_leader == Some(cluster.id) {
        line(out, "role", "master");
        let followers: Vec<_> = m
            .membership_config
            .nodes()
            .filter(|(id, _)| **id != cluster.id)
            .map(|(id, n)| (*id, n.clone()))
            .collect();
        line(out, "connected_slaves", followers.len());
        let leader_index = m.last_log_index.unwrap_or(0);
        for (i, (id, n)) in followers.iter().enumerate() {
            let matched = m
                .replication
                .as_ref()
                .and_then(|r| r.get(id).cloned().flatten())
                .map_or(0, |l| l.index);
            let (host, port) = host_port(n);
            line(
                out,
                &format!("slave{i}"),
                format!(
                    "ip={host},port={port},state=online,offset={matched},lag={}",
                    leader_index.saturating_sub(matched)
                ),
            );
        }
        line(out, "master_repl_offset", leader_index);
    } else {
        line(out, "role", "slave");
        let leader = cluster.leader();
        let (host, port) = leader
            .as_ref()
            .map(|(_, n)| host_port(n))
            .unwrap_or_default();
        line(out, "master_host", host);
        line(out, "master_port", port);
        line(
            out,
            "master_link_status",
            if leader.is_some() { "up" } else { "down" },
        );
        line(out, "slave_repl_offset", applied);
        line(out, "slave_read_only", 1);
        line(out, "connected_slaves", 0);
        line(out, "master_repl_offset", applied);
    }
    line(out, "cairn_term", m.current_term);
    line(
        out,
        "cairn_leader_id",
        cluster.leader().map_or(0, |(l, _)| l),
    );
    line(out, "cairn_applied_index", applied);
    let (check_index, check_ok) = replica.integrity.last().unwrap_or((0, true));
    line(out, "cairn_last_check_index", check_index);
    line(
        out,
        "cairn_last_check",
        if check_index == 0 {
            "none"
        } else if check_ok {
            "ok"
        } else {
            "mismatch"
        },
    );
    line(
        out,
        "cairn_consistency",
        replica
            .integrity
            .problem()
            .map_or("ok".to_string(), |p| format!("diverged ({p})")),
    );
}

fn keyspace(replica: &Replica, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    if let Ok(sizes) = replica.keyspace.db_sizes() {
        for (db, keys, expires) in sizes {
            let avg_ttl = if expires > 0 { avg_ttl(replica, db) } else { 0 };
            line(
                out,
                &format!("db{db}"),
                format!("keys={keys},expires={expires},avg_ttl={avg_ttl}"),
            );
        }
    }
}

/// Keys with a TTL sampled for avg_ttl, and entries looked at to find them.
const AVG_TTL_SAMPLE: usize = 64;
const AVG_TTL_SCAN_MAX: usize = 4096;

/// avg_ttl, in ms, as Redis reports it: an estimate, here the mean remaining TTL of up to
/// 64 keys with a TTL from a random run of the keyspace (Redis derives it from its active
/// expiry's samples). 0 when none was found.
fn avg_ttl(replica: &Replica, db: u8) -> u64 {
    let now = cairn_raft::types::now_ms();
    let from = rand::random::<u64>();
    let Ok(sampled) =
        replica
            .keyspace
            .sample(db, from, true, AVG_TTL_SAMPLE, AVG_TTL_SCAN_MAX, &|_| true)
    else {
        return 0;
    };
    let ttls: Vec<u64> = sampled
        .iter()
        .filter_map(|s| s.expire_at_ms)
        .map(|at| at.saturating_sub(now))
        .collect();
    if ttls.is_empty() {
        return 0;
    }
    ttls.iter().sum::<u64>() / ttls.len() as u64
}

/// ROLE: `["master", offset, [[ip, port, offset], ...]]` or
/// `["slave", ip, port, "connected", offset]`.
pub fn role(cluster: &Cluster) -> Reply {
    let m = cluster.raft.metrics().borrow().clone();
    if m.current_leader == Some(cluster.id) {
        let replicas = m
            .membership_config
            .nodes()
            .filter(|(id, _)| **id != cluster.id)
            .map(|(id, n)| {
                let (host, port) = host_port(n);
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(id).cloned().flatten())
                    .map_or(0, |l| l.index);
                Reply::Array(vec![
                    Reply::text(host),
                    Reply::text(port.to_string()),
                    Reply::text(matched.to_string()),
                ])
            })
            .collect();
        Reply::Array(vec![
            Reply::text("master"),
            Reply::Integer(m.last_log_index.unwrap_or(0) as i64),
            Reply::Array(replicas),
        ])
    } else {
        let (host, port) = cluster
            .leader()
            .map(|(_, n)| host_port(&n))
            .unwrap_or_default();
        let state = if cluster.leader().is_some() {
            "connected"
        } else {
            "connect"
        };
        Reply::Array(vec![
            Reply::text("slave"),
            Reply::text(host),
            Reply::Integer(i64::from(port)),
            Reply::text(state),
            Reply::Integer(m.last_applied.map_or(0, |l| l.index) as i64),
        ])
    }
}

/// Resident set size of this process, from /proc (0 where unavailable).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}
