//! Bitmap commands (bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP.
//!
//! The checks run in the order Redis runs them, so the first error is Redis's. Redis looks
//! the key up before parsing BITCOUNT's and BITPOS's range (a missing key answers without
//! looking at it); here the range is always checked, so that only valid reads are served.

use crate::errors::RedisError;
use bytes::Bytes;

use super::{int, is, Result};
use crate::command::{
    BitFieldKind, BitFieldOp, BitOp, BitRange, BitUnit, Command, CommandError, Overflow,
    ReadCommand, WriteCommand, MAX_BIT_OFFSET,
};
use crate::num::parse_i64;

/// Parses the bitmap command `name` (lowercase, arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    use Command::{Read, Write};
    Ok(match (name, args) {
        ("setbit", [_, key, offset, value]) => Write(WriteCommand::SetBit {
            key: key.clone(),
            offset: bit_offset(offset)?,
            value: bit_value(value)?,
        }),
        ("getbit", [_, key, offset]) => Read(ReadCommand::GetBit {
            key: key.clone(),
            offset: bit_offset(offset)?,
        }),
        ("bitcount", [_, key, range @ ..]) => Read(ReadCommand::BitCount {
            key: key.clone(),
            range: bitcount_range(range)?,
        }),
        ("bitpos", [_, key, bit, range @ ..]) => Read(bitpos(key, bit, range)?),
        ("bitop", [_, op, destination, keys @ ..]) if !keys.is_empty() => {
            Write(bitop(op, destination, keys)?)
        }
        ("bitfield" | "bitfield_ro", [_, key, rest @ ..]) => {
            let ops = bitfield_ops(rest)?;
            let key = key.clone();
            if ops.iter().all(|o| o.kind == BitFieldKind::Get) {
                Read(ReadCommand::BitField { key, ops })
            } else if name == "bitfield_ro" {
                return Err(CommandError::Other(
                    "ERR BITFIELD_RO only supports the GET subcommand".into(),
                ));
            } else {
                Write(WriteCommand::BitField { key, ops })
            }
        }
        _ => return Err(CommandError::Arity(name.into())),
    })
}

/// SETBIT's and GETBIT's offset (`getBitOffsetFromArgument`): a non-negative integer whose
/// byte lies within the largest string Redis builds.
fn bit_offset(arg: &[u8]) -> Result<u64> {
    parse_i64(arg)
        .and_then(|n| u64::try_from(n).ok())
        .filter(|&n| n < MAX_BIT_OFFSET)
        .ok_or(CommandError::Redis(RedisError::BitOffset))
}

/// SETBIT's value: the integer 0 or 1; any other integer gets the same error as a
/// non-integer.
fn bit_value(arg: &[u8]) -> Result<bool> {
    match parse_i64(arg) {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => Err(CommandError::Redis(RedisError::BitNotInteger)),
    }
}

