//! Backups to object storage and restores from them.
//!
//! A backup is the current snapshot (see `cairn_raft::store::snapshot`) at a known log index,
//! streamed from the node's snapshot file, never whole in memory:
//!
//! ```text
//! snapshot file ─► zstd ─► cut into parts ─► [AES-256-GCM] ─► crc32 ─► object store
//! ```
//!
//! Stored as `<prefix>/<id>/part-NNNNNN` and, written last, `<prefix>/<id>/manifest.json`:
//! a backup without a manifest is incomplete, whatever parts it has. A restore runs the same
//! pipe backwards into `Store::restore`, which checks every snapshot record's crc32 again.
//!
//! - `dest`: a URL to an object store; listing, reading and deleting backups.
//! - `manifest`: the manifest and backup ids.
//! - `seal`: per-part encryption and the key.
//! - `create` / `restore`: the two pipes.
//! - `schedule`: `--backup-to` with interval and retention, and the status INFO reports.
//! - `archive`: the continuous log archive (`--archive-to`).
//! - `pitr`: restoring a backup plus the archived log up to a point in time.
//! - `cli`: `cairn backup create|list|verify|restore`.
//! - `save`: SAVE, BGSAVE and LASTSAVE (a snapshot on demand, kept on the node).
//! - `status`: what INFO and metrics show of backups and saves.

pub mod archive;
pub mod cli;
pub mod create;
pub mod dest;
pub mod handle;
pub mod manifest;
pub mod pitr;
pub mod restore;
pub mod save;
pub mod schedule;
pub mod seal;
pub mod status;

/// Compressed (and encrypted) bytes per part, by default. Small enough that a few parts in flight
/// bound memory, large enough that per-request overhead does not matter.
pub const PART_BYTES: usize = 8 << 20;
/// Parts uploaded or downloaded at once.
pub const PARTS_IN_FLIGHT: usize = 4;

/// Wall-clock unix milliseconds (backup ids and status; never used in the state machine).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
