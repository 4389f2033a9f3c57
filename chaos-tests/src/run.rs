//! One run: start the cluster, play the faults while the clients work, heal, read the final
//! state, tear everything down, check, and write the history, results and report.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::sync::watch;

use crate::checker::{self, Check};
use crate::cli::{Backend, RunArgs};
use crate::cluster::{self, netns, Cluster};
use crate::history::{self, Recorder};
use crate::nemesis;
use crate::report::{self, OpCounts, Results};
use crate::workload::{self, Ctx};

/// How long a fresh or healed cluster gets to agree on a leader.
const LEADER_WAIT: Duration = Duration::from_secs(30);
/// Tries per key of the final reads (each up to the op timeout, over the nodes in turn).
const FINAL_READ_ATTEMPTS: usize = 15;
/// Consistency-check rounds tried after healing before giving up.
const CONVERGENCE_ATTEMPTS: usize = 5;
/// The line a node logs when its consistency check finds it diverged.
const DIVERGENCE_LOG: &str = "data is inconsistent";

/// Refuses argument combinations that cannot work, before anything is started.
pub fn validate(args: &RunArgs) -> Result<()> {
    if args.clients == 0 || args.clients > 1000 {
        bail!("--clients must be between 1 and 1000");
    }
    if args.duration < Duration::from_secs(1) {
        bail!("--duration must be at least 1s");
    }
    if args.backend == Backend::Process {
        if let Some(f) = args.nemesis.iter().find(|f| f.needs_network()) {
            bail!(
                "the {f:?} fault needs a real network between the nodes, which the process \
                 backend does not have (all nodes share 127.0.0.1); use --backend netns"
            );
        }
    }
    if args.backend == Backend::Netns && !netns::available() {
        bail!("the netns backend needs root and `ip netns add` to work here");
    }
    if args.backend == Backend::Docker {
        crate::cluster::docker::available(&args.image)?;
    }
    Ok(())
}

/// Runs once; `stop` (Ctrl-C) ends the workload early but still heals, tears down and
/// writes what was recorded.
pub async fn run(args: RunArgs, stop: watch::Receiver<bool>) -> Result<Results> {
    validate(&args)?;
    let seed = args.seed.unwrap_or_else(rand::random);
    println!("cairn-chaos: seed {seed}");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let skew = args.nemesis.contains(&crate::cli::Fault::Skew);
    let mut cluster = Cluster::start(
        args.backend,
        args.nodes,
        &args.bin,
        &args.image,
        &args.out,
        skew,
    )?;
    let specs = cluster.specs();
    if cluster::wait_leader(&specs, LEADER_WAIT).await.is_none() {
        bail!(
            "the new cluster elected no leader within {LEADER_WAIT:?}; see {}/node*.log",
            args.out.display()
        );
    }

    let start = Instant::now();
    let recorder = Recorder::new(start);
    let steps = nemesis::schedule(
        seed,
        &args.nemesis,
        args.nodes,
        args.duration,
        args.nemesis_interval,
    );
    // Internal abort: Ctrl-C, or a nemesis that could not do its job.
    let (abort_tx, abort_rx) = watch::channel(false);
    let abort_tx = Arc::new(abort_tx);
    let forward = {
        let (mut stop, abort_tx) = (stop.clone(), abort_tx.clone());
        tokio::spawn(async move {
            if !*stop.borrow() && stop.changed().await.is_err() {
                return;
            }
            let _ = abort_tx.send(true);
        })
    };
    let nemesis_task = {
        let (steps, abort_rx, abort_tx) = (steps.clone(), abort_rx.clone(), abort_tx.clone());
        tokio::spawn(async move {
            let mut log = Vec::new();
            let windows = nemesis::play(&mut cluster, &steps, start, abort_rx, &mut log).await;
            if windows.is_err() {
                let _ = abort_tx.send(true);
            }
            (cluster, windows, log)
        })
    };
    let ctx = Ctx {
        recorder: recorder.clone(),
        specs: specs.clone(),
        op_timeout: args.op_timeout,
        deadline: start + args.duration,
        stop: abort_rx.clone(),
        seed,
        cas: !args.no_cas,
    };
    let clients: Vec<_> = (0..args.clients)
        .map(|i| tokio::spawn(workload::client(ctx.clone(), args.workload, i)))
        .collect();
    for c in clients {
        c.await.context("a client task panicked")?;
    }
    let (mut cluster, windows, mut nemesis_log) =
        nemesis_task.await.context("the nemesis task panicked")?;
    forward.abort();
    let windows = windows.context("injecting a fault")?;

    let stopped = *stop.borrow();
    if !stopped {
        cluster.heal_all()?;
        if cluster::wait_leader(&specs, LEADER_WAIT).await.is_none() {
            nemesis_log.push("no leader within 30 s after healing".into());
        }
        let keys = touched_keys(&recorder);
        workload::final_reads(&ctx, args.workload, &keys, FINAL_READ_ATTEMPTS).await;
    }
    let converged = if stopped {
        None
    } else {
        Some(convergence_check(&specs).await)
    };
    let mut crashes = cluster.crashed();
    crashes.extend(
        nemesis_log
            .iter()
            .filter(|l| l.contains("CRASH"))
            .map(|l| (0, l.clone())),
    );
    drop(cluster); // kills the nodes, removes namespaces and rules
    if !args.keep_data {
        let data = args.out.join("data");
        if let Err(e) = std::fs::remove_dir_all(&data) {
            eprintln!("cairn-chaos: removing {}: {e}", data.display());
        }
    }

    let ops = recorder.snapshot();
    history::write_jsonl(&args.out.join("history.jsonl"), &ops).context("writing the history")?;
    let mut checks = checker::check(args.workload, &ops, args.search_limit);
    checks.push(crash_check(&crashes));
    checks.push(divergence_check(&args.out, args.nodes));
    checks.extend(converged);
    let (passed, failed) = Results::tally(&checks);
    let results = Results {
        seed,
        workload: name(&args.workload),
        no_cas: args.no_cas,
        backend: name(&args.backend),
        nodes: args.nodes,
        nemesis: args.nemesis.iter().map(name).collect(),
        duration_secs: args.duration.as_secs_f64(),
        rerun: rerun_command(&args, seed),
        ops: OpCounts::of(&ops),
        availability: checker::availability(&ops, &windows),
        windows,
        nemesis_log,
        checks,
        passed,
        failed,
    };
    report::write_results(&args.out.join("results.json"), &results)?;
    report::write_html(&args.out.join("report.html"), &results, &ops)?;
    if stopped {
        bail!("interrupted; partial results in {}", args.out.display());
    }
    Ok(results)
}

