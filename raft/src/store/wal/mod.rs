//! The Raft log: segmented, append-only files with a crc32 per record, written by one I/O
//! thread that syncs once per drained batch and completes openraft's callbacks itself.
//!
//! Everything the log must keep goes through the same stream of records, in order: entries,
//! the vote, the committed index, truncations and purges (see [`record::Kind`]). Replaying the
//! segments oldest first rebuilds the state, and a sync that covers a record covers every
//! record before it, so the vote and the committed index are ordered with the log. A new
//! segment starts with the current vote, committed index and purge point, so older segments
//! can be deleted once their entries are purged without losing them.
//!
//! At start every record is checked. A damaged record is cut only if it is the last thing
//! written (a torn write: nothing valid follows it in the last segment); any other damage
//! refuses to start and names the file and the offset.
//!
//! Reads are served from memory for recent entries (bounded by [`CACHE_BYTES`]), else from
//! the segment files, checking the crc32 again.

pub mod import;
mod io;
mod record;
mod replay;
mod segment;

pub use segment::SEGMENT_BYTES;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Debug;
use std::fs::File;
use std::ops::{Bound, RangeBounds};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, LogState, OptionalSend, RaftLogReader, StorageIOError};
use tokio::sync::{mpsc, oneshot};

use super::disk::{self, Disk};
use crate::error::{Error, Result};
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};
use io::{Batch, Done, Write};
use record::Kind;
pub(crate) use segment::sync_dir;

/// Bytes (as framed on disk) of recent entries kept decoded in memory: replication and apply
/// read what was just appended. Decoded, an entry takes two to three times its framed size.
pub const CACHE_BYTES: usize = 8 << 20;

/// Where a record is: segment, offset and framed length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Loc {
    seg: u64,
    offset: u64,
    len: u32,
}

/// One entry of the log.
struct Slot {
    log_id: LogId,
    loc: Loc,
    /// The entry itself while cached.
    entry: Option<Entry>,
    /// The batch that writes it: it may leave the cache once that batch is written.
    op: u64,
}

/// The log as the node sees it, behind one mutex (held for microseconds).
struct Inner {
    vote: Option<Vote>,
    committed: Option<LogId>,
    purged: Option<LogId>,
    /// Entries from `purged + 1` (or the first appended), contiguous.
    slots: VecDeque<Slot>,
    /// Bytes of the cached entries (framed record lengths).
    cached_bytes: usize,
    /// Index in `slots` of the oldest cached entry; all after it are cached too.
    cached_from: usize,
    /// The segment being appended to, its size, and where the next record goes.
    seg: u64,
    seg_size: u64,
    offset: u64,
    /// Every segment on disk with the highest entry index written to it.
    segments: BTreeMap<u64, Option<u64>>,
    /// The number of the last batch handed to the I/O thread.
    op: u64,
    /// The I/O thread's queue.
    tx: mpsc::UnboundedSender<Batch>,
    /// The size of a new segment, at most.
    segment_bytes: u64,
    dir: PathBuf,
}

/// State shared with the I/O thread. (The thread holds no sender of its own queue: once
/// every handle of the log is dropped, its queue closes and the thread ends.)
pub(crate) struct Shared {
    dir: PathBuf,
    /// The last batch written (readable from the files).
    written: AtomicU64,
    /// Read handles of the segments.
    readers: Mutex<HashMap<u64, Arc<File>>>,
    /// The writer marks it blocked while a write waits for space.
    disk: Arc<Disk>,
}

impl Shared {
    fn readers(&self) -> MutexGuard<'_, HashMap<u64, Arc<File>>> {
        self.readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add_reader(&self, seg: u64, file: &File) -> std::io::Result<()> {
        self.readers().insert(seg, Arc::new(file.try_clone()?));
        Ok(())
    }

    fn drop_reader(&self, seg: u64) {
        self.readers().remove(&seg);
    }
}

/// The log store (and its reader: clones share everything).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
    shared: Arc<Shared>,
    /// The I/O thread, for [`LogStore::close`].
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    bincode::serialize(value).map_err(|e| Error::Storage(e.to_string()))
}

fn io_err(e: impl std::fmt::Display) -> AnyError {
    AnyError::error(e)
}

fn write_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_logs(io_err(e)).into()
}

impl Inner {
    fn first_index(&self) -> Option<u64> {
        self.slots.front().map(|s| s.log_id.index)
    }

