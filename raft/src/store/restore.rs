//! Building a data dir from a snapshot stream: the last step of restoring a backup.
//!
//! The stream is a snapshot in the usual format (see [`super::snapshot`]) taken from another
//! cluster. Its data is kept as it is, at the same log id, but its membership is replaced by
//! the new cluster's, so the restored nodes elect a leader among themselves. The vote is set
//! to the snapshot's term: a node's next election must be for a later term than the last
//! entry it holds, and openraft purges the (empty) log up to the snapshot on start.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use openraft::{Membership, SnapshotMeta};

use super::snapshot::{SnapReader, SnapRecord, SnapWriter};
use super::wal::import::{self, Initial};
use super::Store;
use crate::error::{Error, Result};
use crate::types::{LogId, NodeId, NodeInfo, StoredMembership, Vote};

/// Beside the snapshot dir, not in it: opening the store clears that dir's temporary files.
const BUILDING: &str = "restore.building.tmp";

/// What a restore put in the data dir.
#[derive(Debug, Clone)]
pub struct Restored {
    pub last_applied: Option<LogId>,
    /// State-machine entries loaded (keys, plus at-most-once and ACL records).
    pub entries: u64,
}

impl Store {
    /// Builds `dir`, which must hold no database yet, from the snapshot read from `source` (checked
    /// record by record, every crc32 and the final counts) as node `me` of the cluster
    /// `members`. Nothing is loaded unless the whole stream checks out. Must be called inside
    /// a tokio runtime (opening a store starts the log flusher).
    pub fn restore(
        dir: &Path,
        source: impl Read,
        members: &BTreeMap<NodeId, NodeInfo>,
        me: NodeId,
    ) -> Result<Restored> {
        if !members.contains_key(&me) {
            return Err(Error::Storage(format!(
                "node {me} is not in the new cluster's members"
            )));
        }
        if Store::exists_in(dir) {
            return Err(Error::Storage(format!(
                "{} already holds a database: restore only into a new or empty data dir",
                dir.display()
            )));
        }
        let snap_dir = dir.join("snapshots");
        std::fs::create_dir_all(&snap_dir)?;
        let building = dir.join(BUILDING);
        let (last_applied, membership, entries) = rewrite(source, &building, members)?;
        // The log starts empty, with the vote at the snapshot's term.
        let vote = last_applied.map(|id| Vote::new(id.leader_id.term, me));
        import::write(
            &dir.join("wal"),
            Initial {
                vote,
                committed: None,
                purged: None,
                entries: std::iter::empty(),
            },
        )?;
        let store = Store::open(dir)?;
        let snapshot_id = match last_applied {
            Some(id) => format!("{}-{}-restored", id.leader_id.term, id.index),
            None => "0-0-restored".to_string(),
        };
        let file = format!("{snapshot_id}.snap");
        std::fs::rename(&building, store.sm.snap_dir().join(&file))?;
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id,
        };
        store.sm.load_restored(&file, &meta)?;
        Ok(Restored {
            last_applied,
            entries,
        })
    }
}

/// Copies the snapshot from `source` to the file `to`, with the new membership in its meta
/// record. Returns the log id, the new membership and the number of entries.
fn rewrite(
    source: impl Read,
    to: &Path,
    members: &BTreeMap<NodeId, NodeInfo>,
) -> Result<(Option<LogId>, StoredMembership, u64)> {
    let mut reader = SnapReader::new(source, "backup stream".into())?;
    let mut writer: Option<(SnapWriter, Option<LogId>, StoredMembership)> = None;
    while let Some(record) = reader.next_record()? {
        match (record, writer.as_mut()) {
            (SnapRecord::Meta { last_applied, .. }, None) => {
                let voters: BTreeSet<NodeId> = members.keys().copied().collect();
                let membership = StoredMembership::new(
                    last_applied,
                    Membership::new(vec![voters], members.clone()),
                );
                let w = SnapWriter::create(to, last_applied, membership.clone())?;
                writer = Some((w, last_applied, membership));
            }
            (SnapRecord::Data(entries), Some((w, _, _))) => {
                for (k, v) in entries {
                    w.push(k, v)?;
                }
            }
            (SnapRecord::End { .. }, Some(_)) => {}
            _ => {
                return Err(Error::Corrupt {
                    path: "backup stream".into(),
                    what: "snapshot records out of order".into(),
                })
            }
        }
    }
    let Some((w, last_applied, membership)) = writer else {
        return Err(Error::Corrupt {
            path: "backup stream".into(),
            what: "no snapshot meta record".into(),
        });
    };
    w.finish()?;
    Ok((last_applied, membership, reader.entries()))
}
