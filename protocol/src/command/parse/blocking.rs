//! The multi-key pops (LMPOP, ZMPOP) and the blocking commands built on pops (BLPOP, BRPOP,
//! BLMPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN, BZPOPMAX, BZMPOP), with Redis's order of checks:
//! `numkeys`, the direction and COUNT first (`lmpopGenericCommand`), the timeout last.

use crate::errors::RedisError;
use bytes::Bytes;

use super::{is, Result};
use crate::command::{BlockingCommand, Command, CommandError, ListEnd, WriteCommand};
use crate::num::parse_float;

/// The longest timeout accepted, in milliseconds (about 292 million years, as Redis's
/// `long long` milliseconds allow).
const TIMEOUT_MS_MAX: f64 = (i64::MAX / 2) as f64;

/// Parses one of this module's commands (`name` lowercase, arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    use WriteCommand as W;
    let block = |op, timeout: &Bytes| -> Result<Command> {
        Ok(Command::Blocking(BlockingCommand {
            op,
            timeout_ms: timeout_ms(timeout)?,
        }))
    };
    match (name, args) {
        ("blpop" | "brpop", [_, keys @ .., timeout]) => block(
            W::LMPop {
                keys: keys.to_vec(),
                end: if name == "blpop" {
                    ListEnd::Left
                } else {
                    ListEnd::Right
                },
                count: None,
            },
            timeout,
        ),
        ("bzpopmin" | "bzpopmax", [_, keys @ .., timeout]) => block(
            W::ZMPop {
                keys: keys.to_vec(),
                max: name == "bzpopmax",
                count: None,
            },
            timeout,
        ),
        ("brpoplpush", [_, source, destination, timeout]) => block(
            W::LMove {
                source: source.clone(),
                destination: destination.clone(),
                from: ListEnd::Right,
                to: ListEnd::Left,
            },
            timeout,
        ),
        ("blmove", [_, source, destination, from, to, timeout]) => block(
            W::LMove {
                source: source.clone(),
                destination: destination.clone(),
                from: super::lists::list_end(from)?,
                to: super::lists::list_end(to)?,
            },
            timeout,
        ),
        ("lmpop", [_, rest @ ..]) => Ok(Command::Write(mpop(rest, false)?)),
        ("zmpop", [_, rest @ ..]) => Ok(Command::Write(mpop(rest, true)?)),
        ("blmpop" | "bzmpop", [_, timeout, rest @ ..]) => {
            let op = mpop(rest, name == "bzmpop")?;
            block(op, timeout)
        }
        _ => Err(CommandError::Arity(name.into())),
    }
}

