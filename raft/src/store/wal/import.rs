//! Writing a whole log at once, without the I/O thread: a data dir being migrated from the
//! sled log, or built by a restore. The log is written under a temporary directory and
//! renamed into place once every segment is synced, so a crash leaves either the old state or
//! the complete new log.

use std::os::unix::fs::FileExt;
use std::path::Path;

use super::encode;
use super::record::{self, Kind};
use super::segment;
use crate::error::Result;
use crate::types::{Entry, LogId, Vote};

/// What a log starts with.
pub struct Initial<I> {
    pub vote: Option<Vote>,
    pub committed: Option<LogId>,
    pub purged: Option<LogId>,
    pub entries: I,
}

/// Writes `initial` as the log in `dir`, which must not exist yet.
pub fn write<I>(dir: &Path, initial: Initial<I>) -> Result<()>
where
    I: Iterator<Item = Result<Entry>>,
{
    let parent = dir.parent().unwrap_or(Path::new("."));
    let tmp = parent.join(format!(
        "{}.importing",
        dir.file_name()
            .map_or("wal".into(), |n| n.to_string_lossy())
    ));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    // As a roll sizes segments: at most an eighth of the free space (at least 1 MiB).
    let free = crate::store::disk::free_bytes(&tmp).unwrap_or(u64::MAX);
    let segment_bytes = segment::SEGMENT_BYTES.min((free / 8).max(1 << 20));
    let mut seq = 1;
    let mut file = segment::create(&tmp, seq, segment_bytes)?;
    let mut buf = Vec::new();
    if let Some(v) = &initial.vote {
        record::encode(Kind::Vote, &encode(v)?, &mut buf);
    }
    if initial.committed.is_some() {
        record::encode(Kind::Committed, &encode(&initial.committed)?, &mut buf);
    }
    if let Some(p) = &initial.purged {
        record::encode(Kind::Purge, &encode(p)?, &mut buf);
    }
    let mut offset = segment::HEADER_BYTES;
    let mut size = segment_bytes;
    for entry in initial.entries {
        let mut rec = Vec::new();
        record::encode(Kind::Entry, &encode(&entry?)?, &mut rec);
        if offset + (buf.len() + rec.len()) as u64 > size {
            file.write_all_at(&buf, offset)?;
            file.sync_data()?;
            buf.clear();
            // The next segment repeats the state, as a roll does.
            if let Some(v) = &initial.vote {
                record::encode(Kind::Vote, &encode(v)?, &mut buf);
            }
            if initial.committed.is_some() {
                record::encode(Kind::Committed, &encode(&initial.committed)?, &mut buf);
            }
            if let Some(p) = &initial.purged {
                record::encode(Kind::Purge, &encode(p)?, &mut buf);
            }
            seq += 1;
            size = segment_bytes
                .max(segment::HEADER_BYTES + (buf.len() + rec.len()) as u64)
                .next_multiple_of(4096);
            file = segment::create(&tmp, seq, size)?;
            offset = segment::HEADER_BYTES;
        }
        buf.extend_from_slice(&rec);
        if buf.len() >= 4 << 20 {
            file.write_all_at(&buf, offset)?;
            offset += buf.len() as u64;
            buf.clear();
        }
    }
    file.write_all_at(&buf, offset)?;
    file.sync_data()?;
    drop(file);
    segment::sync_dir(&tmp)?;
    std::fs::rename(&tmp, dir)?;
    segment::sync_dir(parent)?;
    Ok(())
}
