//! Whether the data dir's disk can take more writes.
//!
//! A full disk is an answer, not a dead node (as Redis answers `-MISCONF` when it cannot
//! persist): while the log's I/O thread waits for space, or the free space is under the
//! reserve (`--disk-reserve-mb`), writes are refused with one clear error and reads go on.
//! Nothing needs a restart: a watcher looks at the free space every [`WATCH_EVERY`] and the
//! log's writer retries, so the node takes writes again as soon as space is freed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the free space is looked at.
pub const WATCH_EVERY: Duration = Duration::from_millis(250);

/// The disk state shared by the log, the proposer and the node.
pub struct Disk {
    dir: PathBuf,
    reserve: AtomicU64,
    free: AtomicU64,
    /// Set by the log's writer while a write waits for space.
    blocked: AtomicBool,
}

/// Free bytes for an unprivileged writer on the file system holding `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(dir)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

impl Disk {
    pub fn new(dir: &Path, reserve_bytes: u64) -> Arc<Disk> {
        let disk = Arc::new(Disk {
            dir: dir.to_path_buf(),
            reserve: AtomicU64::new(reserve_bytes),
            free: AtomicU64::new(u64::MAX),
            blocked: AtomicBool::new(false),
        });
        disk.refresh();
        disk
    }

    /// Looks at the free space now.
    pub fn refresh(&self) {
        match free_bytes(&self.dir) {
            Ok(free) => self.free.store(free, Ordering::Relaxed),
            Err(e) => {
                tracing::warn!(error = %e, dir = %self.dir.display(), "cannot read the free disk space")
            }
        }
    }

    /// Watches the free space on a thread of its own, for as long as the process runs.
    pub fn watch(self: &Arc<Self>) {
        let disk = self.clone();
        let spawned = std::thread::Builder::new()
            .name("cairn-disk-watch".into())
            .spawn(move || {
                let mut was_full = false;
                loop {
                    std::thread::sleep(WATCH_EVERY);
                    disk.refresh();
                    let full = disk.full().is_some();
                    if full && !was_full {
                        tracing::error!(reason = %disk.full().unwrap_or_default(), "writes are refused");
                    } else if was_full && !full {
                        tracing::info!(dir = %disk.dir.display(), "the disk has room again: writes are taken");
                    }
                    was_full = full;
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the disk watcher");
        }
    }

    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::SeqCst);
    }

    pub fn free(&self) -> u64 {
        self.free.load(Ordering::Relaxed)
    }

    pub fn reserve(&self) -> u64 {
        self.reserve.load(Ordering::Relaxed)
    }

    /// Why writes are refused now, or `None` when the disk takes them.
    pub fn full(&self) -> Option<String> {
        let (free, reserve) = (self.free(), self.reserve());
        if self.blocked.load(Ordering::SeqCst) {
            Some(format!(
                "no space left on device for the log in {}",
                self.dir.display()
            ))
        } else if free < reserve {
            Some(format!(
                "only {} free in {} ({} kept in reserve)",
                mib(free),
                self.dir.display(),
                mib(reserve)
            ))
        } else {
            None
        }
    }

    /// The error a write gets while the disk is full (Redis's MISCONF, which clients know).
    pub fn refusal(&self) -> Option<String> {
        self.full().map(|why| {
            format!("MISCONF the disk is full: {why}; writes are refused until space is freed")
        })
    }
}
