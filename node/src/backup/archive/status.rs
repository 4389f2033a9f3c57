//! What this node knows of the archive, for INFO and metrics: kept apart from the node so
//! that the archive's own modules need nothing of it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::catalog::Catalog;
use super::segment::SegmentName;
use crate::backup::unix_ms;

/// What this node knows of the archive, for INFO and metrics.
pub struct ArchiveStatus {
    /// Whether this node is the one shipping now.
    pub active: AtomicBool,
    pub first_index: AtomicU64,
    /// The last index the archive holds, as this node last listed or shipped it (0: none).
    pub last_index: AtomicU64,
    /// The newest entry stamp the archive holds (unix ms; 0: none).
    pub newest_ms: AtomicU64,
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub last_upload_ms: AtomicU64,
    /// Since when the archive has been behind this node's applied index.
    behind_since: Mutex<Option<Instant>>,
    gaps: Mutex<Vec<(u64, u64)>>,
    last_error: Mutex<Option<String>>,
}

impl Default for ArchiveStatus {
    fn default() -> ArchiveStatus {
        ArchiveStatus {
            active: AtomicBool::new(false),
            first_index: AtomicU64::new(0),
            last_index: AtomicU64::new(0),
            newest_ms: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            last_upload_ms: AtomicU64::new(0),
            behind_since: Mutex::new(None),
            gaps: Mutex::new(Vec::new()),
            last_error: Mutex::new(None),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ArchiveStatus {
    pub(super) fn listed(&self, catalog: &Catalog) {
        self.first_index
            .store(catalog.first_index().unwrap_or(0), Ordering::Relaxed);
        self.last_index
            .store(catalog.last_index().unwrap_or(0), Ordering::Relaxed);
        self.newest_ms.store(catalog.newest_ms(), Ordering::Relaxed);
        *lock(&self.gaps) = catalog.gaps();
    }

    pub(super) fn shipped(&self, name: &SegmentName) {
        self.ok.fetch_add(1, Ordering::Relaxed);
        if self.first_index.load(Ordering::Relaxed) == 0 {
            self.first_index.store(name.first, Ordering::Relaxed);
        }
        self.last_index.fetch_max(name.last, Ordering::Relaxed);
        self.newest_ms.fetch_max(name.max_ms, Ordering::Relaxed);
        self.last_upload_ms.store(unix_ms(), Ordering::Relaxed);
        *lock(&self.last_error) = None;
    }

    pub(super) fn failed(&self, e: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_error) = Some(e);
    }

    /// Records a gap once, though a retried upload finds it again.
    pub(super) fn gap(&self, from: u64, to: u64) {
        let mut gaps = lock(&self.gaps);
        if !gaps.contains(&(from, to)) {
            gaps.push((from, to));
        }
    }

    /// Notes whether the archive holds everything applied here, to time how long it lags.
    pub(super) fn caught_up(&self, yes: bool) {
        let mut since = lock(&self.behind_since);
        match (yes, since.is_some()) {
            (true, _) => *since = None,
            (false, false) => *since = Some(Instant::now()),
            (false, true) => {}
        }
    }

    /// Entries applied here (up to `applied`) that the archive does not hold yet, while
    /// this node ships.
    pub fn lag(&self, applied: u64) -> u64 {
        if !self.active.load(Ordering::Relaxed) {
            return 0;
        }
        applied.saturating_sub(self.last_index.load(Ordering::Relaxed))
    }

    /// Seconds the archive has been behind this node's applied index (0: caught up, or not
    /// this node's turn).
    pub fn delay_secs(&self) -> f64 {
        match *lock(&self.behind_since) {
            Some(t) if self.active.load(Ordering::Relaxed) => t.elapsed().as_secs_f64(),
            _ => 0.0,
        }
    }

    pub fn gap_list(&self) -> Vec<(u64, u64)> {
        lock(&self.gaps).clone()
    }

    pub fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }
}
