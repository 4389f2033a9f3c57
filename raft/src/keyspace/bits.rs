//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP (BITFIELD: `bitfield`).
//!
//! A bitmap is a plain string. Bit 0 is the most significant bit of the first byte, as in
//! Redis, so `SETBIT k 7 1` on a missing key makes the string `"\x01"`. The bit logic is pure
//! functions over byte slices; the [`Ctx`] methods and the read functions only fetch and
//! store values.

use bytes::{Bytes, BytesMut};
use cairn_protocol::command::{BitOp, BitRange, BitUnit};
use cairn_protocol::errors::RedisError;
use cairn_protocol::Reply;

use super::{str_mut, Ctx, Data, Kind, StoredValue, WRONGTYPE};
use crate::error::Result;

impl Ctx<'_> {
    /// SETBIT: grows the string with zero bytes to reach `offset` (creating the key if
    /// missing), keeps its TTL, and answers the bit's previous value. The parser bounds
    /// `offset`, so the string stays within Redis's 512 MB.
    pub(crate) fn setbit(&mut self, key: &Bytes, offset: u64, value: bool) -> Result<Reply> {
        let Ok(byte) = usize::try_from(offset / 8) else {
            return Ok(Reply::error(RedisError::BitOffset.text()));
        };
        let (previous, existed, len) = match self.string(key)? {
            Err(e) => return Ok(e),
            Ok(None) => (false, false, 0),
            Ok(Some(v)) => {
                let s = str_bytes(&v);
                (get_bit(&s, offset), true, s.len())
            }
        };
        // Nothing to write when the key exists, is long enough and already has that bit.
        if existed && byte < len && previous == value {
            return Ok(Reply::Integer(i64::from(previous)));
        }
        // In place: one byte changes (after zero padding), and so does the digest.
        let written = self.modify(key, Kind::Str, true, |v| {
            if let Some(s) = str_mut(v) {
                s.pad_to(byte + 1);
                let mut b = [s.bytes().get(byte).copied().unwrap_or(0)];
                set_bit(&mut b, offset % 8, value);
                s.write_at(byte, &b);
            }
        });
        if let Err(e) = written {
            return Ok(e);
        }
        Ok(Reply::Integer(i64::from(previous)))
    }

    /// BITOP: missing keys are empty strings; the result is as long as the longest input and
    /// replaces `dst` whatever it held (and its TTL); an empty result deletes `dst`. Answers
    /// the result's length.
    pub(crate) fn bitop(&mut self, op: BitOp, dst: &Bytes, keys: &[Bytes]) -> Result<Reply> {
        let mut inputs = Vec::with_capacity(keys.len());
        for k in keys {
            match self.string(k)? {
                Err(e) => return Ok(e),
                Ok(v) => inputs.push(v.as_ref().map_or_else(Bytes::new, str_bytes)),
            }
        }
        let result = bitop(op, &inputs);
        let len = result.len() as i64;
        if result.is_empty() {
            self.delete(dst);
        } else {
            self.put(dst, StoredValue::string(result, None));
        }
        Ok(Reply::Integer(len))
    }
}

/// The string in a key's live value; `None` for a missing key, WRONGTYPE for another type.
pub(super) fn bitmap(value: Option<&StoredValue>) -> std::result::Result<Option<Bytes>, Reply> {
    match value.map(|v| &v.data) {
        None => Ok(None),
        Some(Data::Str(s)) => Ok(Some(s.to_bytes())),
        Some(Data::Hash(_) | Data::Set(_) | Data::List(_) | Data::ZSet(_) | Data::Stream(_)) => {
            Err(Reply::error(WRONGTYPE))
        }
    }
}

/// GETBIT on a key's live value: bits past the end, and of a missing key, are 0.
pub(super) fn getbit(value: Option<&StoredValue>, offset: u64) -> Reply {
    bitmap(value).map_or_else(
        |e| e,
        |s| Reply::Integer(i64::from(s.is_some_and(|s| get_bit(&s, offset)))),
    )
}

