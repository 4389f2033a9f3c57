//! List commands (t_list.c), without the blocking ones.

use crate::errors::RedisError;
use bytes::Bytes;

use super::{int, is, positive, random_count, Result};
use crate::command::{Command, CommandError, ListEnd, ReadCommand, WriteCommand};

/// Parses the list command `name` (lowercase, arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    use Command::{Read, Write};
    use ReadCommand as R;
    use WriteCommand as W;
    let push = |key: &Bytes, end, elements: &[Bytes], existing| {
        Write(W::LPush {
            key: key.clone(),
            end,
            elements: elements.to_vec(),
            existing,
        })
    };
    Ok(match (name, args) {
        ("lpush", [_, key, elements @ ..]) if !elements.is_empty() => {
            push(key, ListEnd::Left, elements, false)
        }
        ("rpush", [_, key, elements @ ..]) if !elements.is_empty() => {
            push(key, ListEnd::Right, elements, false)
        }
        ("lpushx", [_, key, elements @ ..]) if !elements.is_empty() => {
            push(key, ListEnd::Left, elements, true)
        }
        ("rpushx", [_, key, elements @ ..]) if !elements.is_empty() => {
            push(key, ListEnd::Right, elements, true)
        }
        ("lpop" | "rpop", [_, key, count @ ..]) if count.len() <= 1 => Write(W::LPop {
            key: key.clone(),
            end: if name == "lpop" {
                ListEnd::Left
            } else {
                ListEnd::Right
            },
            count: match count {
                [count] => Some(positive(count, RedisError::OutOfRangePositive.text())?),
                _ => None,
            },
        }),
        ("llen", [_, key]) => Read(R::LLen { key: key.clone() }),
        ("lrange", [_, key, start, stop]) => Read(R::LRange {
            key: key.clone(),
            start: int(start)?,
            stop: int(stop)?,
        }),
        ("lindex", [_, key, index]) => Read(R::LIndex {
            key: key.clone(),
            index: int(index)?,
        }),
        ("lset", [_, key, index, element]) => Write(W::LSet {
            key: key.clone(),
            index: int(index)?,
            element: element.clone(),
        }),
        ("linsert", [_, key, place, pivot, element]) => {
            let before = if is(place, "after") {
                false
            } else if is(place, "before") {
                true
            } else {
                return Err(CommandError::Syntax);
            };
            Write(W::LInsert {
                key: key.clone(),
                before,
                pivot: pivot.clone(),
                element: element.clone(),
            })
        }
        ("lrem", [_, key, count, element]) => Write(W::LRem {
            key: key.clone(),
            count: int(count)?,
            element: element.clone(),
        }),
        ("ltrim", [_, key, start, stop]) => Write(W::LTrim {
            key: key.clone(),
            start: int(start)?,
            stop: int(stop)?,
        }),
        ("lpos", [_, key, element, options @ ..]) => Read(lpos(key, element, options)?),
        ("lmove", [_, source, destination, from, to]) => Write(W::LMove {
            source: source.clone(),
            destination: destination.clone(),
            from: list_end(from)?,
            to: list_end(to)?,
        }),
        ("rpoplpush", [_, source, destination]) => Write(W::LMove {
            source: source.clone(),
            destination: destination.clone(),
            from: ListEnd::Right,
            to: ListEnd::Left,
        }),
        _ => return Err(CommandError::Arity(name.into())),
    })
}

/// LMOVE's `LEFT` or `RIGHT` (`getListPositionFromObjectOrReply`).
pub(super) fn list_end(arg: &[u8]) -> Result<ListEnd> {
    if is(arg, "right") {
        Ok(ListEnd::Right)
    } else if is(arg, "left") {
        Ok(ListEnd::Left)
    } else {
        Err(CommandError::Syntax)
    }
}

/// LPOS's options (`lposCommand`): each may repeat, the last wins; an option without its
/// value is a syntax error. Checked in order, so the first bad one is reported.
fn lpos(key: &Bytes, element: &Bytes, options: &[Bytes]) -> Result<ReadCommand> {
    let mut rank = 1;
    let mut count = None;
    let mut maxlen = 0;
    let mut rest = options;
    while let Some((option, tail)) = rest.split_first() {
        let Some((value, tail)) = tail.split_first() else {
            return Err(CommandError::Syntax);
        };
        if is(option, "rank") {
            rank = random_count(value)?;
            if rank == 0 {
                return Err(CommandError::Other(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list"
                        .into(),
                ));
            }
        } else if is(option, "count") {
            count = Some(positive(value, RedisError::CountNegative.text())?);
        } else if is(option, "maxlen") {
            maxlen = positive(value, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(CommandError::Syntax);
        }
        rest = tail;
    }
    Ok(ReadCommand::LPos {
        key: key.clone(),
        element: element.clone(),
        rank,
        count,
        maxlen,
    })
}
