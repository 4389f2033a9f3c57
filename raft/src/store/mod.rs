//! Durable storage: the only module that names sled or the files of the data dir.
//!
//! - `<data-dir>/wal`: the Raft log, vote and committed index ([`wal`]).
//! - `<data-dir>/sled`: one sled database whose `sm` tree holds the state machine (see
//!   [`keys`]).
//! - `<data-dir>/snapshots`: snapshot files.
//!
//! A data dir written before the segmented log kept the log in sled's `log` and `raft`
//! trees; it is migrated at the first start (see [`migrate`]).

mod cache;
mod keys;
mod migrate;
mod replies;
mod restore;
mod sm;
pub mod snapshot;
mod txn;
mod view;
pub mod wal;

use std::path::{Path, PathBuf};

pub use restore::Restored;
pub use sm::StateMachine;
pub use view::{Keyspace, Sampled, LOADING};
pub use wal::LogStore;

use crate::error::{Error, Result};
use txn::sled_err;

/// The hot-value cache of a store opened without a size (tools and tests).
pub const DEFAULT_VALUE_CACHE_BYTES: u64 = 8 << 20;

/// An opened data dir.
pub struct Store {
    pub log: LogStore,
    pub sm: StateMachine,
    pub dir: PathBuf,
    db: sled::Db,
}

impl Store {
    /// Opens (or creates) the data dir and checks it: every log entry's crc32, the contiguity
    /// of the log, and every record of the current snapshot. A corrupt data dir is an error naming what is wrong and where.
    /// Must be called inside a tokio runtime (the log flusher is a task).
    /// Opens (or creates) the store with a sled page cache of `cache_bytes` and a small
    /// hot-value cache; see [`Store::open_with`].
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store> {
        Store::open_with(dir, cache_bytes, DEFAULT_VALUE_CACHE_BYTES)
    }

    /// Opens the store with a hot-value cache of `value_cache_bytes` (0: none) in front of
    /// the keyspace.
    pub fn open_with(dir: &Path, cache_bytes: u64, value_cache_bytes: u64) -> Result<Store> {
        std::fs::create_dir_all(dir)?;
        let db = sled::Config::new()
            .path(dir.join("sled"))
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|e| Error::Corrupt {
                path: dir.display().to_string(),
                what: format!("cannot open sled database: {e}"),
            })?;
        let sm_tree = db.open_tree("sm").map_err(sled_err)?;
        let wal_dir = dir.join("wal");
        migrate::sled_log(&db, &wal_dir)?;
        let log = LogStore::open(&wal_dir)?;
        let sm = StateMachine::new(
            db.clone(),
            sm_tree,
            dir.join("snapshots"),
            value_cache_bytes,
        )?;
        // The current snapshot is what lagging followers get: a damaged one must not be sent.
        if let Some(file) = sm.current_snapshot_file()? {
            snapshot::verify_file(&file)?;
        }
        Ok(Store {
            log,
            sm,
            dir: dir.to_path_buf(),
            db,
        })
    }

    /// Whether this data dir has never been part of a cluster (no vote, no log, nothing applied).
    pub fn is_fresh(&self) -> Result<bool> {
        Ok(self.log.is_fresh() && self.sm.applied()?.0.is_none())
    }

    /// Offline verification (`cairn verify`): every check `open` makes (log crc32s and
    /// contiguity, the current snapshot's records) plus the keyspace against its digest,
    /// without changing anything. Lines describing what was checked; `Err` on any fault.
    pub fn verify_offline(&self) -> Result<Vec<String>> {
        let mut report = Vec::new();
        // Opening the log checked every record.
        let entries = self.log.entries();
        report.push(format!(
            "log: {entries} entries, every crc32 matches, no gaps"
        ));
        match self.sm.current_snapshot_file()? {
            Some(file) => {
                let (records, keys) = snapshot::verify_file(&file)?;
                report.push(format!(
                    "snapshot {}: {records} records, {keys} keys, every crc32 matches",
                    file.display()
                ));
            }
            None => report.push("snapshot: none yet".into()),
        }
        let bad = self.sm.digest_mismatches()?;
        if !bad.is_empty() {
            let text: Vec<String> = bad
                .iter()
                .map(|(db, s, c)| format!("db{db} stored {s:016x} computed {c:016x}"))
                .collect();
            return Err(Error::Corrupt {
                path: self.dir.display().to_string(),
                what: format!(
                    "the keyspace does not match its digest: {}",
                    text.join(", ")
                ),
            });
        }
        let (applied, _) = self.sm.applied()?;
        report.push(format!(
            "keyspace: matches its digest (applied up to log index {})",
            applied.map_or(0, |l| l.index)
        ));
        Ok(report)
    }

    /// Bytes sled uses on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}
