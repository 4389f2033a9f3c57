//! The log's durability and integrity: what is appended, voted, truncated and purged comes
//! back after a reopen; a torn last record is cut; any other damage is named.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::{CommittedLeaderId, EntryPayload, LogId, RaftLogReader};

use super::*;
use crate::types::WriteOp;

fn log_id(term: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn entry(term: u64, index: u64, bytes: usize) -> Entry {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(WriteOp {
            now_ms: index,
            ops: vec![crate::types::OpKind::Config(vec![(
                "k".into(),
                "x".repeat(bytes),
            )])],
        }),
    }
}

fn disk(dir: &Path) -> Arc<Disk> {
    Disk::new(dir, 0)
}

/// Appends and waits until the entries are durable.
async fn append(log: &mut LogStore, entries: Vec<Entry>) {
    log.blocking_append(entries).await.unwrap();
}

async fn indexes(log: &mut LogStore) -> Vec<u64> {
    log.try_get_log_entries(..)
        .await
        .unwrap()
        .iter()
        .map(|e| e.log_id.index)
        .collect()
}

#[tokio::test]
async fn appends_votes_and_commits_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open(dir.path(), disk(dir.path())).unwrap();
        assert!(log.is_fresh());
        log.save_vote(&Vote::new(3, 2)).await.unwrap();
        append(&mut log, (0..10).map(|i| entry(3, i, 10)).collect()).await;
        log.save_committed(Some(log_id(3, 7))).await.unwrap();
        append(&mut log, vec![entry(3, 10, 10)]).await;
    }
    let mut log = LogStore::open(dir.path(), disk(dir.path())).unwrap();
    assert_eq!(log.read_vote().await.unwrap(), Some(Vote::new(3, 2)));
    assert_eq!(log.read_committed().await.unwrap(), Some(log_id(3, 7)));
    assert_eq!(indexes(&mut log).await, (0..=10).collect::<Vec<_>>());
    let got = log.try_get_log_entries(4..6).await.unwrap();
    assert_eq!(got, vec![entry(3, 4, 10), entry(3, 5, 10)]);
}

#[tokio::test]
async fn truncation_and_purge_survive_a_reopen_and_segments_go() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open_with(dir.path(), 64 << 10, disk(dir.path())).unwrap();
        // About 1 KiB each: 200 entries roll several 64 KiB segments.
        append(&mut log, (0..200).map(|i| entry(1, i, 1000)).collect()).await;
        log.truncate(log_id(1, 150)).await.unwrap();
        append(&mut log, (150..180).map(|i| entry(2, i, 1000)).collect()).await;
        let before = segment::list(dir.path()).unwrap().len();
        assert!(before > 3, "{before} segments");
        log.purge(log_id(1, 120)).await.unwrap();
        // The purge's segment deletion happens with the next sync, after its callbacks.
        append(&mut log, vec![entry(2, 180, 10)]).await;
        let mut after = segment::list(dir.path()).unwrap().len();
        for _ in 0..100 {
            if after < before {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            after = segment::list(dir.path()).unwrap().len();
        }
        assert!(
            after < before,
            "{before} segments before the purge, {after} after"
        );
        log.close();
    }
    let mut log = LogStore::open_with(dir.path(), 64 << 10, disk(dir.path())).unwrap();
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 120)));
    assert_eq!(state.last_log_id, Some(log_id(2, 180)));
    assert_eq!(indexes(&mut log).await, (121..=180).collect::<Vec<_>>());
    let e = log.try_get_log_entries(160..161).await.unwrap();
    assert_eq!(e, vec![entry(2, 160, 1000)]);
}

#[tokio::test]
async fn entries_out_of_the_cache_are_read_back_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::open(dir.path(), disk(dir.path())).unwrap();
    // 40 MiB of entries: more than the cache holds.
    let n = (CACHE_BYTES / (1 << 20)) as u64 + 8;
    for i in 0..n {
        append(&mut log, vec![entry(1, i, 1 << 20)]).await;
    }
    // One more append lets the cache drop what has been written.
    append(&mut log, vec![entry(1, n, 10)]).await;
    assert!(log.lock().slot(0).unwrap().entry.is_none());
    let got = log.try_get_log_entries(0..2).await.unwrap();
    assert_eq!(got, vec![entry(1, 0, 1 << 20), entry(1, 1, 1 << 20)]);
}

