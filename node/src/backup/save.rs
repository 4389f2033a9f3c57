//! SAVE, BGSAVE and LASTSAVE: a snapshot of this node's state on demand, as Redis's RDB
//! commands are used (before a backup, by operators, by test suites). A cairn snapshot is
//! the Raft snapshot (the state machine at one log index, which also lets the log be
//! purged); it is per node, as an RDB file is per Redis server.

use cairn_protocol::errors::RedisError;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_protocol::Reply;

use crate::backup::handle::Backups;

/// SAVE: builds a snapshot covering every write acknowledged before it (to any client, on
/// any node), and answers when it is on disk.
pub async fn save(backups: &Backups) -> Reply {
    if backups.saves.in_progress.swap(true, Ordering::SeqCst) {
        return Reply::from(RedisError::BgSaveInProgress);
    }
    let result = snapshot_of_acknowledged(backups).await;
    finish(backups, result.is_ok());
    match result {
        Ok(()) => Reply::ok(),
        Err(e) => Reply::error(format!("ERR snapshot failed: {e:#}")),
    }
}

/// BGSAVE: the same, in the background.
pub fn bgsave(backups: &Arc<Backups>) -> Reply {
    if backups.saves.in_progress.swap(true, Ordering::SeqCst) {
        return Reply::from(RedisError::BgSaveInProgress);
    }
    let backups = backups.clone();
    tokio::spawn(async move {
        let result = snapshot_of_acknowledged(&backups).await;
        if let Err(e) = &result {
            tracing::warn!(error = %format!("{e:#}"), "BGSAVE failed");
        }
        finish(&backups, result.is_ok());
    });
    Reply::Simple("Background saving started".into())
}

/// A snapshot at or past the read index: an acknowledged write is committed, but a
/// follower may not have applied it yet, and a save that left out the write its client
/// just made would surprise anyone who saved after writing.
async fn snapshot_of_acknowledged(backups: &Backups) -> anyhow::Result<()> {
    if let Err(reply) = backups.reads.wait(&backups.cluster).await {
        let why = match reply {
            Reply::Error(e) => e,
            other => format!("{other:?}"),
        };
        anyhow::bail!("waiting for the read index: {why}");
    }
    crate::backup::schedule::fresh_snapshot(backups).await?;
    Ok(())
}

fn finish(backups: &Backups, ok: bool) {
    backups.saves.last_failed.store(!ok, Ordering::Relaxed);
    backups.saves.in_progress.store(false, Ordering::SeqCst);
}

/// LASTSAVE: unix seconds of this node's current snapshot (its file's modification time),
/// or of the node's start when it has none yet (as Redis answers its start time).
pub fn last_save_unix(backups: &Backups) -> u64 {
    let snapshot = backups
        .sm
        .current_snapshot_file()
        .ok()
        .flatten()
        .and_then(|f| std::fs::metadata(f).ok())
        .and_then(|m| m.modified().ok());
    let started = SystemTime::now()
        .checked_sub(backups.started.elapsed())
        .unwrap_or(UNIX_EPOCH);
    snapshot
        .unwrap_or(started)
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// Entries applied since the current snapshot (INFO's rdb_changes_since_last_save).
pub fn changes_since_last_save(backups: &Backups) -> u64 {
    let m = backups.cluster.raft.metrics().borrow().clone();
    let applied = m.last_applied.map_or(0, |l| l.index);
    let saved = m.snapshot.map_or(0, |l| l.index);
    applied.saturating_sub(saved)
}
