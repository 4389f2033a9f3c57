//! One archive segment: a run of committed log entries, compressed, optionally encrypted,
//! checksummed, in one object.
//!
//! Its name says what it holds, so that a listing is the archive's manifest without reading
//! any segment: `<first>-<last>-<first stamp>-<max stamp>.seg`, indexes zero-padded to 20
//! digits and stamps (unix ms) to 13, so names sort by index. The object is
//!
//! ```text
//! "CAIRNSEG" ‖ header length (u32 LE) ‖ header (JSON) ‖ header crc32 (u32 LE) ‖ body
//! body = [AES-256-GCM] (zstd (entries))
//! ```
//!
//! and the header repeats the name's figures and carries the body's size and crc32 and the
//! entries' size and crc32 before compression. An object store's PUT is atomic: a segment
//! is whole or absent, never half-written.

use anyhow::{bail, Context};
use cairn_raft::store::pitr;
use cairn_raft::types::Entry;
use serde::{Deserialize, Serialize};

use crate::backup::manifest::Encryption;
use crate::backup::seal::{self, Key};

const MAGIC: &[u8; 8] = b"CAIRNSEG";
/// Bumped when the layout changes incompatibly.
pub const FORMAT: u32 = 1;
/// zstd level: entries compress well and the archive ships every second.
const ZSTD_LEVEL: i32 = 3;

/// What a segment holds, as its name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SegmentName {
    pub first: u64,
    pub last: u64,
    /// The first stamped entry's stamp (0: no entry in it carries one).
    pub first_ms: u64,
    /// The largest stamp in it (0: none).
    pub max_ms: u64,
}

impl SegmentName {
    pub fn file(&self) -> String {
        format!(
            "{:020}-{:020}-{:013}-{:013}.seg",
            self.first, self.last, self.first_ms, self.max_ms
        )
    }

    /// The name without its extension: what the encryption's associated data binds.
    fn stem(&self) -> String {
        format!("archive/{:020}-{:020}", self.first, self.last)
    }

    pub fn parse(file: &str) -> Option<SegmentName> {
        let stem = file.strip_suffix(".seg")?;
        let mut parts = stem.split('-').map(|p| p.parse::<u64>().ok());
        let name = SegmentName {
            first: parts.next()??,
            last: parts.next()??,
            first_ms: parts.next()??,
            max_ms: parts.next()??,
        };
        // Only the name the archiver writes: a renamed object is not taken for a segment.
        (parts.next().is_none() && name.first <= name.last && name.file() == file).then_some(name)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: u32,
    first: u64,
    last: u64,
    count: u64,
    first_ms: u64,
    max_ms: u64,
    /// The encoded entries before compression.
    entries_bytes: u64,
    entries_crc32: u32,
    compression: String,
    encryption: Option<Encryption>,
    body_bytes: u64,
    body_crc32: u32,
    /// `--cluster-name` and the node that shipped it.
    cluster: String,
    node: u64,
}

/// Encodes `entries` (contiguous, at least one) as a segment; its name and bytes.
pub fn encode(
    entries: &[Entry],
    key: Option<&Key>,
    cluster: &str,
    node: u64,
) -> anyhow::Result<(SegmentName, Vec<u8>)> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        bail!("an archive segment needs at least one entry");
    };
    let stamps = || entries.iter().filter_map(pitr::entry_stamp);
    let name = SegmentName {
        first: first.log_id.index,
        last: last.log_id.index,
        first_ms: stamps().next().unwrap_or(0),
        max_ms: stamps().max().unwrap_or(0),
    };
    let plain = pitr::encode_entries(entries)?;
    let compressed = zstd::bulk::compress(&plain, ZSTD_LEVEL).context("compressing entries")?;
    let body = match key {
        Some(k) => seal::seal(k, &name.stem(), 0, &compressed)?,
        None => compressed,
    };
    let header = Header {
        format: FORMAT,
        first: name.first,
        last: name.last,
        count: entries.len() as u64,
        first_ms: name.first_ms,
        max_ms: name.max_ms,
        entries_bytes: plain.len() as u64,
        entries_crc32: crc32fast::hash(&plain),
        compression: "zstd".into(),
        encryption: key.map(Key::describe),
        body_bytes: body.len() as u64,
        body_crc32: crc32fast::hash(&body),
        cluster: cluster.to_string(),
        node,
    };
    let header = serde_json::to_vec(&header)?;
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + header.len() + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&crc32fast::hash(&header).to_le_bytes());
    out.extend_from_slice(&body);
    Ok((name, out))
}

