//! Making a backup: the snapshot file, compressed, cut into parts, sealed and uploaded.
//!
//! Compression and sealing run on a blocking thread; parts reach the uploader through a
//! bounded channel and at most [`PARTS_IN_FLIGHT`] are uploaded at once, so memory stays at a
//! few parts whatever the snapshot's size. The manifest is written only after every part is
//! stored; on any failure the parts already stored are removed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use bytes::Bytes;
use cairn_raft::store::snapshot::{SnapReader, SnapRecord};
use cairn_raft::types::NodeInfo;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::dest::Destination;
use super::manifest::{backup_id, part_name, rfc3339, Manifest, FORMAT, MANIFEST};
use super::seal::{self, Key};
use super::PARTS_IN_FLIGHT;

/// zstd level 1: on a snapshot-like sample it compressed 2.5 times faster than the default
/// level 3, to the same size (docs/BENCHMARKS.md), and compression is what bounds a
/// backup's speed.
const ZSTD_LEVEL: i32 = 1;
const READ_CHUNK: usize = 1 << 20;

/// A snapshot file opened for backup, with the log id and members it holds.
pub struct Source {
    file: File,
    pub index: u64,
    pub term: u64,
    pub membership: BTreeMap<u64, NodeInfo>,
}

impl Source {
    /// Opens a snapshot file and reads its meta record. The open handle keeps the file
    /// readable even if a newer snapshot replaces it meanwhile.
    pub fn open(path: &std::path::Path) -> anyhow::Result<Source> {
        let mut file =
            File::open(path).with_context(|| format!("opening snapshot {}", path.display()))?;
        let meta = SnapReader::new(std::io::BufReader::new(&file), path.display().to_string())?
            .next_record()?;
        let Some(SnapRecord::Meta {
            last_applied,
            membership,
        }) = meta
        else {
            bail!("snapshot {} has no meta record", path.display());
        };
        file.seek(SeekFrom::Start(0))?;
        Ok(Source {
            file,
            index: last_applied.map_or(0, |l| l.index),
            term: last_applied.map_or(0, |l| l.leader_id.term),
            membership: membership
                .membership()
                .nodes()
                .map(|(id, n)| (*id, n.clone()))
                .collect(),
        })
    }
}

/// Who makes the backup, and the key if it is to be encrypted.
pub struct Options {
    pub cluster: String,
    pub node: u64,
    pub key: Option<Key>,
    /// Compressed bytes per part.
    pub part_bytes: usize,
}

/// Bytes of the snapshot read so far, out of `total`: for progress bars and INFO.
#[derive(Default)]
pub struct Progress {
    pub done: AtomicU64,
    pub total: AtomicU64,
}

