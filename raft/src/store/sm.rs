//! The state machine on sled: applies committed entries in atomic batches, builds and
//! installs snapshots.
//!
//! Snapshot consistency: sled has no point-in-time views, so a snapshot is built while holding
//! the apply lock; applying waits for it. Loading a received snapshot is made crash-safe by
//! recording the file being installed first and finishing the load at the next start.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::storage::RaftStateMachine;
use openraft::{AnyError, EntryPayload, RaftSnapshotBuilder, StorageIOError};
use tokio::sync::Mutex;

use cairn_protocol::acl::Users;
use cairn_protocol::Reply;

use super::cache::ValueCache;
use super::keys::{self, Counter};
use super::replies::ReplyTable;
use super::snapshot::{SnapReader, SnapRecord, SnapWriter};
use super::txn::{decode_acl_users, decode_settings, sled_err, SledTxn};
use super::view::Keyspace;
use crate::error::{Error, Result};
use crate::keyspace;
use crate::types::{
    Entry, LogId, OpKind, ReplicatedSettings, Response, Snapshot, SnapshotMeta, StorageError,
    StoredMembership, TypeConfig,
};

const INCOMING: &str = "incoming.snap.tmp";
/// Consistency-check results a replica keeps (index, digest), newest last.
const CHECKS_KEPT: usize = 16;

/// The reply to a Check op: `[index, digest as 16 hex digits]`.
pub fn check_reply(index: u64, digest: u64) -> Reply {
    Reply::Array(vec![
        Reply::Integer(index as i64),
        Reply::text(format!("{digest:016x}")),
    ])
}

/// Digest mismatches (db, stored, computed) and each database's used bytes.
type DigestsAndBytes = (Vec<(u8, u64, u64)>, [u64; keyspace::DATABASES as usize]);

/// What the store remembers of its current snapshot.
#[derive(serde::Serialize, serde::Deserialize)]
struct CurrentSnapshot {
    meta: SnapshotMeta,
    file: String,
}

#[derive(Clone)]
pub struct StateMachine {
    db: sled::Db,
    tree: sled::Tree,
    snap_dir: PathBuf,
    apply_lock: Arc<Mutex<()>>,
    /// The at-most-once reply records, mirrored from the tree (see `replies`).
    replies: Arc<std::sync::Mutex<ReplyTable>>,
    /// Counts applied batches and snapshot installs: blocked clients wake on it.
    changes: Arc<tokio::sync::watch::Sender<u64>>,
    /// The ACL users as applied, mirrored from the tree: every command is checked against
    /// them, so they are read from memory.
    acl: Arc<std::sync::RwLock<Arc<Users>>>,
    /// The replicated settings as applied, mirrored from the tree (read per write command).
    settings: Arc<std::sync::RwLock<Arc<ReplicatedSettings>>>,
    /// The dataset size (sum of the `u` counters) as last committed, for the read side.
    used_bytes: Arc<AtomicU64>,
    /// Decoded hot values in front of the tree (see `cache`); every data write goes through
    /// it.
    values: Arc<ValueCache>,
    /// Held exclusively while a snapshot replaces the keyspace, which takes several sled
    /// batches: the read side ([`Keyspace::reading`]) answers LOADING meanwhile instead of
    /// serving a half-loaded keyspace.
    loading: Arc<std::sync::RwLock<()>>,
}

fn sm_read_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::read_state_machine(AnyError::error(e)).into()
}

fn sm_write_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_state_machine(AnyError::error(e)).into()
}

fn snap_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_snapshot(None, AnyError::error(e)).into()
}

pub(super) fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    bincode::serialize(v).map_err(|e| Error::Storage(e.to_string()))
}

fn read_meta<T: serde::de::DeserializeOwned>(tree: &sled::Tree, name: &str) -> Result<Option<T>> {
    match tree.get(keys::meta_key(name)).map_err(sled_err)? {
        None => Ok(None),
        Some(v) => bincode::deserialize(&v)
            .map(Some)
            .map_err(|e| Error::Corrupt {
                path: "state machine".into(),
                what: format!("metadata {name}: {e}"),
            }),
    }
}

