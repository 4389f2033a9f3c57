//! Point-in-time restore: archived log entries applied on top of a restored snapshot.
//!
//! The log archive (the node's `backup::archive`) ships committed entries as they are in the
//! log; this module owns their encoding in archive segments and their replay. A restore
//! first builds a data dir from a backup (`Store::restore`), then applies the archived
//! entries that follow it exactly as the cluster applied them (the same `apply`, the same
//! log indexes and stamps, so scripts draw the same numbers and TTLs expire alike), and
//! writes a snapshot of the result: a data dir holding the state the cluster had at the
//! target index.

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::EntryPayload;

use super::Store;
use crate::error::{Error, Result};
use crate::types::{Entry, LogId};

/// Serializes entries for an archive segment (the log's own entry encoding).
pub fn encode_entries(entries: &[Entry]) -> Result<Vec<u8>> {
    bincode::serialize(entries).map_err(|e| Error::Storage(format!("encoding entries: {e}")))
}

/// The bytes [`encode_entries`] takes for one entry (about: plus a length prefix per call).
pub fn encoded_size(entry: &Entry) -> u64 {
    bincode::serialized_size(entry).unwrap_or(u64::MAX)
}

/// Reads back what [`encode_entries`] wrote; `what` names the source in errors.
pub fn decode_entries(bytes: &[u8], what: &str) -> Result<Vec<Entry>> {
    bincode::deserialize(bytes).map_err(|e| Error::Corrupt {
        path: what.to_string(),
        what: format!("archived entries do not decode: {e}"),
    })
}

/// The stamp (leader's wall clock, unix ms) of an entry that carries one: client writes,
/// expiry, checks. Blank and membership entries carry none.
pub fn entry_stamp(entry: &Entry) -> Option<u64> {
    match &entry.payload {
        EntryPayload::Normal(op) => Some(op.now_ms),
        _ => None,
    }
}

impl Store {
    /// The last log id applied to this store's state.
    pub fn last_applied(&self) -> Result<Option<LogId>> {
        Ok(self.sm.applied()?.0)
    }

    /// Applies archived `entries`, which must follow the state's last applied index without a
    /// gap, as the cluster applied them. Membership changes are applied as blank entries: a
    /// restored cluster keeps the membership it was restored with.
    pub async fn apply_archived(&self, entries: Vec<Entry>) -> Result<()> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let next = self.last_applied()?.map_or(0, |l| l.index + 1);
        if first.log_id.index != next {
            return Err(Error::Storage(format!(
                "archived entries start at index {}, the state needs {next} next",
                first.log_id.index
            )));
        }
        if let Some(pair) = entries
            .windows(2)
            .find(|w| w[1].log_id.index != w[0].log_id.index + 1)
        {
            return Err(Error::Storage(format!(
                "archived entries jump from index {} to {}",
                pair[0].log_id.index, pair[1].log_id.index
            )));
        }
        let entries = entries.into_iter().map(|mut e| {
            if matches!(e.payload, EntryPayload::Membership(_)) {
                e.payload = EntryPayload::Blank;
            }
            e
        });
        let mut sm = self.sm.clone();
        sm.apply(entries)
            .await
            .map_err(|e| Error::Storage(format!("applying archived entries: {e}")))?;
        Ok(())
    }

    /// Writes a snapshot of the state as it is now and makes it the current one; its file.
    pub async fn snapshot_now(&self) -> Result<std::path::PathBuf> {
        let mut sm = self.sm.clone();
        let mut builder = sm.get_snapshot_builder().await;
        builder
            .build_snapshot()
            .await
            .map_err(|e| Error::Storage(format!("building a snapshot: {e}")))?;
        self.sm
            .current_snapshot_file()?
            .ok_or_else(|| Error::Storage("no snapshot after building one".into()))
    }
}
