//! String commands (t_string.c).

use crate::errors::RedisError;
use bytes::Bytes;

use super::{int, is, Result, TtlOption};
use crate::command::{
    Command, CommandError, GetExTtl, LcsAnswer, ReadCommand, SetCondition, SetTtl, WriteCommand,
    MAX_STRING_LEN,
};
use crate::long_double::LongDouble;

/// Parses the string command `name` (lowercase, arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    use Command::{Read, Write};
    use ReadCommand as R;
    use WriteCommand as W;
    Ok(match (name, args) {
        ("get", [_, key]) => Read(R::Get { key: key.clone() }),
        ("set", [_, key, value, options @ ..]) => Write(set(key, value, options)?),
        ("setnx", [_, key, value]) => Write(W::SetNx {
            key: key.clone(),
            value: value.clone(),
        }),
        ("setex", [_, key, ttl, value]) => {
            Write(set_with_ttl(key, value, TtlOption::Ex, ttl, name)?)
        }
        ("psetex", [_, key, ttl, value]) => {
            Write(set_with_ttl(key, value, TtlOption::Px, ttl, name)?)
        }
        ("getset", [_, key, value]) => Write(W::GetSet {
            key: key.clone(),
            value: value.clone(),
        }),
        ("getdel", [_, key]) => Write(W::GetDel { key: key.clone() }),
        ("getex", [_, key, options @ ..]) => Write(W::GetEx {
            key: key.clone(),
            ttl: getex_ttl(options)?,
        }),
        ("mget", [_, keys @ ..]) if !keys.is_empty() => Read(R::MGet {
            keys: keys.to_vec(),
        }),
        ("mset", [_, rest @ ..]) => Write(W::MSet {
            pairs: pairs(rest, name)?,
        }),
        ("msetnx", [_, rest @ ..]) => Write(W::MSetNx {
            pairs: pairs(rest, name)?,
        }),
        ("append", [_, key, value]) => Write(W::Append {
            key: key.clone(),
            value: value.clone(),
        }),
        ("strlen", [_, key]) => Read(R::StrLen { key: key.clone() }),
        ("getrange", [_, key, start, end]) => Read(R::GetRange {
            key: key.clone(),
            start: int(start)?,
            end: int(end)?,
        }),
        ("setrange", [_, key, offset, value]) => Write(setrange(key, offset, value)?),
        ("lcs", [_, a, b, options @ ..]) => Read(R::Lcs {
            a: a.clone(),
            b: b.clone(),
            answer: lcs_answer(options)?,
        }),
        ("incr", [_, key]) => incr_by(key, 1),
        ("decr", [_, key]) => incr_by(key, -1),
        ("incrby", [_, key, delta]) => incr_by(key, int(delta)?),
        ("decrby", [_, key, delta]) => {
            let delta = int(delta)?;
            if delta == i64::MIN {
                return Err(CommandError::Other("ERR decrement would overflow".into()));
            }
            incr_by(key, -delta)
        }
        ("incrbyfloat", [_, key, delta]) => {
            // Redis's `string2ld`: a `long double`, with its range and precision.
            let delta = LongDouble::parse(delta).ok_or(CommandError::NotFloat)?;
            // Redis accepts `inf` here but then fails the increment, since the result is
            // infinite whatever the stored value: refuse it before it reaches the log.
            if !delta.is_finite() {
                return Err(CommandError::Redis(RedisError::IncrNaN));
            }
            Write(W::IncrByFloat {
                key: key.clone(),
                delta,
            })
        }
        _ => return Err(CommandError::Arity(name.into())),
    })
}

fn incr_by(key: &Bytes, delta: i64) -> Command {
    Command::Write(WriteCommand::IncrBy {
        key: key.clone(),
        delta,
    })
}

