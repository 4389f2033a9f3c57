//! `cairn backup create|list|verify|restore`.
//!
//! `create` asks a running node (`CAIRN BACKUP`): the node streams its own snapshot with its
//! own credentials and key. `list`, `verify` and `restore` work on the object store directly
//! with the caller's credentials, so a cluster that is gone can still be restored.
//! Progress bars (bytes and rate) on a terminal; plain log lines otherwise.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use super::archive::catalog::{self, Catalog};
use super::create::Progress;
use super::dest::{Destination, Listed};
use super::manifest::Manifest;
use super::pitr::{self, Point};
use super::restore::{self, Target};
use super::seal::Key;

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Take a backup now through a running node (it uploads with its own credentials).
    Create {
        /// Destination URL; default: the node's --backup-to.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 6379)]
        port: u16,
        /// The node's password (requirepass), if it has one; else REDISCLI_AUTH, else
        /// CAIRN_REQUIREPASS (set in the pods of deploy/k8s).
        #[arg(long, env = "REDISCLI_AUTH", hide_env_values = true)]
        password: Option<String>,
    },
    /// List the backups at a URL, oldest first (incomplete ones are marked), and the log
    /// archive there: the indexes it holds, its newest time, its gaps.
    List { url: String },
    /// Download a backup (URL/ID, ID may be `latest`), check every checksum and the
    /// manifest, and restore it into a temporary directory (under TMPDIR) to check the
    /// keyspace. Given a URL without an ID: check every segment of the log archive there,
    /// then restore the newest backup plus the whole archive after it (a trial replay) and
    /// check the keyspace.
    Verify {
        backup: String,
        #[command(flatten)]
        key: KeyArg,
    },
    /// Build a node's data dir from a backup (URL/ID, ID may be `latest`), or, given the URL
    /// alone, from the newest backup there plus the log archive up to --to-time or
    /// --to-index (default: everything archived). Run it for each node of the new cluster
    /// (or for one, and start the others empty: they catch up from it), then start the
    /// nodes with the same --initial-cluster.
    Restore {
        backup: String,
        /// Restore the state as of this time (RFC 3339, e.g. 2026-12-06T14:05:00Z): every
        /// write applied at or before it, none after.
        #[arg(long, conflicts_with = "to_index")]
        to_time: Option<String>,
        /// Restore the state as of this log index.
        #[arg(long)]
        to_index: Option<u64>,
        /// Where a segment of the archive is missing or damaged, restore up to the last
        /// consistent point before it instead of failing.
        #[arg(long)]
        stop_at_damage: bool,
        /// The data dir to build; repeat `--data-dir D --id N` to build several nodes' data
        /// dirs from one download and replay.
        #[arg(long, required = true)]
        data_dir: Vec<PathBuf>,
        /// The node's id in the new cluster (one per --data-dir, in the same order).
        #[arg(long, required = true)]
        id: Vec<u64>,
        /// The new cluster: `1=HOST:PORT@RAFTPORT,2=...`.
        #[arg(long)]
        initial_cluster: String,
        #[command(flatten)]
        key: KeyArg,
    },
}

#[derive(Debug, Args)]
struct KeyArg {
    /// The backup key of an encrypted backup (else CAIRN_BACKUP_KEY).
    #[arg(long)]
    key_file: Option<PathBuf>,
}

