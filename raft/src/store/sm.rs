//! The state machine: the in-memory state (see [`super::mem`]) behind openraft's trait, with
//! snapshots that never hold the apply path.
//!
//! - `apply` changes the state in place under its write lock, one batch at a time.
//! - A snapshot build freezes the state in O(slots) (a read lock held for that alone), then
//!   writes the file from the frozen copy while entries keep being applied.
//! - A received snapshot is checked completely, loaded into a new state off to the side, and
//!   swapped in at once; meanwhile reads answer LOADING, as a Redis replica does while it
//!   loads a full sync.
//! - At start the current snapshot is loaded; openraft re-applies the committed log after it.
//!
//! sled keeps the snapshot catalogue (which file is current, with its meta) and the recent
//! consistency-check results: small, written off the request path.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::storage::RaftStateMachine;
use openraft::{AnyError, EntryPayload, RaftSnapshotBuilder, StorageIOError};

use cairn_protocol::acl::Users;
use cairn_protocol::Reply;

use super::image::{self, Frozen};
use super::view::Keyspace;
use crate::error::{Error, Result};
use crate::keyspace;
use crate::keyspace::notify::KeyEvent;
use crate::keyspace::State;
use crate::types::{
    Entry, LogId, OpKind, ReplicatedSettings, Response, Snapshot, SnapshotMeta, StorageError,
    StoredMembership, TypeConfig,
};

const INCOMING: &str = "incoming.snap.tmp";
/// Consistency-check results a replica keeps (index, digest), newest last.
const CHECKS_KEPT: usize = 16;
/// Applied batches of keyspace events the node's publisher may fall behind by.
const KEY_EVENT_BATCHES: usize = 4096;

/// The keys one applied batch changed (with the client that said it wrote them), for
/// client-side caching's invalidations.
#[derive(Debug, Clone, Default)]
pub struct KeyChanges {
    pub keys: Vec<(bytes::Bytes, Option<crate::types::ClientOrigin>)>,
    /// Everything changed: a flush, a SWAPDB, or a snapshot installed.
    pub flushed: bool,
}
/// The sled tree of the catalogue, and its keys.
const META_TREE: &str = "meta";
const META_SNAPSHOT: &str = "snapshot";
/// The checks of digest scheme 2 (see `network::DIGEST_SCHEME`); those under `checks` were
/// of scheme 1 and are dropped when the store opens, never compared.
const META_CHECKS: &str = "checks2";
const META_CHECKS_SCHEME_1: &str = "checks";

/// The reply to a Check op: `[index, digest as 16 hex digits]`.
pub fn check_reply(index: u64, digest: u64) -> Reply {
    Reply::Array(vec![
        Reply::Integer(index as i64),
        Reply::text(format!("{digest:016x}")),
    ])
}

/// What the catalogue remembers of the current snapshot.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct CurrentSnapshot {
    pub meta: SnapshotMeta,
    pub file: String,
}

pub(super) fn sled_err(e: sled::Error) -> Error {
    Error::Storage(e.to_string())
}

fn sm_read_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::read_state_machine(AnyError::error(e)).into()
}

fn snap_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_snapshot(None, AnyError::error(e)).into()
}

pub(super) fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    bincode::serialize(v).map_err(|e| Error::Storage(e.to_string()))
}

fn read_meta<T: serde::de::DeserializeOwned>(tree: &sled::Tree, name: &str) -> Result<Option<T>> {
    match tree.get(name).map_err(sled_err)? {
        None => Ok(None),
        Some(v) => bincode::deserialize(&v)
            .map(Some)
            .map_err(|e| Error::Corrupt {
                path: "snapshot catalogue".into(),
                what: format!("{name}: {e}"),
            }),
    }
}

