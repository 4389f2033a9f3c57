//! The log's one I/O thread: writes batches of records at the positions the log assigned
//! them, syncs once for everything it drained (group commit), then completes openraft's
//! callbacks in order, directly from this thread.
//!
//! A full disk is waited out, not reported: the batch is retried every
//! [`FULL_DISK_RETRY`] while the shared `Disk` tells the node to refuse new writes
//! (`-MISCONF`), so the node stays up and recovers by itself once space is freed. Any other
//! I/O error fails the callbacks, which stops Raft on this node (openraft treats a log write
//! error as fatal).

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use openraft::storage::LogFlushed;
use tokio::sync::{mpsc, oneshot};

use super::segment;
use super::Shared;
use crate::types::TypeConfig;

/// How often a write that found the disk full is tried again.
pub const FULL_DISK_RETRY: Duration = Duration::from_millis(200);
/// Batches drained into one sync at most.
const DRAIN_MAX: usize = 1024;

/// Bytes to put at a position of a segment; `create` makes the segment first.
pub struct Write {
    pub seg: u64,
    /// Create the segment with this size before writing.
    pub create: Option<u64>,
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// Who waits for a batch to be durable.
pub enum Done {
    Log(LogFlushed<TypeConfig>),
    Vote(oneshot::Sender<std::io::Result<()>>),
}

/// One request of the log: written in order after every earlier one.
pub struct Batch {
    pub writes: Vec<Write>,
    /// Sync before completing (appends and votes); truncations, purges and the committed
    /// index ride along with the next sync, which covers every earlier write.
    pub sync: bool,
    pub done: Option<Done>,
    /// Sequence number: once written, entries of this batch may leave the cache.
    pub op: u64,
    /// Segments to delete once this batch is durable (their entries are purged).
    pub remove: Vec<u64>,
}

pub fn spawn(
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Batch>,
    files: HashMap<u64, File>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let dir = shared.dir.clone();
    std::thread::Builder::new()
        .name("cairn-log-io".into())
        .spawn(move || {
            Writer {
                shared,
                dir,
                files,
                dirty: Vec::new(),
                purgers: Vec::new(),
            }
            .run(rx)
        })
}

struct Writer {
    shared: Arc<Shared>,
    dir: PathBuf,
    /// Open segments this thread writes to.
    files: HashMap<u64, File>,
    /// Segments written since the last sync.
    dirty: Vec<u64>,
    /// Threads still deleting purged segments: joined before this thread ends, so a log
    /// reopened in the same process never lists a segment that is about to vanish.
    purgers: Vec<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Batch>) {
        let mut batches = Vec::new();
        while rx.blocking_recv().map(|b| batches.push(b)).is_some() {
            while batches.len() < DRAIN_MAX {
                match rx.try_recv() {
                    Ok(b) => batches.push(b),
                    Err(_) => break,
                }
            }
            let result = self.write_durably(&batches);
            if let Some(last) = batches.last() {
                if result.is_ok() {
                    self.shared.written.store(last.op, Ordering::Release);
                }
            }
            let removed: Vec<u64> = batches.iter().flat_map(|b| b.remove.clone()).collect();
            for batch in batches.drain(..) {
                let outcome = match &result {
                    Ok(()) => Ok(()),
                    Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                };
                match batch.done {
                    Some(Done::Log(cb)) => cb.log_io_completed(outcome),
                    Some(Done::Vote(tx)) => {
                        let _ = tx.send(outcome);
                    }
                    None => {}
                }
            }
            // Purged segments go after the callbacks: unlinking a 64 MiB file takes a while,
            // and no write waits for it.
            if result.is_ok() {
                self.remove(&removed);
            }
        }
        for purger in self.purgers.drain(..) {
            let _ = purger.join();
        }
    }

    /// Writes every batch, retrying while the disk is full, and syncs if any asks for it.
    fn write_durably(&mut self, batches: &[Batch]) -> std::io::Result<()> {
        let mut warned = false;
        loop {
            match self.write_once(batches) {
                Err(e) if is_full(&e) => {
                    if !warned {
                        tracing::error!(error = %e, dir = %self.dir.display(), "the disk is full: writes are refused until space is freed");
                        warned = true;
                    }
                    self.shared.disk.set_blocked(true);
                    std::thread::sleep(FULL_DISK_RETRY);
                }
                other => {
                    if warned {
                        tracing::info!(dir = %self.dir.display(), "the disk has room again");
                    }
                    self.shared.disk.set_blocked(false);
                    return other;
                }
            }
        }
    }

    fn write_once(&mut self, batches: &[Batch]) -> std::io::Result<()> {
        for batch in batches {
            for w in &batch.writes {
                self.write(w)?;
            }
        }
        if batches.iter().any(|b| b.sync) {
            for seg in std::mem::take(&mut self.dirty) {
                if let Some(f) = self.files.get(&seg) {
                    f.sync_data()?;
                }
            }
        }
        Ok(())
    }

    fn write(&mut self, w: &Write) -> std::io::Result<()> {
        if let Some(size) = w.create {
            if !self.files.contains_key(&w.seg) {
                let file = segment::create(&self.dir, w.seg, size)?;
                self.shared.add_reader(w.seg, &file)?;
                // Writing goes on in the new segment: earlier ones need no more syncs than
                // the one pending for them.
                self.files.insert(w.seg, file);
            }
        }
        let Some(file) = self.files.get(&w.seg) else {
            return Err(std::io::Error::other(format!(
                "log segment {} is not open for writing",
                w.seg
            )));
        };
        file.write_all_at(&w.bytes, w.offset)?;
        if !self.dirty.contains(&w.seg) {
            self.dirty.push(w.seg);
        }
        Ok(())
    }

    /// Deletes purged segments on a thread of its own: unlinking (and closing) a 64 MiB
    /// file frees its blocks, which took ~50 ms here and held up the next sync when done on
    /// this thread (measured as the longest SET during a BGSAVE).
    fn remove(&mut self, segs: &[u64]) {
        if segs.is_empty() {
            return;
        }
        let mut doomed = Vec::new();
        for seg in segs {
            let file = self.files.remove(seg);
            self.shared.drop_reader(*seg);
            doomed.push((segment::path(&self.dir, *seg), file));
        }
        let job = Arc::new(std::sync::Mutex::new(Some(doomed)));
        let run = |job: &std::sync::Mutex<Option<Doomed>>| {
            let doomed = job.lock().map(|mut j| j.take()).ok().flatten();
            for (path, file) in doomed.into_iter().flatten() {
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!(error = %e, path = %path.display(), "could not delete a purged log segment");
                }
                drop(file);
            }
        };
        let theirs = job.clone();
        let spawned = std::thread::Builder::new()
            .name("cairn-log-purge".into())
            .spawn(move || run(&theirs));
        self.purgers.retain(|p| !p.is_finished());
        match spawned {
            Ok(handle) => self.purgers.push(handle),
            Err(_) => run(&job),
        }
    }
}

/// Purged segments to delete: their paths, and their files to close.
type Doomed = Vec<(PathBuf, Option<File>)>;

/// ENOSPC (or a quota): the write can succeed later.
fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}
