//! The Raft log and vote on sled.
//!
//! Durability contract (openraft's): `save_vote` returns only once the vote is on disk; the
//! `append` callback fires only once the entries are on disk. Every entry is stored as
//! `crc32 (4 bytes, BE) ‖ bincode(entry)` and its checksum is verified on every read, so a
//! corrupt entry is an error naming its index, never a silently wrong command.
//!
//! Group commit: `append` writes its entries and hands its callback to one flusher task,
//! which drains every waiting callback, flushes sled once and completes them in order.

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::path::PathBuf;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, LogState, OptionalSend, RaftLogReader, StorageIOError};
use tokio::sync::mpsc;

use super::txn::sled_err;
use crate::error::{Error, Result};
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const PURGED: &[u8] = b"purged";

/// How many append callbacks may wait for the flusher before `append` waits too.
const FLUSH_QUEUE_MAX: usize = 4096;

#[derive(Clone)]
pub struct LogStore {
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
    dir: PathBuf,
    flusher: mpsc::Sender<LogFlushed<TypeConfig>>,
}

fn io_err(e: impl std::fmt::Display) -> AnyError {
    AnyError::error(e)
}

impl LogStore {
    pub(super) fn new(db: sled::Db, log: sled::Tree, meta: sled::Tree, dir: PathBuf) -> Self {
        let (tx, rx) = mpsc::channel(FLUSH_QUEUE_MAX);
        tokio::spawn(flusher(db.clone(), rx));
        LogStore {
            db,
            log,
            meta,
            dir,
            flusher: tx,
        }
    }

    /// Checks every stored entry's checksum and that indexes are contiguous. Run at start:
    /// a node with a corrupt log refuses to start, naming the index and the data dir.
    pub fn verify(&self) -> Result<u64> {
        let mut expected: Option<u64> = None;
        let mut n = 0;
        for item in self.log.iter() {
            let (k, v) = item.map_err(sled_err)?;
            let index = decode_index(&k).ok_or_else(|| self.corrupt("a log key is not 8 bytes"))?;
            decode_entry(index, &v).map_err(|what| self.corrupt(what))?;
            if let Some(e) = expected {
                if index != e {
                    return Err(self.corrupt(format!("log gap: expected index {e}, found {index}")));
                }
            }
            expected = Some(index + 1);
            n += 1;
        }
        Ok(n)
    }

    fn corrupt(&self, what: impl Into<String>) -> Error {
        Error::Corrupt {
            path: self.dir.display().to_string(),
            what: what.into(),
        }
    }

    fn read_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        match self.meta.get(key).map_err(sled_err)? {
            None => Ok(None),
            Some(v) => bincode::deserialize(&v)
                .map(Some)
                .map_err(|e| self.corrupt(format!("raft metadata {key:?}: {e}"))),
        }
    }

    fn write_meta<T: serde::Serialize>(&self, key: &[u8], value: &T) -> Result<()> {
        let bytes = bincode::serialize(value).map_err(|e| Error::Storage(e.to_string()))?;
        self.meta.insert(key, bytes).map_err(sled_err)?;
        Ok(())
    }

    /// Writes the vote and flushes it: for a data dir being built by a restore.
    pub(super) fn write_vote_now(&self, vote: &Vote) -> Result<()> {
        self.write_meta(VOTE, vote)?;
        self.db.flush().map_err(sled_err)?;
        Ok(())
    }

    fn last_entry_id(&self) -> Result<Option<LogId>> {
        match self.log.last().map_err(sled_err)? {
            None => Ok(None),
            Some((k, v)) => {
                let index =
                    decode_index(&k).ok_or_else(|| self.corrupt("a log key is not 8 bytes"))?;
                let entry = decode_entry(index, &v).map_err(|what| self.corrupt(what))?;
                Ok(Some(entry.log_id))
            }
        }
    }
}