    fn slot(&self, index: u64) -> Option<&Slot> {
        let first = self.first_index()?;
        self.slots
            .get(usize::try_from(index.checked_sub(first)?).ok()?)
    }

    /// Reserves room for a record of `len` bytes, rolling to a new segment (which starts
    /// with the current vote, committed index and purge point) when it would not fit.
    fn place(&mut self, len: usize, writes: &mut Vec<Write>) -> Result<(u64, u64)> {
        let len = len as u64;
        if self.offset + len > self.seg_size {
            let mut meta = Vec::new();
            if let Some(v) = &self.vote {
                record::encode(Kind::Vote, &encode(v)?, &mut meta);
            }
            if self.committed.is_some() {
                record::encode(Kind::Committed, &encode(&self.committed)?, &mut meta);
            }
            if let Some(p) = &self.purged {
                record::encode(Kind::Purge, &encode(p)?, &mut meta);
            }
            // A segment takes at most an eighth of the free space (at least 1 MiB), so a small
            // disk gets smaller segments rather than a failed roll.
            let free = disk::free_bytes(&self.dir).unwrap_or(u64::MAX);
            let size = self
                .segment_bytes
                .min((free / 8).max(1 << 20))
                .max(segment::HEADER_BYTES + meta.len() as u64 + len)
                .next_multiple_of(4096);
            self.seg += 1;
            self.seg_size = size;
            self.offset = segment::HEADER_BYTES + meta.len() as u64;
            self.segments.insert(self.seg, None);
            writes.push(Write {
                seg: self.seg,
                create: Some(size),
                offset: segment::HEADER_BYTES,
                bytes: meta,
            });
        }
        let at = self.offset;
        self.offset += len;
        Ok((self.seg, at))
    }

    /// Frames a record and places it.
    fn put(&mut self, kind: Kind, payload: &[u8], writes: &mut Vec<Write>) -> Result<Loc> {
        let mut bytes = Vec::with_capacity(record::framed_len(payload.len()));
        record::encode(kind, payload, &mut bytes);
        let (seg, offset) = self.place(bytes.len(), writes)?;
        let len = u32::try_from(bytes.len())
            .map_err(|_| Error::Storage(format!("a log record of {} bytes", bytes.len())))?;
        writes.push(Write {
            seg,
            create: None,
            offset,
            bytes,
        });
        Ok(Loc { seg, offset, len })
    }

    /// Hands the writes to the I/O thread, in order.
    fn send(
        &mut self,
        writes: Vec<Write>,
        sync: bool,
        done: Option<Done>,
        remove: Vec<u64>,
    ) -> Result<u64> {
        self.op += 1;
        let batch = Batch {
            writes,
            sync,
            done,
            op: self.op,
            remove,
        };
        self.tx
            .send(batch)
            .map_err(|_| Error::Storage("the log's I/O thread stopped".into()))?;
        Ok(self.op)
    }

    /// Drops the oldest cached entries that are on disk until the cache fits its budget.
    fn evict(&mut self, written: u64) {
        while self.cached_bytes > CACHE_BYTES {
            let Some(slot) = self.slots.get_mut(self.cached_from) else {
                break;
            };
            if slot.op > written {
                break;
            }
            if slot.entry.take().is_some() {
                self.cached_bytes -= slot.loc.len as usize;
            }
            self.cached_from += 1;
        }
    }

    fn drop_front(&mut self) {
        if let Some(slot) = self.slots.pop_front() {
            if slot.entry.is_some() {
                self.cached_bytes -= slot.loc.len as usize;
            }
            self.cached_from = self.cached_from.saturating_sub(1);
        }
    }

    fn drop_back(&mut self) {
        if let Some(slot) = self.slots.pop_back() {
            if slot.entry.is_some() {
                self.cached_bytes -= slot.loc.len as usize;
            }
            self.cached_from = self.cached_from.min(self.slots.len());
        }
    }
}

