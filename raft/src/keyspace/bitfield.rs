//! BITFIELD and BITFIELD_RO: integers of 1 to 64 bits at any bit offset of a string, read,
//! set and incremented with Redis's overflow rules (WRAP, SAT, FAIL), operation by operation.
//! The field layout is the bitmap commands' (bit 0 is the most significant bit of byte 0).

use bytes::Bytes;
use cairn_protocol::command::{BitFieldKind, BitFieldOp, Overflow};
use cairn_protocol::Reply;

use super::bits::{bitmap, get_bit, set_bit, str_bytes};
use super::{Ctx, StoredValue};
use crate::error::Result;

impl Ctx<'_> {
    /// BITFIELD with at least one SET or INCRBY: the string is created, or grown with zero
    /// bytes, to hold the farthest field written (and kept so even if every write fails under
    /// OVERFLOW FAIL, as in Redis); the operations run in order, each seeing the ones before.
    pub(crate) fn bitfield(&mut self, key: &Bytes, ops: &[BitFieldOp]) -> Result<Reply> {
        let (mut s, ttl, existed) = match self.string(key)? {
            Err(e) => return Ok(e),
            Ok(None) => (Vec::new(), None, false),
            Ok(Some(v)) => (str_bytes(&v).to_vec(), v.expire_at_ms(), true),
        };
        let needed = ops
            .iter()
            .filter(|o| o.kind != BitFieldKind::Get)
            .map(|o| ((o.offset + u64::from(o.bits) - 1) / 8 + 1) as usize)
            .max()
            .unwrap_or(0);
        let dirty = !existed || s.len() < needed;
        if s.len() < needed {
            s.resize(needed, 0);
        }
        let mut changed = false;
        let replies = ops
            .iter()
            .map(|op| {
                let (reply, wrote) = field_op(&mut s, op);
                changed |= wrote;
                reply
            })
            .collect();
        if dirty || changed {
            self.put(key, StoredValue::string(s, ttl));
        }
        Ok(Reply::Array(replies))
    }
}

/// BITFIELD's GETs (BITFIELD_RO, or BITFIELD without writes) on a key's live value.
pub(super) fn bitfield_get(value: Option<&StoredValue>, ops: &[BitFieldOp]) -> Reply {
    match bitmap(value) {
        Err(e) => e,
        Ok(s) => {
            let mut s = s.map(|b| b.to_vec()).unwrap_or_default();
            Reply::Array(ops.iter().map(|op| field_op(&mut s, op).0).collect())
        }
    }
}

/// Runs one BITFIELD operation on `s` (long enough for any write): its reply, and whether
/// it changed a bit.
fn field_op(s: &mut [u8], op: &BitFieldOp) -> (Reply, bool) {
    let bits = u32::from(op.bits);
    let old = get_field(s, op.offset, bits);
    if op.kind == BitFieldKind::Get {
        return (Reply::Integer(as_reply(old, op.signed, bits)), false);
    }
    let incrby = op.kind == BitFieldKind::IncrBy;
    // INCRBY adds to the field; SET checks its value as an increment of 0 from it (Redis's).
    let (start, incr) = if incrby {
        (old, op.value)
    } else {
        (op.value as u64, 0)
    };
    let (overflowed, new) = if op.signed {
        let start = if incrby {
            sign_extend(start, bits)
        } else {
            start as i64
        };
        let (over, v) = signed_add(start, incr, bits, op.overflow);
        (over, v as u64)
    } else {
        unsigned_add(start, incr, bits, op.overflow)
    };
    if overflowed && op.overflow == Overflow::Fail {
        return (Reply::Nil, false);
    }
    set_field(s, op.offset, bits, new);
    let reply = if incrby { new } else { old };
    let wrote = get_field(s, op.offset, bits) != old;
    (Reply::Integer(as_reply(reply, op.signed, bits)), wrote)
}

fn as_reply(v: u64, signed: bool, bits: u32) -> i64 {
    if signed {
        sign_extend(v, bits)
    } else {
        v as i64
    }
}