/// BITCOUNT on a key's live value: 0 for a missing key.
pub(super) fn bitcount(value: Option<&StoredValue>, range: Option<BitRange>) -> Reply {
    bitmap(value).map_or_else(|e| e, |s| Reply::Integer(s.map_or(0, |s| count(&s, range))))
}

/// BITPOS on a key's live value. A missing key is an endless run of zeros: the first clear
/// bit is 0 and there is no set bit, whatever the range.
pub(super) fn bitpos(
    value: Option<&StoredValue>,
    bit: bool,
    start: i64,
    end: Option<i64>,
    unit: BitUnit,
) -> Reply {
    bitmap(value).map_or_else(
        |e| e,
        |s| {
            Reply::Integer(match s {
                None if bit => -1,
                None => 0,
                Some(s) => position(&s, bit, start, end, unit),
            })
        },
    )
}

/// The bytes of a value already checked to be a string.
pub(super) fn str_bytes(v: &StoredValue) -> Bytes {
    match &v.data {
        Data::Str(s) => s.to_bytes(),
        Data::Hash(_) | Data::Set(_) | Data::List(_) | Data::ZSet(_) | Data::Stream(_) => {
            Bytes::new()
        }
    }
}

/// The mask of bit `offset` within its byte (bit 0 is the most significant).
fn mask(offset: u64) -> u8 {
    0x80 >> (offset % 8)
}

/// Bit `offset` of `s`; bits past the end are 0.
pub(super) fn get_bit(s: &[u8], offset: u64) -> bool {
    usize::try_from(offset / 8)
        .ok()
        .and_then(|i| s.get(i))
        .is_some_and(|b| b & mask(offset) != 0)
}

/// Sets bit `offset` of `s`, which the caller has made long enough; a no-op past the end.
pub(super) fn set_bit(s: &mut [u8], offset: u64, value: bool) {
    let byte = usize::try_from(offset / 8).ok().and_then(|i| s.get_mut(i));
    if let Some(b) = byte {
        if value {
            *b |= mask(offset);
        } else {
            *b &= !mask(offset);
        }
    }
}

/// The inclusive bit span `[first, last]` a range selects in a string of `len` bytes, after
/// Redis's index rules: negative indexes count from the end, both ends are clamped into the
/// string, and a range that ends before it starts selects nothing (`None`). `end` is in
/// `unit`s like `start`; byte ranges cover whole bytes.
fn span(len: usize, start: i64, end: i64, unit: BitUnit) -> Option<(u64, u64)> {
    let bytes = i64::try_from(len).unwrap_or(i64::MAX);
    let total = match unit {
        BitUnit::Byte => bytes,
        BitUnit::Bit => bytes.saturating_mul(8),
    };
    let from_end = |i: i64| {
        if i < 0 {
            total.saturating_add(i).max(0)
        } else {
            i
        }
    };
    let start = from_end(start);
    let end = from_end(end).min(total - 1);
    if start > end {
        return None;
    }
    // Both are now in 0..total.
    let (start, end) = (u64::try_from(start).ok()?, u64::try_from(end).ok()?);
    Some(match unit {
        BitUnit::Byte => (start * 8, end * 8 + 7),
        BitUnit::Bit => (start, end),
    })
}

/// The bits of byte `i` that lie within the bit span `[first, last]`.
fn span_mask(i: u64, first: u64, last: u64) -> u8 {
    let lo = if i == first / 8 {
        0xffu8 >> (first % 8)
    } else {
        0xff
    };
    let hi = if i == last / 8 {
        0xffu8 << (7 - last % 8)
    } else {
        0xff
    };
    lo & hi
}