/// The segment holding the entries, and each record's (offset, length) there.
fn records(dir: &Path) -> (PathBuf, BTreeMap<u64, (u64, u32)>) {
    let (seq, path) = segment::list(dir).unwrap().pop().unwrap();
    let buf = segment::read(&path, seq).unwrap();
    let mut at = segment::HEADER_BYTES as usize;
    let mut out = BTreeMap::new();
    while let record::Found::Record { kind, next, .. } = record::read_at(&buf, at) {
        if kind == Kind::Entry {
            out.insert(out.len() as u64, (at as u64, (next - at) as u32));
        }
        at = next;
    }
    (path, out)
}

#[tokio::test]
async fn a_torn_last_record_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open(dir.path(), disk(dir.path())).unwrap();
        append(&mut log, (0..5).map(|i| entry(1, i, 100)).collect()).await;
    }
    // The last record half written: its second half never reached the disk.
    let (path, recs) = records(dir.path());
    let (offset, len) = recs[&4];
    segment::zero_range(&path, offset + u64::from(len) / 2, offset + u64::from(len)).unwrap();
    let mut log = LogStore::open(dir.path(), disk(dir.path())).unwrap();
    assert_eq!(indexes(&mut log).await, vec![0, 1, 2, 3]);
    // Appending goes on where the valid records end.
    append(&mut log, vec![entry(1, 4, 7)]).await;
    drop(log);
    let mut log = LogStore::open(dir.path(), disk(dir.path())).unwrap();
    assert_eq!(indexes(&mut log).await, vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn damage_before_the_end_refuses_to_open_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open(dir.path(), disk(dir.path())).unwrap();
        append(&mut log, (0..5).map(|i| entry(1, i, 100)).collect()).await;
    }
    let (path, recs) = records(dir.path());
    let (offset, _) = recs[&2];
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all_at(&[0x5a], offset + 20).unwrap();
    let err = LogStore::open(dir.path(), disk(dir.path()))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains(&format!("offset {offset}")), "{err}");
    assert!(err.contains("crc32"), "{err}");
}

#[tokio::test]
async fn a_flipped_byte_in_an_evicted_entry_is_an_error_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::open(dir.path(), disk(dir.path())).unwrap();
    let n = (CACHE_BYTES / (1 << 20)) as u64 + 8;
    for i in 0..n {
        append(&mut log, vec![entry(1, i, 1 << 20)]).await;
    }
    append(&mut log, vec![entry(1, n, 10)]).await;
    let (path, recs) = records(dir.path());
    let (offset, _) = recs[&1];
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all_at(&[0xa5], offset + 4096).unwrap();
    let err = log
        .try_get_log_entries(1..2)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("crc32"), "{err}");
}

/// A crash in the middle of a segment roll leaves a temporary file (deleted at start) or a
/// complete empty segment (appended to next): either way the log reopens whole.
#[tokio::test]
async fn a_roll_cut_short_by_a_crash_leaves_a_whole_log() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open(dir.path(), disk(dir.path())).unwrap();
        append(&mut log, (0..5).map(|i| entry(1, i, 100)).collect()).await;
    }
    // Segment 2 made complete but empty, and killed while creating segment 3 (before its
    // rename).
    segment::create(dir.path(), 2, 1 << 20).unwrap();
    std::fs::write(dir.path().join("00000000000000000003.wal.tmp"), [1u8; 100]).unwrap();
    {
        let mut log = LogStore::open(dir.path(), disk(dir.path())).unwrap();
        assert_eq!(indexes(&mut log).await, (0..5).collect::<Vec<_>>());
        assert!(!dir.path().join("00000000000000000003.wal.tmp").exists());
        append(&mut log, vec![entry(1, 5, 100)]).await;
    }
    let mut log = LogStore::open(dir.path(), disk(dir.path())).unwrap();
    assert_eq!(indexes(&mut log).await, (0..6).collect::<Vec<_>>());
}
