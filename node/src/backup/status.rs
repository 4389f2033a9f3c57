//! What this node knows of its backups and saves, for INFO and metrics: kept apart from the
//! tasks that take them, so the node holds the status without depending on the tasks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::create::Progress;
use super::manifest::Manifest;

/// What this node knows of its backups, for INFO and metrics.
#[derive(Default)]
pub struct BackupStatus {
    pub in_progress: AtomicBool,
    pub progress: Arc<Progress>,
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub last: Mutex<Option<Manifest>>,
    pub last_error: Mutex<Option<String>>,
    /// When the newest complete backup at the scheduled destination was made (Unix ms; 0:
    /// none found), as this node last saw it while backups were its turn: what an alert on
    /// stale backups needs, whichever node took the backup.
    pub newest_ms: AtomicU64,
}

impl BackupStatus {
    pub fn last(&self) -> Option<Manifest> {
        self.last
            .lock()
            .map_or_else(|p| p.into_inner().clone(), |g| g.clone())
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .map_or_else(|p| p.into_inner().clone(), |g| g.clone())
    }

    pub fn set_error(&self, e: Option<String>) {
        match self.last_error.lock() {
            Ok(mut g) => *g = e,
            Err(p) => *p.into_inner() = e,
        }
    }
}

/// Background-save state, for BGSAVE and INFO persistence.
#[derive(Default)]
pub struct Saves {
    pub(crate) in_progress: AtomicBool,
    /// Whether the last save failed.
    pub(crate) last_failed: AtomicBool,
}

impl Saves {
    pub fn in_progress(&self) -> bool {
        self.in_progress.load(Ordering::Relaxed)
    }

    pub fn last_status(&self) -> &'static str {
        if self.last_failed.load(Ordering::Relaxed) {
            "err"
        } else {
            "ok"
        }
    }
}
