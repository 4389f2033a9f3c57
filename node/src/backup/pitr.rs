//! Restoring to a point in time: the newest backup at or before the target, plus the
//! archived log replayed up to it.
//!
//! 1. The target becomes a log index: `--to-index N` is one; `--to-time T` is the index
//!    before the first archived entry stamped after T; no target is the archive's end.
//! 2. The newest complete backup at or before that index is restored into a scratch
//!    directory inside the data dir (as `cairn backup restore URL/ID` would).
//! 3. The archived entries after the backup, up to the target, are applied there exactly as
//!    the cluster applied them (`cairn_raft::store::pitr`), each segment checked first.
//! 4. A snapshot of the result becomes the data dir, with the new cluster's membership.
//!
//! A missing or damaged segment stops the restore with its name and the last index it could
//! reach; with `stop_at_damage` the restore ends at that index instead.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use cairn_raft::store::pitr::entry_stamp;
use cairn_raft::store::Store;

use super::archive::catalog::{self, Catalog};
use super::create::Progress;
use super::dest::Destination;
use super::manifest::Manifest;
use super::restore::{self, Target};
use super::seal::Key;

/// Where to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Everything archived.
    End,
    Index(u64),
    /// Unix ms: every entry stamped at or before it.
    Time(u64),
}

/// What a restore reached.
#[derive(Debug)]
pub struct Reached {
    pub backup: Manifest,
    /// The last log index in the restored state.
    pub index: u64,
    /// Archived entries applied on top of the backup.
    pub replayed: u64,
    /// Why it stopped before its target, when it did (`stop_at_damage`).
    pub stopped: Option<String>,
}

/// Scratch directory for the backup and the replay, inside the data dir (same file system,
/// and a name the store never uses).
const SCRATCH: &str = "pitr.building.tmp";

pub async fn restore_to(
    dest: &Destination,
    point: Point,
    stop_at_damage: bool,
    key: Option<&Key>,
    target: Target,
    progress: Arc<Progress>,
) -> anyhow::Result<Reached> {
    let catalog = Catalog::load(dest).await?;
    let goal = goal_index(dest, &catalog, point, key).await?;
    let backups = dest.complete().await?;
    let Some(backup) = backups.into_iter().rev().find(|m| m.index <= goal) else {
        bail!(
            "no complete backup at {} is at or before log index {goal}",
            dest.url()
        );
    };
    if backup.index == goal {
        restore::restore(dest, &backup, key, target, progress).await?;
        return Ok(Reached {
            index: goal,
            backup,
            replayed: 0,
            stopped: None,
        });
    }
    if Store::exists_in(&target.dir) {
        bail!(
            "{} already holds a database: restore only into a new or empty data dir",
            target.dir.display()
        );
    }
    let scratch = target.dir.join(SCRATCH);
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("removing {}", scratch.display()))?;
    }
    let result = async {
        let inner = Target {
            dir: scratch.clone(),
            members: target.members.clone(),
            me: target.me,
        };
        restore::restore(dest, &backup, key, inner, progress).await?;
        let (index, replayed, stopped, snapshot) = replay(
            dest,
            &catalog,
            &scratch,
            backup.index,
            goal,
            stop_at_damage,
            key,
        )
        .await?;
        let (dir, members, me) = (target.dir.clone(), target.members.clone(), target.me);
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let file = std::fs::File::open(&snapshot)?;
            Store::restore(&dir, std::io::BufReader::new(file), &members, me)?;
            Ok(())
        })
        .await??;
        anyhow::Ok((index, replayed, stopped))
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    let (index, replayed, stopped) = result?;
    Ok(Reached {
        backup,
        index,
        replayed,
        stopped,
    })
}

/// The log index a point stands for.
async fn goal_index(
    dest: &Destination,
    catalog: &Catalog,
    point: Point,
    key: Option<&Key>,
) -> anyhow::Result<u64> {
    let backups = dest.complete().await?;
    let archived = catalog.last_index().unwrap_or(0);
    Ok(match point {
        Point::Index(n) => n,
        // A backup newer than the archive's end (the archive stopped) is later still.
        Point::End => {
            let newest = backups.last().map_or(0, |m| m.index);
            if archived == 0 && newest == 0 {
                bail!("nothing to restore at {}", dest.url());
            }
            archived.max(newest)
        }
        Point::Time(ms) => match catalog.first_after(ms) {
            // Nothing archived is later: everything archived is at or before the time, and
            // so is a backup made before it.
            None => {
                let backed_up = backups
                    .iter()
                    .filter(|m| m.created_at_ms <= ms)
                    .map(|m| m.index)
                    .max();
                archived.max(backed_up.unwrap_or(0))
            }
            Some(seg) => {
                let entries = catalog::fetch(dest, &seg, key).await?;
                let after = entries
                    .iter()
                    .find(|e| entry_stamp(e).is_some_and(|s| s > ms))
                    .map_or(seg.last + 1, |e| e.log_id.index);
                after.saturating_sub(1)
            }
        },
    })
}

/// Applies the archived entries `from + 1..=goal` to the store in `dir`, then snapshots it:
/// (last index reached, entries applied, why it stopped early, the snapshot file).
async fn replay(
    dest: &Destination,
    catalog: &Catalog,
    dir: &Path,
    from: u64,
    goal: u64,
    stop_at_damage: bool,
    key: Option<&Key>,
) -> anyhow::Result<(u64, u64, Option<String>, std::path::PathBuf)> {
    let owned = dir.to_path_buf();
    let store =
        tokio::task::spawn_blocking(move || cairn_raft::store::Store::open_when_free(&owned))
            .await??;
    let mut reached = from;
    let mut replayed = 0u64;
    let mut stopped = None;
    let segments = match catalog.cover(from + 1, goal) {
        Ok(s) => s,
        Err(missing) => {
            let why = format!(
                "the archive does not hold log index {missing} (the last consistent point is index {})",
                missing - 1
            );
            // Those before the missing index are still usable.
            let usable = catalog.cover(from + 1, missing - 1).unwrap_or_default();
            if !stop_at_damage {
                bail!("{why}; restore up to it with --stop-at-damage");
            }
            stopped = Some(why);
            usable
        }
    };
    for seg in segments {
        let entries = match catalog::fetch(dest, &seg, key).await {
            Ok(e) => e,
            Err(e) if stop_at_damage => {
                stopped = Some(format!("{e:#} (stopped at index {reached})"));
                break;
            }
            Err(e) => {
                return Err(e.context(format!(
                    "the last consistent point is index {reached}; restore up to it with --stop-at-damage"
                )))
            }
        };
        let wanted: Vec<_> = entries
            .into_iter()
            .filter(|e| e.log_id.index > reached && e.log_id.index <= goal)
            .collect();
        let Some(last) = wanted.last().map(|e| e.log_id.index) else {
            continue;
        };
        replayed += wanted.len() as u64;
        store.apply_archived(wanted).await?;
        reached = last;
    }
    if reached < goal && stopped.is_none() {
        bail!("the archive ends at index {reached}, before the target index {goal}");
    }
    let snapshot = store.snapshot_now().await?;
    store.log.close();
    Ok((reached, replayed, stopped, snapshot))
}
