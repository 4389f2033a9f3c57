//! The metric families of earlier releases, which put unrelated quantities (and counters)
//! into one gauge under a `field` label. Each field now has a metric of its own
//! (`state`); these stay for one release so that existing dashboards and alerts keep
//! working while they move (docs/METRICS.md, "Renamed"). Delete this module in the next.

use prometheus::{GaugeVec, IntGaugeVec, Opts, Registry};

pub struct Legacy {
    pub(super) raft: IntGaugeVec,
    pub(super) keys: IntGaugeVec,
    pub(super) process: GaugeVec,
    pub(super) counters: IntGaugeVec,
    pub(super) backup: IntGaugeVec,
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
}