/// SET's options (`parseExtendedStringArgumentsOrReply` with `COMMAND_SET`). An option may be
/// repeated (the last TTL value wins); NX with XX, or two different TTL options, or KEEPTTL
/// with a TTL, is a syntax error. NX with GET is allowed (Redis 7). The TTL value is checked
/// after all options, as in Redis.
fn set(key: &Bytes, value: &Bytes, options: &[Bytes]) -> Result<WriteCommand> {
    let mut nx = false;
    let mut xx = false;
    let mut get = false;
    let mut keep_ttl = false;
    let mut ttl: Option<(TtlOption, &Bytes)> = None;
    let mut i = 0;
    while let Some(option) = options.get(i) {
        let next = options.get(i + 1);
        if is(option, "nx") && !xx {
            nx = true;
        } else if is(option, "xx") && !nx {
            xx = true;
        } else if is(option, "get") {
            get = true;
        } else if is(option, "keepttl") && ttl.is_none() {
            keep_ttl = true;
        } else if let (Some(kind), Some(next)) = (TtlOption::from_keyword(option), next) {
            if keep_ttl || ttl.is_some_and(|(other, _)| other != kind) {
                return Err(CommandError::Syntax);
            }
            ttl = Some((kind, next));
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    let ttl = match ttl {
        Some((kind, v)) => SetTtl::Set(kind.expiry(v, "set")?),
        None if keep_ttl => SetTtl::Keep,
        None => SetTtl::Clear,
    };
    let condition = if nx {
        Some(SetCondition::Nx)
    } else if xx {
        Some(SetCondition::Xx)
    } else {
        None
    };
    Ok(WriteCommand::Set {
        key: key.clone(),
        value: value.clone(),
        condition,
        get,
        ttl,
    })
}

/// SETEX and PSETEX: a SET with a TTL, validated as SET's EX/PX are but named after the
/// command in the error.
fn set_with_ttl(
    key: &Bytes,
    value: &Bytes,
    kind: TtlOption,
    ttl: &Bytes,
    command: &str,
) -> Result<WriteCommand> {
    Ok(WriteCommand::Set {
        key: key.clone(),
        value: value.clone(),
        condition: None,
        get: false,
        ttl: SetTtl::Set(kind.expiry(ttl, command)?),
    })
}

/// GETEX's options (`parseExtendedStringArgumentsOrReply` with `COMMAND_GET`): one of EX, PX,
/// EXAT, PXAT (repeatable) or PERSIST.
fn getex_ttl(options: &[Bytes]) -> Result<GetExTtl> {
    let mut persist = false;
    let mut ttl: Option<(TtlOption, &Bytes)> = None;
    let mut i = 0;
    while let Some(option) = options.get(i) {
        if is(option, "persist") && ttl.is_none() {
            persist = true;
        } else if let (Some(kind), Some(next)) =
            (TtlOption::from_keyword(option), options.get(i + 1))
        {
            if persist || ttl.is_some_and(|(other, _)| other != kind) {
                return Err(CommandError::Syntax);
            }
            ttl = Some((kind, next));
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Ok(match ttl {
        Some((kind, v)) => GetExTtl::Set(kind.expiry(v, "getex")?),
        None if persist => GetExTtl::Persist,
        None => GetExTtl::Unchanged,
    })
}

/// MSET/MSETNX's key-value pairs; an odd count is an arity error, as in Redis.
fn pairs(rest: &[Bytes], command: &str) -> Result<Vec<(Bytes, Bytes)>> {
    super::pairs(rest)
        .filter(|pairs| !pairs.is_empty())
        .ok_or_else(|| CommandError::Arity(command.into()))
}

/// SETRANGE: the offset must be a non-negative integer, and offset + length must fit in a
/// Redis string unless nothing is written (an empty value never grows the string).
fn setrange(key: &Bytes, offset: &Bytes, value: &Bytes) -> Result<WriteCommand> {
    let offset = u64::try_from(int(offset)?)
        .map_err(|_| CommandError::Redis(RedisError::OffsetOutOfRange))?;
    let len = u64::try_from(value.len()).unwrap_or(u64::MAX);
    if !value.is_empty() && offset.saturating_add(len) > MAX_STRING_LEN {
        return Err(CommandError::Redis(RedisError::StringTooLong));
    }
    Ok(WriteCommand::SetRange {
        key: key.clone(),
        offset,
        value: value.clone(),
    })
}

/// LCS's options, as Redis reads them: in any order, a negative MINMATCHLEN counts as 0, and
/// LEN with IDX is refused.
fn lcs_answer(options: &[Bytes]) -> Result<LcsAnswer> {
    let (mut len, mut idx, mut with_match_len, mut min_match_len) = (false, false, false, 0u64);
    let mut rest = options;
    while let Some((opt, tail)) = rest.split_first() {
        rest = tail;
        if is(opt, "len") {
            len = true;
        } else if is(opt, "idx") {
            idx = true;
        } else if is(opt, "withmatchlen") {
            with_match_len = true;
        } else if let (true, Some((n, tail))) = (is(opt, "minmatchlen"), rest.split_first()) {
            min_match_len = u64::try_from(int(n)?).unwrap_or(0);
            rest = tail;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if len && idx {
        return Err(CommandError::Other(
            "ERR If you want both the length and indexes, please just use IDX.".into(),
        ));
    }
    Ok(if idx {
        LcsAnswer::Ranges {
            min_match_len,
            with_match_len,
        }
    } else if len {
        LcsAnswer::Len
    } else {
        LcsAnswer::Text
    })
}