impl StateMachine {
    pub(super) fn new(
        db: sled::Db,
        tree: sled::Tree,
        snap_dir: PathBuf,
        value_cache_bytes: u64,
    ) -> Result<Self> {
        std::fs::create_dir_all(&snap_dir)?;
        let sm = StateMachine {
            db,
            tree,
            snap_dir,
            apply_lock: Arc::new(Mutex::new(())),
            replies: Arc::default(),
            changes: Arc::new(tokio::sync::watch::Sender::new(0)),
            acl: Arc::default(),
            used_bytes: Arc::default(),
            settings: Arc::default(),
            values: Arc::new(ValueCache::new(value_cache_bytes)),
            loading: Arc::default(),
        };
        sm.finish_interrupted_install()?;
        *sm.reply_table() = ReplyTable::load(&sm.tree)?;
        sm.reload_acl()?;
        sm.reload_used_bytes()?;
        sm.reload_settings()?;
        Ok(sm)
    }

    /// The reply records; a poisoned lock still holds a table that matches the tree (it is
    /// changed only while applying, and a failed apply stops the node).
    fn reply_table(&self) -> std::sync::MutexGuard<'_, ReplyTable> {
        self.replies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes each time the keyspace may have changed (a batch applied, a snapshot
    /// installed), so a blocked client can look again instead of polling.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The ACL users as last applied (empty: only Redis's default user, never changed).
    pub fn acl_users(&self) -> Arc<Users> {
        self.acl
            .read()
            .map_or_else(|p| p.into_inner().clone(), |u| u.clone())
    }

    fn reload_acl(&self) -> Result<()> {
        let stored = self.tree.get([keys::ACL]).map_err(sled_err)?;
        let users = Arc::new(decode_acl_users(stored.as_deref())?);
        match self.acl.write() {
            Ok(mut g) => *g = users,
            Err(p) => *p.into_inner() = users,
        }
        Ok(())
    }

    /// The settings changed through the log, as last applied (empty: none changed).
    pub fn replicated_settings(&self) -> Arc<ReplicatedSettings> {
        self.settings
            .read()
            .map_or_else(|p| p.into_inner().clone(), |s| s.clone())
    }

    fn reload_settings(&self) -> Result<()> {
        let stored = self.tree.get([keys::SETTINGS]).map_err(sled_err)?;
        let settings = Arc::new(decode_settings(stored.as_deref())?);
        match self.settings.write() {
            Ok(mut g) => *g = settings,
            Err(p) => *p.into_inner() = settings,
        }
        Ok(())
    }

    /// Sums the committed `u` counters into the read side's mirror.
    fn reload_used_bytes(&self) -> Result<()> {
        let total = (0..keyspace::DATABASES).try_fold(0u64, |acc, db| {
            Ok::<_, Error>(acc.saturating_add(super::txn::stored_counter(
                &self.tree,
                Counter::Bytes,
                db,
            )?))
        })?;
        self.used_bytes.store(total, Ordering::Relaxed);
        Ok(())
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn keyspace(&self) -> Keyspace {
        Keyspace {
            tree: self.tree.clone(),
            used_bytes: self.used_bytes.clone(),
            values: self.values.clone(),
            loading: self.loading.clone(),
        }
    }

    /// The last applied log id and membership as stored.
    pub fn applied(&self) -> Result<(Option<LogId>, StoredMembership)> {
        let applied = read_meta::<Option<LogId>>(&self.tree, keys::META_APPLIED)?.flatten();
        let membership = read_meta(&self.tree, keys::META_MEMBERSHIP)?.unwrap_or_default();
        Ok((applied, membership))
    }

    /// The consistency checks this replica applied: (log index, digest), oldest first.
    pub fn checks(&self) -> Result<Vec<(u64, u64)>> {
        Ok(read_meta(&self.tree, keys::META_CHECKS)?.unwrap_or_default())
    }

    /// Recomputes every database's digest from the data and compares it with the running
    /// digest kept by `apply`: the databases that differ, as (db, stored, computed).
    pub fn digest_mismatches(&self) -> Result<Vec<(u8, u64, u64)>> {
        Ok(self.recount()?.0)
    }

    /// Recomputes every database's digest and used bytes from the data: the digests that
    /// differ from the stored ones, as (db, stored, computed), and the used bytes per db.
    fn recount(&self) -> Result<DigestsAndBytes> {
        let mut computed = [0u64; keyspace::DATABASES as usize];
        let mut bytes = [0u64; keyspace::DATABASES as usize];
        for item in self.tree.scan_prefix([keys::DATA]) {
            let (k, v) = item.map_err(sled_err)?;
            let Some((_, key)) = keys::split_data_key(&k) else {
                continue;
            };
            let db = k[1];
            if let Some(d) = computed.get_mut(usize::from(db)) {
                *d = d.wrapping_add(keyspace::entry_digest(db, key, &v));
            }
            if let Some(b) = bytes.get_mut(usize::from(db)) {
                *b = b.saturating_add(keyspace::entry_bytes(key, &v));
            }
        }
        let mut bad = Vec::new();
        for (db, d) in (0..keyspace::DATABASES).zip(computed) {
            let stored = super::txn::stored_counter(&self.tree, Counter::Digest, db)?;
            if stored != d {
                bad.push((db, stored, d));
            }
        }
        Ok((bad, bytes))
    }

    /// [`Self::digest_mismatches`], then the recomputed digests replace the stored ones, so the
    /// next consistency check compares what is really on disk with the other replicas. A
    /// difference means the data changed behind the log's back (disk corruption, an offline
    /// edit). Returns a description of the mismatch, if any.
    ///
    /// The used-bytes counters are rewritten from the data too: they are derived, and a data
    /// dir written before they existed has none.
    pub fn audit_digests(&self) -> Result<Option<String>> {
        let (bad, bytes) = self.recount()?;
        let mut batch = sled::Batch::default();
        for (db, b) in (0..keyspace::DATABASES).zip(bytes) {
            batch.insert(&keys::counter_key(Counter::Bytes, db), &b.to_be_bytes());
        }
        self.tree.apply_batch(batch).map_err(sled_err)?;
        self.reload_used_bytes()?;
        if bad.is_empty() {
            return Ok(None);
        }
        let mut batch = sled::Batch::default();
        for (db, _, computed) in &bad {
            batch.insert(
                &keys::counter_key(Counter::Digest, *db),
                &computed.to_be_bytes(),
            );
        }
        self.tree.apply_batch(batch).map_err(sled_err)?;
        let text: Vec<String> = bad
            .iter()
            .map(|(db, stored, computed)| {
                format!("db{db} stored {stored:016x} computed {computed:016x}")
            })
            .collect();
        Ok(Some(format!(
            "the keyspace does not match its digest: {}",
            text.join(", ")
        )))
    }

    /// A crash in the middle of loading a snapshot leaves the marker; load it again.
    fn finish_interrupted_install(&self) -> Result<()> {
        if let Some(file) = read_meta::<String>(&self.tree, keys::META_INSTALLING)? {
            tracing::warn!(file, "finishing an interrupted snapshot install");
            load_snapshot(&self.tree, &self.snap_dir.join(&file))?;
            self.values.clear()?;
            self.tree
                .remove(keys::meta_key(keys::META_INSTALLING))
                .map_err(sled_err)?;
            self.db.flush().map_err(sled_err)?;
        }
        Ok(())
    }

    /// Loads a restored snapshot file (already in the snapshot dir, named `file`) as the
    /// state and the current snapshot. Only for a data dir being built by a restore.
    pub(super) fn load_restored(&self, file: &str, meta: &SnapshotMeta) -> Result<()> {
        replace_with_snapshot(&self.tree, &self.snap_dir.join(file))?;
        self.values.clear()?;
        StateMachine::set_current(&self.tree, &self.snap_dir, meta, file)?;
        self.db.flush().map_err(sled_err)?;
        Ok(())
    }

    /// Where snapshot files live.
    pub(super) fn snap_dir(&self) -> &Path {
        &self.snap_dir
    }

    /// The current snapshot file, for offline verification.
    pub fn current_snapshot_file(&self) -> Result<Option<PathBuf>> {
        Ok(
            read_meta::<CurrentSnapshot>(&self.tree, keys::META_SNAPSHOT)?
                .map(|c| self.snap_dir.join(c.file)),
        )
    }

    /// Records `file` as the current snapshot and deletes older snapshot files.
    pub(super) fn set_current(
        tree: &sled::Tree,
        snap_dir: &Path,
        meta: &SnapshotMeta,
        file: &str,
    ) -> Result<()> {
        let current = CurrentSnapshot {
            meta: meta.clone(),
            file: file.to_string(),
        };
        tree.insert(keys::meta_key(keys::META_SNAPSHOT), encode(&current)?)
            .map_err(sled_err)?;
        for entry in std::fs::read_dir(snap_dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(".snap") && name != file {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }
}

/// Replaces the whole keyspace with a verified snapshot file's content. The file is checked
/// completely before anything is deleted.
pub(super) fn load_snapshot(tree: &sled::Tree, path: &Path) -> Result<()> {
    super::snapshot::verify_file(path)?;
    replace_with_snapshot(tree, path)
}

/// [`load_snapshot`] without the first full pass: for a file just written from a stream
/// whose every record was checked, into an empty tree. Records are checked again as read.
fn replace_with_snapshot(tree: &sled::Tree, path: &Path) -> Result<()> {
    let mut batch = sled::Batch::default();
    for item in tree.iter() {
        let (k, _) = item.map_err(sled_err)?;
        // Keep the "current snapshot" and "installing" records; all else is replaced.
        if k.first() != Some(&keys::META) {
            batch.remove(k);
        }
    }
    tree.apply_batch(batch).map_err(sled_err)?;

    let mut reader = SnapReader::open(path)?;
    let mut counts = [[0u64; 4]; keyspace::DATABASES as usize];
    while let Some(record) = reader.next_record()? {
        match record {
            SnapRecord::Meta {
                last_applied,
                membership,
            } => {
                let mut batch = sled::Batch::default();
                batch.insert(keys::meta_key(keys::META_APPLIED), encode(&last_applied)?);
                batch.insert(keys::meta_key(keys::META_MEMBERSHIP), encode(&membership)?);
                tree.apply_batch(batch).map_err(sled_err)?;
            }
            SnapRecord::Data(entries) => {
                let mut batch = sled::Batch::default();
                for (k, v) in entries {
                    if k.first() != Some(&keys::DATA) && keys::in_snapshot(&k) {
                        // An at-most-once record, the ACL users, a delete stamp or the
                        // replicated settings: kept as they are.
                        batch.insert(k, v);
                        continue;
                    }
                    let Some((_, key)) = keys::split_data_key(&k) else {
                        return Err(Error::Corrupt {
                            path: path.display().to_string(),
                            what: "snapshot holds a key outside the data range".into(),
                        });
                    };
                    let db = k[1];
                    let value = keyspace::StoredValue::decode(&v)?;
                    let Some(c) = counts.get_mut(usize::from(db)) else {
                        return Err(Error::Corrupt {
                            path: path.display().to_string(),
                            what: format!("snapshot holds database {db}"),
                        });
                    };
                    c[Counter::Keys as usize] += 1;
                    c[Counter::Bytes as usize] += keyspace::entry_bytes(key, &v);
                    let d = &mut c[Counter::Digest as usize];
                    *d = d.wrapping_add(keyspace::entry_digest(db, key, &v));
                    if let Some(at) = value.expire_at_ms {
                        batch.insert(keys::expiry_key(db, at, key), Vec::new());
                        c[Counter::Expires as usize] += 1;
                    }
                    batch.insert(k, v);
                }
                tree.apply_batch(batch).map_err(sled_err)?;
            }
            SnapRecord::End { .. } => {}
        }
    }
    let mut batch = sled::Batch::default();
    for (db, c) in (0..keyspace::DATABASES).zip(counts) {
        for counter in [
            Counter::Keys,
            Counter::Expires,
            Counter::Bytes,
            Counter::Digest,
        ] {
            batch.insert(
                &keys::counter_key(counter, db),
                &c[counter as usize].to_be_bytes(),
            );
        }
    }
    tree.apply_batch(batch).map_err(sled_err)?;
    Ok(())
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
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        self.applied().map_err(sm_read_err)
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let _guard = self.apply_lock.lock().await;
        let started = std::time::Instant::now();
        let replies = self.replies.clone();
        let mut table = replies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut txn = SledTxn::new(&self.tree, &mut table);
        let mut replies = Vec::new();
        let mut last = None;
        let mut checks: Option<Vec<(u64, u64)>> = None;
        let mut acl_changed = false;
        let mut settings_changed = false;
        for entry in entries {
            let reply = match &entry.payload {
                EntryPayload::Blank => Vec::new(),
                EntryPayload::Normal(op) => {
                    acl_changed |= op.ops.iter().any(OpKind::changes_acl);
                    settings_changed |= op.ops.iter().any(OpKind::changes_settings);
                    txn.set_stamp(entry.log_id.index);
                    let mut out = keyspace::apply(&mut txn, op).map_err(|e| {
                        StorageError::from(StorageIOError::apply(entry.log_id, AnyError::error(e)))
                    })?;
                    for (kind, reply) in op.ops.iter().zip(out.iter_mut()) {
                        if let (OpKind::Check, Reply::Integer(d)) = (kind, &*reply) {
                            let digest = *d as u64;
                            let index = entry.log_id.index;
                            let list = match &mut checks {
                                Some(l) => l,
                                None => checks.insert(self.checks().map_err(sm_read_err)?),
                            };
                            list.push((index, digest));
                            let excess = list.len().saturating_sub(CHECKS_KEPT);
                            list.drain(..excess);
                            *reply = check_reply(index, digest);
                        }
                    }
                    out
                }
                EntryPayload::Membership(m) => {
                    let stored = StoredMembership::new(Some(entry.log_id), m.clone());
                    txn.put_meta(
                        keys::META_MEMBERSHIP,
                        encode(&stored).map_err(sm_write_err)?,
                    );
                    Vec::new()
                }
            };
            last = Some(entry.log_id);
            replies.push(Response(reply));
        }
        if last.is_some() {
            txn.put_meta(keys::META_APPLIED, encode(&last).map_err(sm_write_err)?);
        }
        if let Some(list) = &checks {
            txn.put_meta(keys::META_CHECKS, encode(list).map_err(sm_write_err)?);
        }
        txn.commit(&self.values).map_err(sm_write_err)?;
        self.reload_used_bytes().map_err(sm_read_err)?;
        if acl_changed {
            self.reload_acl().map_err(sm_read_err)?;
        }
        if settings_changed {
            self.reload_settings().map_err(sm_read_err)?;
        }
        self.changed();
        tracing::debug!(
            entries = replies.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "applied"
        );
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let file = tokio::fs::File::create(self.snap_dir.join(INCOMING))
            .await
            .map_err(snap_err)?;
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        let incoming = self.snap_dir.join(INCOMING);
        stage_incoming(*snapshot, &incoming)
            .await
            .map_err(snap_err)?;
        let _guard = self.apply_lock.lock().await;
        let (tree, db, dir, meta, replies, values, loading) = (
            self.tree.clone(),
            self.db.clone(),
            self.snap_dir.clone(),
            meta.clone(),
            self.replies.clone(),
            self.values.clone(),
            self.loading.clone(),
        );
        validate_snapshot_id(&meta.snapshot_id).map_err(snap_err)?;
        tokio::task::spawn_blocking(move || -> Result<()> {
            // Refuse a damaged transfer before touching anything.
            super::snapshot::verify_file(&incoming)?;
            let file = format!("{}.snap", meta.snapshot_id);
            std::fs::rename(&incoming, dir.join(&file))?;
            tree.insert(keys::meta_key(keys::META_INSTALLING), encode(&file)?)
                .map_err(sled_err)?;
            db.flush().map_err(sled_err)?;
            // Waits for the reads in progress (one command run each), then turns new ones
            // away until the whole snapshot is in.
            let _loading = loading
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let started = std::time::Instant::now();
            load_snapshot(&tree, &dir.join(&file))?;
            // Loaded in several batches: forget every cached value once all are in (a read
            // holds the gate from lookup to fill, so none can put back a pre-install value).
            values.clear()?;
            StateMachine::set_current(&tree, &dir, &meta, &file)?;
            tree.remove(keys::meta_key(keys::META_INSTALLING))
                .map_err(sled_err)?;
            db.flush().map_err(sled_err)?;
            *replies
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = ReplyTable::load(&tree)?;
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
        self.reload_acl().map_err(snap_err)?;
        self.reload_settings().map_err(snap_err)?;
        self.reload_used_bytes().map_err(snap_err)?;
        self.changed();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let Some(current) =
            read_meta::<CurrentSnapshot>(&self.tree, keys::META_SNAPSHOT).map_err(sm_read_err)?
        else {
            return Ok(None);
        };
        let file = tokio::fs::File::open(self.snap_dir.join(&current.file))
            .await
            .map_err(snap_err)?;
        Ok(Some(Snapshot {
            meta: current.meta,
            snapshot: Box::new(file),
        }))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        // Held for the whole build: the snapshot must be exactly the state at `last_applied`.
        let guard = self.apply_lock.clone().lock_owned().await;
        let (tree, db, dir) = (self.tree.clone(), self.db.clone(), self.snap_dir.clone());
        let (meta, file) =
            tokio::task::spawn_blocking(move || -> Result<(SnapshotMeta, String)> {
                let _guard = guard;
                let applied = read_meta::<Option<LogId>>(&tree, keys::META_APPLIED)?.flatten();
                let membership: StoredMembership =
                    read_meta(&tree, keys::META_MEMBERSHIP)?.unwrap_or_default();
                let stamp = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0);
                let snapshot_id = match applied {
                    Some(id) => format!("{}-{}-{}", id.leader_id.term, id.index, stamp),
                    None => format!("0-0-{stamp}"),
                };
                let file = format!("{snapshot_id}.snap");
                let tmp = dir.join(format!("{snapshot_id}.building.tmp"));
                let mut w = SnapWriter::create(&tmp, applied, membership.clone())?;
                for prefix in keys::IN_SNAPSHOT {
                    for item in tree.scan_prefix([prefix]) {
                        let (k, v) = item.map_err(sled_err)?;
                        w.push(k.to_vec(), v.to_vec())?;
                    }
                }
                w.finish()?;
                std::fs::rename(&tmp, dir.join(&file))?;
                let meta = SnapshotMeta {
                    last_log_id: applied,
                    last_membership: membership,
                    snapshot_id,
                };
                StateMachine::set_current(&tree, &dir, &meta, &file)?;
                db.flush().map_err(sled_err)?;
                Ok((meta, file))
            })
            .await
            .map_err(snap_err)?
            .map_err(snap_err)?;
        let handle = tokio::fs::File::open(self.snap_dir.join(&file))
            .await
            .map_err(snap_err)?;
        tracing::info!(snapshot = %meta.snapshot_id, "built snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(handle),
        })
    }
}
