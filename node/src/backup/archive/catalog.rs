//! The archive at a destination as its listing shows it: which segments, which indexes they
//! cover, where the gaps are; and reading a segment back.
//!
//! Segments may overlap: after a change of leader the new archiver starts after the last
//! segment it can list, and a segment the old leader was still uploading may cover some of
//! the same indexes. Committed entries at one index are the same everywhere, so a reader
//! takes each index once, from whichever segment reaches furthest.

use cairn_raft::types::Entry;

use super::segment::{self, SegmentName};
use super::DIR;
use crate::backup::dest::Destination;
use crate::backup::seal::Key;

#[derive(Debug, Default)]
pub struct Catalog {
    /// Every segment, by first index (then last).
    pub segments: Vec<SegmentName>,
    /// Objects in the archive's directory that are not segments (left alone).
    pub strays: Vec<String>,
}

impl Catalog {
    pub async fn load(dest: &Destination) -> anyhow::Result<Catalog> {
        let mut catalog = Catalog::default();
        for (file, _) in dest.files(DIR).await? {
            match SegmentName::parse(&file) {
                Some(name) => catalog.segments.push(name),
                None => catalog.strays.push(file),
            }
        }
        catalog.segments.sort();
        Ok(catalog)
    }

    pub fn first_index(&self) -> Option<u64> {
        self.segments.first().map(|s| s.first)
    }

    pub fn last_index(&self) -> Option<u64> {
        self.segments.iter().map(|s| s.last).max()
    }

    /// The newest stamp any segment holds (unix ms; 0: none).
    pub fn newest_ms(&self) -> u64 {
        self.segments.iter().map(|s| s.max_ms).max().unwrap_or(0)
    }

    /// The index ranges covered, merged.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for s in &self.segments {
            match out.last_mut() {
                Some(r) if s.first <= r.1.saturating_add(1) => r.1 = r.1.max(s.last),
                _ => out.push((s.first, s.last)),
            }
        }
        out
    }

    /// The index ranges missing between the first and the last covered index.
    pub fn gaps(&self) -> Vec<(u64, u64)> {
        self.ranges()
            .windows(2)
            .map(|w| (w[0].1 + 1, w[1].0 - 1))
            .collect()
    }

    /// The segments that hold `from..=to`, in order, each taken for the indexes it adds;
    /// or the first index no segment holds.
    pub fn cover(&self, from: u64, to: u64) -> Result<Vec<SegmentName>, u64> {
        let mut out = Vec::new();
        let mut next = from;
        while next <= to {
            let best = self
                .segments
                .iter()
                .filter(|s| s.first <= next && s.last >= next)
                .max_by_key(|s| s.last)
                .ok_or(next)?;
            out.push(*best);
            next = best.last + 1;
        }
        Ok(out)
    }

    /// The first segment holding an entry stamped after `ms`, in index order.
    pub fn first_after(&self, ms: u64) -> Option<SegmentName> {
        self.segments.iter().find(|s| s.max_ms > ms).copied()
    }
}

/// Reads and checks one segment.
pub async fn fetch(
    dest: &Destination,
    name: &SegmentName,
    key: Option<&Key>,
) -> anyhow::Result<Vec<Entry>> {
    let bytes = dest.get(DIR, &name.file()).await?;
    segment::decode(name, &bytes, key)
}

/// Deletes the segments that hold only indexes before `before`: no kept backup needs them.
/// The number deleted.
pub async fn prune(dest: &Destination, before: u64) -> anyhow::Result<usize> {
    let catalog = Catalog::load(dest).await?;
    let mut removed = 0;
    for s in catalog.segments.iter().filter(|s| s.last < before) {
        dest.remove(DIR, &s.file()).await?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(first: u64, last: u64, max_ms: u64) -> SegmentName {
        SegmentName {
            first,
            last,
            first_ms: 0,
            max_ms,
        }
    }

    #[test]
    fn overlaps_merge_and_gaps_show() {
        let c = Catalog {
            segments: vec![
                seg(1, 10, 5),
                seg(8, 20, 9),
                seg(21, 30, 12),
                seg(40, 50, 20),
            ],
            strays: Vec::new(),
        };
        assert_eq!(c.ranges(), vec![(1, 30), (40, 50)]);
        assert_eq!(c.gaps(), vec![(31, 39)]);
        assert_eq!(
            c.cover(5, 25),
            Ok(vec![seg(1, 10, 5), seg(8, 20, 9), seg(21, 30, 12)])
        );
        assert_eq!(c.cover(25, 45), Err(31));
        assert_eq!(c.first_after(9), Some(seg(21, 30, 12)));
        assert_eq!(c.first_after(20), None);
        assert_eq!(
            (c.first_index(), c.last_index(), c.newest_ms()),
            (Some(1), Some(50), 20)
        );
    }
}
