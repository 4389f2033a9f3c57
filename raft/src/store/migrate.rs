//! Migrating a data dir written by an earlier version.
//!
//! Before the segmented log, the Raft log lived in sled: the `log` tree (big-endian index →
//! `crc32 (BE) ‖ bincode(entry)`) and the `raft` tree (`vote`, `committed`, `purged`, bincode).
//! At the first start of this version they are copied, every crc32 checked, into a new
//! segmented log, which is renamed into place only when complete; then the trees are dropped.
//!
//! Before the in-memory state machine, the state lived in sled's `sm` tree. Nothing of it
//! needs copying: the current snapshot file is in the same format, and the log still holds
//! every entry after it (the log is purged only behind a snapshot), so loading that snapshot
//! and re-applying the log rebuilds the state. Only the catalogue moves (the current
//! snapshot's record and the recent checks); then the tree is dropped.

use std::path::Path;

use super::sm::sled_err;
use super::wal::import::{self, Initial};
use crate::error::{Error, Result};
use crate::types::{Entry, LogId, Vote};

const OLD_LOG: &str = "log";
const OLD_META: &str = "raft";
const OLD_SM: &str = "sm";
/// The old `sm` tree's metadata prefix and names.
const OLD_SM_META: u8 = b'm';

fn corrupt(what: impl Into<String>) -> Error {
    Error::Corrupt {
        path: "sled log (before migration)".into(),
        what: what.into(),
    }
}

fn meta<T: serde::de::DeserializeOwned>(tree: &sled::Tree, key: &[u8]) -> Result<Option<T>> {
    match tree.get(key).map_err(sled_err)? {
        None => Ok(None),
        Some(v) => bincode::deserialize(&v)
            .map(Some)
            .map_err(|e| corrupt(format!("{}: {e}", String::from_utf8_lossy(key)))),
    }
}

/// One stored entry of the old log, its checksum and index checked.
fn old_entry(key: &[u8], value: &[u8]) -> Result<Entry> {
    let index = u64::from_be_bytes(
        key.try_into()
            .map_err(|_| corrupt("a log key is not 8 bytes"))?,
    );
    let (crc, body) = value
        .split_at_checked(4)
        .ok_or_else(|| corrupt(format!("log entry {index}: record too short")))?;
    let stored = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if stored != crc32fast::hash(body) {
        return Err(corrupt(format!("log entry {index}: crc32 mismatch")));
    }
    let entry: Entry = bincode::deserialize(body)
        .map_err(|e| corrupt(format!("log entry {index}: undecodable: {e}")))?;
    if entry.log_id.index != index {
        return Err(corrupt(format!("log entry {index}: holds another index")));
    }
    Ok(entry)
}

/// Creates the segmented log at `wal_dir` from sled's trees unless it exists, then drops the
/// old trees. A fresh data dir gets an empty log.
pub fn sled_log(db: &sled::Db, wal_dir: &Path) -> Result<()> {
    if !wal_dir.exists() {
        let log = db.open_tree(OLD_LOG).map_err(sled_err)?;
        let raft = db.open_tree(OLD_META).map_err(sled_err)?;
        let vote: Option<Vote> = meta(&raft, b"vote")?;
        let committed: Option<LogId> = meta::<Option<LogId>>(&raft, b"committed")?.flatten();
        let purged: Option<LogId> = meta(&raft, b"purged")?;
        let entries = log.len();
        if entries > 0 || vote.is_some() {
            tracing::info!(entries, "migrating the Raft log from sled to segment files");
        }
        let iter = log.iter().map(|item| {
            let (k, v) = item.map_err(sled_err)?;
            old_entry(&k, &v)
        });
        import::write(
            wal_dir,
            Initial {
                vote,
                committed,
                purged,
                entries: iter,
            },
        )?;
    }
    for tree in [OLD_LOG, OLD_META] {
        if db.drop_tree(tree).map_err(sled_err)? {
            db.flush().map_err(sled_err)?;
        }
    }
    Ok(())
}

fn old_sm_key(name: &str) -> Vec<u8> {
    let mut k = vec![OLD_SM_META];
    k.extend_from_slice(name.as_bytes());
    k
}