/// BITCOUNT: the set bits of `s`, or of its range. Both negative with `start > end` selects
/// nothing before any clamping, as in Redis (clamping would otherwise turn it into byte 0).
fn count(s: &[u8], range: Option<BitRange>) -> i64 {
    let (first, last) = match range {
        None if s.is_empty() => return 0,
        None => (0, s.len() as u64 * 8 - 1),
        Some(r) if r.start < 0 && r.end < 0 && r.start > r.end => return 0,
        Some(r) => match span(s.len(), r.start, r.end, r.unit) {
            Some(span) => span,
            None => return 0,
        },
    };
    let (a, b) = (first / 8, last / 8);
    // The span lies within `s`, so these indexes do too.
    let (ai, bi) = (a as usize, b as usize);
    let edges = |i: u64, byte: u8| i64::from((byte & span_mask(i, first, last)).count_ones());
    if a == b {
        return s.get(ai).map_or(0, |&x| edges(a, x));
    }
    let whole = s.get(ai + 1..bi).map_or(0, popcount);
    let head = s.get(ai).map_or(0, |&x| edges(a, x));
    let tail = s.get(bi).map_or(0, |&x| edges(b, x));
    head + whole + tail
}

/// The set bits of `s`, a machine word at a time.
fn popcount(s: &[u8]) -> i64 {
    let words = s.chunks_exact(8);
    let rest: u32 = words.remainder().iter().map(|b| b.count_ones()).sum();
    let whole: u64 = words
        .map(|w| {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            u64::from(u64::from_ne_bytes(word).count_ones())
        })
        .sum();
    whole as i64 + i64::from(rest)
}

/// BITPOS on an existing string: the first bit equal to `bit` within the range. Not found is
/// -1, except when looking for a 0 without an explicit `end`: the string then counts as
/// followed by zeros, and the answer is the bit just past the searched range.
fn position(s: &[u8], bit: bool, start: i64, end: Option<i64>, unit: BitUnit) -> i64 {
    let last = match (end, unit) {
        (Some(e), _) => e,
        (None, BitUnit::Byte) => i64::try_from(s.len()).unwrap_or(i64::MAX) - 1,
        (None, BitUnit::Bit) => i64::try_from(s.len()).unwrap_or(i64::MAX).saturating_mul(8) - 1,
    };
    let Some((first, last)) = span(s.len(), start, last, unit) else {
        return -1;
    };
    match find(s, bit, first, last) {
        Some(pos) => pos as i64,
        None if !bit && end.is_none() => (last + 1) as i64,
        None => -1,
    }
}

/// The first bit equal to `bit` in the bit span `[first, last]` of `s` (which the span lies
/// within), skipping whole bytes that cannot hold it.
fn find(s: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let (a, b) = (first / 8, last / 8);
    let hit = |i: u64, byte: u8| {
        let wanted = if bit { byte } else { !byte } & span_mask(i, first, last);
        (wanted != 0).then(|| i * 8 + u64::from(wanted.leading_zeros()))
    };
    let at = |i: u64| s.get(usize::try_from(i).ok()?).copied();
    if let Some(pos) = at(a).and_then(|x| hit(a, x)) {
        return Some(pos);
    }
    if b > a + 1 {
        // The bytes strictly between the edges are wholly in the span.
        let skip = if bit { 0x00 } else { 0xff };
        let middle = s.get(usize::try_from(a + 1).ok()?..usize::try_from(b).ok()?)?;
        if let Some(i) = middle.iter().position(|&x| x != skip) {
            let i = a + 1 + i as u64;
            return at(i).and_then(|x| hit(i, x));
        }
    }
    if b > a {
        return at(b).and_then(|x| hit(b, x));
    }
    None
}

