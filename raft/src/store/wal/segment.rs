//! Segment files: `<seq>.wal` in the log directory, each preallocated and opened by a
//! 32-byte header (`CAIRNWAL`, format, sequence number, crc32).
//!
//! A segment is created under a temporary name, preallocated, given its header, synced, and
//! only then renamed into place (and the directory synced), so a crash in the middle of a
//! roll leaves either no new segment or a complete empty one; leftover temporary files are
//! deleted at start.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A new segment's size: records are appended until the next one would not fit.
pub const SEGMENT_BYTES: u64 = 64 << 20;
/// Bytes of the header at the start of every segment; records follow it.
pub const HEADER_BYTES: u64 = 32;
const MAGIC: &[u8; 8] = b"CAIRNWAL";
const FORMAT: u32 = 1;
const SUFFIX: &str = ".wal";
const TMP_SUFFIX: &str = ".wal.tmp";

pub fn path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}{SUFFIX}"))
}

fn header(seq: u64) -> [u8; HEADER_BYTES as usize] {
    let mut h = [0u8; HEADER_BYTES as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&FORMAT.to_le_bytes());
    h[16..24].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32fast::hash(&h[..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Syncs a directory, so that a file created or renamed in it survives a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates segment `seq` of `size` bytes (zeros after the header), durably.
pub fn create(dir: &Path, seq: u64, size: u64) -> std::io::Result<File> {
    let final_path = path(dir, seq);
    let tmp = dir.join(format!("{seq:020}{TMP_SUFFIX}"));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    // Blocks are reserved now, so a full disk shows at a roll, not in the middle of a write.
    rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, size)?;
    file.write_all(&header(seq))?;
    file.sync_all()?;
    std::fs::rename(&tmp, &final_path)?;
    sync_dir(dir)?;
    Ok(file)
}

/// The segments in `dir`, oldest first; temporary files of an interrupted roll are deleted.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(TMP_SUFFIX) {
            std::fs::remove_file(entry.path())?;
            continue;
        }
        let Some(stem) = name.strip_suffix(SUFFIX) else {
            continue;
        };
        let seq = stem.parse::<u64>().map_err(|_| Error::Corrupt {
            path: entry.path().display().to_string(),
            what: "a log segment whose name is not a sequence number".into(),
        })?;
        out.push((seq, entry.path()));
    }
    out.sort();
    Ok(out)
}

/// Reads a whole segment and checks its header; the bytes, header included.
pub fn read(path: &Path, seq: u64) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)?.read_to_end(&mut buf)?;
    if buf.get(..HEADER_BYTES as usize) != Some(&header(seq)[..]) {
        return Err(Error::Corrupt {
            path: path.display().to_string(),
            what: format!("the segment header is not that of segment {seq}"),
        });
    }
    Ok(buf)
}

/// Zeroes `[from, to)` of a segment and syncs it: cuts a torn last record so that the next
/// scan ends where the valid records end.
pub fn zero_range(path: &Path, from: u64, to: u64) -> std::io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    let zeros = vec![0u8; 64 * 1024];
    let mut at = from;
    while at < to {
        let n = (to - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    file.sync_data()
}

/// Opens an existing segment for appending at known offsets.
pub fn open_for_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}
