//! Durable storage: the only module that names sled or the files of the data dir.
//!
//! - `<data-dir>/wal`: the Raft log, vote and committed index ([`wal`]).
//! - `<data-dir>/snapshots`: snapshot files ([`snapshot`]); the current one is the state
//!   machine's checkpoint, loaded at start before the log is re-applied.
//! - `<data-dir>/sled`: the snapshot catalogue and recent consistency checks ([`sm`]).
//!
//! The state machine itself is in memory (`crate::keyspace::state`): no request waits for
//! the disk except for the log's sync. Data dirs of earlier versions are migrated at start ([`migrate`]).

pub mod disk;
mod image;
mod keys;
mod migrate;
pub mod pitr;
mod restore;
mod sm;
pub mod snapshot;
mod view;
pub mod wal;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::keyspace::State;
pub use restore::Restored;
pub use sm::{KeyChanges, StateMachine};
pub use view::{Keyspace, Reading, Sampled, LOADING};
pub use wal::LogStore;

use crate::error::{Error, Result};
use disk::Disk;

/// What the store keeps in a data dir; `restore.building.tmp` is a restore in progress.
const PARTS: [&str; 4] = ["wal", "sled", "snapshots", "restore.building.tmp"];

/// sled's page cache: it holds only the catalogue now.
const SLED_CACHE_BYTES: u64 = 4 << 20;

/// How a data dir is opened.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Free space kept in reserve: writes are refused below it (see [`disk`]).
    pub disk_reserve_bytes: u64,
    /// The size of a new log segment, at most (smaller when the disk has less room).
    pub segment_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            disk_reserve_bytes: 64 << 20,
            segment_bytes: wal::SEGMENT_BYTES,
        }
    }
}

/// How long an open waits for sled's lock file, which an earlier handle in this process
/// can hold for a moment after it is dropped (sled's background threads let go of it last).
const SLED_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens the catalogue's sled database, waiting up to [`SLED_LOCK_WAIT`] for a lock that a
/// just-dropped handle still holds (a restore or a test reopens the store in-process).
fn open_sled(dir: &Path) -> Result<sled::Db> {
    let deadline = std::time::Instant::now() + SLED_LOCK_WAIT;
    loop {
        let opened = sled::Config::new()
            .path(dir.join("sled"))
            .cache_capacity(SLED_CACHE_BYTES)
            .open();
        match opened {
            // sled wraps the lock's `WouldBlock` in an error of its own; its text is all
            // that tells the two apart.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => {
                return Err(Error::Corrupt {
                    path: dir.display().to_string(),
                    what: format!("cannot open sled database: {e}"),
                })
            }
            Ok(db) => return Ok(db),
        }
    }
}

/// An opened data dir.
pub struct Store {
    pub log: LogStore,
    pub sm: StateMachine,
    pub dir: PathBuf,
    /// Whether the data dir's disk takes writes.
    pub disk: Arc<Disk>,
}

impl Store {
    /// Opens (or creates) the data dir and checks it: every log record's crc32, the
    /// contiguity of the log, and every record of the current snapshot, which is loaded. A
    /// corrupt data dir is an error naming what is wrong and where.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with(dir, Options::default())
    }

    /// [`Store::open`] of a data dir that another handle in this process (a restore's, being
    /// closed with its flusher task) may still hold locked: retries for up to two seconds.
    pub fn open_when_free(dir: &Path) -> Result<Store> {
        let mut tries = 0;
        loop {
            match Store::open(dir) {
                Ok(s) => return Ok(s),
                Err(_) if tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// [`Store::open`] with `options`.
    pub fn open_with(dir: &Path, options: Options) -> Result<Store> {
        std::fs::create_dir_all(dir)?;
        let disk = Disk::new(dir, options.disk_reserve_bytes);
        let db = open_sled(dir)?;
        let wal_dir = dir.join("wal");
        migrate::sled_log(&db, &wal_dir)?;
        let log = LogStore::open_with(&wal_dir, options.segment_bytes, disk.clone())?;
        let sm = StateMachine::open(db, dir.join("snapshots"))?;
        Ok(Store {
            log,
            sm,
            dir: dir.to_path_buf(),
            disk,
        })
    }

    /// Whether `dir` holds a store (of this version or an earlier one).
    pub fn exists_in(dir: &Path) -> bool {
        ["wal", "sled"].iter().any(|p| dir.join(p).exists())
    }

    /// Deletes everything the store keeps in `dir` (a rebuild, or a failed restore), leaving
    /// other files alone.
    pub fn wipe(dir: &Path) -> Result<()> {
        for part in PARTS {
            let path = dir.join(part);
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else if path.exists() {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(())
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
                .map(|(db, s, c)| format!("db{db} running {s:016x} computed {c:016x}"))
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
            "keyspace: matches its digest (as of the snapshot, log index {})",
            applied.map_or(0, |l| l.index)
        ));
        Ok(report)
    }
}
