//! Prometheus metrics. Counters and histograms are updated where things happen (sessions);
//! gauges that mirror state (raft, keyspace, clients) are read at scrape time, so they cost
//! nothing between scrapes.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use cairn_protocol::Reply;

use crate::node::Node;
use crate::stats::Stats;

pub struct Metrics {
    registry: Registry,
    commands: IntCounterVec,
    command_seconds: HistogramVec,
    raft: IntGaugeVec,
    lag: IntGaugeVec,
    keys: IntGaugeVec,
    clients: IntGauge,
    process: GaugeVec,
    counters: IntGaugeVec,
    backup: IntGaugeVec,
}

/// Latency buckets from 50 µs to 5 s.
const BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

impl Metrics {
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new();
        let commands = IntCounterVec::new(
            Opts::new(
                "cairn_commands_total",
                "Commands processed, by command name.",
            ),
            &["cmd"],
        )?;
        let command_seconds = HistogramVec::new(
            HistogramOpts::new(
                "cairn_command_duration_seconds",
                "Time from a command's parsing to its reply, by command name.",
            )
            .buckets(BUCKETS.to_vec()),
            &["cmd"],
        )?;
        let raft = IntGaugeVec::new(
            Opts::new(
                "cairn_raft",
                "Raft state: term, is_leader, leader_id, last_log_index, applied_index, snapshot_index, purged_index, members.",
            ),
            &["field"],
        )?;
        let lag = IntGaugeVec::new(
            Opts::new(
                "cairn_replication_lag_entries",
                "On the leader: entries each follower is behind the leader's log.",
            ),
            &["follower"],
        )?;
        let keys = IntGaugeVec::new(
            Opts::new("cairn_keys", "Keys per database (kind=all|with_ttl)."),
            &["db", "kind"],
        )?;
        let clients = IntGauge::new("cairn_connected_clients", "Connected RESP clients.")?;
        let process = GaugeVec::new(
            Opts::new(
                "cairn_process",
                "Process figures: resident_bytes, data_dir_bytes, uptime_seconds, and the dataset's used_memory_bytes (INFO used_memory) and maxmemory_bytes.",
            ),
            &["field"],
        )?;
        let counters = IntGaugeVec::new(
            Opts::new(
                "cairn_stats",
                "INFO stats counters, by their INFO names (total_commands_processed, keyspace_hits, ...).",
            ),
            &["field"],
        )?;
        let backup = IntGaugeVec::new(
            Opts::new(
                "cairn_backup",
                "Backups this node took: in_progress, ok_total, failed_total, \
                 last_success_timestamp_seconds, last_index, last_bytes, last_duration_ms.",
            ),
            &["field"],
        )?;
        registry.register(Box::new(backup.clone()))?;
        registry.register(Box::new(commands.clone()))?;
        registry.register(Box::new(command_seconds.clone()))?;
        registry.register(Box::new(raft.clone()))?;
        registry.register(Box::new(lag.clone()))?;
        registry.register(Box::new(keys.clone()))?;
        registry.register(Box::new(clients.clone()))?;
        registry.register(Box::new(process.clone()))?;
        registry.register(Box::new(counters.clone()))?;
        Ok(Metrics {
            registry,
            commands,
            command_seconds,
            raft,
            lag,
            keys,
            clients,
            process,
            backup,
            counters,
        })
    }

    /// Records one command. `name` must come from the command table (bounded cardinality).
    pub fn command(&self, name: &str, seconds: f64) {
        self.commands.with_label_values(&[name]).inc();
        self.command_seconds
            .with_label_values(&[name])
            .observe(seconds);
    }

    /// LATENCY HISTOGRAM [command ...]: per command called (of `names`, or all), its calls
    /// and the cumulative count of each latency bucket, by the bucket's bound in µs.
    pub fn latency_histogram(&self, names: &[String]) -> Reply {
        use prometheus::core::Collector;
        let mut out = Vec::new();
        for family in self.command_seconds.collect() {
            for m in family.get_metric() {
                let Some(name) = m.get_label().iter().find(|l| l.name() == "cmd") else {
                    continue;
                };
                let name = name.value();
                let h = m.get_histogram();
                if h.get_sample_count() == 0
                    || !(names.is_empty() || names.iter().any(|n| n == name))
                {
                    continue;
                }
                let buckets = h
                    .get_bucket()
                    .iter()
                    .map(|b| {
                        let micros = (b.upper_bound() * 1e6).round() as i64;
                        (
                            Reply::Integer(micros),
                            Reply::Integer(b.cumulative_count() as i64),
                        )
                    })
                    .collect();
                out.push((
                    Reply::bulk(name.to_string()),
                    Reply::Map(vec![
                        (
                            Reply::bulk("calls"),
                            Reply::Integer(h.get_sample_count() as i64),
                        ),
                        (Reply::bulk("histogram_usec"), Reply::Map(buckets)),
                    ]),
                ));
            }
        }
        Reply::Map(out)
    }

    /// The text exposition, with state gauges refreshed from the node.
    pub fn render(&self, node: &Node) -> String {
        self.refresh(node);
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "encoding metrics");
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn refresh(&self, node: &Node) {
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
        self.lag.reset();
        if let Some(replication) = &m.replication {
            let last = m.last_log_index.unwrap_or(0);
            for (id, matched) in replication {
                let matched = matched.as_ref().map_or(0, |l| l.index);
                self.lag
                    .with_label_values(&[&id.to_string()])
                    .set(i64::try_from(last.saturating_sub(matched)).unwrap_or(i64::MAX));
            }
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
        self.clients.set(node.clients.len() as i64);
        self.process
            .with_label_values(&["resident_bytes"])
            .set(crate::info::rss_bytes() as f64);
        self.process
            .with_label_values(&["data_dir_bytes"])
            .set((node.data_dir_bytes)() as f64);
        self.process
            .with_label_values(&["uptime_seconds"])
            .set(node.started.elapsed().as_secs_f64());
        self.process
            .with_label_values(&["used_memory_bytes"])
            .set(node.keyspace.used_bytes() as f64);
        self.process
            .with_label_values(&["maxmemory_bytes"])
            .set(crate::eviction::Limits::of(node).maxmemory as f64);
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
