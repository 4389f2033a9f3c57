//! Sorted set commands (t_zset.c), without the blocking ones.

use crate::errors::RedisError;
use bytes::Bytes;

use super::{collection_scan, int, is, positive, Result};
use crate::command::{
    CollectionKind, Command, CommandError, LexBound, ReadCommand, ScoreBound, SetCondition, SetOp,
    WriteCommand, ZAggregate, ZCompare, ZRange, ZRangeBy,
};
use crate::num::{parse_float, parse_i64};

/// Parses the sorted set command `name` (lowercase, arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    use Command::{Read, Write};
    use ReadCommand as R;
    use WriteCommand as W;
    Ok(match (name, args) {
        ("zadd", [_, key, rest @ ..]) => Write(zadd(key, rest)?),
        ("zrem", [_, key, members @ ..]) if !members.is_empty() => Write(W::ZRem {
            key: key.clone(),
            members: members.to_vec(),
        }),
        ("zincrby", [_, key, delta, member]) => Write(W::ZIncrBy {
            key: key.clone(),
            delta: score(delta)?,
            member: member.clone(),
        }),
        ("zscore", [_, key, member]) => Read(R::ZScore {
            key: key.clone(),
            member: member.clone(),
        }),
        ("zmscore", [_, key, members @ ..]) if !members.is_empty() => Read(R::ZMScore {
            key: key.clone(),
            members: members.to_vec(),
        }),
        ("zcard", [_, key]) => Read(R::ZCard { key: key.clone() }),
        ("zcount", [_, key, min, max]) => Read(R::ZCount {
            key: key.clone(),
            by: score_range(min, max)?,
        }),
        ("zlexcount", [_, key, min, max]) => Read(R::ZCount {
            key: key.clone(),
            by: lex_range(min, max)?,
        }),
        ("zrange", [_, key, a, b, options @ ..]) => {
            let (range, with_scores) = zrange(Shape::Auto, a, b, options, false)?;
            Read(R::ZRange {
                key: key.clone(),
                range,
                with_scores,
            })
        }
        (
            "zrangebyscore" | "zrevrangebyscore" | "zrevrange" | "zrangebylex" | "zrevrangebylex",
            [_, key, a, b, options @ ..],
        ) => {
            let shape = match name {
                "zrangebyscore" => Shape::Fixed(Kind::Score, false),
                "zrevrangebyscore" => Shape::Fixed(Kind::Score, true),
                "zrevrange" => Shape::Fixed(Kind::Rank, true),
                "zrangebylex" => Shape::Fixed(Kind::Lex, false),
                _ => Shape::Fixed(Kind::Lex, true),
            };
            let (range, with_scores) = zrange(shape, a, b, options, false)?;
            Read(R::ZRange {
                key: key.clone(),
                range,
                with_scores,
            })
        }
        ("zrangestore", [_, destination, key, a, b, options @ ..]) => {
            let (range, _) = zrange(Shape::Auto, a, b, options, true)?;
            Write(W::ZRangeStore {
                destination: destination.clone(),
                key: key.clone(),
                range,
            })
        }
        ("zrank" | "zrevrank", [_, key, member, rest @ ..]) => {
            let with_score = match rest {
                [] => false,
                [option] if is(option, "withscore") => true,
                [_] => return Err(CommandError::Syntax),
                _ => return Err(CommandError::Arity(name.into())),
            };
            Read(R::ZRank {
                key: key.clone(),
                member: member.clone(),
                rev: name == "zrevrank",
                with_score,
            })
        }
        ("zpopmin" | "zpopmax", [_, key, rest @ ..]) => Write(W::ZPop {
            key: key.clone(),
            max: name == "zpopmax",
            count: match rest {
                [] => None,
                [count] => Some(positive(count, RedisError::OutOfRangePositive.text())?),
                _ => return Err(CommandError::Syntax),
            },
        }),
        ("zremrangebyrank", [_, key, start, stop]) => Write(W::ZRemRange {
            key: key.clone(),
            by: ZRangeBy::Rank {
                start: int(start)?,
                stop: int(stop)?,
            },
        }),
        ("zremrangebyscore", [_, key, min, max]) => Write(W::ZRemRange {
            key: key.clone(),
            by: score_range(min, max)?,
        }),
        ("zremrangebylex", [_, key, min, max]) => Write(W::ZRemRange {
            key: key.clone(),
            by: lex_range(min, max)?,
        }),
        ("zscan", [_, key, cursor, options @ ..]) => {
            Read(collection_scan(key, CollectionKind::ZSet, cursor, options)?)
        }
        ("zrandmember", [_, key, rest @ ..]) => {
            let (count, with_scores) = super::hashes::random_count_and(rest, "withscores")?;
            Read(R::ZRandMember {
                key: key.clone(),
                count,
                with_scores,
            })
        }
        ("zunion" | "zinter" | "zdiff", [_, numkeys, rest @ ..]) => {
            let op = match name {
                "zunion" => SetOp::Union,
                "zinter" => SetOp::Inter,
                _ => SetOp::Diff,
            };
            let c = combination(name, op, numkeys, rest, Form::Reply)?;
            Read(R::ZCombine {
                op,
                keys: c.keys,
                weights: c.weights,
                aggregate: c.aggregate,
                with_scores: c.with_scores,
            })
        }
        ("zintercard", [_, numkeys, rest @ ..]) => {
            let c = combination(name, SetOp::Inter, numkeys, rest, Form::Card)?;
            Read(R::ZInterCard {
                keys: c.keys,
                limit: c.limit,
            })
        }
        ("zunionstore" | "zinterstore" | "zdiffstore", [_, destination, numkeys, rest @ ..]) => {
            let op = match name {
                "zunionstore" => SetOp::Union,
                "zinterstore" => SetOp::Inter,
                _ => SetOp::Diff,
            };
            Write(zstore(name, op, destination, numkeys, rest)?)
        }
        _ => return Err(CommandError::Arity(name.into())),
    })
}