/// Uploads `src` to `dest` as a new backup and returns its manifest.
pub async fn create(
    dest: &Destination,
    src: Source,
    opts: &Options,
    progress: Arc<Progress>,
) -> anyhow::Result<Manifest> {
    let started = Instant::now();
    let now_ms = super::unix_ms();
    let id = backup_id(now_ms, src.index);
    let total = src.file.metadata()?.len();
    progress.total.store(total, Ordering::Relaxed);
    progress.done.store(0, Ordering::Relaxed);

    let (tx, mut rx) = mpsc::channel::<(usize, Bytes)>(2);
    let sink = PartSink {
        buf: Vec::with_capacity(opts.part_bytes),
        part_bytes: opts.part_bytes,
        next: 0,
        tx,
        key: opts.key.clone(),
        id: id.clone(),
    };
    let file = src.file;
    let counter = progress.clone();
    let compressor = tokio::task::spawn_blocking(move || compress(file, sink, &counter));

    let mut parts: Vec<Option<super::manifest::Part>> = Vec::new();
    let mut stored: Vec<String> = Vec::new();
    let mut uploads = FuturesUnordered::new();
    let mut failure: Option<anyhow::Error> = None;
    loop {
        // Keep at most PARTS_IN_FLIGHT uploads going; take the next part when there is room.
        let next = if uploads.len() < PARTS_IN_FLIGHT {
            tokio::select! {
                part = rx.recv() => Some(part),
                Some(done) = uploads.next(), if !uploads.is_empty() => { record(done, &mut parts, &mut stored, &mut failure); None }
            }
        } else {
            if let Some(done) = uploads.next().await {
                record(done, &mut parts, &mut stored, &mut failure);
            }
            None
        };
        if failure.is_some() {
            break;
        }
        match next {
            Some(Some((n, bytes))) => {
                let meta = super::manifest::Part {
                    name: part_name(n),
                    bytes: bytes.len() as u64,
                    crc32: crc32fast::hash(&bytes),
                };
                let (dest, id) = (dest.clone(), id.clone());
                uploads.push(async move {
                    let r = dest.put(&id, &meta.name, bytes).await;
                    (n, meta, r)
                });
            }
            Some(None) => break, // the compressor is done
            None => {}
        }
    }
    while failure.is_none() {
        match uploads.next().await {
            Some(done) => record(done, &mut parts, &mut stored, &mut failure),
            None => break,
        }
    }
    drop(rx); // a compressor still running stops at its next part
    let compressed = compressor.await.context("the compressor thread failed");
    let snapshot = match (failure, compressed) {
        (None, Ok(Ok(s))) => s,
        (Some(e), _) | (None, Err(e)) | (None, Ok(Err(e))) => {
            // Drain what is still uploading, then remove everything stored.
            while let Some((_, meta, r)) = uploads.next().await {
                if r.is_ok() {
                    stored.push(meta.name);
                }
            }
            dest.discard(&id, &stored).await;
            return Err(e.context(format!("backup {id} failed; its parts were removed")));
        }
    };
    let parts: Vec<_> = parts
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| anyhow::anyhow!("backup {id}: a part is missing from the upload record"))?;
    let manifest = Manifest {
        format: FORMAT,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        id: id.clone(),
        cluster: opts.cluster.clone(),
        node: opts.node,
        created_at: rfc3339(now_ms),
        created_at_ms: now_ms,
        index: src.index,
        term: src.term,
        membership: src.membership,
        snapshot_bytes: snapshot.0,
        snapshot_crc32: snapshot.1,
        compression: format!("zstd-{ZSTD_LEVEL}"),
        encryption: opts.key.as_ref().map(Key::describe),
        stored_bytes: parts.iter().map(|p| p.bytes).sum(),
        parts,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    let json = serde_json::to_vec_pretty(&manifest)?;
    if let Err(e) = dest.put(&id, MANIFEST, Bytes::from(json)).await {
        dest.discard(&id, &stored).await;
        return Err(e);
    }
    Ok(manifest)
}

type Uploaded = (usize, super::manifest::Part, anyhow::Result<()>);

fn record(
    (n, meta, result): Uploaded,
    parts: &mut Vec<Option<super::manifest::Part>>,
    stored: &mut Vec<String>,
    failure: &mut Option<anyhow::Error>,
) {
    match result {
        Ok(()) => {
            if parts.len() <= n {
                parts.resize(n + 1, None);
            }
            stored.push(meta.name.clone());
            parts[n] = Some(meta);
        }
        Err(e) => {
            if failure.is_none() {
                *failure = Some(e);
            }
        }
    }
}

/// Reads the whole file through zstd into the part sink. Returns its size and crc32.
fn compress(mut file: File, sink: PartSink, progress: &Progress) -> anyhow::Result<(u64, u32)> {
    let mut enc = zstd::stream::write::Encoder::new(sink, ZSTD_LEVEL)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        enc.write_all(&buf[..n])?;
        total += n as u64;
        progress.done.store(total, Ordering::Relaxed);
    }
    let mut sink = enc.finish()?;
    sink.emit()?;
    Ok((total, hasher.finalize()))
}

/// Collects compressed bytes and hands them on, sealed, one part at a time.
struct PartSink {
    buf: Vec<u8>,
    part_bytes: usize,
    next: usize,
    tx: mpsc::Sender<(usize, Bytes)>,
    key: Option<Key>,
    id: String,
}

impl PartSink {
    fn emit(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() && self.next > 0 {
            return Ok(());
        }
        let plain = std::mem::replace(&mut self.buf, Vec::with_capacity(self.part_bytes));
        let stored = match &self.key {
            Some(key) => seal::seal(key, &self.id, self.next, &plain)
                .map_err(|e| std::io::Error::other(e.to_string()))?,
            None => plain,
        };
        self.tx
            .blocking_send((self.next, Bytes::from(stored)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "upload stopped"))?;
        self.next += 1;
        Ok(())
    }
}

impl Write for PartSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.part_bytes {
            self.emit()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
