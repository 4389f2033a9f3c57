//! The archiver: on the node whose turn it is (the leader, or `--archive-node`), ships the
//! committed entries of its log to the archive, a segment at a time.
//!
//! Each time it takes its turn it lists the archive and goes on after the last index there,
//! so a change of leader leaves no gap (a segment the old leader was still uploading may
//! overlap the new one's first: readers take each index once). It ships what is applied
//! (and so committed) on this node, at most [`SEGMENT_ENTRIES`] entries or about
//! [`SEGMENT_BYTES`] per segment, as soon as there is any and half a second has passed
//! since the last upload, or at once when a segment is full. A failed upload is retried
//! with the same entries. If the log was purged past what the archive holds (the store
//! was unreachable for longer than the log keeps entries), the gap is recorded and shipping
//! goes on from the oldest entry the log has: restores across it need a later backup.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_raft::store::LogStore;
use cairn_raft::types::Entry;
use openraft::RaftLogReader;

use super::catalog::Catalog;
use super::{segment, DIR};
use crate::backup::dest::Destination;
use crate::backup::handle::Backups;
use crate::backup::schedule::my_turn;
use crate::backup::seal::Key;

/// Most entries per segment.
pub const SEGMENT_ENTRIES: u64 = 20_000;
/// About the most entry bytes (before compression) per segment.
pub const SEGMENT_BYTES: usize = 16 << 20;
/// How often the archiver looks for new entries.
const TICK: Duration = Duration::from_millis(200);
/// The least time between two uploads while entries trickle in: an entry waits at most
/// this plus an upload before it is archived, which keeps acknowledged writes older than a
/// second safe (the RPO the archive promises) with room for a slow store.
const CADENCE: Duration = Duration::from_millis(500);
/// The wait after a failed upload or listing.
const RETRY: Duration = Duration::from_secs(2);

/// Starts the archiver when `--archive-to` is set.
pub fn spawn(backups: Arc<Backups>, log: LogStore) {
    let Some(url) = backups.config().backup.archive_to.clone() else {
        return;
    };
    tokio::spawn(async move {
        let dest = match Destination::open(&url) {
            Ok(d) => d,
            Err(e) => {
                backups.archive.failed(format!("{e:#}"));
                tracing::error!(error = %format!("{e:#}"), "the archive destination");
                return;
            }
        };
        let mut archiver = Archiver {
            backups,
            log,
            dest,
            next: None,
            key: None,
            last_upload: None,
        };
        archiver.run().await;
    });
}

struct Archiver {
    backups: Arc<Backups>,
    log: LogStore,
    dest: Destination,
    /// The next index to ship, once known (while it is this node's turn).
    next: Option<u64>,
    /// The backup key, read from its file when this node's turn begins (not per upload).
    key: Option<Key>,
    last_upload: Option<Instant>,
}

impl Archiver {
    async fn run(&mut self) {
        let mut shutdown = self.backups.cluster.shutdown.clone();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = shutdown.changed() => {}
            }
            let stopping = *shutdown.borrow();
            if !my_turn(&self.backups, self.backups.config().backup.archive_node) {
                self.next = None;
                self.backups.archive.active.store(false, Ordering::Relaxed);
            } else if let Err(e) = self.step(stopping).await {
                tracing::warn!(error = %format!("{e:#}"), "log archive");
                self.backups.archive.failed(format!("{e:#}"));
                self.next = None; // list again: another node may have shipped meanwhile
                tokio::time::sleep(RETRY).await;
            }
            if stopping {
                return;
            }
        }
    }

    /// Ships what is due. On shutdown, ships everything applied (one last flush).
    async fn step(&mut self, flush: bool) -> anyhow::Result<()> {
        let status = &self.backups.archive;
        let next = match self.next {
            Some(n) => n,
            None => {
                self.key = Key::load(self.backups.config().backup.backup_key_file.as_deref())?;
                let catalog = Catalog::load(&self.dest).await?;
                status.listed(&catalog);
                status.active.store(true, Ordering::Relaxed);
                let n = catalog
                    .last_index()
                    .map_or_else(|| self.first_in_log(), |l| l + 1);
                self.next = Some(n);
                n
            }
        };
        let applied = super::applied_index(&self.backups);
        if applied < next {
            status.caught_up(true);
            return Ok(());
        }
        status.caught_up(false);
        let due = self.last_upload.is_none_or(|t| t.elapsed() >= CADENCE);
        if !due && !flush && applied - next + 1 < SEGMENT_ENTRIES {
            return Ok(());
        }
        let entries = read(&mut self.log, next, applied.min(next + SEGMENT_ENTRIES - 1)).await?;
        let Some(first) = entries.first().map(|e| e.log_id.index) else {
            return Ok(());
        };
        if first != next {
            // Purged before it was shipped: say so, and go on from what the log has.
            tracing::error!(
                from = next,
                to = first - 1,
                "log entries purged before they were archived"
            );
            status.gap(next, first - 1);
        }
        let cfg = &self.backups.config().backup;
        let (name, bytes) = segment::encode(
            &entries,
            self.key.as_ref(),
            &cfg.cluster_name,
            self.backups.cluster.id,
        )?;
        self.dest.put(DIR, &name.file(), bytes.into()).await?;
        status.shipped(&name);
        status.caught_up(name.last >= applied);
        self.next = Some(name.last + 1);
        self.last_upload = Some(Instant::now());
        Ok(())
    }

    /// Where an empty archive starts: the oldest entry this node's log still has.
    fn first_in_log(&self) -> u64 {
        let m = self.backups.cluster.raft.metrics();
        let purged = m.borrow().purged.map_or(0, |l| l.index + 1);
        purged.max(1)
    }
}

/// The entries `from..=to` the log holds (from the first it still has), read a chunk at
/// a time and no more than about [`SEGMENT_BYTES`] of them (at least one): entries can be
/// large, and the archiver must not hold thousands of them at once.
async fn read(log: &mut LogStore, from: u64, to: u64) -> anyhow::Result<Vec<Entry>> {
    const CHUNK: u64 = 256;
    let mut out: Vec<Entry> = Vec::new();
    let mut bytes = 0u64;
    let mut at = from;
    while at <= to {
        let chunk = log
            .try_get_log_entries(at..=to.min(at + CHUNK - 1))
            .await
            .map_err(|e| anyhow::anyhow!("reading the log from index {at}: {e}"))?;
        let Some(last) = chunk.last().map(|e| e.log_id.index) else {
            break;
        };
        if !out.is_empty() && chunk.first().map(|e| e.log_id.index) != Some(at) {
            break; // purged meanwhile: ship what is contiguous
        }
        for e in chunk {
            bytes = bytes.saturating_add(cairn_raft::store::pitr::encoded_size(&e));
            if bytes > SEGMENT_BYTES as u64 && !out.is_empty() {
                return Ok(out);
            }
            out.push(e);
        }
        at = last + 1;
    }
    Ok(out)
}
