//! Rebuilding the log's state from its segments at start, checking every record.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use super::record::{self, Found, Kind};
use super::{segment, Loc, Slot, CACHE_BYTES};
use crate::error::{Error, Result};
use crate::types::{Entry, LogId, Vote};

/// The log's state as the segments hold it.
pub(super) struct Replayed {
    pub vote: Option<Vote>,
    pub committed: Option<LogId>,
    pub purged: Option<LogId>,
    pub slots: VecDeque<Slot>,
    pub seg: u64,
    pub seg_size: u64,
    pub offset: u64,
    pub segments: BTreeMap<u64, Option<u64>>,
}

fn corrupt(path: &Path, offset: usize, what: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        path: path.display().to_string(),
        what: format!("at offset {offset}: {what}"),
    }
}

fn decode<T: serde::de::DeserializeOwned>(path: &Path, offset: usize, payload: &[u8]) -> Result<T> {
    bincode::deserialize(payload).map_err(|e| corrupt(path, offset, format!("undecodable: {e}")))
}

pub(super) fn replay(dir: &Path) -> Result<Replayed> {
    let segments = segment::list(dir)?;
    let mut state = Replayed {
        vote: None,
        committed: None,
        purged: None,
        slots: VecDeque::new(),
        seg: 0,
        seg_size: 0,
        offset: 0,
        segments: BTreeMap::new(),
    };
    if segments.is_empty() {
        // The first append rolls to segment 1.
        return Ok(state);
    }
    let last_seq = segments.last().map_or(0, |(s, _)| *s);
    for (seq, path) in &segments {
        let buf = match segment::read(path, *seq) {
            Ok(buf) => buf,
            // Deleted since it was listed: a purged segment whose deletion was still under
            // way (the contiguity checks below catch any segment missing from the middle).
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut at = segment::HEADER_BYTES as usize;
        state.segments.insert(*seq, None);
        loop {
            match record::read_at(&buf, at) {
                Found::Record {
                    kind,
                    payload,
                    next,
                } => {
                    let loc = Loc {
                        seg: *seq,
                        offset: at as u64,
                        len: (next - at) as u32,
                    };
                    apply(&mut state, path, kind, payload, loc)?;
                    at = next;
                }
                Found::End => break,
                Found::Damaged(what) => {
                    if *seq != last_seq {
                        return Err(corrupt(path, at, what));
                    }
                    if let Some(good) = record::valid_record_after(&buf, at) {
                        return Err(corrupt(
                            path,
                            at,
                            format!("{what}, with a valid record after it at offset {good}"),
                        ));
                    }
                    // A torn last write: nothing after it was ever acknowledged.
                    let end = buf.iter().rposition(|b| *b != 0).map_or(at, |p| p + 1);
                    tracing::warn!(
                        path = %path.display(),
                        offset = at,
                        bytes = end - at,
                        "cutting a torn record at the end of the log"
                    );
                    segment::zero_range(path, at as u64, end as u64)?;
                    break;
                }
            }
        }
        trim_cache(&mut state.slots);
        state.seg = *seq;
        state.seg_size = buf.len() as u64;
        state.offset = at as u64;
    }
    Ok(state)
}

/// Keeps only the newest entries decoded, within the cache's budget; run after each segment,
/// so a long log is never whole in memory (one segment at most beyond the budget).
fn trim_cache(slots: &mut VecDeque<Slot>) {
    let mut bytes = 0usize;
    for slot in slots.iter_mut().rev() {
        if slot.entry.is_none() {
            break;
        }
        bytes += slot.loc.len as usize;
        if bytes > CACHE_BYTES {
            slot.entry = None;
        }
    }
}

fn apply(state: &mut Replayed, path: &Path, kind: Kind, payload: &[u8], loc: Loc) -> Result<()> {
    let at = loc.offset as usize;
    match kind {
        Kind::Entry => {
            let entry: Entry = decode(path, at, payload)?;
            let index = entry.log_id.index;
            if state.purged.is_some_and(|p| index <= p.index) {
                return Ok(());
            }
            let expected = state
                .slots
                .back()
                .map(|s| s.log_id.index + 1)
                .or(state.purged.map(|p| p.index + 1));
            if expected.is_some_and(|e| e != index) {
                return Err(corrupt(
                    path,
                    at,
                    format!(
                        "log entry {index} where entry {} belongs: a hole in the log",
                        expected.unwrap_or(0)
                    ),
                ));
            }
            if let Some(max) = state.segments.get_mut(&loc.seg) {
                *max = Some(index);
            }
            state.slots.push_back(Slot {
                log_id: entry.log_id,
                loc,
                entry: Some(entry),
                op: 0,
            });
        }
        Kind::Vote => state.vote = Some(decode(path, at, payload)?),
        Kind::Committed => state.committed = decode(path, at, payload)?,
        Kind::Truncate => {
            let bytes: [u8; 8] = payload
                .try_into()
                .map_err(|_| corrupt(path, at, "a truncate record of the wrong size"))?;
            let index = u64::from_le_bytes(bytes);
            while state.slots.back().is_some_and(|s| s.log_id.index >= index) {
                state.slots.pop_back();
            }
        }
        Kind::Purge => {
            let purged: LogId = decode(path, at, payload)?;
            while state
                .slots
                .front()
                .is_some_and(|s| s.log_id.index <= purged.index)
            {
                state.slots.pop_front();
            }
            state.purged = Some(purged);
        }
    }
    Ok(())
}
