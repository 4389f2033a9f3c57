//! The command line. `cairn-chaos run` is one run; `cairn-chaos check` re-checks a recorded
//! history; `cairn-chaos cleanup` removes namespaces and rules left by runs that were killed.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "cairn-chaos",
    about = "Fault injection and history checking for cairn"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Start a cluster, run a workload under faults, check the history, write a report.
    Run(RunArgs),
    /// Check a recorded history.jsonl again (no cluster needed).
    Check(CheckArgs),
    /// Remove namespaces, links and rules left by cairn-chaos runs that no longer exist.
    Cleanup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    Register,
    Counter,
    ListAppend,
    Set,
    /// SET with PX TTLs and reads around the deadlines (most telling with --nemesis skew).
    Ttl,
    /// Locks with fencing tokens (docs/fencing): appends under a token never land after a
    /// newer holder's (most telling with --nemesis pause).
    Fenced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// SIGKILL a node, restart it later.
    Kill,
    /// SIGSTOP a node, SIGCONT it later.
    Pause,
    /// Cut links between nodes with iptables (netns backend only).
    Partition,
    /// SIGTERM a node (graceful shutdown) and start it again at once.
    Restart,
    /// Drop a random share of the packets between nodes (netns backend only).
    Loss,
    /// Remove a node from the membership (the leader half the time), add it back later.
    Member,
    /// Hand leadership to a random node (`CAIRN TRANSFER-LEADER`; the leader itself refuses).
    Transfer,
    /// Move one node's wall clock (libfaketime; process and netns backends, a dynamically
    /// linked cairn), back when the fault ends. Monotonic time, and so Raft's timers, stay.
    Skew,
}

impl Fault {
    /// Faults that need a real network between the nodes.
    pub fn needs_network(self) -> bool {
        matches!(self, Fault::Partition | Fault::Loss)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// Local processes on 127.0.0.1: kill, pause, restart.
    Process,
    /// One network namespace per node on a bridge: every fault, partitions included.
    Netns,
    /// One container per node (the image from scripts/build-image.sh) on a Docker network:
    /// every fault, partitions included.
    Docker,
}

#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct RunArgs {
    /// Cluster size.
    #[arg(long, default_value_t = 3, value_parser = parse_nodes)]
    pub nodes: usize,

    /// How long the workload runs under faults (`60s`, `2m`, `500ms`, or seconds).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    #[serde(serialize_with = "ser_duration")]
    pub duration: Duration,

    /// Faults to inject, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "kill,pause")]
    pub nemesis: Vec<Fault>,

    #[arg(long, value_enum, default_value_t = Workload::Register)]
    pub workload: Workload,

    /// Concurrent clients, spread over all nodes.
    #[arg(long, default_value_t = 10)]
    pub clients: usize,

    /// Seed of the fault schedule and of every client's operations (random when absent; it is
    /// printed and recorded so a run can be repeated).
    #[arg(long)]
    pub seed: Option<u64>,

    #[arg(long, value_enum, default_value_t = Backend::Process)]
    pub backend: Backend,

    /// The cairn binary to run (process and netns backends).
    #[arg(long, env = "CAIRN_BIN", default_value = "target/debug/cairn")]
    pub bin: PathBuf,

    /// The cairn image to run (docker backend).
    #[arg(long, default_value = "cairn:dev")]
    pub image: String,

    /// Output directory: history, results, report, node logs and data.
    #[arg(long, default_value = "chaos-out")]
    pub out: PathBuf,

    /// Per-operation timeout; an operation that takes longer has an unknown outcome.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    #[serde(serialize_with = "ser_duration")]
    pub op_timeout: Duration,

    /// Quiet time between two faults is drawn between this and twice this.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    #[serde(serialize_with = "ser_duration")]
    pub nemesis_interval: Duration,

    /// Bound on the linearizability search per key (states explored) before it answers
    /// "unknown" instead of running on.
    #[arg(long, default_value_t = 2_000_000)]
    pub search_limit: usize,

    /// Register workload without compare-and-set (GET and SET only), to check plain reads
    /// and writes when CAS anomalies would mask everything else.
    #[arg(long)]
    pub no_cas: bool,

    /// Keep the node data directories after a run (they are removed by default).
    #[arg(long)]
    pub keep_data: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// A history.jsonl written by `run`.
    pub history: PathBuf,

    #[arg(long, value_enum)]
    pub workload: Workload,

    #[arg(long, default_value_t = 2_000_000)]
    pub search_limit: usize,
}

/// 3 or 5: Raft sizes that tolerate one or two failures (even sizes add no tolerance).
fn parse_nodes(s: &str) -> Result<usize, String> {
    match s {
        "3" => Ok(3),
        "5" => Ok(5),
        _ => Err(format!("{s:?}: the cluster has 3 or 5 nodes")),
    }
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// `60s`, `2m`, `500ms`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit in {s:?} (use ms, s, m or h)")),
    };
    if !(0.0..=86_400.0 * 7.0).contains(&secs) {
        return Err(format!("duration out of range: {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn run_args_parse() {
        let cli = Cli::try_parse_from([
            "cairn-chaos",
            "run",
            "--nodes",
            "5",
            "--nemesis",
            "kill,partition",
            "--workload",
            "list-append",
        ])
        .unwrap();
        let Cmd::Run(a) = cli.command else {
            panic!("not run")
        };
        assert_eq!(a.nodes, 5);
        assert_eq!(a.nemesis, vec![Fault::Kill, Fault::Partition]);
        assert_eq!(a.workload, Workload::ListAppend);
        assert!(Cli::try_parse_from(["cairn-chaos", "run", "--nodes", "4"]).is_err());
    }
}
