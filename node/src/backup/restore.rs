//! Restoring a backup: parts downloaded and checked (size, crc32, authentication when
//! encrypted), decompressed, and fed as one stream to `Store::restore`, which checks every
//! snapshot record again and builds the data dir. Parts are fetched a few at a time, in
//! order, through a bounded channel: memory stays at a few parts.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{bail, Context};
use bytes::{Buf, Bytes};
use cairn_raft::store::{Restored, Store};
use cairn_raft::types::{NodeId, NodeInfo};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::create::Progress;
use super::dest::Destination;
use super::manifest::Manifest;
use super::seal::{self, Key};
use super::PARTS_IN_FLIGHT;

/// Where a restore goes: a new data dir for node `me` of the cluster `members`.
pub struct Target {
    pub dir: PathBuf,
    pub members: BTreeMap<NodeId, NodeInfo>,
    pub me: NodeId,
}

/// Restores the backup `m` from `dest` into `target`. On failure nothing is left in the
/// data dir that a node would start from.
pub async fn restore(
    dest: &Destination,
    m: &Manifest,
    key: Option<&Key>,
    target: Target,
    progress: Arc<Progress>,
) -> anyhow::Result<Restored> {
    seal::check_key(m.encryption.as_ref(), key)?;
    if Store::exists_in(&target.dir) {
        bail!(
            "{} already holds a database: restore only into a new or empty data dir",
            target.dir.display()
        );
    }
    progress.total.store(m.snapshot_bytes, Ordering::Relaxed);
    progress.done.store(0, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel::<anyhow::Result<Bytes>>(2);
    let (expected_bytes, expected_crc) = (m.snapshot_bytes, m.snapshot_crc32);
    let dir = target.dir.clone();
    let counter = progress.clone();
    let loader = tokio::task::spawn_blocking(move || -> anyhow::Result<Restored> {
        let input = ChannelReader {
            rx,
            current: Bytes::new(),
        };
        let mut tee = Tee {
            inner: zstd::stream::read::Decoder::new(input)?,
            hasher: crc32fast::Hasher::new(),
            bytes: 0,
            progress: counter,
        };
        let restored = Store::restore(&target.dir, &mut tee, &target.members, target.me)?;
        // The snapshot reader stops at its end record; anything after it is damage too.
        let mut rest = Vec::new();
        tee.read_to_end(&mut rest)?;
        if !rest.is_empty() || tee.bytes != expected_bytes {
            bail!(
                "the backup holds {} snapshot bytes, its manifest says {expected_bytes}",
                tee.bytes
            );
        }
        if tee.hasher.clone().finalize() != expected_crc {
            bail!("the restored snapshot's crc32 does not match the manifest");
        }
        Ok(restored)
    });

    // The stream owns what it uses: a future borrowing across `buffered` is not `Send`
    // enough for a spawned task.
    let (key, owned_dest, id) = (key.cloned(), dest.clone(), m.id.clone());
    let encrypted = m.encryption.is_some();
    let mut parts = futures::stream::iter(m.parts.clone().into_iter().enumerate())
        .map(move |(n, part)| {
            let (key, dest, id) = (key.clone(), owned_dest.clone(), id.clone());
            async move {
                let stored = dest.get(&id, &part.name).await?;
                if stored.len() as u64 != part.bytes {
                    bail!(
                        "{} is {} bytes, the manifest says {}",
                        part.name,
                        stored.len(),
                        part.bytes
                    );
                }
                if crc32fast::hash(&stored) != part.crc32 {
                    bail!(
                        "{} is damaged: its crc32 does not match the manifest",
                        part.name
                    );
                }
                match key {
                    Some(k) if encrypted => Ok(Bytes::from(seal::open(&k, &id, n, &stored)?)),
                    _ => Ok(stored),
                }
            }
        })
        .buffered(PARTS_IN_FLIGHT);
    while let Some(part) = parts.next().await {
        let failed = part.is_err();
        if tx.send(part).await.is_err() || failed {
            break; // the loader stopped (and says why), or it will see the error
        }
    }
    drop(tx);
    let result = loader.await.context("the restore thread failed")?;
    if result.is_err() {
        remove_partial(&dir);
    }
    result.with_context(|| format!("restoring backup {}", m.id))
}

/// Builds `target` from the data dir `restored` that a restore just built (its current
/// snapshot, with the same members): several nodes' data dirs from one download.
pub async fn copy_restored(restored: &Path, target: Target) -> anyhow::Result<()> {
    let from = restored.to_path_buf();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let store = Store::open_when_free(&from)?;
        let file = store
            .sm
            .current_snapshot_file()?
            .with_context(|| format!("{} holds no snapshot", from.display()))?;
        let reader = std::io::BufReader::new(std::fs::File::open(&file)?);
        if let Err(e) = Store::restore(&target.dir, reader, &target.members, target.me) {
            remove_partial(&target.dir);
            return Err(e.into());
        }
        Ok(())
    })
    .await?
}

