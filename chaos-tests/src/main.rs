//! `cairn-chaos`: see the crate docs (src/lib.rs) and chaos-tests/README.md.

use std::process::ExitCode;

use anyhow::Result;
use cairn_chaos::cli::{Cli, Cmd};
use cairn_chaos::{checker, cluster, history, report, run};
use clap::Parser;
use tokio::sync::watch;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cairn-chaos: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Cmd::Run(args) => {
            let (tx, rx) = watch::channel(false);
            tokio::spawn(async move {
                wait_for_signal().await;
                eprintln!("cairn-chaos: stopping; healing and cleaning up (bounded)");
                let _ = tx.send(true);
            });
            let out = args.out.clone();
            let results = run::run(args, rx).await?;
            println!("report: {}", out.join("report.html").display());
            println!("{}", results.summary_line());
            Ok(exit_code(results.failed))
        }
        Cmd::Check(args) => {
            let ops = history::read_jsonl(&args.history)?;
            let checks = checker::check(args.workload, &ops, args.search_limit);
            for c in &checks {
                println!("{:<32} {:?} ({})", c.name, c.verdict, c.count);
                if let Some(e) = &c.evidence {
                    println!("    ({e})");
                }
                for a in &c.anomalies {
                    println!("    {a}");
                }
            }
            let (passed, failed) = report::Results::tally(&checks);
            println!("{passed} passed, {failed} failed");
            Ok(exit_code(failed))
        }
        Cmd::Cleanup => {
            let mut n = cluster::netns::cleanup_stale()?;
            if docker_daemon_up() {
                n += cluster::docker::cleanup_stale()?;
            }
            println!("removed {n} stale objects");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Whether a Docker daemon answers (the docker backend's leftovers can only be there then).
fn docker_daemon_up() -> bool {
    std::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn exit_code(failed: usize) -> ExitCode {
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
