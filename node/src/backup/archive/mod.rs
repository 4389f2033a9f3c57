//! The continuous log archive (`--archive-to`): committed log entries shipped to object
//! storage as they commit, so that, with the backups, a cluster can be restored to any
//! point in time (`cairn backup restore URL --to-time T`; `backup::pitr`).
//!
//! Layout at the destination (which may be the backups' own): `<prefix>/archive/<segment>`,
//! beside the backups' `<prefix>/<backup id>/`. The segment names are the manifest: each
//! says which indexes and times it holds (`segment`), so a listing tells what the archive
//! covers and where its gaps are (`catalog`) without reading a byte of it.
//!
//! - `segment`: the format of one segment, with its checksums.
//! - `catalog`: listing, coverage and gaps, reading a segment, retention.
//! - `writer`: the archiver task on the leader (or `--archive-node`).

pub mod catalog;
pub mod segment;
pub mod writer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::backup::unix_ms;
use crate::node::Node;
use catalog::Catalog;
use segment::SegmentName;

/// The archive's directory under the destination's prefix.
pub const DIR: &str = "archive";

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
    fn listed(&self, catalog: &Catalog) {
        self.first_index
            .store(catalog.first_index().unwrap_or(0), Ordering::Relaxed);
        self.last_index
            .store(catalog.last_index().unwrap_or(0), Ordering::Relaxed);
        self.newest_ms.store(catalog.newest_ms(), Ordering::Relaxed);
        *lock(&self.gaps) = catalog.gaps();
    }

    fn shipped(&self, name: &SegmentName) {
        self.ok.fetch_add(1, Ordering::Relaxed);
        if self.first_index.load(Ordering::Relaxed) == 0 {
            self.first_index.store(name.first, Ordering::Relaxed);
        }
        self.last_index.fetch_max(name.last, Ordering::Relaxed);
        self.newest_ms.fetch_max(name.max_ms, Ordering::Relaxed);
        self.last_upload_ms.store(unix_ms(), Ordering::Relaxed);
        *lock(&self.last_error) = None;
    }

    fn failed(&self, e: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_error) = Some(e);
    }

    fn gap(&self, from: u64, to: u64) {
        lock(&self.gaps).push((from, to));
    }

    /// Notes whether the archive holds everything applied here, to time how long it lags.
    fn caught_up(&self, yes: bool) {
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

/// This node's applied index now.
pub fn applied_index(node: &Node) -> u64 {
    let m = node.raft.metrics();
    let applied = m.borrow().last_applied.map_or(0, |l| l.index);
    applied
}

/// INFO's `# Archive` section.
pub fn info(node: &Node, out: &mut String) {
    use std::fmt::Write;
    let a = &node.archive;
    let cfg = &node.config.backup;
    let gaps = a.gap_list();
    let gaps = if gaps.is_empty() {
        "none".to_string()
    } else {
        gaps.iter()
            .map(|(f, t)| format!("{f}-{t}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let _ = write!(
        out,
        "# Archive\r\narchive_destination:{}\r\narchive_node:{}\r\narchive_active:{}\r\n\
         archive_first_index:{}\r\narchive_last_index:{}\r\narchive_lag_entries:{}\r\n\
         archive_delay_secs:{:.1}\r\narchive_newest_time:{}\r\narchive_uploads_ok:{}\r\n\
         archive_uploads_failed:{}\r\narchive_last_upload_time:{}\r\narchive_gaps:{gaps}\r\n\
         archive_last_error:{}\r\n",
        cfg.archive_to
            .as_deref()
            .map_or("none".into(), crate::backup::schedule::redact_url),
        cfg.archive_node.map_or("leader".into(), |n| n.to_string()),
        u8::from(a.active.load(Ordering::Relaxed)),
        a.first_index.load(Ordering::Relaxed),
        a.last_index.load(Ordering::Relaxed),
        a.lag(applied_index(node)),
        a.delay_secs(),
        a.newest_ms.load(Ordering::Relaxed) / 1000,
        a.ok.load(Ordering::Relaxed),
        a.failed.load(Ordering::Relaxed),
        a.last_upload_ms.load(Ordering::Relaxed) / 1000,
        a.last_error()
            .map_or("none".into(), |e| e.replace(['\r', '\n'], " ")),
    );
}