pub async fn run(args: BackupArgs) -> anyhow::Result<()> {
    match args.action {
        Action::Create {
            to,
            host,
            port,
            password,
        } => create(&format!("{host}:{port}"), to, password).await,
        Action::List { url } => list(&url).await,
        Action::Verify { backup, key } => {
            let key = Key::load(key.key_file.as_deref())?;
            if names_backup(&backup).is_none() {
                return verify_archive(&backup, key.as_ref()).await;
            }
            let (dest, m) = locate(&backup).await?;
            let progress = Arc::new(Progress::default());
            let bar = Bar::start(&format!("verifying {}", m.id), progress.clone());
            let scratch = std::env::temp_dir();
            let lines = restore::verify(&dest, &m, key.as_ref(), &scratch, progress).await;
            bar.finish();
            for line in lines? {
                println!("{line}");
            }
            println!("{}: ok", m.id);
            Ok(())
        }
        Action::Restore {
            backup,
            to_time,
            to_index,
            stop_at_damage,
            data_dir,
            id,
            initial_cluster,
            key,
        } => {
            let members = crate::config::parse_initial_cluster(&initial_cluster)?;
            if data_dir.len() != id.len() {
                bail!(
                    "give one --data-dir per --id ({} and {})",
                    data_dir.len(),
                    id.len()
                );
            }
            let mut targets = data_dir.into_iter().zip(id).map(|(dir, me)| Target {
                dir,
                members: members.clone(),
                me,
            });
            let Some(first) = targets.next() else {
                bail!("give --data-dir and --id");
            };
            let rest: Vec<Target> = targets.collect();
            let (first_dir, first_id) = (first.dir.clone(), first.me);
            let key = Key::load(key.key_file.as_deref())?;
            let point = match (to_time, to_index) {
                (Some(t), _) => Some(Point::Time(parse_time(&t)?)),
                (None, Some(n)) => Some(Point::Index(n)),
                (None, None) => None,
            };
            if names_backup(&backup).is_none() || point.is_some() {
                if names_backup(&backup).is_some() {
                    bail!("--to-time and --to-index take the destination URL, not a backup in it");
                }
                let dest = Destination::open(&backup)?;
                let point = point.unwrap_or(Point::End);
                restore_point(&dest, point, stop_at_damage, key.as_ref(), first).await?;
            } else {
                let (dest, m) = locate(&backup).await?;
                let progress = Arc::new(Progress::default());
                let bar = Bar::start(&format!("restoring {}", m.id), progress.clone());
                let r = restore::restore(&dest, &m, key.as_ref(), first, progress).await;
                bar.finish();
                let r = r?;
                println!(
                    "restored backup {} (log index {}, {} entries) into {} as node {first_id}",
                    m.id,
                    r.last_applied.map_or(0, |l| l.index),
                    r.entries,
                    first_dir.display()
                );
            }
            for target in rest {
                let (dir, me) = (target.dir.clone(), target.me);
                restore::copy_restored(&first_dir, target).await?;
                println!(
                    "copied the restored state into {} as node {me}",
                    dir.display()
                );
            }
            Ok(())
        }
    }
}

/// The backup id (or `latest`) that ends `spec`, if it ends with one; else `spec` names a
/// destination (its archive, or its newest backup).
fn names_backup(spec: &str) -> Option<&str> {
    let last = spec.trim_end_matches('/').rsplit_once('/')?.1;
    let is_id = last.split_once('-').is_some_and(|(stamp, index)| {
        stamp.len() == 19
            && stamp.ends_with('Z')
            && stamp.as_bytes()[8] == b'T'
            && index.bytes().all(|b| b.is_ascii_digit())
            && !index.is_empty()
    });
    (last == "latest" || is_id).then_some(last)
}

/// An RFC 3339 time as unix ms.
fn parse_time(t: &str) -> anyhow::Result<u64> {
    let at = chrono::DateTime::parse_from_rfc3339(t).with_context(|| {
        format!("--to-time {t}: give an RFC 3339 time, e.g. 2026-12-06T14:05:00Z")
    })?;
    u64::try_from(at.timestamp_millis()).context("--to-time before 1970")
}

async fn restore_point(
    dest: &Destination,
    point: Point,
    stop_at_damage: bool,
    key: Option<&Key>,
    target: Target,
) -> anyhow::Result<()> {
    let (dir, me) = (target.dir.clone(), target.me);
    let progress = Arc::new(Progress::default());
    let bar = Bar::start("restoring the backup", progress.clone());
    let r = pitr::restore_to(dest, point, stop_at_damage, key, target, progress).await;
    bar.finish();
    let r = r?;
    if let Some(why) = &r.stopped {
        eprintln!("stopped early: {why}");
    }
    println!(
        "restored backup {} (log index {}) and {} archived entries: the state at log index {} in {} as node {me}",
        r.backup.id,
        r.backup.index,
        r.replayed,
        r.index,
        dir.display()
    );
    Ok(())
}

/// `cairn backup verify URL`: every archive segment, then a trial replay.
async fn verify_archive(url: &str, key: Option<&Key>) -> anyhow::Result<()> {
    let dest = Destination::open(url)?;
    let catalog = Catalog::load(&dest).await?;
    if catalog.segments.is_empty() {
        bail!("no log archive at {url}");
    }
    let mut entries = 0u64;
    for seg in &catalog.segments {
        entries += catalog::fetch(&dest, seg, key).await?.len() as u64;
    }
    println!(
        "archive: {} segments, {entries} entries, every checksum matches{}",
        catalog.segments.len(),
        if key.is_some() {
            ", every segment authenticates"
        } else {
            ""
        }
    );
    for (from, to) in catalog.gaps() {
        println!("archive gap: indexes {from}..{to} are missing");
    }
    let scratch = tempfile::Builder::new()
        .prefix("archive-verify-")
        .tempdir()
        .context("creating a scratch directory")?;
    let dir = scratch.path().join("node");
    let target = restore::trial_target(&dir);
    let progress = Arc::new(Progress::default());
    let r = pitr::restore_to(&dest, Point::End, false, key, target, progress).await?;
    println!(
        "trial replay: backup {} (index {}) plus {} archived entries to index {}",
        r.backup.id, r.backup.index, r.replayed, r.index
    );
    for line in restore::check_keyspace(&dir).await? {
        println!("{line}");
    }
    println!("{url}: ok");
    Ok(())
}