/// BITFIELD's operations, checked in Redis's order (each operation's type, offset and value
/// before the next); OVERFLOW applies to the operations after it.
fn bitfield_ops(mut args: &[Bytes]) -> Result<Vec<BitFieldOp>> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    while let Some((sub, rest)) = args.split_first() {
        let kind = if is(sub, "get") && rest.len() >= 2 {
            BitFieldKind::Get
        } else if is(sub, "set") && rest.len() >= 3 {
            BitFieldKind::Set
        } else if is(sub, "incrby") && rest.len() >= 3 {
            BitFieldKind::IncrBy
        } else if is(sub, "overflow") && !rest.is_empty() {
            overflow = if is(&rest[0], "wrap") {
                Overflow::Wrap
            } else if is(&rest[0], "sat") {
                Overflow::Sat
            } else if is(&rest[0], "fail") {
                Overflow::Fail
            } else {
                return Err(CommandError::Other(
                    "ERR Invalid OVERFLOW type specified".into(),
                ));
            };
            args = &rest[1..];
            continue;
        } else {
            return Err(CommandError::Syntax);
        };
        let (signed, bits) = bitfield_type(&rest[0])?;
        let offset = bitfield_offset(&rest[1], bits)?;
        let value = if kind == BitFieldKind::Get {
            0
        } else {
            int(&rest[2])?
        };
        ops.push(BitFieldOp {
            kind,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
        args = &rest[if kind == BitFieldKind::Get { 2 } else { 3 }..];
    }
    Ok(ops)
}

/// `i1`..`i64` or `u1`..`u63`.
fn bitfield_type(arg: &[u8]) -> Result<(bool, u8)> {
    let bad = || {
        CommandError::Other(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
                .into(),
        )
    };
    let (signed, max) = match arg.first() {
        Some(b'i') => (true, 64),
        Some(b'u') => (false, 63),
        _ => return Err(bad()),
    };
    let bits = parse_i64(&arg[1..])
        .filter(|b| (1..=max).contains(b))
        .ok_or_else(bad)?;
    Ok((signed, bits as u8))
}

/// A bit offset, or `#n` for the n-th field of the type's width.
fn bitfield_offset(arg: &[u8], bits: u8) -> Result<u64> {
    let err = || CommandError::Redis(RedisError::BitOffset);
    let (hash, digits) = match arg.strip_prefix(b"#") {
        Some(rest) => (true, rest),
        None => (false, arg),
    };
    let n = parse_i64(digits).ok_or_else(err)?;
    let n = if hash {
        n.checked_mul(i64::from(bits)).ok_or_else(err)?
    } else {
        n
    };
    u64::try_from(n)
        .ok()
        .filter(|&n| n < MAX_BIT_OFFSET)
        .ok_or_else(err)
}

/// BYTE or BIT, case-insensitively.
fn unit(arg: &[u8]) -> Result<BitUnit> {
    if is(arg, "byte") {
        Ok(BitUnit::Byte)
    } else if is(arg, "bit") {
        Ok(BitUnit::Bit)
    } else {
        Err(CommandError::Syntax)
    }
}

/// BITCOUNT's optional `start end [BYTE|BIT]`: both integers are read before the unit, as in
/// Redis; a lone `start`, or anything after the unit, is a syntax error.
fn bitcount_range(args: &[Bytes]) -> Result<Option<BitRange>> {
    let (start, end, unit_arg) = match args {
        [] => return Ok(None),
        [start, end] => (start, end, None),
        [start, end, u] => (start, end, Some(u)),
        _ => return Err(CommandError::Syntax),
    };
    let (start, end) = (int(start)?, int(end)?);
    let unit = unit_arg.map_or(Ok(BitUnit::Byte), |u| unit(u))?;
    Ok(Some(BitRange { start, end, unit }))
}

/// BITPOS key bit [start [end [BYTE|BIT]]]: the bit must be 0 or 1; then the start, the unit
/// and the end are read in that order (Redis's).
fn bitpos(key: &Bytes, bit: &[u8], range: &[Bytes]) -> Result<ReadCommand> {
    let bit = match int(bit)? {
        0 => false,
        1 => true,
        _ => return Err(CommandError::Redis(RedisError::BitNotBinary)),
    };
    let (start, end, unit_arg) = match range {
        [] => (None, None, None),
        [start] => (Some(start), None, None),
        [start, end] => (Some(start), Some(end), None),
        [start, end, u] => (Some(start), Some(end), Some(u)),
        _ => return Err(CommandError::Syntax),
    };
    let start = start.map_or(Ok(0), |s| int(s))?;
    let unit = unit_arg.map_or(Ok(BitUnit::Byte), |u| unit(u))?;
    let end = end.map(|e| int(e)).transpose()?;
    Ok(ReadCommand::BitPos {
        key: key.clone(),
        bit,
        start,
        end,
        unit,
    })
}

/// BITOP: an unknown operation is a syntax error; NOT takes exactly one source key.
fn bitop(op: &[u8], destination: &Bytes, keys: &[Bytes]) -> Result<WriteCommand> {
    let op = [
        ("and", BitOp::And),
        ("or", BitOp::Or),
        ("xor", BitOp::Xor),
        ("not", BitOp::Not),
    ]
    .into_iter()
    .find(|(word, _)| is(op, word))
    .map(|(_, op)| op)
    .ok_or(CommandError::Syntax)?;
    if op == BitOp::Not && keys.len() != 1 {
        return Err(CommandError::Redis(RedisError::BitopNot));
    }
    Ok(WriteCommand::BitOp {
        op,
        destination: destination.clone(),
        keys: keys.to_vec(),
    })
}