/// A score argument (Redis's `getDoubleFromObject`: `strtod` over the whole text, no NaN, no
/// overflow to infinity; `inf` spelled out is fine).
pub(crate) fn score(arg: &[u8]) -> Result<f64> {
    let value = parse_float(arg).ok_or(CommandError::NotFloat)?;
    if value.is_infinite() {
        let body = arg
            .strip_prefix(b"-")
            .or(arg.strip_prefix(b"+"))
            .unwrap_or(arg);
        if !(is(body, "inf") || is(body, "infinity")) {
            return Err(CommandError::NotFloat);
        }
    }
    Ok(value)
}

/// ZADD's options and pairs (`zaddGenericCommand`), with its checks in its order.
fn zadd(key: &Bytes, rest: &[Bytes]) -> Result<WriteCommand> {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut i = 0;
    while let Some(arg) = rest.get(i) {
        let flag = if is(arg, "nx") {
            &mut nx
        } else if is(arg, "xx") {
            &mut xx
        } else if is(arg, "gt") {
            &mut gt
        } else if is(arg, "lt") {
            &mut lt
        } else if is(arg, "ch") {
            &mut ch
        } else if is(arg, "incr") {
            &mut incr
        } else {
            break;
        };
        *flag = true;
        i += 1;
    }
    let elements = rest.get(i..).unwrap_or_default();
    if elements.is_empty() || elements.len() % 2 != 0 {
        return Err(CommandError::Syntax);
    }
    if nx && xx {
        return Err(CommandError::Other(
            "ERR XX and NX options at the same time are not compatible".into(),
        ));
    }
    if ((gt || lt) && nx) || (gt && lt) {
        return Err(CommandError::Other(
            "ERR GT, LT, and/or NX options at the same time are not compatible".into(),
        ));
    }
    if incr && elements.len() > 2 {
        return Err(CommandError::Other(
            "ERR INCR option supports a single increment-element pair".into(),
        ));
    }
    let mut pairs = Vec::with_capacity(elements.len() / 2);
    for pair in elements.chunks_exact(2) {
        if let [s, member] = pair {
            pairs.push((score(s)?, member.clone()));
        }
    }
    Ok(WriteCommand::ZAdd {
        key: key.clone(),
        pairs,
        condition: match (nx, xx) {
            (true, _) => Some(SetCondition::Nx),
            (_, true) => Some(SetCondition::Xx),
            _ => None,
        },
        compare: match (gt, lt) {
            (true, _) => Some(ZCompare::Gt),
            (_, true) => Some(ZCompare::Lt),
            _ => None,
        },
        ch,
        incr,
    })
}