impl LogStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding it is a bug that already stopped Raft; keep serving reads.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last entry's id (the purge point when the log is empty): what a pre-vote compares,
    /// as a vote does, to tell whether a candidate's log is at least as up to date.
    pub fn last_log_id(&self) -> Option<LogId> {
        let inner = self.lock();
        inner.slots.back().map(|s| s.log_id).or(inner.purged)
    }

    /// Opens (or creates) the log in `dir`, checking every record. Starts the I/O thread.
    pub fn open(dir: &Path, disk: Arc<Disk>) -> Result<LogStore> {
        LogStore::open_with(dir, segment::SEGMENT_BYTES, disk)
    }

    /// [`LogStore::open`] with new segments of `segment_bytes` (tests roll small segments).
    pub fn open_with(dir: &Path, segment_bytes: u64, disk: Arc<Disk>) -> Result<LogStore> {
        std::fs::create_dir_all(dir)?;
        let replayed = replay::replay(dir)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let cached_bytes = replayed
            .slots
            .iter()
            .filter(|s| s.entry.is_some())
            .map(|s| s.loc.len as usize)
            .sum();
        let cached_from = replayed
            .slots
            .iter()
            .position(|s| s.entry.is_some())
            .unwrap_or(replayed.slots.len());
        let mut files = HashMap::new();
        let mut readers = HashMap::new();
        for seg in replayed.segments.keys() {
            let file = segment::open_for_append(&segment::path(dir, *seg))?;
            readers.insert(*seg, Arc::new(file.try_clone()?));
            files.insert(*seg, file);
        }
        let inner = Inner {
            vote: replayed.vote,
            committed: replayed.committed,
            purged: replayed.purged,
            slots: replayed.slots,
            cached_bytes,
            cached_from,
            seg: replayed.seg,
            seg_size: replayed.seg_size,
            offset: replayed.offset,
            segments: replayed.segments,
            op: 0,
            tx,
            segment_bytes,
            dir: dir.to_path_buf(),
        };
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            written: AtomicU64::new(0),
            readers: Mutex::new(readers),
            disk,
        });
        let thread = io::spawn(shared.clone(), rx, files)?;
        let store = LogStore {
            inner: Arc::new(Mutex::new(inner)),
            shared,
            thread: Arc::new(Mutex::new(Some(thread))),
        };
        store.lock().evict(0);
        Ok(store)
    }

    /// Drops this handle and waits for the I/O thread to finish what it was given (it ends
    /// once no handle is left: call it on the last one).
    pub fn close(self) {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        drop(self);
        if let Some(t) = thread {
            let _ = t.join();
        }
    }

    /// The number of entries held (the log was checked when it was opened).
    pub fn entries(&self) -> u64 {
        self.lock().slots.len() as u64
    }

    /// Whether nothing was ever written: no vote, no entry, no purge.
    pub fn is_fresh(&self) -> bool {
        let inner = self.lock();
        inner.vote.is_none() && inner.slots.is_empty() && inner.purged.is_none()
    }

    async fn save_vote_durably(&self, vote: &Vote) -> Result<()> {
        let rx = {
            let mut inner = self.lock();
            let mut writes = Vec::new();
            inner.put(Kind::Vote, &encode(vote)?, &mut writes)?;
            inner.vote = Some(*vote);
            let (tx, rx) = oneshot::channel();
            inner.send(writes, true, Some(Done::Vote(tx)), Vec::new())?;
            rx
        };
        rx.await
            .map_err(|_| Error::Storage("the log's I/O thread stopped".into()))??;
        Ok(())
    }

    /// Reads an entry that left the cache from its segment, checking it again.
    fn read_from_disk(&self, index: u64, loc: Loc) -> Result<Entry> {
        let file = self.shared.readers().get(&loc.seg).cloned();
        let path = segment::path(&self.shared.dir, loc.seg);
        let corrupt = |what: String| Error::Corrupt {
            path: path.display().to_string(),
            what: format!("log entry {index} at offset {}: {what}", loc.offset),
        };
        let Some(file) = file else {
            return Err(corrupt("its segment is gone".into()));
        };
        let mut buf = vec![0u8; loc.len as usize];
        file.read_exact_at(&mut buf, loc.offset)?;
        match record::read_at(&buf, 0) {
            record::Found::Record {
                kind: Kind::Entry,
                payload,
                ..
            } => {
                let entry: Entry = bincode::deserialize(payload)
                    .map_err(|e| corrupt(format!("undecodable: {e}")))?;
                if entry.log_id.index != index {
                    return Err(corrupt(format!("holds index {}", entry.log_id.index)));
                }
                Ok(entry)
            }
            record::Found::Record { kind, .. } => Err(corrupt(format!("a {kind:?} record"))),
            record::Found::End => Err(corrupt("zeros".into())),
            record::Found::Damaged(what) => Err(corrupt(what)),
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        // Cached entries are cloned under the lock; the others are read after it.
        let mut out: Vec<std::result::Result<Entry, (u64, Loc)>> = Vec::new();
        {
            let inner = self.lock();
            let Some(first) = inner.first_index() else {
                return Ok(Vec::new());
            };
            // From the first entry kept when the range starts before it, as openraft's
            // suite expects of `try_get_log_entries` (it never asks replication for a purged
            // range once a follower's log may revert: `loosen-follower-log-revert`).
            let mut index = start.max(first);
            while range.contains(&index) {
                let Some(slot) = inner.slot(index) else {
                    break;
                };
                out.push(match &slot.entry {
                    Some(e) => Ok(e.clone()),
                    None => Err((index, slot.loc)),
                });
                index += 1;
            }
        }
        let mut entries = Vec::with_capacity(out.len());
        for item in out {
            match item {
                Ok(e) => entries.push(e),
                Err((index, loc)) => match self.read_from_disk(index, loc) {
                    Ok(e) => entries.push(e),
                    Err(e) => {
                        let e = StorageIOError::read_log_at_index(index, io_err(e));
                        return Err(e.into());
                    }
                },
            }
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let inner = self.lock();
        let last = inner.slots.back().map(|s| s.log_id).or(inner.purged);
        Ok(LogState {
            last_purged_log_id: inner.purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.save_vote_durably(vote)
            .await
            .map_err(|e| StorageIOError::write_vote(io_err(e)).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.lock().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not synced on its own: the next append's sync covers it; losing it only means
        // re-applying from an earlier point.
        let mut inner = self.lock();
        let mut writes = Vec::new();
        let payload = encode(&committed).map_err(write_err)?;
        inner
            .put(Kind::Committed, &payload, &mut writes)
            .map_err(write_err)?;
        inner.committed = committed;
        inner
            .send(writes, false, None, Vec::new())
            .map_err(write_err)?;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let written = self.shared.written.load(Ordering::Acquire);
        let mut inner = self.lock();
        let mut writes = Vec::new();
        let op = inner.op + 1;
        for entry in entries {
            let index = entry.log_id.index;
            if let Some(last) = inner.slots.back() {
                if index != last.log_id.index + 1 {
                    return Err(write_err(format!(
                        "append of index {index} after {}: the log would have a hole",
                        last.log_id.index
                    )));
                }
            }
            let payload = encode(&entry).map_err(write_err)?;
            let loc = inner
                .put(Kind::Entry, &payload, &mut writes)
                .map_err(write_err)?;
            let seg = loc.seg;
            if let Some(max) = inner.segments.get_mut(&seg) {
                *max = Some(index);
            }
            inner.cached_bytes += loc.len as usize;
            inner.slots.push_back(Slot {
                log_id: entry.log_id,
                loc,
                entry: Some(entry),
                op,
            });
        }
        inner
            .send(writes, true, Some(Done::Log(callback)), Vec::new())
            .map_err(write_err)?;
        inner.evict(written);
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut inner = self.lock();
        let mut writes = Vec::new();
        inner
            .put(Kind::Truncate, &log_id.index.to_le_bytes(), &mut writes)
            .map_err(write_err)?;
        while inner
            .slots
            .back()
            .is_some_and(|s| s.log_id.index >= log_id.index)
        {
            inner.drop_back();
        }
        inner
            .send(writes, false, None, Vec::new())
            .map_err(write_err)?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut inner = self.lock();
        let mut writes = Vec::new();
        let payload = encode(&log_id).map_err(write_err)?;
        inner
            .put(Kind::Purge, &payload, &mut writes)
            .map_err(write_err)?;
        inner.purged = Some(log_id);
        while inner
            .slots
            .front()
            .is_some_and(|s| s.log_id.index <= log_id.index)
        {
            inner.drop_front();
        }
        // Whole segments behind the purge point go, oldest first, never the one in use.
        let current = inner.seg;
        let remove: Vec<u64> = inner
            .segments
            .iter()
            .take_while(|(seq, max)| **seq < current && max.is_none_or(|m| m <= log_id.index))
            .map(|(seq, _)| *seq)
            .collect();
        for seq in &remove {
            inner.segments.remove(seq);
        }
        inner.send(writes, true, None, remove).map_err(write_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