/// Checks and decodes the segment `name` read as `bytes`: every checksum, the header against
/// the name, the entries against the header. Errors say what is wrong with which segment.
pub fn decode(name: &SegmentName, bytes: &[u8], key: Option<&Key>) -> anyhow::Result<Vec<Entry>> {
    let file = name.file();
    let damaged = |what: &str| anyhow::anyhow!("archive segment {file} is damaged: {what}");
    let rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| damaged("no segment magic"))?;
    let (len, rest) = rest
        .split_at_checked(4)
        .ok_or_else(|| damaged("truncated"))?;
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let (header, rest) = rest
        .split_at_checked(len)
        .ok_or_else(|| damaged("truncated"))?;
    let (crc, body) = rest
        .split_at_checked(4)
        .ok_or_else(|| damaged("truncated"))?;
    if u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) != crc32fast::hash(header) {
        return Err(damaged("header crc32 mismatch"));
    }
    let h: Header = serde_json::from_slice(header).map_err(|_| damaged("unreadable header"))?;
    if h.format != FORMAT {
        bail!(
            "archive segment {file} has format {}, this cairn reads {FORMAT}",
            h.format
        );
    }
    let named = (h.first, h.last, h.first_ms, h.max_ms);
    if named != (name.first, name.last, name.first_ms, name.max_ms) {
        return Err(damaged("header does not match the name"));
    }
    if body.len() as u64 != h.body_bytes || crc32fast::hash(body) != h.body_crc32 {
        return Err(damaged("body size or crc32 mismatch"));
    }
    seal::check_key(h.encryption.as_ref(), key)
        .with_context(|| format!("archive segment {file}"))?;
    let compressed = match (key, &h.encryption) {
        (Some(k), Some(_)) => seal::open(k, &name.stem(), 0, body)
            .map_err(|e| damaged(&format!("does not authenticate: {e:#}")))?,
        _ => body.to_vec(),
    };
    let plain = zstd::bulk::decompress(&compressed, h.entries_bytes as usize)
        .map_err(|e| damaged(&format!("does not decompress: {e}")))?;
    if plain.len() as u64 != h.entries_bytes || crc32fast::hash(&plain) != h.entries_crc32 {
        return Err(damaged("entries size or crc32 mismatch"));
    }
    let entries = pitr::decode_entries(&plain, &file)?;
    let contiguous = entries
        .iter()
        .enumerate()
        .all(|(i, e)| e.log_id.index == h.first + i as u64);
    if entries.len() as u64 != h.count || !contiguous || h.first + h.count != h.last + 1 {
        return Err(damaged("entries do not match the header's index range"));
    }
    Ok(entries)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cairn_raft::types::{LogId, WriteOp};
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entries(from: u64, n: u64) -> Vec<Entry> {
        (from..from + n)
            .map(|i| Entry {
                log_id: LogId::new(CommittedLeaderId::new(2, 1), i),
                payload: if i % 3 == 0 {
                    EntryPayload::Blank
                } else {
                    EntryPayload::Normal(WriteOp {
                        now_ms: 1_000 + i,
                        ops: Vec::new(),
                    })
                },
            })
            .collect()
    }

    #[test]
    fn round_trips_and_names_its_range() {
        let key = Key::parse(&[7u8; 32]).unwrap();
        for key in [None, Some(&key)] {
            let es = entries(10, 5);
            let (name, bytes) = encode(&es, key, "c", 1).unwrap();
            assert_eq!(
                (name.first, name.last, name.first_ms, name.max_ms),
                (10, 14, 1010, 1014)
            );
            assert_eq!(SegmentName::parse(&name.file()), Some(name));
            assert_eq!(decode(&name, &bytes, key).unwrap(), es);
        }
    }

    #[test]
    fn any_flipped_byte_or_wrong_name_is_refused() {
        let (name, bytes) = encode(&entries(1, 20), None, "c", 1).unwrap();
        for at in [0, 9, 20, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            let e = decode(&name, &bad, None).unwrap_err().to_string();
            assert!(e.contains(&name.file()), "{e}");
        }
        let other = SegmentName { last: 21, ..name };
        assert!(decode(&other, &bytes, None).is_err());
        assert!(decode(&name, &bytes[..bytes.len() - 3], None).is_err());
    }

    #[test]
    fn names_parse_strictly() {
        assert_eq!(
            SegmentName::parse("00000000000000000005-00000000000000000003-0-0.seg"),
            None
        );
        assert_eq!(SegmentName::parse("1-2-3.seg"), None);
        assert_eq!(SegmentName::parse("1-2-3-4.part"), None);
        assert_eq!(SegmentName::parse("1-2-3-4.seg"), None);
        let name = SegmentName {
            first: 1,
            last: 2,
            first_ms: 3,
            max_ms: 4,
        };
        assert_eq!(SegmentName::parse(&name.file()), Some(name));
    }
}
