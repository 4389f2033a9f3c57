//! Backups taken by a running node: on `CAIRN BACKUP` and on the `--backup-to` schedule,
//! with retention. The status (last success, size, duration, errors) is kept here for INFO
//! and metrics.
//!
//! Exactly one node takes each scheduled backup: the one named by `--backup-node`, else the
//! current leader. The schedule is read from the destination itself (the newest complete
//! backup's creation time), so a new leader carries on where the old one stopped, and a
//! restarted node does not take an extra backup.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::create::{self, Options, Progress, Source};
use super::dest::{Destination, Listed};
use super::manifest::Manifest;
use super::seal::Key;
use crate::backup::handle::Backups;

/// INFO's `# Backup` section.
pub fn info(backups: &Backups, out: &mut String) {
    use std::fmt::Write;
    let b = &backups.status;
    let cfg = &backups.config().backup;
    let last = b.last();
    let _ = write!(
        out,
        "# Backup\r\nbackup_destination:{}\r\nbackup_interval_secs:{}\r\nbackup_keep:{}\r\n\
         backup_in_progress:{}\r\nbackup_current_bytes:{}\r\nbackup_current_total:{}\r\n\
         backup_ok_count:{}\r\nbackup_failed_count:{}\r\nbackup_last_id:{}\r\n\
         backup_last_success_time:{}\r\nbackup_last_index:{}\r\nbackup_last_bytes:{}\r\n\
         backup_last_duration_ms:{}\r\nbackup_last_error:{}\r\n",
        cfg.backup_to.as_deref().map_or("none".into(), redact_url),
        if cfg.backup_to.is_some() {
            cfg.backup_interval.as_secs()
        } else {
            0
        },
        cfg.backup_keep,
        u8::from(b.in_progress.load(Ordering::Relaxed)),
        b.progress.done.load(Ordering::Relaxed),
        b.progress.total.load(Ordering::Relaxed),
        b.ok.load(Ordering::Relaxed),
        b.failed.load(Ordering::Relaxed),
        last.as_ref().map_or("none", |m| m.id.as_str()),
        last.as_ref()
            .map_or(-1, |m| (m.created_at_ms / 1000) as i64),
        last.as_ref().map_or(-1, |m| m.index as i64),
        last.as_ref().map_or(0, |m| m.stored_bytes),
        last.as_ref().map_or(0, |m| m.duration_ms),
        b.last_error()
            .map_or("none".into(), |e| e.replace(['\r', '\n'], " ")),
    );
}