/// Shared by the state machine, its snapshot builders and the read side.
pub(super) struct Shared {
    pub state: RwLock<State>,
    /// Set while a received snapshot loads: reads answer LOADING.
    pub loading: AtomicBool,
    /// The dataset size as of the last applied batch.
    pub used_bytes: AtomicU64,
    db: sled::Db,
    meta: sled::Tree,
    snap_dir: PathBuf,
    /// Counts applied batches and snapshot installs: blocked clients wake on it.
    changes: tokio::sync::watch::Sender<u64>,
    /// Each applied batch's keyspace events, for the node to publish. Bounded: a publisher
    /// that falls [`KEY_EVENT_BATCHES`] batches behind loses the oldest (and says so).
    key_events: tokio::sync::broadcast::Sender<Arc<Vec<KeyEvent>>>,
    /// Whether this node's clients track keys: apply then records the keys it changes.
    tracking: AtomicBool,
    /// Each applied batch's changed keys while `tracking` (client-side caching).
    key_changes: tokio::sync::broadcast::Sender<Arc<KeyChanges>>,
    /// Mirrors of the ACL users and settings, read per command without the state lock.
    acl: RwLock<Arc<Users>>,
    settings: RwLock<Arc<ReplicatedSettings>>,
    checks: std::sync::Mutex<Vec<(u64, u64)>>,
}