/// `URL/ID` → the destination and the backup's manifest (`latest`: the newest complete).
async fn locate(spec: &str) -> anyhow::Result<(Destination, Manifest)> {
    let trimmed = spec.trim_end_matches('/');
    let Some((url, id)) = trimmed.rsplit_once('/') else {
        bail!("give a backup as URL/ID, e.g. file:///backups/20261202T101500000Z-42");
    };
    let dest = Destination::open(url)?;
    let m = if id == "latest" {
        dest.complete()
            .await?
            .pop()
            .with_context(|| format!("no complete backup at {url}"))?
    } else {
        dest.manifest(id)
            .await
            .with_context(|| format!("no complete backup {id} at {url}"))?
    };
    Ok((dest, m))
}

async fn list(url: &str) -> anyhow::Result<()> {
    let dest = Destination::open(url)?;
    let listed = dest.list().await?;
    let catalog = Catalog::load(&dest).await?;
    if let (Some(first), Some(last)) = (catalog.first_index(), catalog.last_index()) {
        let newest = match catalog.newest_ms() {
            0 => "none".to_string(),
            ms => super::manifest::rfc3339(ms),
        };
        println!(
            "archive  indexes={first}..{last}  segments={}  newest={newest}",
            catalog.segments.len()
        );
        for (from, to) in catalog.gaps() {
            println!("archive  GAP indexes={from}..{to}");
        }
    }
    for stray in &catalog.strays {
        println!("archive  NOT A SEGMENT {stray} (ignored)");
    }
    if listed.is_empty() {
        println!("no backups at {url}");
    }
    for l in listed {
        match l {
            Listed::Complete(m) => println!(
                "{}  created={}  index={}  term={}  stored={}  snapshot={}  parts={}{}",
                m.id,
                m.created_at,
                m.index,
                m.term,
                m.stored_bytes,
                m.snapshot_bytes,
                m.parts.len(),
                if m.encryption.is_some() {
                    "  encrypted"
                } else {
                    ""
                }
            ),
            Listed::Incomplete(id) => println!("{id}  INCOMPLETE (no manifest)"),
        }
    }
    Ok(())
}

async fn create(addr: &str, to: Option<String>, password: Option<String>) -> anyhow::Result<()> {
    let mut command = vec!["CAIRN".to_string(), "BACKUP".to_string()];
    command.extend(to);
    let auth = password
        .or_else(|| std::env::var("CAIRN_REQUIREPASS").ok())
        .filter(|p| !p.is_empty());
    // Poll the node's progress on a second connection while the first one waits.
    let progress = Arc::new(Progress::default());
    let bar = Bar::start("backup", progress.clone());
    let poller = {
        let (addr, auth, progress) = (addr.to_string(), auth.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let Ok(info) =
                    crate::cluster::status::query_as(&addr, auth.as_deref(), &["INFO", "backup"])
                        .await
                else {
                    continue;
                };
                for line in info.lines() {
                    let mut kv = line.trim().splitn(2, ':');
                    let (k, v) = (kv.next().unwrap_or(""), kv.next().unwrap_or(""));
                    let n = v.parse::<u64>().unwrap_or(0);
                    match k {
                        "backup_current_bytes" => progress.done.store(n, Ordering::Relaxed),
                        "backup_current_total" => progress.total.store(n, Ordering::Relaxed),
                        _ => {}
                    }
                }
            }
        })
    };
    let parts: Vec<&str> = command.iter().map(String::as_str).collect();
    let reply = crate::cluster::status::query_as(addr, auth.as_deref(), &parts).await;
    poller.abort();
    bar.finish();
    println!("{}", reply?.trim_end());
    Ok(())
}

/// A progress bar on a terminal, or a log line every few seconds otherwise.
struct Bar {
    task: tokio::task::JoinHandle<()>,
    bar: Option<ProgressBar>,
}

impl Bar {
    fn start(what: &str, progress: Arc<Progress>) -> Bar {
        let terminal = std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_message(what.to_string());
            b
        });
        let (shown, what) = (bar.clone(), what.to_string());
        let task = tokio::spawn(async move {
            let every = if shown.is_some() { 100 } else { 5000 };
            loop {
                tokio::time::sleep(Duration::from_millis(every)).await;
                let (done, total) = (
                    progress.done.load(Ordering::Relaxed),
                    progress.total.load(Ordering::Relaxed),
                );
                match &shown {
                    Some(b) => {
                        b.set_length(total);
                        b.set_position(done);
                    }
                    None => eprintln!("{what}: {done}/{total} bytes"),
                }
            }
        });
        Bar { task, bar }
    }

    fn finish(self) {
        self.task.abort();
        if let Some(b) = self.bar {
            b.finish();
        }
    }
}