/// BITOP over `inputs`, each zero-padded to the longest: NOT inverts its single input.
fn bitop(op: BitOp, inputs: &[Bytes]) -> Bytes {
    let len = inputs.iter().map(Bytes::len).max().unwrap_or(0);
    let mut out = BytesMut::zeroed(len);
    let Some((head, rest)) = inputs.split_first() else {
        return out.freeze();
    };
    out[..head.len()].copy_from_slice(head);
    match op {
        BitOp::Not => out.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for input in rest {
                // Past the end of a shorter input its bytes are zero, so AND clears.
                out.iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b &= input.get(i).copied().unwrap_or(0));
            }
        }
        BitOp::Or | BitOp::Xor => {
            for input in rest {
                for (b, x) in out.iter_mut().zip(input.iter()) {
                    if op == BitOp::Or {
                        *b |= x;
                    } else {
                        *b ^= x;
                    }
                }
            }
        }
    }
    out.freeze()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::testing::{exec, int, script, wrongtype};
    use super::super::State;
    use super::*;

    fn bulk_bytes(b: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(b))
    }

    /// Every bit of `s`, for reference implementations.
    fn bits(s: &[u8]) -> Vec<bool> {
        (0..s.len() as u64 * 8).map(|i| get_bit(s, i)).collect()
    }

    fn byte_range(start: i64, end: i64) -> Option<BitRange> {
        Some(BitRange {
            start,
            end,
            unit: BitUnit::Byte,
        })
    }

    fn bit_range(start: i64, end: i64) -> Option<BitRange> {
        Some(BitRange {
            start,
            end,
            unit: BitUnit::Bit,
        })
    }

    #[test]
    fn get_and_set_bits_msb_first() {
        let mut s = vec![0u8; 2];
        set_bit(&mut s, 7, true);
        set_bit(&mut s, 8, true);
        assert_eq!(s, [0x01, 0x80]);
        assert!(get_bit(&s, 7) && get_bit(&s, 8) && !get_bit(&s, 0));
        assert!(!get_bit(&s, 16) && !get_bit(&s, u64::MAX));
        set_bit(&mut s, 7, false);
        set_bit(&mut s, 100, true);
        assert_eq!(s, [0x00, 0x80]);
    }

    #[test]
    fn count_matches_the_redis_suite() {
        let s = b"foobar";
        let total = 26;
        assert_eq!(count(s, None), total);
        assert_eq!(count(s, byte_range(0, -1)), total);
        assert_eq!(count(s, byte_range(1, -2)), count(b"ooba", None));
        assert_eq!(count(s, byte_range(-2, 1)), 0);
        assert_eq!(count(s, byte_range(0, 1000)), total);
        assert_eq!(count(s, bit_range(0, -1)), total);
        assert_eq!(count(s, bit_range(-2, 1)), 0);
        assert_eq!(count(s, bit_range(0, 1000)), total);
        assert_eq!(count(b"xxxx", byte_range(4, 10)), 0);
        assert_eq!(count(b"xxxx", bit_range(32, 87)), 0);
        assert_eq!(count(b"xxxx", byte_range(-6, -7)), 0);
        assert_eq!(count(b"xxxx", bit_range(-6, -15)), 0);
        assert_eq!(count(b"ab", byte_range(1, -1)), 3);
        assert_eq!(count(b"__PPxxxxxxxxxxxxxxxxRR__", byte_range(2, -3)), 74);
        assert_eq!(count(b"", None), 0);
        assert_eq!(count(b"", bit_range(0, -1)), 0);
        // The documented examples: "foobar" bits 5..30 hold 17 ones, bytes 1..1 hold 6.
        assert_eq!(count(s, byte_range(1, 1)), 6);
        assert_eq!(count(s, bit_range(5, 30)), 17);
    }

    #[test]
    fn count_agrees_with_a_bit_by_bit_count() {
        let s: Vec<u8> = (0..40u32).map(|i| (i * 37 + 11) as u8).collect();
        let all = bits(&s);
        let n = all.len() as i64;
        for start in -n - 3..n + 3 {
            for end in (-n - 3..n + 3).step_by(7) {
                let norm = |i: i64| if i < 0 { (n + i).max(0) } else { i };
                let (a, b) = (norm(start), norm(end).min(n - 1));
                let expected = if (start < 0 && end < 0 && start > end) || a > b {
                    0
                } else {
                    all[a as usize..=b as usize].iter().filter(|&&x| x).count() as i64
                };
                assert_eq!(count(&s, bit_range(start, end)), expected, "{start} {end}");
            }
        }
    }

    #[test]
    fn position_matches_the_redis_suite() {
        let b = BitUnit::Byte;
        let bit = BitUnit::Bit;
        assert_eq!(position(b"\xff\xf0\x00", false, 0, None, b), 12);
        assert_eq!(position(b"\xff\xf0\x00", false, 0, Some(-1), bit), 12);
        assert_eq!(position(b"\x00\x0f\x00", true, 0, None, b), 12);
        assert_eq!(position(b"\xff\xf0\x00", false, 1, None, b), 12);
        assert_eq!(position(b"\xff\xf0\x00", false, 1, Some(-1), bit), 12);
        assert_eq!(position(b"\x00\x0f\xff", true, 1, None, b), 12);
        let s = b"\x00\xff\x00";
        for (bit_, start, end, unit, want) in [
            (false, 0, Some(-1), b, 0),
            (false, 1, Some(-1), b, 16),
            (false, 2, Some(-1), b, 16),
            (false, 2, Some(200), b, 16),
            (false, 1, Some(1), b, -1),
            (false, 0, Some(-1), bit, 0),
            (false, 8, Some(-1), bit, 16),
            (false, 16, Some(-1), bit, 16),
            (false, 16, Some(200), bit, 16),
            (false, 8, Some(8), bit, -1),
            (true, 0, Some(-1), b, 8),
            (true, 1, Some(-1), b, 8),
            (true, 2, Some(-1), b, -1),
            (true, 2, Some(200), b, -1),
            (true, 1, Some(1), b, 8),
            (true, 0, Some(-1), bit, 8),
            (true, 8, Some(-1), bit, 8),
            (true, 16, Some(-1), bit, -1),
            (true, 16, Some(200), bit, -1),
            (true, 8, Some(8), bit, 8),
        ] {
            assert_eq!(position(s, bit_, start, end, unit), want, "{start} {end:?}");
        }
        // A clear bit past an all-ones string counts only without an explicit end.
        let ones = b"\xff\xff\xff";
        assert_eq!(position(ones, false, 0, None, b), 24);
        assert_eq!(position(ones, false, 0, Some(-1), b), -1);
        assert_eq!(position(ones, false, 0, Some(-1), bit), -1);
        assert_eq!(position(b"", false, 0, None, b), -1);
        assert_eq!(position(b"\x00\x00", true, 0, None, b), -1);
        // The documented examples.
        assert_eq!(position(b"\xff\xf0\x00", false, 0, None, b), 12);
        assert_eq!(position(b"\x00\xff\xf0", true, 0, None, b), 8);
        assert_eq!(position(b"\x00\xff\xf0", true, 2, None, b), 16);
        assert_eq!(position(b"\x00\xff\xf0", true, 2, Some(-1), b), 16);
        assert_eq!(position(b"\x00\xff\xf0", true, 7, Some(15), bit), 8);
        assert_eq!(position(b"\x00\xff\xf0", true, 7, Some(-3), bit), 8);
        assert_eq!(position(b"\x00\x00\x00", true, 0, None, b), -1);
    }

    #[test]
    fn position_agrees_with_a_bit_by_bit_search() {
        let mut s = vec![0xffu8; 30];
        s[13] = 0xfb;
        s[2] = 0x7f;
        let n = s.len() as i64 * 8;
        for wanted in [false, true] {
            let s: Vec<u8> = if wanted {
                s.iter().map(|b| !b).collect()
            } else {
                s.clone()
            };
            let all = bits(&s);
            for start in -n - 2..n + 2 {
                for end in (-n - 2..n + 2).step_by(5) {
                    let norm = |i: i64| if i < 0 { (n + i).max(0) } else { i };
                    let (a, b) = (norm(start), norm(end).min(n - 1));
                    let expected = if a > b {
                        -1
                    } else {
                        (a..=b).find(|&i| all[i as usize] == wanted).unwrap_or(-1)
                    };
                    let got = position(&s, wanted, start, Some(end), BitUnit::Bit);
                    assert_eq!(got, expected, "{wanted} {start} {end}");
                }
            }
        }
    }

    #[test]
    fn bitop_pads_shorter_inputs_with_zeros() {
        let b = |s: &[u8]| Bytes::copy_from_slice(s);
        let a = b(b"\x01\x02\xff\xff");
        let c = b(b"\x01\x02\xff");
        assert_eq!(
            bitop(BitOp::And, &[a.clone(), c.clone()]),
            b(b"\x01\x02\xff\x00")
        );
        assert_eq!(
            bitop(BitOp::Or, &[a.clone(), c.clone()]),
            b(b"\x01\x02\xff\xff")
        );
        assert_eq!(
            bitop(BitOp::Xor, &[a.clone(), c.clone()]),
            b(b"\x00\x00\x00\xff")
        );
        assert_eq!(
            bitop(BitOp::And, &[c.clone(), a.clone()]),
            b(b"\x01\x02\xff\x00")
        );
        assert_eq!(bitop(BitOp::Xor, &[c.clone(), a]), b(b"\x00\x00\x00\xff"));
        assert_eq!(
            bitop(BitOp::Not, &[b(b"\xaa\x00\xff\x55")]),
            b(b"\x55\xff\x00\xaa")
        );
        for op in [BitOp::And, BitOp::Or, BitOp::Xor] {
            assert_eq!(bitop(op, std::slice::from_ref(&c)), c);
            assert_eq!(bitop(op, &[Bytes::new(), Bytes::new()]), Bytes::new());
        }
        assert_eq!(bitop(BitOp::And, &[Bytes::new(), c]), b(b"\x00\x00\x00"));
        assert_eq!(bitop(BitOp::Xor, &[b(b"1"), b(b"2"), b(b"1")]), b(b"2"));
    }

    #[test]
    fn setbit_grows_strings_and_getbit_reads_them() {
        let mut t = State::default();
        assert_eq!(
            script(
                &mut t,
                &[
                    "setbit k 7 1",
                    "get k",
                    "getbit k 7",
                    "getbit k 6",
                    "getbit k 1000",
                    "setbit k 7 0",
                    "setbit k 7 0",
                    "setbit k 17 1",
                    "strlen k",
                    "getbit missing 0",
                ]
            ),
            [
                int(0),
                bulk_bytes(b"\x01"),
                int(1),
                int(0),
                int(0),
                int(1),
                int(0),
                int(0),
                int(3),
                int(0),
            ]
        );
        assert_eq!(exec(&mut t, "get k"), bulk_bytes(b"\x00\x00\x40"));
        // Clearing a bit of a missing key still creates it.
        assert_eq!(exec(&mut t, "setbit z 9 0"), int(0));
        assert_eq!(exec(&mut t, "get z"), bulk_bytes(b"\x00\x00"));
        // "1" is 0x31: bits 2, 3 and 7 are set.
        exec(&mut t, "set n 1");
        assert_eq!(
            script(
                &mut t,
                &[
                    "getbit n 2",
                    "getbit n 3",
                    "getbit n 6",
                    "setbit n 6 1",
                    "get n"
                ]
            ),
            [int(1), int(1), int(0), int(0), bulk_bytes(b"3")]
        );
    }

    #[test]
    fn setbit_keeps_the_ttl() {
        let mut t = State::default();
        assert_eq!(
            script(
                &mut t,
                &["set k a", "pexpire k 9000", "setbit k 100 1", "pttl k"]
            ),
            [Reply::ok(), int(1), int(0), int(9000)]
        );
    }

    #[test]
    fn bitcount_and_bitpos_on_keys() {
        let mut t = State::default();
        exec(&mut t, "set s foobar");
        assert_eq!(
            script(
                &mut t,
                &[
                    "bitcount s",
                    "bitcount s 0 0",
                    "bitcount s 1 1",
                    "bitcount s 1 1 BYTE",
                    "bitcount s 5 30 BIT",
                    "bitcount missing",
                    "bitcount missing 0 1000 bit",
                    "bitpos missing 1",
                    "bitpos missing 0",
                    "bitpos missing 0 0 -1 bit",
                ]
            ),
            [
                int(26),
                int(4),
                int(6),
                int(6),
                int(17),
                int(0),
                int(0),
                int(-1),
                int(0),
                int(0)
            ]
        );
        exec(&mut t, "setbit ones 23 1");
        exec(&mut t, "bitop not ones ones");
        assert_eq!(exec(&mut t, "get ones"), bulk_bytes(b"\xff\xff\xfe"));
        assert_eq!(
            script(
                &mut t,
                &["bitpos ones 0", "bitpos ones 0 0 1", "bitpos ones 1 2"]
            ),
            [int(23), int(-1), int(16)]
        );
        exec(&mut t, "setbit ones 23 1");
        assert_eq!(
            script(
                &mut t,
                &["bitpos ones 0", "bitpos ones 0 1", "bitpos ones 0 0 -1"]
            ),
            [int(24), int(24), int(-1)]
        );
    }

    #[test]
    fn bitop_stores_and_deletes() {
        let mut t = State::default();
        script(
            &mut t,
            &["set a foof", "set b abc", "set d x", "pexpire d 9000"],
        );
        assert_eq!(
            script(
                &mut t,
                &[
                    "bitop and d a b",
                    "pttl d",
                    "bitop or d a b missing",
                    "bitop xor d a a",
                    "strlen d",
                    "bitop and d missing other",
                    "exists d",
                ]
            ),
            [int(4), int(-1), int(4), int(4), int(4), int(0), int(0)]
        );
        exec(&mut t, "bitop and d a b");
        assert_eq!(exec(&mut t, "get d"), bulk_bytes(b"\x60\x62\x63\x00"));
        exec(&mut t, "bitop or d a b");
        assert_eq!(exec(&mut t, "get d"), bulk_bytes(b"goof"));
        assert_eq!(exec(&mut t, "bitop not a a"), int(4));
        assert_eq!(exec(&mut t, "get a"), bulk_bytes(b"\x99\x90\x90\x99"));
    }

    #[test]
    fn wrong_types_and_errors() {
        let mut t = State::default();
        script(&mut t, &["rpush l a", "set s x"]);
        for line in [
            "setbit l 0 1",
            "getbit l 0",
            "bitcount l",
            "bitcount l 0 1 bit",
            "bitpos l 1",
            "bitop and d s l",
            "bitop not d l",
        ] {
            assert_eq!(exec(&mut t, line), wrongtype(), "{line}");
        }
        // BITOP on a wrong-type source leaves the destination alone.
        assert_eq!(exec(&mut t, "exists d"), int(0));
        // A list destination is replaced, as SET would.
        assert_eq!(exec(&mut t, "bitop or l s"), int(1));
        assert_eq!(exec(&mut t, "type l"), Reply::Simple("string".into()));
        let err = |s: &str| Reply::error(s);
        assert_eq!(
            script(
                &mut t,
                &[
                    "setbit s 4294967296 1",
                    "setbit s 0 2",
                    "bitcount s 0",
                    "bitpos s 2",
                    "bitop not d s s",
                ]
            ),
            [
                err("ERR bit offset is not an integer or out of range"),
                err("ERR bit is not an integer or out of range"),
                err("ERR syntax error"),
                err("ERR The bit argument must be 1 or 0."),
                err("ERR BITOP NOT must be called with a single source key."),
            ]
        );
    }
}