/// Completes append callbacks after a shared flush, in arrival order.
async fn flusher(db: sled::Db, mut rx: mpsc::Receiver<LogFlushed<TypeConfig>>) {
    let mut waiting = Vec::new();
    while rx.recv_many(&mut waiting, FLUSH_QUEUE_MAX).await > 0 {
        let started = std::time::Instant::now();
        let result = db
            .flush_async()
            .await
            .map(|_| ())
            .map_err(|e| std::io::Error::other(e.to_string()));
        tracing::debug!(
            entries = waiting.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "log flush"
        );
        for cb in waiting.drain(..) {
            cb.log_io_completed(
                result
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| std::io::Error::other(e.to_string())),
            );
        }
    }
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn decode_index(k: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(k.try_into().ok()?))
}

pub(crate) fn encode_entry(entry: &Entry) -> Result<Vec<u8>> {
    let body = bincode::serialize(entry).map_err(|e| Error::Storage(e.to_string()))?;
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a stored entry, checking its checksum and that it is the entry for `index`.
pub(crate) fn decode_entry(index: u64, v: &[u8]) -> Result<Entry, String> {
    if v.len() < 4 {
        return Err(format!("log entry {index}: record of {} bytes", v.len()));
    }
    let (crc, body) = v.split_at(4);
    let stored = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let actual = crc32fast::hash(body);
    if stored != actual {
        return Err(format!(
            "log entry {index}: crc32 mismatch (stored {stored:08x}, computed {actual:08x})"
        ));
    }
    let entry: Entry =
        bincode::deserialize(body).map_err(|e| format!("log entry {index}: undecodable: {e}"))?;
    if entry.log_id.index != index {
        return Err(format!(
            "log entry {index}: holds index {}",
            entry.log_id.index
        ));
    }
    Ok(entry)
}

fn read_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::read_logs(io_err(e)).into()
}

fn write_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_logs(io_err(e)).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        use std::ops::Bound;
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let mut out = Vec::new();
        for item in self.log.range(index_key(start)..) {
            let (k, v) = item.map_err(|e| read_err(sled_err(e)))?;
            let index = decode_index(&k).ok_or_else(|| read_err("a log key is not 8 bytes"))?;
            if !range.contains(&index) {
                break;
            }
            let entry = decode_entry(index, &v).map_err(|what| {
                StorageError::from(StorageIOError::read_log_at_index(
                    index,
                    io_err(format!("{what} (data dir {})", self.dir.display())),
                ))
            })?;
            out.push(entry);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.read_meta(PURGED).map_err(read_err)?;
        let last = self.last_entry_id().map_err(read_err)?.or(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let to_err = |e: Error| StorageError::from(StorageIOError::write_vote(io_err(e)));
        self.write_meta(VOTE, vote).map_err(to_err)?;
        // The vote must be on disk before we answer anyone with it.
        self.db
            .flush_async()
            .await
            .map_err(|e| to_err(sled_err(e)))?;
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.read_meta(VOTE)
            .map_err(|e| StorageIOError::read_vote(io_err(e)).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not flushed on its own: losing it only means re-applying from an earlier point.
        self.write_meta(COMMITTED, &committed).map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self
            .read_meta::<Option<LogId>>(COMMITTED)
            .map_err(read_err)?
            .flatten())
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
        let mut batch = sled::Batch::default();
        for entry in entries {
            batch.insert(
                &index_key(entry.log_id.index),
                encode_entry(&entry).map_err(write_err)?,
            );
        }
        self.log
            .apply_batch(batch)
            .map_err(|e| write_err(sled_err(e)))?;
        self.flusher
            .send(callback)
            .await
            .map_err(|_| write_err("log flusher stopped"))?;
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Removes every entry from log_id.index on (conflicting entries of a deposed leader).
        let mut batch = sled::Batch::default();
        for item in self.log.range(index_key(log_id.index)..) {
            let (k, _) = item.map_err(|e| write_err(sled_err(e)))?;
            batch.remove(k);
        }
        self.log
            .apply_batch(batch)
            .map_err(|e| write_err(sled_err(e)))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Record the purge point first: a crash between the two steps leaves extra entries,
        // which is harmless, never a hole.
        self.write_meta(PURGED, &log_id).map_err(write_err)?;
        let mut batch = sled::Batch::default();
        for item in self.log.range(..=index_key(log_id.index)) {
            let (k, _) = item.map_err(|e| write_err(sled_err(e)))?;
            batch.remove(k);
        }
        self.log
            .apply_batch(batch)
            .map_err(|e| write_err(sled_err(e)))
    }
}
