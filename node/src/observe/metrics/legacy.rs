//! The metric families of earlier releases, which put unrelated quantities (and counters)
//! into one gauge under a `field` label. Each field now has a metric of its own
//! (`state`); these stay for one release so that existing dashboards and alerts keep
//! working while they move (docs/METRICS.md, "Renamed"). Delete this module in the next.

use prometheus::{GaugeVec, IntGaugeVec, Opts, Registry};

use crate::node::Node;
use crate::observe::stats::Stats;

pub struct Legacy {
    raft: IntGaugeVec,
    keys: IntGaugeVec,
    process: GaugeVec,
    counters: IntGaugeVec,
    backup: IntGaugeVec,
}

const DEPRECATED: &str = "Deprecated, removed in the next release: see docs/METRICS.md.";

impl Legacy {
    pub fn new(registry: &Registry) -> anyhow::Result<Legacy> {
        let opts = |name: &str, what: &str| Opts::new(name, format!("{what} {DEPRECATED}"));
        let legacy = Legacy {
            raft: IntGaugeVec::new(opts("cairn_raft", "Raft state by field."), &["field"])?,
            keys: IntGaugeVec::new(
                opts("cairn_keys", "Keys per database (kind=all|with_ttl)."),
                &["db", "kind"],
            )?,
            process: GaugeVec::new(opts("cairn_process", "Process figures."), &["field"])?,
            counters: IntGaugeVec::new(
                opts("cairn_stats", "INFO stats counters by field."),
                &["field"],
            )?,
            backup: IntGaugeVec::new(opts("cairn_backup", "Backup figures."), &["field"])?,
        };
        registry.register(Box::new(legacy.raft.clone()))?;
        registry.register(Box::new(legacy.keys.clone()))?;
        registry.register(Box::new(legacy.process.clone()))?;
        registry.register(Box::new(legacy.counters.clone()))?;
        registry.register(Box::new(legacy.backup.clone()))?;
        Ok(legacy)
    }

    pub fn refresh(&self, node: &Node) {
        let m = node.raft.metrics().borrow().clone();
        let as_i64 = |v: Option<u64>| v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        let fields = [
            ("term", as_i64(Some(m.current_term))),
            ("is_leader", i64::from(m.current_leader == Some(node.id))),
            ("leader_id", as_i64(m.current_leader)),
            ("last_log_index", as_i64(m.last_log_index)),
            ("applied_index", as_i64(m.last_applied.map(|l| l.index))),
            ("snapshot_index", as_i64(m.snapshot.map(|l| l.index))),
            ("purged_index", as_i64(m.purged.map(|l| l.index))),
            ("members", m.membership_config.nodes().count() as i64),
            ("consistent", i64::from(node.integrity.problem().is_none())),
            (
                "last_check_index",
                node.integrity.last().map_or(0, |(i, _)| i as i64),
            ),
        ];
        for (field, value) in fields {
            self.raft.with_label_values(&[field]).set(value);
        }
        self.keys.reset();
        if let Ok(sizes) = node.keyspace.db_sizes() {
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
            ("data_dir_bytes", (node.data_dir_bytes)() as f64),
            ("uptime_seconds", node.started.elapsed().as_secs_f64()),
            ("used_memory_bytes", node.keyspace.used_bytes() as f64),
            (
                "maxmemory_bytes",
                crate::cache::eviction::Limits::of(node).maxmemory as f64,
            ),
        ];
        for (field, value) in process {
            self.process.with_label_values(&[field]).set(value);
        }
        for (field, value) in crate::backup::schedule::metrics(node) {
            self.backup.with_label_values(&[field]).set(value);
        }
        for (field, counter) in node.stats.named() {
            self.counters
                .with_label_values(&[field])
                .set(i64::try_from(Stats::get(counter)).unwrap_or(i64::MAX));
        }
    }
}
