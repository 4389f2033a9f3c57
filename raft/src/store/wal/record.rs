//! The framing of one log record: `len (u32 LE) ‖ crc32 (u32 LE) ‖ kind (u8) ‖ payload`,
//! zero-padded to 8 bytes.
//!
//! `len` counts the kind byte and the payload; the crc32 covers the length, the kind and the
//! payload, so a torn or flipped length is caught as surely as a flipped payload byte. A
//! segment is preallocated with zeros, so the first all-zero header marks the end of its
//! records: no record has length 0 (the kind byte is always there).

/// Record boundaries are 8-byte aligned: a torn tail is told from corruption by looking for
/// a valid record at any aligned offset after the damage.
pub const ALIGN: usize = 8;
/// `len` and `crc32`.
pub const HEADER: usize = 8;
/// The longest record accepted; a longer `len` is damage, not a record.
pub const RECORD_MAX: usize = 512 << 20;

/// What a record holds. The numbers are on disk: never reuse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// bincode of an openraft `Entry`.
    Entry = 1,
    /// bincode of the `Vote`.
    Vote = 2,
    /// bincode of `Option<LogId>`: the committed log id.
    Committed = 3,
    /// u64 LE: every entry from this index on is gone.
    Truncate = 4,
    /// bincode of the `LogId` up to which entries are purged.
    Purge = 5,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Entry,
            2 => Kind::Vote,
            3 => Kind::Committed,
            4 => Kind::Truncate,
            5 => Kind::Purge,
            _ => return None,
        })
    }
}

/// The bytes a record with a payload of `payload_len` takes, padding included.
pub fn framed_len(payload_len: usize) -> usize {
    (HEADER + 1 + payload_len).next_multiple_of(ALIGN)
}

fn checksum(len: u32, kind: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(&[kind]);
    h.update(payload);
    h.finalize()
}

/// Appends the framed record to `out`.
pub fn encode(kind: Kind, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(1 + payload.len()).unwrap_or(u32::MAX);
    let start = out.len();
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(len, kind as u8, payload).to_le_bytes());
    out.push(kind as u8);
    out.extend_from_slice(payload);
    out.resize(start + framed_len(payload.len()), 0);
}

/// What is found at an offset of a segment.
#[derive(Debug, PartialEq, Eq)]
pub enum Found<'a> {
    /// A record whose checksum matches; the next record starts at `next`.
    Record {
        kind: Kind,
        payload: &'a [u8],
        next: usize,
    },
    /// An all-zero header: no more records in this segment.
    End,
    /// Anything else, described.
    Damaged(String),
}

/// Reads the record at `offset` of `buf`.
pub fn read_at(buf: &[u8], offset: usize) -> Found<'_> {
    let Some(header) = buf.get(offset..offset + HEADER) else {
        // Fewer than 8 bytes left: only the end of a preallocated segment looks like this.
        return if buf.len() <= offset || buf[offset..].iter().all(|b| *b == 0) {
            Found::End
        } else {
            Found::Damaged("a partial record header".into())
        };
    };
    if header.iter().all(|b| *b == 0) {
        return Found::End;
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let stored = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let body_len = len as usize;
    if body_len == 0 || body_len > RECORD_MAX {
        return Found::Damaged(format!("a record length of {len}"));
    }
    let Some(body) = buf.get(offset + HEADER..offset + HEADER + body_len) else {
        return Found::Damaged(format!("a record of {len} bytes past the end of the file"));
    };
    let (kind_byte, payload) = (body[0], &body[1..]);
    let computed = checksum(len, kind_byte, payload);
    if computed != stored {
        return Found::Damaged(format!(
            "crc32 mismatch (stored {stored:08x}, computed {computed:08x})"
        ));
    }
    let Some(kind) = Kind::from_byte(kind_byte) else {
        return Found::Damaged(format!("unknown record kind {kind_byte}"));
    };
    Found::Record {
        kind,
        payload,
        next: offset + framed_len(payload.len()),
    }
}

/// Whether any valid record starts at an aligned offset after `offset`: damage followed by
/// good records is corruption; damage with nothing valid after it is a torn last write.
pub fn valid_record_after(buf: &[u8], offset: usize) -> Option<usize> {
    let mut at = (offset + ALIGN).next_multiple_of(ALIGN);
    while at + HEADER < buf.len() {
        if let Found::Record { .. } = read_at(buf, at) {
            return Some(at);
        }
        at += ALIGN;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_stay_aligned() {
        let mut buf = Vec::new();
        encode(Kind::Vote, b"abc", &mut buf);
        encode(Kind::Entry, &[7u8; 100], &mut buf);
        assert_eq!(buf.len() % ALIGN, 0);
        let Found::Record {
            kind,
            payload,
            next,
        } = read_at(&buf, 0)
        else {
            panic!("first record")
        };
        assert_eq!((kind, payload), (Kind::Vote, &b"abc"[..]));
        let Found::Record { kind, payload, .. } = read_at(&buf, next) else {
            panic!("second record")
        };
        assert_eq!((kind, payload.len()), (Kind::Entry, 100));
        buf.resize(buf.len() + 64, 0);
        let end = framed_len(3) + framed_len(100);
        assert_eq!(read_at(&buf, end), Found::End);
    }

    #[test]
    fn every_flipped_bit_is_found() {
        let mut good = Vec::new();
        encode(Kind::Truncate, &42u64.to_le_bytes(), &mut good);
        for byte in 0..HEADER + 9 {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[byte] ^= 1 << bit;
                assert!(
                    !matches!(read_at(&bad, 0), Found::Record { .. }),
                    "flip of bit {bit} in byte {byte} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn damage_is_told_from_a_torn_tail() {
        let mut buf = Vec::new();
        encode(Kind::Entry, &[1u8; 40], &mut buf);
        let second = buf.len();
        encode(Kind::Entry, &[2u8; 40], &mut buf);
        buf.resize(buf.len() + 256, 0);
        // The first record damaged, the second intact: corruption.
        let mut damaged = buf.clone();
        damaged[12] ^= 0xff;
        assert_eq!(valid_record_after(&damaged, 0), Some(second));
        // The second record half written, zeros after it: a torn tail.
        let mut torn = buf.clone();
        for b in &mut torn[second + 20..second + 56] {
            *b = 0;
        }
        assert!(matches!(read_at(&torn, second), Found::Damaged(_)));
        assert_eq!(valid_record_after(&torn, second), None);
    }
}
