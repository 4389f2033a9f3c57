//! Prometheus metrics. Counters and histograms of commands are updated where commands run
//! (sessions); gauges that mirror state (raft, keyspace, clients, disk, backups) are read at
//! scrape time, so they cost nothing between scrapes. `state` holds the metrics as
//! docs/METRICS.md lists them; `legacy` the older `field`-labelled families, kept one release;
//! `scrape` reads the node into both (it alone knows the node).

mod legacy;
mod scrape;
mod state;

use std::sync::Arc;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use cairn_protocol::Reply;

pub struct Metrics {
    registry: Registry,
    commands: IntCounterVec,
    command_seconds: HistogramVec,
    state: Arc<state::State>,
    legacy: legacy::Legacy,
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
        registry.register(Box::new(commands.clone()))?;
        registry.register(Box::new(command_seconds.clone()))?;
        // The process's CPU, memory, open files and start time, by their standard names.
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let state = Arc::new(state::State::new(&registry)?);
        let legacy = legacy::Legacy::new(&registry)?;
        Ok(Metrics {
            registry,
            commands,
            command_seconds,
            state,
            legacy,
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
}
