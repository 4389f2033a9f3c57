//! Snapshot files: the whole keyspace at one log index, written and read as a stream.
//!
//! Layout: `CAIRNSNP` ‖ format (u32 BE) ‖ records. A record is `len (u32 BE) ‖ crc32 (u32 BE) ‖
//! bincode(SnapRecord)`. The first record is [`SnapRecord::Meta`], then data records of at most
//! about [`RECORD_BYTES_TARGET`] each, then [`SnapRecord::End`] with the counts. A reader checks
//! every checksum and the counts, so a damaged or truncated file is refused with the number of
//! the bad record; it is never loaded in part.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{LogId, StoredMembership};

const MAGIC: &[u8; 8] = b"CAIRNSNP";
const FORMAT: u32 = 1;
/// Data records are cut once they hold about this many bytes.
pub const RECORD_BYTES_TARGET: usize = 1 << 20;
/// No record may claim to be larger than this (one value is at most 512 MiB).
const RECORD_LEN_MAX: u32 = 1 << 30;

#[derive(Debug, Serialize, Deserialize)]
pub enum SnapRecord {
    Meta {
        last_applied: Option<LogId>,
        membership: StoredMembership,
    },
    /// State-machine tree entries (full keys): the data, then the at-most-once records.
    Data(Vec<(Vec<u8>, Vec<u8>)>),
    End {
        records: u64,
        entries: u64,
    },
}

/// Bytes written between two syncs of a snapshot being written (Redis's
/// `rdb-save-incremental-fsync` syncs every 4 MB): a snapshot never piles up hundreds of MB
/// of dirty pages whose writeback would hold up the log's syncs behind it.
const SYNC_EVERY_BYTES: u64 = 4 << 20;

/// Writes a snapshot file record by record.
pub struct SnapWriter {
    out: BufWriter<File>,
    records: u64,
    entries: u64,
    pending: Vec<(Vec<u8>, Vec<u8>)>,
    pending_bytes: usize,
    /// Bytes written since the last sync.
    unsynced: u64,
}

impl SnapWriter {
    pub fn create(
        path: &Path,
        last_applied: Option<LogId>,
        membership: StoredMembership,
    ) -> Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(MAGIC)?;
        out.write_all(&FORMAT.to_be_bytes())?;
        let mut w = SnapWriter {
            out,
            records: 0,
            entries: 0,
            pending: Vec::new(),
            pending_bytes: 0,
            unsynced: 0,
        };
        w.record(&SnapRecord::Meta {
            last_applied,
            membership,
        })?;
        Ok(w)
    }

    pub fn push(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        self.pending_bytes += key.len() + value.len();
        self.pending.push((key, value));
        self.entries += 1;
        if self.pending_bytes >= RECORD_BYTES_TARGET {
            self.cut()?;
        }
        Ok(())
    }

    fn cut(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            let data = std::mem::take(&mut self.pending);
            self.pending_bytes = 0;
            self.record(&SnapRecord::Data(data))?;
        }
        Ok(())
    }

    fn record(&mut self, r: &SnapRecord) -> Result<()> {
        let body = bincode::serialize(r).map_err(|e| Error::Storage(e.to_string()))?;
        let len = u32::try_from(body.len())
            .ok()
            .filter(|l| *l <= RECORD_LEN_MAX)
            .ok_or_else(|| Error::Storage(format!("snapshot record of {} bytes", body.len())))?;
        self.out.write_all(&len.to_be_bytes())?;
        self.out.write_all(&crc32fast::hash(&body).to_be_bytes())?;
        self.out.write_all(&body)?;
        self.records += 1;
        self.unsynced += 8 + u64::from(len);
        if self.unsynced >= SYNC_EVERY_BYTES {
            self.out.flush()?;
            self.out.get_ref().sync_data()?;
            self.unsynced = 0;
        }
        Ok(())
    }

    /// Writes the end record and syncs the file to disk.
    pub fn finish(mut self) -> Result<()> {
        self.cut()?;
        let end = SnapRecord::End {
            records: self.records + 1,
            entries: self.entries,
        };
        self.record(&end)?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::Io(e.into_error()))?;
        file.sync_all()?;
        Ok(())
    }
}

/// Reads a snapshot file (or any stream in the same format, such as a backup being
/// restored), checking every record.
pub struct SnapReader<R: Read = BufReader<File>> {
    input: R,
    path: String,
    records: u64,
    entries: u64,
    done: bool,
}

impl SnapReader {
    pub fn open(path: &Path) -> Result<Self> {
        SnapReader::new(
            BufReader::new(File::open(path)?),
            path.display().to_string(),
        )
    }
}

impl<R: Read> SnapReader<R> {
    /// Reads from `input`; `name` says where it comes from in errors.
    pub fn new(input: R, name: String) -> Result<Self> {
        let mut r = SnapReader {
            path: name,
            input,
            records: 0,
            entries: 0,
            done: false,
        };
        let mut magic = [0u8; 8];
        let mut format = [0u8; 4];
        let header = r
            .input
            .read_exact(&mut magic)
            .and_then(|_| r.input.read_exact(&mut format));
        header.map_err(|e| r.corrupt(format!("header: {e}")))?;
        if &magic != MAGIC {
            return Err(r.corrupt("not a cairn snapshot (bad magic)"));
        }
        if u32::from_be_bytes(format) != FORMAT {
            return Err(r.corrupt(format!("unknown format {}", u32::from_be_bytes(format))));
        }
        Ok(r)
    }

    fn corrupt(&self, what: impl std::fmt::Display) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            what: format!("snapshot record {}: {what}", self.records),
        }
    }

    /// The next record, or `None` after a verified end record.
    pub fn next_record(&mut self) -> Result<Option<SnapRecord>> {
        if self.done {
            let mut extra = [0u8; 1];
            return match self.input.read(&mut extra)? {
                0 => Ok(None),
                _ => Err(self.corrupt("bytes after the end record")),
            };
        }
        let mut head = [0u8; 8];
        self.input
            .read_exact(&mut head)
            .map_err(|e| self.corrupt(format!("truncated: {e}")))?;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let crc = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if len > RECORD_LEN_MAX {
            return Err(self.corrupt(format!("length {len} over the limit")));
        }
        let mut body = Vec::new();
        (&mut self.input)
            .take(u64::from(len))
            .read_to_end(&mut body)?;
        if body.len() != len as usize {
            return Err(self.corrupt("truncated body"));
        }
        if crc32fast::hash(&body) != crc {
            return Err(self.corrupt("crc32 mismatch"));
        }
        let record: SnapRecord =
            bincode::deserialize(&body).map_err(|e| self.corrupt(format!("undecodable: {e}")))?;
        self.records += 1;
        match &record {
            SnapRecord::Data(d) => self.entries += d.len() as u64,
            SnapRecord::End { records, entries } => {
                if *records != self.records || *entries != self.entries {
                    return Err(self.corrupt(format!(
                        "end record says {records} records/{entries} entries, read {}/{}",
                        self.records, self.entries
                    )));
                }
                self.done = true;
            }
            SnapRecord::Meta { .. } => {}
        }
        Ok(Some(record))
    }

    /// Data entries read so far (all of them once `next_record` returned `None`).
    pub fn entries(&self) -> u64 {
        self.entries
    }
}

/// Reads a whole snapshot file and checks it, without loading it anywhere.
pub fn verify_file(path: &Path) -> Result<(u64, u64)> {
    let mut r = SnapReader::open(path)?;
    while r.next_record()?.is_some() {}
    Ok((r.records, r.entries))
}
