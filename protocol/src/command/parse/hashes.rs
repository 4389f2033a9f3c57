//! Hash commands (t_hash.c).

use crate::errors::RedisError;
use bytes::Bytes;

use super::{collection_scan, int, is, random_count, Result};
use crate::command::{CollectionKind, Command, CommandError, HashPart, ReadCommand, WriteCommand};
use crate::long_double::LongDouble;

/// Parses the hash command `name` (lowercase, arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    use Command::{Read, Write};
    use ReadCommand as R;
    use WriteCommand as W;
    let all = |key: &Bytes, part| {
        Read(R::HGetAll {
            key: key.clone(),
            part,
        })
    };
    Ok(match (name, args) {
        ("hset" | "hmset", [_, key, rest @ ..]) => Write(W::HSet {
            key: key.clone(),
            pairs: super::pairs(rest)
                .filter(|p| !p.is_empty())
                .ok_or_else(|| CommandError::Arity(name.into()))?,
            hmset: name == "hmset",
        }),
        ("hsetnx", [_, key, field, value]) => Write(W::HSetNx {
            key: key.clone(),
            field: field.clone(),
            value: value.clone(),
        }),
        ("hget", [_, key, field]) => Read(R::HGet {
            key: key.clone(),
            field: field.clone(),
        }),
        ("hmget", [_, key, fields @ ..]) if !fields.is_empty() => Read(R::HMGet {
            key: key.clone(),
            fields: fields.to_vec(),
        }),
        ("hgetall", [_, key]) => all(key, HashPart::All),
        ("hkeys", [_, key]) => all(key, HashPart::Keys),
        ("hvals", [_, key]) => all(key, HashPart::Values),
        ("hdel", [_, key, fields @ ..]) if !fields.is_empty() => Write(W::HDel {
            key: key.clone(),
            fields: fields.to_vec(),
        }),
        ("hexists", [_, key, field]) => Read(R::HExists {
            key: key.clone(),
            field: field.clone(),
        }),
        ("hlen", [_, key]) => Read(R::HLen { key: key.clone() }),
        ("hstrlen", [_, key, field]) => Read(R::HStrLen {
            key: key.clone(),
            field: field.clone(),
        }),
        ("hincrby", [_, key, field, delta]) => Write(W::HIncrBy {
            key: key.clone(),
            field: field.clone(),
            delta: int(delta)?,
        }),
        ("hincrbyfloat", [_, key, field, delta]) => {
            let delta = LongDouble::parse(delta).ok_or(CommandError::NotFloat)?;
            if !delta.is_finite() {
                return Err(CommandError::Redis(RedisError::NaNOrInfinity));
            }
            Write(W::HIncrByFloat {
                key: key.clone(),
                field: field.clone(),
                delta,
            })
        }
        ("hrandfield", [_, key, rest @ ..]) => Read(hrandfield(key, rest)?),
        ("hscan", [_, key, cursor, options @ ..]) => {
            Read(collection_scan(key, CollectionKind::Hash, cursor, options)?)
        }
        _ => return Err(CommandError::Arity(name.into())),
    })
}

/// HRANDFIELD key [count [WITHVALUES]].
fn hrandfield(key: &Bytes, rest: &[Bytes]) -> Result<ReadCommand> {
    let (count, with_values) = random_count_and(rest, "withvalues")?;
    Ok(ReadCommand::HRandField {
        key: key.clone(),
        count,
        with_values,
    })
}

/// `[count [<option>]]` of HRANDFIELD (WITHVALUES) and ZRANDMEMBER (WITHSCORES): the count is
/// checked first, then the option, then (with the option) that twice the count fits.
pub(super) fn random_count_and(rest: &[Bytes], option: &str) -> Result<(Option<i64>, bool)> {
    Ok(match rest {
        [] => (None, false),
        [count, options @ ..] => {
            let count = random_count(count)?;
            let with = match options {
                [] => false,
                [o] if is(o, option) => {
                    if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
                        return Err(CommandError::Redis(RedisError::OutOfRange));
                    }
                    true
                }
                _ => return Err(CommandError::Syntax),
            };
            (Some(count), with)
        }
    })
}
