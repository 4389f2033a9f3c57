//! # cairn-chaos
//!
//! A Jepsen-style harness that starts real `cairn` binaries, runs a workload of Redis clients
//! against them while a nemesis injects faults, records every operation, and checks the
//! history for anomalies. It links no cairn crate: it tests what a user runs.
//!
//! # Layout
//! - [`cli`]: the command line (`cairn-chaos run ...`).
//! - [`cluster`]: starting, killing, pausing and partitioning nodes; [`cluster::netns`] builds
//!   the network namespaces, bridge and iptables rules and removes them again.
//! - [`nemesis`]: the fault schedule, drawn from the seed, and its execution.
//! - [`workload`]: the clients, one module per workload, and the final reads.
//! - [`history`]: the operation record written to `history.jsonl`.
//! - [`checker`]: one module per property (linearizable registers, counters, sets, lists)
//!   and availability.
//! - [`report`]: `results.json` and `report.html`.
//! - [`run`]: one run, wiring the above together.

pub mod checker;
pub mod cli;
pub mod cluster;
pub mod history;
pub mod nemesis;
pub mod report;
pub mod run;
pub mod workload;