/// Moves the snapshot catalogue out of the old `sm` tree into `meta`, then drops the tree.
pub fn sled_state(db: &sled::Db, meta: &sled::Tree, snap_dir: &Path) -> Result<()> {
    if !db
        .tree_names()
        .iter()
        .any(|n| n.as_ref() == OLD_SM.as_bytes())
    {
        return Ok(());
    }
    let sm = db.open_tree(OLD_SM).map_err(sled_err)?;
    if !sm.is_empty() {
        tracing::info!("migrating the state machine's catalogue out of sled");
    }
    let installing: Option<String> = match sm.get(old_sm_key("installing")).map_err(sled_err)? {
        Some(v) => Some(
            bincode::deserialize(&v)
                .map_err(|e| corrupt(format!("the interrupted install's marker: {e}")))?,
        ),
        None => None,
    };
    if let Some(file) = installing {
        // An install that a crash interrupted: that file, checked completely already, is
        // what the old version would have finished loading.
        let mut reader = super::snapshot::SnapReader::open(&snap_dir.join(&file))?;
        if let Some(super::snapshot::SnapRecord::Meta {
            last_applied,
            membership,
        }) = reader.next_record()?
        {
            let current = super::sm::CurrentSnapshot {
                meta: crate::types::SnapshotMeta {
                    last_log_id: last_applied,
                    last_membership: membership,
                    snapshot_id: file.trim_end_matches(".snap").to_string(),
                },
                file,
            };
            meta.insert("snapshot", super::sm::encode(&current)?)
                .map_err(sled_err)?;
        }
    } else if let Some(v) = sm.get(old_sm_key("snapshot")).map_err(sled_err)? {
        meta.insert("snapshot", v).map_err(sled_err)?;
    }
    if let Some(v) = sm.get(old_sm_key("checks")).map_err(sled_err)? {
        meta.insert("checks", v).map_err(sled_err)?;
    }
    db.flush().map_err(sled_err)?;
    db.drop_tree(OLD_SM).map_err(sled_err)?;
    db.flush().map_err(sled_err)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use openraft::storage::RaftLogStorage;
    use openraft::{CommittedLeaderId, EntryPayload, RaftLogReader};

    use super::*;
    use crate::store::Store;

    fn entry(index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(2, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    /// A data dir as the sled-log version left it: entries 5..=9 after a purge at 4, a vote,
    /// a committed index.
    fn write_old_layout(dir: &Path) {
        let db = crate::store::open_sled(dir).unwrap();
        let log = db.open_tree(OLD_LOG).unwrap();
        for i in 5..10 {
            let body = bincode::serialize(&entry(i)).unwrap();
            let mut v = crc32fast::hash(&body).to_be_bytes().to_vec();
            v.extend_from_slice(&body);
            log.insert(i.to_be_bytes(), v).unwrap();
        }
        let raft = db.open_tree(OLD_META).unwrap();
        let vote = bincode::serialize(&Vote::new(2, 1)).unwrap();
        let committed = bincode::serialize(&Some(entry(8).log_id)).unwrap();
        let purged = bincode::serialize(&entry(4).log_id).unwrap();
        raft.insert(b"vote", vote).unwrap();
        raft.insert(b"committed", committed).unwrap();
        raft.insert(b"purged", purged).unwrap();
        db.flush().unwrap();
    }

    #[tokio::test]
    async fn a_sled_log_is_migrated_once_and_completely() {
        let dir = tempfile::tempdir().unwrap();
        write_old_layout(dir.path());
        {
            let mut store = Store::open(dir.path()).unwrap();
            let state = store.log.get_log_state().await.unwrap();
            assert_eq!(state.last_purged_log_id, Some(entry(4).log_id));
            assert_eq!(state.last_log_id, Some(entry(9).log_id));
            assert_eq!(store.log.read_vote().await.unwrap(), Some(Vote::new(2, 1)));
            assert_eq!(
                store.log.read_committed().await.unwrap(),
                Some(entry(8).log_id)
            );
            let entries = store.log.try_get_log_entries(..).await.unwrap();
            assert_eq!(entries, (5..10).map(entry).collect::<Vec<_>>());
        }
        // The old trees are gone; a second start reads the segmented log alone.
        let db = crate::store::open_sled(dir.path()).unwrap();
        assert!(!db.tree_names().iter().any(|n| n == OLD_LOG.as_bytes()));
        drop(db);
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.log.entries(), 5);
        assert_eq!(store.log.read_vote().await.unwrap(), Some(Vote::new(2, 1)));
    }

    #[tokio::test]
    async fn a_damaged_sled_log_is_refused_not_half_migrated() {
        let dir = tempfile::tempdir().unwrap();
        write_old_layout(dir.path());
        {
            let db = crate::store::open_sled(dir.path()).unwrap();
            let log = db.open_tree(OLD_LOG).unwrap();
            let mut v = log.get(7u64.to_be_bytes()).unwrap().unwrap().to_vec();
            let last = v.len() - 1;
            v[last] ^= 1;
            log.insert(7u64.to_be_bytes(), v).unwrap();
            db.flush().unwrap();
        }
        let err = Store::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("log entry 7: crc32 mismatch"), "{err}");
        assert!(!dir.path().join("wal").exists());
    }
}