/// The keys the workload touched, for the final reads.
fn touched_keys(recorder: &Recorder) -> Vec<String> {
    let mut keys: Vec<String> = recorder.snapshot().into_iter().map(|o| o.key).collect();
    keys.sort();
    keys.dedup();
    keys
}

fn crash_check(crashes: &[(u64, String)]) -> Check {
    let mut c = Check::new("nodes-never-crashed");
    for (id, what) in crashes {
        c.fail(if *id == 0 {
            what.clone()
        } else {
            format!("node {id} exited by itself: {what}")
        });
    }
    c
}

/// After healing: every replica's keyspace digest at one log index agrees (`CAIRN CHECK` on
/// the leader). A replica that has not applied that index in time gives no answer; the
/// round is then tried again, a bounded number of times, before the verdict is unknown.
async fn convergence_check(specs: &[cluster::NodeSpec]) -> Check {
    let mut c = Check::new("replicas-converged");
    let mut last = String::from("no leader");
    for _ in 0..CONVERGENCE_ATTEMPTS {
        if let Some(l) = cluster::wait_leader(specs, Duration::from_secs(10)).await {
            if let Some(spec) = specs.iter().find(|s| s.id == l) {
                match cluster::consistency_check(spec, Duration::from_secs(15)).await {
                    Ok(text) if text.contains("MISMATCH") => {
                        c.fail(text.replace('\n', "; "));
                        return c;
                    }
                    Ok(text) if text.contains("result: consistent") => return c,
                    Ok(text) => last = text.replace('\n', "; "),
                    Err(e) => last = e,
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    c.unknown(format!(
        "no complete round in {CONVERGENCE_ATTEMPTS} tries: {last}"
    ));
    c
}

/// Fails if any node's log reports that its consistency check found it diverged.
fn divergence_check(out: &Path, nodes: usize) -> Check {
    let mut c = Check::new("replicas-consistent");
    for i in 1..=nodes {
        let path = out.join(format!("node{i}.log"));
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                if let Some(line) = text.lines().find(|l| l.contains(DIVERGENCE_LOG)) {
                    c.fail(format!("node {i}: {line}"));
                }
            }
            Err(e) => c.unknown(format!("reading {}: {e}", path.display())),
        }
    }
    c
}

fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn rerun_command(a: &RunArgs, seed: u64) -> String {
    format!(
        "cairn-chaos run --nodes {} --duration {}s --nemesis {} --workload {} --clients {} \
         --seed {seed} --backend {} --bin {} --out {}{}",
        a.nodes,
        a.duration.as_secs_f64(),
        a.nemesis.iter().map(name).collect::<Vec<_>>().join(","),
        name(&a.workload),
        a.clients,
        name(&a.backend),
        a.bin.display(),
        a.out.display(),
        if a.no_cas { " --no-cas" } else { "" }
    )
}