/// One end of a score range (`zslParseRange`): `(` for exclusive, then `strtod`'s syntax.
fn score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let (exclusive, text) = match arg.strip_prefix(b"(") {
        Some(rest) => (true, rest),
        None => (false, arg),
    };
    parse_float(text).map(|value| ScoreBound { value, exclusive })
}

fn score_range(min: &[u8], max: &[u8]) -> Result<ZRangeBy> {
    match (score_bound(min), score_bound(max)) {
        (Some(min), Some(max)) => Ok(ZRangeBy::Score { min, max }),
        _ => Err(CommandError::Redis(RedisError::MinMaxNotFloat)),
    }
}

/// One end of a lex range (`zslParseLexRangeItem`).
fn lex_bound(arg: &Bytes) -> Option<LexBound> {
    match arg.first() {
        Some(b'-') if arg.len() == 1 => Some(LexBound::Min),
        Some(b'+') if arg.len() == 1 => Some(LexBound::Max),
        Some(b'[') => Some(LexBound::Inclusive(arg.slice(1..))),
        Some(b'(') => Some(LexBound::Exclusive(arg.slice(1..))),
        _ => None,
    }
}

fn lex_range(min: &Bytes, max: &Bytes) -> Result<ZRangeBy> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(ZRangeBy::Lex { min, max }),
        _ => Err(CommandError::Redis(RedisError::MinMaxNotStringRange)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rank,
    Score,
    Lex,
}

/// Whether the command fixes the range kind and direction (ZRANGEBYSCORE, ZREVRANGE, ...) or
/// takes them as options (ZRANGE, ZRANGESTORE).
#[derive(Debug, Clone, Copy)]
enum Shape {
    Auto,
    Fixed(Kind, bool),
}

