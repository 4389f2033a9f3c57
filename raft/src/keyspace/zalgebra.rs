//! The algebra of sorted sets: ZUNION, ZINTER, ZDIFF (and their STORE forms), ZINTERCARD.
//! Plain sets take part with every member scored 1, as in Redis.

use cairn_protocol::errors::RedisError;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use bytes::Bytes;
use cairn_protocol::command::{ReadCommand, SetOp, ZAggregate};
use cairn_protocol::Reply;

use super::zset::scored;
use super::{Data, StoredValue, WRONGTYPE};
use crate::error::Result;

/// An input or a result: member → score, in member order (so a stored result is the same on
/// every replica).
pub(super) type Members = BTreeMap<Bytes, f64>;

/// A key's members as an input: nothing for a missing key, WRONGTYPE for a non-set.
pub(super) fn input(value: Option<&StoredValue>) -> std::result::Result<Members, Reply> {
    match value.map(|v| &v.data) {
        None => Ok(Members::new()),
        Some(Data::ZSet(z)) => Ok(z.members().map(|(m, s)| (m.clone(), s)).collect()),
        Some(Data::Set(s)) => Ok(s.iter().map(|m| (m.clone(), 1.0)).collect()),
        Some(_) => Err(Reply::error(WRONGTYPE)),
    }
}

/// The members in Redis's order: by score, equal scores by member bytes.
fn sorted(members: Members) -> Vec<(Bytes, f64)> {
    let mut all: Vec<(Bytes, f64)> = members.into_iter().collect();
    all.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    all
}

/// Combines the inputs in order; `weights` (one per input) scale scores, except for a
/// difference, which keeps the first input's scores.
pub(super) fn combine(
    op: SetOp,
    inputs: Vec<Members>,
    weights: &[f64],
    how: ZAggregate,
) -> Members {
    let mut inputs = inputs.into_iter().enumerate().map(|(i, members)| {
        if op == SetOp::Diff {
            return members;
        }
        let weight = weights.get(i).copied().unwrap_or(1.0);
        members
            .into_iter()
            .map(|(m, s)| (m, weighted(s, weight)))
            .collect()
    });
    let first = inputs.next().unwrap_or_default();
    inputs.fold(first, |acc, other| match op {
        SetOp::Union => {
            let mut acc = acc;
            for (m, s) in other {
                let v = match acc.get(&m) {
                    Some(a) => aggregate(how, *a, s),
                    None => s,
                };
                acc.insert(m, v);
            }
            acc
        }
        SetOp::Inter => acc
            .into_iter()
            .filter_map(|(m, a)| other.get(&m).map(|s| (m, aggregate(how, a, *s))))
            .collect(),
        SetOp::Diff => acc
            .into_iter()
            .filter(|(m, _)| !other.contains_key(m))
            .collect(),
    })
}

/// ZUNION, ZINTER, ZDIFF and ZINTERCARD. `live` gives the live value of a key.
pub(super) fn read<'s>(
    cmd: &ReadCommand,
    live: &dyn Fn(&[u8]) -> Option<&'s StoredValue>,
) -> Result<Reply> {
    let (keys, op) = match cmd {
        ReadCommand::ZCombine { keys, op, .. } => (keys, *op),
        ReadCommand::ZInterCard { keys, .. } => (keys, SetOp::Inter),
        _ => return Ok(Reply::from(RedisError::NotZAlgebra)),
    };
    let mut inputs = Vec::with_capacity(keys.len());
    for k in keys {
        match input(live(k)) {
            Ok(members) => inputs.push(members),
            Err(e) => return Ok(e),
        }
    }
    Ok(match cmd {
        ReadCommand::ZCombine {
            weights,
            aggregate,
            with_scores,
            ..
        } => {
            let result = sorted(combine(op, inputs, weights, *aggregate));
            if *with_scores {
                scored(result)
            } else {
                Reply::Array(result.into_iter().map(|(m, _)| Reply::Bulk(m)).collect())
            }
        }
        ReadCommand::ZInterCard { limit, .. } => {
            let n = combine(op, inputs, &[], ZAggregate::Sum).len() as u64;
            let n = if *limit > 0 { n.min(*limit) } else { n };
            Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX))
        }
        _ => Reply::from(RedisError::NotZAlgebra),
    })
}

/// `weight × score`, 0 where that is NaN (`0 × inf`), as Redis does.
fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

fn aggregate(how: ZAggregate, acc: f64, v: f64) -> f64 {
    match how {
        ZAggregate::Sum => {
            let sum = acc + v;
            // inf + -inf
            if sum.is_nan() {
                0.0
            } else {
                sum
            }
        }
        ZAggregate::Min => acc.min(v),
        ZAggregate::Max => acc.max(v),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bulks, exec, int, wrongtype};
    use super::super::State;
    use super::*;

    fn pairs(items: &[(&str, f64)]) -> Reply {
        Reply::Pairs(
            items
                .iter()
                .map(|(m, s)| (Reply::bulk(m.to_string()), Reply::Double(*s)))
                .collect(),
        )
    }

    #[test]
    fn union_inter_diff_and_intercard_read_as_redis() {
        let mut t = State::default();
        exec(&mut t, "zadd a 1 x 2 y 3 z");
        exec(&mut t, "zadd b 10 y 20 z 30 w");
        exec(&mut t, "sadd s x w");
        exec(&mut t, "set str v");
        assert_eq!(
            exec(&mut t, "zunion 2 a b withscores"),
            pairs(&[("x", 1.0), ("y", 12.0), ("z", 23.0), ("w", 30.0)])
        );
        assert_eq!(
            exec(&mut t, "zinter 2 a b weights 2 1 aggregate max withscores"),
            pairs(&[("y", 10.0), ("z", 20.0)])
        );
        assert_eq!(exec(&mut t, "zdiff 2 a b"), Reply::Array(bulks(&["x"])));
        assert_eq!(
            exec(&mut t, "zunion 2 a s aggregate min withscores"),
            pairs(&[("w", 1.0), ("x", 1.0), ("y", 2.0), ("z", 3.0)])
        );
        assert_eq!(exec(&mut t, "zintercard 2 a b"), int(2));
        assert_eq!(exec(&mut t, "zintercard 2 a b limit 1"), int(1));
        assert_eq!(exec(&mut t, "zunion 1 missing"), Reply::Array(Vec::new()));
        assert_eq!(exec(&mut t, "zinter 2 a str"), wrongtype());
        assert!(exec(&mut t, "zdiff 2 a b weights 1 1").is_error());
        assert!(exec(&mut t, "zintercard 1 a withscores").is_error());
        assert_eq!(
            exec(&mut t, "zintercard 1 a limit -1"),
            Reply::error("ERR LIMIT can't be negative")
        );
    }
}