/// The `cairn_backup` metric's fields.
pub fn metrics(backups: &Backups) -> [(&'static str, i64); 7] {
    let b = &backups.status;
    let last = b.last();
    let count = |c: &AtomicU64| i64::try_from(c.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
    [
        (
            "in_progress",
            i64::from(b.in_progress.load(Ordering::Relaxed)),
        ),
        ("ok_total", count(&b.ok)),
        ("failed_total", count(&b.failed)),
        (
            "last_success_timestamp_seconds",
            last.as_ref().map_or(0, |m| (m.created_at_ms / 1000) as i64),
        ),
        ("last_index", last.as_ref().map_or(0, |m| m.index as i64)),
        (
            "last_bytes",
            last.as_ref().map_or(0, |m| m.stored_bytes as i64),
        ),
        (
            "last_duration_ms",
            last.as_ref().map_or(0, |m| m.duration_ms as i64),
        ),
    ]
}

/// A URL without any user:password part, for display.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Takes a backup now: a fresh snapshot at the current applied index, uploaded to `url`
/// (or `--backup-to`). One at a time per node.
pub async fn take(backups: &Backups, url: Option<&str>) -> anyhow::Result<Manifest> {
    let url = match url.or(backups.config().backup.backup_to.as_deref()) {
        Some(u) => u.to_string(),
        None => bail!("no destination: give one, or start the backups with --backup-to"),
    };
    let status = &backups.status;
    if status.in_progress.swap(true, Ordering::AcqRel) {
        bail!("a backup is already in progress on this node");
    }
    let result = take_locked(backups, &url).await;
    status.in_progress.store(false, Ordering::Release);
    match &result {
        Ok(m) => {
            status.ok.fetch_add(1, Ordering::Relaxed);
            match status.last.lock() {
                Ok(mut g) => *g = Some(m.clone()),
                Err(p) => *p.into_inner() = Some(m.clone()),
            }
            status.set_error(None);
            tracing::info!(id = %m.id, index = m.index, bytes = m.stored_bytes, ms = m.duration_ms, to = %url, "backup complete");
        }
        Err(e) => {
            status.failed.fetch_add(1, Ordering::Relaxed);
            status.set_error(Some(format!("{e:#}")));
            tracing::error!(to = %url, error = %format!("{e:#}"), "backup failed");
        }
    }
    result
}

async fn take_locked(backups: &Backups, url: &str) -> anyhow::Result<Manifest> {
    let dest = Destination::open(url)?;
    let key = Key::load(backups.config().backup.backup_key_file.as_deref())?;
    let snapshot = fresh_snapshot(backups).await?;
    let source = tokio::task::spawn_blocking(move || Source::open(&snapshot)).await??;
    let opts = Options {
        cluster: backups.config().backup.cluster_name.clone(),
        node: backups.cluster.id,
        key,
        part_bytes: backups.config().backup.backup_part_size as usize,
    };
    create::create(&dest, source, &opts, backups.status.progress.clone()).await
}

/// How long building a snapshot for a backup may take.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(600);

/// Builds a snapshot that holds everything applied here now, and returns its file.
pub(crate) async fn fresh_snapshot(backups: &Backups) -> anyhow::Result<PathBuf> {
    let target = backups.cluster.applied();
    let covered = |backups: &Backups| {
        backups
            .cluster
            .raft
            .metrics()
            .borrow()
            .snapshot
            .is_some_and(|s| s.index >= target)
    };
    if !covered(backups) {
        backups
            .cluster
            .raft
            .trigger()
            .snapshot()
            .await
            .context("asking for a snapshot")?;
        let mut rx = backups.cluster.raft.metrics();
        let deadline = Instant::now() + SNAPSHOT_WAIT;
        while !covered(backups) {
            let left = deadline
                .checked_duration_since(Instant::now())
                .context("the snapshot took too long")?;
            match tokio::time::timeout(left, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("raft stopped"),
                Err(_) => bail!("the snapshot took too long"),
            }
        }
    }
    backups
        .sm
        .current_snapshot_file()?
        .context("no snapshot file after building one")
}

/// Deletes complete backups beyond `keep` (oldest first) and incomplete ones older than the
/// newest complete one (left by a node that died mid-upload). Called only after the newest
/// backup has been verified.
pub async fn prune(dest: &Destination, keep: usize) -> anyhow::Result<Vec<String>> {
    let listed = dest.list().await?;
    let complete: Vec<&Manifest> = listed
        .iter()
        .filter_map(|l| match l {
            Listed::Complete(m) => Some(m.as_ref()),
            Listed::Incomplete(_) => None,
        })
        .collect();
    let Some(newest) = complete.last().map(|m| m.id.clone()) else {
        return Ok(Vec::new());
    };
    let mut doomed: Vec<String> = Vec::new();
    if keep > 0 && complete.len() > keep {
        doomed.extend(
            complete[..complete.len() - keep]
                .iter()
                .map(|m| m.id.clone()),
        );
    }
    doomed.extend(listed.iter().filter_map(|l| match l {
        Listed::Incomplete(id) if *id < newest => Some(id.clone()),
        _ => None,
    }));
    for id in &doomed {
        dest.delete(id).await?;
    }
    Ok(doomed)
}

/// How long a failed scheduled backup waits before the next try (less for short intervals).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// How often the scheduler looks whether a backup is due: a quarter of the interval, at
/// least every 5 s and at most every 200 ms.
fn tick(interval: Duration) -> Duration {
    (interval / 4).clamp(Duration::from_millis(200), Duration::from_secs(5))
}

/// Starts the scheduler when `--backup-to` is set.
pub fn spawn(backups: Arc<Backups>) {
    let Some(url) = backups.config().backup.backup_to.clone() else {
        return;
    };
    remove_stale_scratch(&backups.config().data_dir);
    tokio::spawn(async move {
        let mut shutdown = backups.cluster.shutdown.clone();
        let every = tick(backups.config().backup.backup_interval);
        let interval = backups.config().backup.backup_interval.as_millis() as u64;
        // When the newest complete backup was made, as last read from the destination.
        // Read again when this node's turn begins (another node may have taken backups
        // meanwhile) and before each backup, so the store is listed about once an
        // interval, not on every tick.
        let mut newest: Option<Option<u64>> = None;
        // After a failure, wait before trying again: each try builds a snapshot.
        let mut not_before = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            if !my_turn(&backups, backups.config().backup.backup_node) {
                newest = None;
                continue;
            }
            let is_due = |at: Option<u64>| {
                at.is_none_or(|ms| super::unix_ms().saturating_sub(ms) >= interval)
            };
            if newest.is_some_and(|at| !is_due(at)) || Instant::now() < not_before {
                continue;
            }
            match newest_backup(&url).await {
                Ok(at) if !is_due(at) => {
                    backups
                        .status
                        .newest_ms
                        .store(at.unwrap_or(0), Ordering::Relaxed);
                    newest = Some(at);
                }
                Ok(at) => match scheduled(&backups, &url).await {
                    Ok(()) => {
                        let now = super::unix_ms();
                        backups.status.newest_ms.store(now, Ordering::Relaxed);
                        newest = Some(Some(now));
                    }
                    Err(e) => {
                        backups
                            .status
                            .newest_ms
                            .store(at.unwrap_or(0), Ordering::Relaxed);
                        tracing::warn!(error = %format!("{e:#}"), "scheduled backup");
                        backups.status.set_error(Some(format!("{e:#}")));
                        newest = None;
                        not_before = Instant::now() + RETRY_AFTER_FAILURE.min(every * 12);
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), to = %url, "cannot read the backup destination");
                    newest = None;
                }
            }
        }
    });
}