/// The `bits`-wide field at bit `offset` (most significant bit first), as Redis reads it;
/// bits past the end are 0.
fn get_field(s: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0u64, |v, i| (v << 1) | u64::from(get_bit(s, offset + i)))
}

fn set_field(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        let bit = (value >> (u64::from(bits) - 1 - i)) & 1 == 1;
        set_bit(s, offset + i, bit);
    }
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// `value + incr` in an unsigned field of `bits`: (overflowed, the value to store) under
/// `overflow` (WRAP: modulo 2^bits; SAT: the nearest limit; FAIL: not stored).
fn unsigned_add(value: u64, incr: i64, bits: u32, overflow: Overflow) -> (bool, u64) {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let wrapped = || {
        let sum = value.wrapping_add(incr as u64);
        if bits == 64 {
            sum
        } else {
            sum & max
        }
    };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    if value > max || (incr > 0 && incr > max_incr) {
        (
            true,
            if overflow == Overflow::Sat {
                max
            } else {
                wrapped()
            },
        )
    } else if incr < 0 && incr < min_incr {
        (
            true,
            if overflow == Overflow::Sat {
                0
            } else {
                wrapped()
            },
        )
    } else {
        (false, value.wrapping_add(incr as u64))
    }
}

/// `value + incr` in a signed field of `bits`, as [`unsigned_add`] (WRAP: two's complement).
fn signed_add(value: i64, incr: i64, bits: u32, overflow: Overflow) -> (bool, i64) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let wrapped = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        (
            true,
            if overflow == Overflow::Sat {
                max
            } else {
                wrapped()
            },
        )
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        (
            true,
            if overflow == Overflow::Sat {
                min
            } else {
                wrapped()
            },
        )
    } else {
        (false, value.wrapping_add(incr))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn op(kind: BitFieldKind, ty: &str, offset: u64, value: i64, overflow: Overflow) -> BitFieldOp {
        BitFieldOp {
            kind,
            signed: ty.starts_with('i'),
            bits: ty[1..].parse().unwrap(),
            offset,
            value,
            overflow,
        }
    }

    /// `BITFIELD k SET i8 0 -100 GET u4 0 INCRBY u2 100 1 OVERFLOW SAT INCRBY i5 #3 100
    /// INCRBY u7 3 -1000 OVERFLOW FAIL INCRBY i8 0 -200 OVERFLOW WRAP SET i64 64 -1
    /// INCRBY i64 64 -9223372036854775807` on a missing key: redis-server 7.0.15 answers and
    /// stores these.
    #[test]
    fn the_same_answers_and_bytes_as_redis_server() {
        use BitFieldKind::{Get, IncrBy, Set};
        use Overflow::{Fail, Sat, Wrap};
        let ops = [
            op(Set, "i8", 0, -100, Wrap),
            op(Get, "u4", 0, 0, Wrap),
            op(IncrBy, "u2", 100, 1, Wrap),
            op(IncrBy, "i5", 15, 100, Sat),
            op(IncrBy, "u7", 3, -1000, Sat),
            op(IncrBy, "i8", 0, -200, Fail),
            op(Set, "i64", 64, -1, Wrap),
            op(IncrBy, "i64", 64, -9_223_372_036_854_775_807, Wrap),
        ];
        let mut s = vec![0u8; 16];
        let replies: Vec<Reply> = ops.iter().map(|o| field_op(&mut s, o).0).collect();
        let ints = |v: &[i64]| v.iter().map(|&i| Reply::Integer(i)).collect::<Vec<_>>();
        let mut want = ints(&[0, 9, 1, 15, 0]);
        want.push(Reply::Nil);
        want.extend(ints(&[67_108_864, i64::MIN]));
        assert_eq!(replies, want);
        assert_eq!(
            s,
            b"\x80\x00\xf0\x00\x00\x00\x00\x00\x80\x00\x00\x00\x00\x00\x00\x00"
        );
    }
}
