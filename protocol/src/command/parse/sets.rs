//! Set commands (t_set.c).

use crate::errors::RedisError;
use bytes::Bytes;

use super::{collection_scan, is, positive, random_count, Result};
use crate::command::{CollectionKind, Command, CommandError, ReadCommand, SetOp, WriteCommand};
use crate::num::parse_i64;

/// Parses the set command `name` (lowercase, arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    use Command::{Read, Write};
    use ReadCommand as R;
    use WriteCommand as W;
    let algebra = |op, keys: &[Bytes]| {
        Read(R::SetAlgebra {
            op,
            keys: keys.to_vec(),
        })
    };
    let store = |op, destination: &Bytes, keys: &[Bytes]| {
        Write(W::SStore {
            op,
            destination: destination.clone(),
            keys: keys.to_vec(),
        })
    };
    Ok(match (name, args) {
        ("sadd", [_, key, members @ ..]) if !members.is_empty() => Write(W::SAdd {
            key: key.clone(),
            members: members.to_vec(),
        }),
        ("srem", [_, key, members @ ..]) if !members.is_empty() => Write(W::SRem {
            key: key.clone(),
            members: members.to_vec(),
        }),
        ("smembers", [_, key]) => Read(R::SMembers { key: key.clone() }),
        ("sismember", [_, key, member]) => Read(R::SIsMember {
            key: key.clone(),
            member: member.clone(),
        }),
        ("smismember", [_, key, members @ ..]) if !members.is_empty() => Read(R::SMIsMember {
            key: key.clone(),
            members: members.to_vec(),
        }),
        ("scard", [_, key]) => Read(R::SCard { key: key.clone() }),
        ("spop", [_, key]) => Write(W::SPop {
            key: key.clone(),
            count: None,
        }),
        ("spop", [_, key, count]) => Write(W::SPop {
            key: key.clone(),
            count: Some(positive(count, RedisError::OutOfRangePositive.text())?),
        }),
        ("srandmember", [_, key]) => Read(R::SRandMember {
            key: key.clone(),
            count: None,
        }),
        ("srandmember", [_, key, count]) => Read(R::SRandMember {
            key: key.clone(),
            count: Some(random_count(count)?),
        }),
        ("spop" | "srandmember", _) => return Err(CommandError::Syntax),
        ("smove", [_, source, destination, member]) => Write(W::SMove {
            source: source.clone(),
            destination: destination.clone(),
            member: member.clone(),
        }),
        ("sinter", [_, keys @ ..]) if !keys.is_empty() => algebra(SetOp::Inter, keys),
        ("sunion", [_, keys @ ..]) if !keys.is_empty() => algebra(SetOp::Union, keys),
        ("sdiff", [_, keys @ ..]) if !keys.is_empty() => algebra(SetOp::Diff, keys),
        ("sinterstore", [_, dst, keys @ ..]) if !keys.is_empty() => store(SetOp::Inter, dst, keys),
        ("sunionstore", [_, dst, keys @ ..]) if !keys.is_empty() => store(SetOp::Union, dst, keys),
        ("sdiffstore", [_, dst, keys @ ..]) if !keys.is_empty() => store(SetOp::Diff, dst, keys),
        ("sintercard", [_, numkeys, rest @ ..]) => Read(sintercard(numkeys, rest)?),
        ("sscan", [_, key, cursor, options @ ..]) => {
            Read(collection_scan(key, CollectionKind::Set, cursor, options)?)
        }
        _ => return Err(CommandError::Arity(name.into())),
    })
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit] (`sinterCardCommand`).
fn sintercard(numkeys: &[u8], rest: &[Bytes]) -> Result<ReadCommand> {
    let numkeys_error = || CommandError::Redis(RedisError::NumkeysNotPositive);
    let n = parse_i64(numkeys)
        .filter(|n| *n >= 1)
        .ok_or_else(numkeys_error)?;
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > rest.len() {
        return Err(CommandError::Redis(RedisError::NumkeysTooMany));
    }
    let (keys, mut options) = rest.split_at(n);
    let mut limit = 0;
    while let Some((option, tail)) = options.split_first() {
        match tail.split_first() {
            Some((value, tail)) if is(option, "limit") => {
                limit = parse_i64(value)
                    .and_then(|l| u64::try_from(l).ok())
                    .ok_or(CommandError::Redis(RedisError::LimitNegative))?;
                options = tail;
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    Ok(ReadCommand::SInterCard {
        keys: keys.to_vec(),
        limit,
    })
}