/// The range and WITHSCORES of the ZRANGE family (`zrangeGenericCommand`): options first, then
/// the conflicts, then the range itself, as Redis checks them.
fn zrange(
    shape: Shape,
    a: &Bytes,
    b: &Bytes,
    options: &[Bytes],
    store: bool,
) -> Result<(ZRange, bool)> {
    let (mut kind, mut rev) = match shape {
        Shape::Auto => (None, None),
        Shape::Fixed(kind, rev) => (Some(kind), Some(rev)),
    };
    let (mut with_scores, mut offset, mut count) = (false, 0, -1);
    let mut i = 0;
    while let Some(arg) = options.get(i) {
        let left = options.len() - i - 1;
        if !store && is(arg, "withscores") {
            with_scores = true;
        } else if is(arg, "limit") && left >= 2 {
            offset = int(options.get(i + 1).map_or(&[][..], |v| v))?;
            count = int(options.get(i + 2).map_or(&[][..], |v| v))?;
            i += 2;
        } else if rev.is_none() && is(arg, "rev") {
            rev = Some(true);
        } else if kind.is_none() && is(arg, "bylex") {
            kind = Some(Kind::Lex);
        } else if kind.is_none() && is(arg, "byscore") {
            kind = Some(Kind::Score);
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    let kind = kind.unwrap_or(Kind::Rank);
    let rev = rev.unwrap_or(false);
    if count != -1 && kind == Kind::Rank {
        return Err(CommandError::Other(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                .into(),
        ));
    }
    if with_scores && kind == Kind::Lex {
        return Err(CommandError::Other(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX".into(),
        ));
    }
    // Reversed score and lex ranges are given as max, min.
    let (min, max) = if rev && kind != Kind::Rank {
        (b, a)
    } else {
        (a, b)
    };
    let by = match kind {
        Kind::Rank => ZRangeBy::Rank {
            start: int(min)?,
            stop: int(max)?,
        },
        Kind::Score => score_range(min, max)?,
        Kind::Lex => lex_range(min, max)?,
    };
    Ok((
        ZRange {
            by,
            rev,
            offset,
            count,
        },
        with_scores,
    ))
}

/// ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE destination numkeys key [key ...] [WEIGHTS w ...]
/// [AGGREGATE SUM|MIN|MAX] (`zunionInterDiffGenericCommand`; ZDIFFSTORE takes no options).
fn zstore(
    name: &str,
    op: SetOp,
    destination: &Bytes,
    numkeys: &[u8],
    rest: &[Bytes],
) -> Result<WriteCommand> {
    let c = combination(name, op, numkeys, rest, Form::Store)?;
    Ok(WriteCommand::ZStore {
        op,
        destination: destination.clone(),
        keys: c.keys,
        weights: c.weights,
        aggregate: c.aggregate,
    })
}

/// Which command of the family is being parsed: the options each accepts differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE.
    Store,
    /// ZUNION, ZINTER, ZDIFF: WITHSCORES too.
    Reply,
    /// ZINTERCARD: LIMIT only.
    Card,
}

struct Combination {
    keys: Vec<Bytes>,
    weights: Vec<f64>,
    aggregate: ZAggregate,
    with_scores: bool,
    limit: u64,
}

/// `numkeys key [key ...]` and the options (`zunionInterDiffGenericCommand`), checked in
/// Redis's order.
fn combination(
    name: &str,
    op: SetOp,
    numkeys: &[u8],
    rest: &[Bytes],
    form: Form,
) -> Result<Combination> {
    let n = parse_i64(numkeys).ok_or(CommandError::NotInteger)?;
    if n < 1 {
        return Err(CommandError::Other(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > rest.len() {
        return Err(CommandError::Syntax);
    }
    let (keys, mut options) = rest.split_at(n);
    let mut c = Combination {
        keys: keys.to_vec(),
        weights: vec![1.0; n],
        aggregate: ZAggregate::Sum,
        with_scores: false,
        limit: 0,
    };
    let algebra = op != SetOp::Diff && form != Form::Card;
    while let Some((option, tail)) = options.split_first() {
        if algebra && is(option, "weights") && tail.len() >= n {
            let (values, tail) = tail.split_at(n);
            for (w, v) in c.weights.iter_mut().zip(values) {
                *w = score(v).map_err(|_| CommandError::Redis(RedisError::WeightNotFloat))?;
            }
            options = tail;
        } else if algebra && is(option, "aggregate") && !tail.is_empty() {
            let (value, tail) = tail.split_at(1);
            c.aggregate = match value.first() {
                Some(v) if is(v, "sum") => ZAggregate::Sum,
                Some(v) if is(v, "min") => ZAggregate::Min,
                Some(v) if is(v, "max") => ZAggregate::Max,
                _ => return Err(CommandError::Syntax),
            };
            options = tail;
        } else if form == Form::Reply && is(option, "withscores") {
            c.with_scores = true;
            options = tail;
        } else if form == Form::Card && is(option, "limit") && !tail.is_empty() {
            let (value, tail) = tail.split_at(1);
            c.limit = value
                .first()
                .and_then(|v| parse_i64(v))
                .and_then(|l| u64::try_from(l).ok())
                .ok_or(CommandError::Redis(RedisError::LimitNegative))?;
            options = tail;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(c)
}