/// Removes what a failed restore created, so no node starts from half a restore.
fn remove_partial(dir: &Path) {
    if let Err(e) = Store::wipe(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not clean up");
    }
}

/// The downloaded parts as one byte stream; a download error becomes a read error.
struct ChannelReader {
    rx: mpsc::Receiver<anyhow::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while !self.current.has_remaining() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(std::io::Error::other(format!("{e:#}"))),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        self.current.copy_to_slice(&mut out[..n]);
        Ok(n)
    }
}

/// Counts and checksums what passes through.
struct Tee<R> {
    inner: R,
    hasher: crc32fast::Hasher,
    bytes: u64,
    progress: Arc<Progress>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.hasher.update(&out[..n]);
        self.bytes += n as u64;
        self.progress.done.store(self.bytes, Ordering::Relaxed);
        Ok(n)
    }
}

/// Downloads and checks a backup completely, then restores it into a temporary directory
/// under `scratch_in` and checks the keyspace there against its digest (`cairn verify`'s
/// offline check). Returns lines describing what was checked.
pub async fn verify(
    dest: &Destination,
    m: &Manifest,
    key: Option<&Key>,
    scratch_in: &Path,
    progress: Arc<Progress>,
) -> anyhow::Result<Vec<String>> {
    let scratch = tempfile::Builder::new()
        .prefix("backup-verify-")
        .tempdir_in(scratch_in)
        .with_context(|| format!("creating a scratch directory in {}", scratch_in.display()))?;
    let restored = restore(dest, m, key, trial_target(scratch.path()), progress).await?;
    let mut lines = vec![format!(
        "parts: {} ({} bytes), every size and crc32 matches{}",
        m.parts.len(),
        m.stored_bytes,
        if m.encryption.is_some() {
            ", every part authenticates"
        } else {
            ""
        }
    )];
    lines.push(format!(
        "snapshot: {} bytes, crc32 matches, {} entries at log index {}",
        m.snapshot_bytes,
        restored.entries,
        restored.last_applied.map_or(0, |l| l.index)
    ));
    lines.extend(check_keyspace(scratch.path()).await?);
    Ok(lines)
}

/// Node 1 of a one-node cluster in `dir`: where a trial restore goes.
pub fn trial_target(dir: &Path) -> Target {
    let members = BTreeMap::from([(
        1,
        NodeInfo {
            resp_addr: "127.0.0.1:0".into(),
            raft_addr: "127.0.0.1:0".into(),
        },
    )]);
    Target {
        dir: dir.to_path_buf(),
        members,
        me: 1,
    }
}

/// The offline check of the keyspace a restore just built in `dir` (`cairn verify`'s):
/// its lines about the keyspace against its digest.
pub async fn check_keyspace(dir: &Path) -> anyhow::Result<Vec<String>> {
    let dir = dir.to_path_buf();
    let lines = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        Ok(Store::open_when_free(&dir)?.verify_offline()?)
    })
    .await??;
    Ok(lines
        .into_iter()
        .filter(|l| l.starts_with("keyspace"))
        .collect())
}