/// Removes trial-restore directories a crash left in the data dir.
fn remove_stale_scratch(data_dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with("backup-verify-")
        {
            if let Err(err) = std::fs::remove_dir_all(e.path()) {
                tracing::warn!(path = %e.path().display(), error = %err, "could not remove");
            }
        }
    }
}

/// Whether scheduled work (backups, the log archive) is this node's to do: the node `named`
/// by its flag, else the leader.
pub fn my_turn(backups: &Backups, named: Option<u64>) -> bool {
    match named {
        Some(id) => id == backups.cluster.id,
        None => backups
            .cluster
            .leader()
            .is_some_and(|(id, _)| id == backups.cluster.id),
    }
}

/// When the newest complete backup at `url` was made (unix ms), if there is one.
async fn newest_backup(url: &str) -> anyhow::Result<Option<u64>> {
    let dest = Destination::open(url)?;
    Ok(dest.complete().await?.pop().map(|m| m.created_at_ms))
}

async fn scheduled(backups: &Backups, url: &str) -> anyhow::Result<()> {
    let m = take(backups, Some(url)).await?;
    let dest = Destination::open(url)?;
    let key = Key::load(backups.config().backup.backup_key_file.as_deref())?;
    // The trial restore is as large as the keyspace: on the data volume, not in /tmp (which
    // a read-only root filesystem does not have).
    let scratch = &backups.config().data_dir;
    super::restore::verify(
        &dest,
        &m,
        key.as_ref(),
        scratch,
        Arc::new(Progress::default()),
    )
    .await
    .with_context(|| format!("verifying backup {}", m.id))?;
    let removed = prune(&dest, backups.config().backup.backup_keep).await?;
    if !removed.is_empty() {
        tracing::info!(removed = ?removed, "backup retention");
    }
    // The archive keeps what restores from the oldest kept backup need: everything after it.
    if let Some(archive) = &backups.config().backup.archive_to {
        if let Some(oldest) = dest.complete().await?.first() {
            let archive = Destination::open(archive)?;
            let removed = super::archive::catalog::prune(&archive, oldest.index + 1).await?;
            if removed > 0 {
                tracing::info!(
                    segments = removed,
                    before = oldest.index + 1,
                    "archive retention"
                );
            }
        }
    }
    Ok(())
}