impl Shared {
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while applying stops raft; the state it left is still the best answer.
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Refreshes the mirrors read outside the state lock.
    fn mirror(&self, state: &State, acl: bool, settings: bool) {
        self.used_bytes.store(state.used_bytes(), Ordering::Relaxed);
        if acl {
            let users = Arc::new(state.acl.clone());
            *self.acl.write().unwrap_or_else(|p| p.into_inner()) = users;
        }
        if settings {
            let s = Arc::new(state.settings.clone());
            *self.settings.write().unwrap_or_else(|p| p.into_inner()) = s;
        }
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Records `file` as the current snapshot, durably, and deletes older snapshot files.
    fn set_current(&self, meta: &SnapshotMeta, file: &str) -> Result<()> {
        let current = CurrentSnapshot {
            meta: meta.clone(),
            file: file.to_string(),
        };
        self.meta
            .insert(META_SNAPSHOT, encode(&current)?)
            .map_err(sled_err)?;
        self.db.flush().map_err(sled_err)?;
        for entry in std::fs::read_dir(&self.snap_dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(".snap") && name != file {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    fn current(&self) -> Result<Option<CurrentSnapshot>> {
        read_meta(&self.meta, META_SNAPSHOT)
    }
}

#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
}

impl StateMachine {
    /// Opens the state machine of a data dir: the current snapshot, checked and loaded.
    pub(super) fn open(db: sled::Db, snap_dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&snap_dir)?;
        let meta = db.open_tree(META_TREE).map_err(sled_err)?;
        super::migrate::sled_state(&db, &meta, &snap_dir)?;
        // Leftovers of a build or a transfer that a crash interrupted.
        for entry in std::fs::read_dir(&snap_dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                std::fs::remove_file(entry.path())?;
            }
        }
        meta.remove(META_CHECKS_SCHEME_1).map_err(sled_err)?;
        let checks = read_meta(&meta, META_CHECKS)?.unwrap_or_default();
        let current: Option<CurrentSnapshot> = read_meta(&meta, META_SNAPSHOT)?;
        let state = match &current {
            Some(c) => {
                let started = std::time::Instant::now();
                let state = image::load(&snap_dir.join(&c.file))?;
                tracing::info!(
                    snapshot = %c.meta.snapshot_id,
                    keys = state.dbs.iter().map(|d| d.len).sum::<u64>(),
                    load_ms = started.elapsed().as_millis() as u64,
                    "loaded the current snapshot"
                );
                state
            }
            None => State::default(),
        };
        let shared = Arc::new(Shared {
            loading: AtomicBool::new(false),
            used_bytes: AtomicU64::new(0),
            db,
            meta,
            snap_dir,
            changes: tokio::sync::watch::Sender::new(0),
            key_events: tokio::sync::broadcast::Sender::new(KEY_EVENT_BATCHES),
            tracking: AtomicBool::new(false),
            key_changes: tokio::sync::broadcast::Sender::new(KEY_EVENT_BATCHES),
            acl: RwLock::default(),
            settings: RwLock::default(),
            checks: std::sync::Mutex::new(checks),
            state: RwLock::new(State::default()),
        });
        shared.mirror(&state, true, true);
        *shared.write() = state;
        Ok(StateMachine { shared })
    }

    /// Changes each time the keyspace may have changed (a batch applied, a snapshot
    /// installed), so a blocked client can look again instead of polling.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }

    /// Keyspace events, one batch per applied batch that raised any.
    pub fn key_events(&self) -> tokio::sync::broadcast::Receiver<Arc<Vec<KeyEvent>>> {
        self.shared.key_events.subscribe()
    }

    /// Whether apply records the keys it changes for [`StateMachine::key_changes`] (set while
    /// any client of this node tracks keys).
    pub fn set_tracking(&self, on: bool) {
        self.shared.tracking.store(on, Ordering::Relaxed);
    }

    /// The keys each applied batch changed, while tracking is on; a snapshot install
    /// counts as a flush.
    pub fn key_changes(&self) -> tokio::sync::broadcast::Receiver<Arc<KeyChanges>> {
        self.shared.key_changes.subscribe()
    }

    /// The ACL users as last applied (empty: only Redis's default user, never changed).
    pub fn acl_users(&self) -> Arc<Users> {
        self.shared
            .acl
            .read()
            .map_or_else(|p| p.into_inner().clone(), |u| u.clone())
    }

    /// The settings changed through the log, as last applied (empty: none changed).
    pub fn replicated_settings(&self) -> Arc<ReplicatedSettings> {
        self.shared
            .settings
            .read()
            .map_or_else(|p| p.into_inner().clone(), |s| s.clone())
    }

    pub fn keyspace(&self) -> Keyspace {
        Keyspace {
            shared: self.shared.clone(),
        }
    }

    /// The last applied log id and membership.
    pub fn applied(&self) -> Result<(Option<LogId>, StoredMembership)> {
        let state = self.shared.read();
        Ok((state.applied, state.membership.clone()))
    }

    /// The consistency checks this replica applied: (log index, digest), oldest first.
    pub fn checks(&self) -> Result<Vec<(u64, u64)>> {
        Ok(self
            .shared
            .checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }

    /// Recomputes every database's digest from its keys and compares it with the running
    /// digest kept by `apply`: the databases that differ, as (db, running, computed).
    pub fn digest_mismatches(&self) -> Result<Vec<(u8, u64, u64)>> {
        Ok(self.shared.read().digest_mismatches())
    }

    /// Where snapshot files live.
    pub(super) fn snap_dir(&self) -> &Path {
        &self.shared.snap_dir
    }

    /// The current snapshot file, for offline verification.
    pub fn current_snapshot_file(&self) -> Result<Option<PathBuf>> {
        Ok(self
            .shared
            .current()?
            .map(|c| self.shared.snap_dir.join(c.file)))
    }

    /// Loads a restored snapshot file (already in the snapshot dir, named `file`) as the
    /// state and the current snapshot. Only for a data dir being built by a restore.
    pub(super) fn load_restored(&self, file: &str, meta: &SnapshotMeta) -> Result<()> {
        let state = image::load(&self.shared.snap_dir.join(file))?;
        self.shared.set_current(meta, file)?;
        self.shared.mirror(&state, true, true);
        *self.shared.write() = state;
        Ok(())
    }

    /// Records a consistency check's result, in memory now and in the catalogue later.
    fn note_checks(&self, new: Vec<(u64, u64)>) {
        let list = {
            let mut checks = self.shared.checks.lock().unwrap_or_else(|p| p.into_inner());
            checks.extend(new);
            let excess = checks.len().saturating_sub(CHECKS_KEPT);
            checks.drain(..excess);
            checks.clone()
        };
        let shared = self.shared.clone();
        // Off the apply path: a lost record only means one check less to compare.
        tokio::task::spawn_blocking(move || {
            let stored = encode(&list).and_then(|v| {
                shared.meta.insert(META_CHECKS, v).map_err(sled_err)?;
                Ok(())
            });
            if let Err(e) = stored {
                tracing::warn!(error = %e, "could not record consistency checks");
            }
        });
    }
}

/// Makes sure the received snapshot's bytes are on disk at `incoming`. openraft hands back the
/// file we gave it in `begin_receiving_snapshot` (then it is already there); any other handle
/// (a snapshot streamed from elsewhere) is copied.
async fn stage_incoming(mut file: tokio::fs::File, incoming: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    use tokio::io::AsyncSeekExt;
    file.sync_all().await?;
    let given = file.metadata().await?;
    let same = match tokio::fs::metadata(incoming).await {
        Ok(m) => m.dev() == given.dev() && m.ino() == given.ino(),
        Err(_) => false,
    };
    if !same {
        file.seek(std::io::SeekFrom::Start(0)).await?;
        let mut out = tokio::fs::File::create(incoming).await?;
        tokio::io::copy(&mut file, &mut out).await?;
        out.sync_all().await?;
    }
    Ok(())
}

/// A snapshot id names a file: only the characters our ids use are accepted from a peer.
fn validate_snapshot_id(id: &str) -> Result<()> {
    if !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(Error::BadMessage(format!(
            "snapshot id {id:?} is not a valid file name"
        )))
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        self.applied().map_err(sm_read_err)
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let started = std::time::Instant::now();
        let mut replies = Vec::new();
        let mut checks = Vec::new();
        let mut acl_changed = false;
        let mut settings_changed = false;
        let events = {
            let mut state = self.shared.write();
            // Events raised outside a batch (a replay at start) have nobody to go to.
            state.notify.events.clear();
            state.notify.track = self.shared.tracking.load(Ordering::Relaxed);
            state.notify.touched.clear();
            state.notify.flushed = false;
            for Entry { log_id, payload } in entries {
                let reply = match payload {
                    EntryPayload::Blank => Vec::new(),
                    EntryPayload::Normal(op) => {
                        acl_changed |= op.ops.iter().any(OpKind::changes_acl);
                        settings_changed |= op.ops.iter().any(OpKind::changes_settings);
                        let at_checks: Vec<usize> = (op.ops.iter().enumerate())
                            .filter(|(_, kind)| matches!(kind, OpKind::Check))
                            .map(|(at, _)| at)
                            .collect();
                        let index = log_id.index;
                        let mut out = keyspace::apply(&mut state, index, op).map_err(|e| {
                            StorageError::from(StorageIOError::apply(log_id, AnyError::error(e)))
                        })?;
                        for at in at_checks {
                            if let Some(reply) = out.get_mut(at) {
                                if let Reply::Integer(d) = *reply {
                                    let digest = d as u64;
                                    checks.push((index, digest));
                                    *reply = check_reply(index, digest);
                                }
                            }
                        }
                        out
                    }
                    EntryPayload::Membership(m) => {
                        state.membership = StoredMembership::new(Some(log_id), m);
                        Vec::new()
                    }
                };
                state.applied = Some(log_id);
                replies.push(Response(reply));
            }
            self.shared.mirror(&state, acl_changed, settings_changed);
            if state.notify.track && (state.notify.flushed || !state.notify.touched.is_empty()) {
                let changes = KeyChanges {
                    keys: std::mem::take(&mut state.notify.touched),
                    flushed: state.notify.flushed,
                };
                let _ = self.shared.key_changes.send(Arc::new(changes));
            }
            std::mem::take(&mut state.notify.events)
        };
        if !events.is_empty() {
            // No receiver (nobody subscribed to a node that is starting) is not an error.
            let _ = self.shared.key_events.send(Arc::new(events));
        }
        if !checks.is_empty() {
            self.note_checks(checks);
        }
        self.shared.changed();
        tracing::debug!(
            entries = replies.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "applied"
        );
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Called between applies: the frozen copy is exactly the state at `applied`.
        SnapshotBuilder {
            frozen: Some(self.shared.read().freeze()),
            shared: self.shared.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let file = tokio::fs::File::create(self.shared.snap_dir.join(INCOMING))
            .await
            .map_err(snap_err)?;
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        validate_snapshot_id(&meta.snapshot_id).map_err(snap_err)?;
        let incoming = self.shared.snap_dir.join(INCOMING);
        stage_incoming(*snapshot, &incoming)
            .await
            .map_err(snap_err)?;
        let (shared, meta) = (self.shared.clone(), meta.clone());
        tokio::task::spawn_blocking(move || -> Result<()> {
            // Refuse a damaged transfer before anything changes.
            super::snapshot::verify_file(&incoming)?;
            let file = format!("{}.snap", meta.snapshot_id);
            let path = shared.snap_dir.join(&file);
            std::fs::rename(&incoming, &path)?;
            shared.loading.store(true, Ordering::SeqCst);
            let started = std::time::Instant::now();
            let loaded = image::load(&path);
            let result = loaded.and_then(|state| {
                // Current before it serves: a crash from here on restarts from this file.
                shared.set_current(&meta, &file)?;
                shared.mirror(&state, true, true);
                let old = std::mem::replace(&mut *shared.write(), state);
                std::thread::spawn(move || drop(old));
                Ok(())
            });
            shared.loading.store(false, Ordering::SeqCst);
            result?;
            tracing::info!(
                snapshot = %meta.snapshot_id,
                load_ms = started.elapsed().as_millis() as u64,
                "installed snapshot"
            );
            Ok(())
        })
        .await
        .map_err(snap_err)?
        .map_err(snap_err)?;
        if self.shared.tracking.load(Ordering::Relaxed) {
            let flush = KeyChanges {
                keys: Vec::new(),
                flushed: true,
            };
            let _ = self.shared.key_changes.send(Arc::new(flush));
        }
        self.shared.changed();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let Some(current) = self.shared.current().map_err(sm_read_err)? else {
            return Ok(None);
        };
        let file = tokio::fs::File::open(self.shared.snap_dir.join(&current.file))
            .await
            .map_err(snap_err)?;
        Ok(Some(Snapshot {
            meta: current.meta,
            snapshot: Box::new(file),
        }))
    }
}

/// Lowers the calling thread's priority while it lives, and restores it: a snapshot build
/// takes a whole core for a while, and requests should not queue behind it (a blocking-pool
/// thread runs other tasks afterwards, so the priority must come back).
struct Nice {
    before: Option<i32>,
}

impl Nice {
    /// The niceness of a snapshot build.
    const SNAPSHOT: i32 = 10;

    fn lower() -> Nice {
        let tid = rustix::thread::gettid();
        let before = rustix::process::getpriority_process(Some(tid)).ok();
        if let Some(b) = before {
            // Best effort: without the right to change it, the build runs at normal priority.
            let _ = rustix::process::setpriority_process(Some(tid), b.max(Self::SNAPSHOT));
        }
        Nice { before }
    }
}

impl Drop for Nice {
    fn drop(&mut self) {
        if let Some(b) = self.before {
            let tid = rustix::thread::gettid();
            // Raising the priority back needs the right to; without it the thread stays nice.
            let _ = rustix::process::setpriority_process(Some(tid), b);
        }
    }
}

/// Writes one snapshot from a frozen copy of the state.
pub struct SnapshotBuilder {
    frozen: Option<Frozen>,
    shared: Arc<Shared>,
}

impl SnapshotBuilder {
    /// Deletes what a failed build left.
    fn remove_partial(&self) {
        if let Ok(dir) = std::fs::read_dir(&self.shared.snap_dir) {
            for entry in dir.flatten() {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".building.tmp")
                {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let frozen = self
            .frozen
            .take()
            .ok_or_else(|| snap_err("a snapshot builder used twice"))?;
        let shared = self.shared.clone();
        let started = std::time::Instant::now();
        let built = tokio::task::spawn_blocking(move || -> Result<(SnapshotMeta, String)> {
            let _nice = Nice::lower();
            let stamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            let snapshot_id = match frozen.applied {
                Some(id) => format!("{}-{}-{}", id.leader_id.term, id.index, stamp),
                None => format!("0-0-{stamp}"),
            };
            let file = format!("{snapshot_id}.snap");
            let tmp = shared.snap_dir.join(format!("{snapshot_id}.building.tmp"));
            frozen.write(&tmp)?;
            std::fs::rename(&tmp, shared.snap_dir.join(&file))?;
            super::wal::sync_dir(&shared.snap_dir)?;
            let meta = SnapshotMeta {
                last_log_id: frozen.applied,
                last_membership: frozen.membership.clone(),
                snapshot_id,
            };
            shared.set_current(&meta, &file)?;
            Ok((meta, file))
        })
        .await
        .map_err(snap_err)?;
        let (meta, file) = match built {
            Ok(built) => built,
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::StorageFull => {
                // The disk is full: keep the snapshot there is (the log is then purged only
                // up to it, which is safe), and try again at the next threshold. The node
                // refuses writes meanwhile (see `store::disk`).
                tracing::error!(error = %e, "no space for a new snapshot: keeping the current one");
                self.remove_partial();
                let current = self.shared.current().map_err(sm_read_err)?;
                let Some(current) = current else {
                    return Err(snap_err(e));
                };
                (current.meta, current.file)
            }
            Err(e) => {
                self.remove_partial();
                return Err(snap_err(e));
            }
        };
        let handle = tokio::fs::File::open(self.shared.snap_dir.join(&file))
            .await
            .map_err(snap_err)?;
        tracing::info!(
            snapshot = %meta.snapshot_id,
            build_ms = started.elapsed().as_millis() as u64,
            "built snapshot"
        );
        Ok(Snapshot {
            meta,
            snapshot: Box::new(handle),
        })
    }
}
