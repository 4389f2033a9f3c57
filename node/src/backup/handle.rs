//! [`Backups`]: what the backup, archive and save tasks share, and all they may touch of the
//! node: the cluster (whose turn it is, the applied index, the configuration), this node's
//! state machine (its snapshots), the read barrier (a save covers what was acknowledged) and
//! their own status. INFO and metrics read the status
//! through the same handle.

use std::sync::Arc;
use std::time::Instant;

use cairn_raft::store::StateMachine;

use super::archive::status::ArchiveStatus;
use super::status::{BackupStatus, Saves};
use crate::cluster::handle::Cluster;
use crate::cluster::read_barrier::ReadBarrier;

pub struct Backups {
    pub cluster: Arc<Cluster>,
    /// This node's state machine: backups and saves are of its snapshots.
    pub sm: StateMachine,
    /// Backups this node took (see `schedule`).
    pub status: BackupStatus,
    /// The log archive, as this node knows it (see `archive`).
    pub archive: ArchiveStatus,
    /// SAVE/BGSAVE state.
    pub saves: Saves,
    /// The node's read barrier: a save covers every write acknowledged before it.
    pub reads: Arc<ReadBarrier>,
    /// When the node started: LASTSAVE's answer before the first snapshot, as Redis's.
    pub started: Instant,
}

impl Backups {
    pub fn new(
        cluster: Arc<Cluster>,
        sm: StateMachine,
        reads: Arc<ReadBarrier>,
        started: Instant,
    ) -> Backups {
        Backups {
            cluster,
            sm,
            reads,
            status: BackupStatus::default(),
            archive: ArchiveStatus::default(),
            saves: Saves::default(),
            started,
        }
    }

    pub fn config(&self) -> &crate::config::ServeConfig {
        &self.cluster.config
    }
}
