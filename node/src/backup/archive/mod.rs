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
pub mod status;
pub mod writer;

use std::sync::atomic::Ordering;

use crate::backup::handle::Backups;

/// The archive's directory under the destination's prefix.
pub use crate::backup::dest::ARCHIVE_DIR as DIR;

/// This node's applied index now.
pub fn applied_index(backups: &Backups) -> u64 {
    let m = backups.cluster.raft.metrics();
    let applied = m.borrow().last_applied.map_or(0, |l| l.index);
    applied
}

/// INFO's `# Archive` section.
pub fn info(backups: &Backups, out: &mut String) {
    use std::fmt::Write;
    let a = &backups.archive;
    let cfg = &backups.config().backup;
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
        a.lag(applied_index(backups)),
        a.delay_secs(),
        a.newest_ms.load(Ordering::Relaxed) / 1000,
        a.ok.load(Ordering::Relaxed),
        a.failed.load(Ordering::Relaxed),
        a.last_upload_ms.load(Ordering::Relaxed) / 1000,
        a.last_error()
            .map_or("none".into(), |e| e.replace(['\r', '\n'], " ")),
    );
}
