//! The `cairn` binary: `cairn serve` runs a node; `cairn status` asks a running node about
//! its cluster.

mod backup;
mod cache;
mod cluster;
mod config;
mod node;
mod observe;
mod server;
mod settings;
mod start;

/// jemalloc for the whole process: under the keyspace's many small allocations it keeps RSS
/// closer to the data than glibc's allocator (docs/BENCHMARKS.md measures both).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::io::IsTerminal;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::cluster::{handoff, status};
use crate::config::{LogFormat, ServeConfig};
use crate::observe::http;
use crate::server::{listener, tls};

#[derive(Debug, Parser)]
#[command(
    name = "cairn",
    version,
    about = "A Raft-replicated key-value store that speaks the Redis protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run a node.
    Serve(Box<ServeConfig>),
    /// Print the cluster as a node sees it: members, leader, terms, applied indexes.
    Status(status::StatusArgs),
    /// Run a consistency check now through a running node and print every replica's
    /// digest at the check's log index (exits non-zero if they differ).
    Check(status::StatusArgs),
    /// List, add or remove cluster members through a running node.
    Members(status::MembersArgs),
    /// Backups to object storage: create, list, verify, restore.
    Backup(backup::cli::BackupArgs),
    /// Check a stopped node's data dir offline: every log entry's and snapshot record's
    /// crc32, and the keyspace against its digest. Exits non-zero on any fault.
    Verify {
        #[arg(long)]
        data_dir: std::path::PathBuf,
    },
}

fn init_logs(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    match cli.command {
        Cmd::Serve(cfg) => {
            init_logs(&cfg.log_level, cfg.log_format);
            runtime.block_on(serve(*cfg))
        }
        Cmd::Status(args) => runtime.block_on(status::run(args)),
        Cmd::Members(args) => runtime.block_on(status::members(args)),
        Cmd::Check(args) => runtime.block_on(status::check(args)),
        Cmd::Verify { data_dir } => runtime.block_on(verify(data_dir)),
        Cmd::Backup(args) => {
            init_logs("warn", LogFormat::Human);
            runtime.block_on(backup::cli::run(args))
        }
    }
}

async fn verify(data_dir: std::path::PathBuf) -> anyhow::Result<()> {
    if !cairn_raft::store::Store::exists_in(&data_dir) {
        anyhow::bail!("{} is not a cairn data dir", data_dir.display());
    }
    let store = cairn_raft::store::Store::open(&data_dir)
        .with_context(|| format!("{} failed verification", data_dir.display()))?;
    let report = store
        .verify_offline()
        .with_context(|| format!("{} failed verification", data_dir.display()))?;
    for line in report {
        println!("{line}");
    }
    println!("{}: ok", data_dir.display());
    Ok(())
}

async fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let node = match start::start(cfg, stop_rx).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!("{e:#}");
            return Err(e);
        }
    };
    if let Some(port) = node.cluster.config.tls_port {
        // Checked here so a bad certificate stops the node at once, with the reason.
        tls::server_config(&node.cluster.config).context("TLS")?;
        let node = node.clone();
        tokio::spawn(async move {
            if let Err(e) = tls::serve(node, port).await {
                tracing::error!("{e:#}");
            }
        });
    }
    let server = tokio::spawn(listener::serve(node.clone()));
    if let Some(port) = node.cluster.config.http_port {
        let node = node.clone();
        tokio::spawn(async move {
            if let Err(e) = http::serve(node, port).await {
                tracing::error!("{e:#}");
            }
        });
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let mut exit = node.cluster.exit.subscribe();
    let mut exit_code = None;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        code = async { exit.wait_for(Option::is_some).await.map(|c| *c) } => {
            exit_code = code.ok().flatten();
            tracing::info!(code = ?exit_code, "stopping as asked");
            // Let the asking client's reply go out first.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        r = server => {
            match r {
                Ok(Err(e)) => { tracing::error!("{e:#}"); return Err(e); }
                Err(e) => { tracing::error!("RESP server task failed: {e}"); }
                Ok(Ok(())) => {}
            }
        }
    }
    // While the peer server still runs: the old leader's own vote elects its successor.
    handoff::hand_over_if_leader(&node.cluster).await;
    let _ = stop_tx.send(true);
    handoff::stop_raft(&node.cluster).await;
    if let Some(code) = exit_code {
        std::process::exit(code);
    }
    Ok(())
}