/// `numkeys key [key ...] LEFT|RIGHT [COUNT count]` (or `MIN|MAX` for sorted sets).
fn mpop(args: &[Bytes], zset: bool) -> Result<WriteCommand> {
    let Some((numkeys, rest)) = args.split_first() else {
        return Err(CommandError::Syntax);
    };
    let numkeys = at_least_one(numkeys, RedisError::NumkeysNotPositive.text())?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys >= rest.len() {
        return Err(CommandError::Syntax);
    }
    let (keys, rest) = rest.split_at(numkeys);
    let Some((direction, options)) = rest.split_first() else {
        return Err(CommandError::Syntax);
    };
    let mut count = None;
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match options.as_slice().first() {
            Some(value) if count.is_none() && is(option, "count") => {
                count = Some(at_least_one(value, "ERR count should be greater than 0")?);
                options.next();
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    let keys = keys.to_vec();
    let count = Some(count.unwrap_or(1));
    Ok(if zset {
        let max = if is(direction, "max") {
            true
        } else if is(direction, "min") {
            false
        } else {
            return Err(CommandError::Syntax);
        };
        WriteCommand::ZMPop { keys, max, count }
    } else {
        WriteCommand::LMPop {
            keys,
            end: super::lists::list_end(direction)?,
            count,
        }
    })
}

/// `getRangeLongFromObjectOrReply(1, LONG_MAX, msg)`: `msg` for a non-integer too.
fn at_least_one(arg: &[u8], msg: &str) -> Result<u64> {
    crate::num::parse_i64(arg)
        .filter(|n| *n >= 1)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| CommandError::Other(msg.into()))
}

/// A timeout in seconds with decimals (`getTimeoutFromObjectOrReply`), rounded up to whole
/// milliseconds; 0 blocks for ever.
fn timeout_ms(arg: &[u8]) -> Result<u64> {
    let secs = parse_float(arg)
        .filter(|s| !s.is_nan())
        .ok_or(CommandError::Redis(RedisError::TimeoutNotFloat))?;
    let ms = (secs * 1000.0).ceil();
    if ms < 0.0 {
        return Err(CommandError::Redis(RedisError::TimeoutNegative));
    }
    if ms > TIMEOUT_MS_MAX {
        return Err(CommandError::Redis(RedisError::TimeoutOutOfRange));
    }
    Ok(ms as u64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::from(a.to_string())).collect()
    }

    fn err(s: &str) -> String {
        let a = args(s);
        match super::super::parse(&a) {
            Err(e) => e.resp_error(),
            Ok(c) => panic!("{s} parsed as {c:?}"),
        }
    }

    #[test]
    fn blpop_takes_keys_then_a_timeout_in_seconds() {
        let cmd = super::super::parse(&args("BLPOP a b 0.0011")).unwrap();
        assert_eq!(
            cmd,
            Command::Blocking(BlockingCommand {
                op: WriteCommand::LMPop {
                    keys: args("a b"),
                    end: ListEnd::Left,
                    count: None
                },
                timeout_ms: 2,
            })
        );
        assert_eq!(err("BLPOP a -1"), "ERR timeout is negative");
        assert_eq!(
            err("BLPOP a x"),
            "ERR timeout is not a float or out of range"
        );
        assert_eq!(err("BLPOP a 1e300"), "ERR timeout is out of range");
    }

    #[test]
    fn mpop_checks_numkeys_direction_and_count_in_redis_order() {
        assert_eq!(
            super::super::parse(&args("LMPOP 2 a b RIGHT COUNT 3")).unwrap(),
            Command::Write(WriteCommand::LMPop {
                keys: args("a b"),
                end: ListEnd::Right,
                count: Some(3)
            })
        );
        assert_eq!(
            err("LMPOP 0 a LEFT"),
            "ERR numkeys should be greater than 0"
        );
        assert_eq!(
            err("LMPOP x a LEFT"),
            "ERR numkeys should be greater than 0"
        );
        assert_eq!(err("LMPOP 2 a LEFT"), "ERR syntax error");
        assert_eq!(err("LMPOP 1 a UP"), "ERR syntax error");
        assert_eq!(
            err("LMPOP 1 a LEFT COUNT 0"),
            "ERR count should be greater than 0"
        );
        assert_eq!(err("LMPOP 1 a LEFT COUNT 1 COUNT 1"), "ERR syntax error");
        assert_eq!(err("ZMPOP 1 a LEFT"), "ERR syntax error");
        assert_eq!(err("BZMPOP -1 1 a MIN"), "ERR timeout is negative");
        assert!(matches!(
            super::super::parse(&args("BZMPOP 1.5 1 z MAX")).unwrap(),
            Command::Blocking(BlockingCommand {
                op: WriteCommand::ZMPop {
                    max: true,
                    count: Some(1),
                    ..
                },
                timeout_ms: 1500,
            })
        ));
    }

    #[test]
    fn blmove_checks_directions_before_the_timeout() {
        assert_eq!(err("BLMOVE a b UP LEFT -1"), "ERR syntax error");
        assert_eq!(err("BLMOVE a b LEFT LEFT -1"), "ERR timeout is negative");
        assert_eq!(
            err("BRPOPLPUSH a b x"),
            "ERR timeout is not a float or out of range"
        );
    }
}
