//! Sorted set commands. A sorted set is `value::ZSetValue` (member → score, and the members
//! in score order in an order-statistic tree) changed in place: ZADD and ZREM are O(log n)
//! per member, ZRANK O(log n), a range O(log n + m), as Redis documents. The order is by
//! score, equal scores by member bytes. A sorted set that loses its last member is deleted,
//! as in Redis.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use cairn_protocol::command::{
    LexBound, ReadCommand, ScoreBound, SetCondition, SetOp, ZAggregate, ZCompare, ZRange, ZRangeBy,
};
use cairn_protocol::reply::format_double;
use cairn_protocol::Reply;

use super::value::ZSetValue;
use super::{scan, zalgebra, zset_mut, Ctx, Data, Kind, StoredValue, WRONGTYPE};
use crate::error::Result;

const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";

/// The sorted set in `value` (empty for no value), or the WRONGTYPE reply.
pub(super) fn zset_of(value: Option<&StoredValue>) -> std::result::Result<Arc<ZSetValue>, Reply> {
    match value.map(|v| &v.data) {
        None => Ok(Arc::default()),
        Some(Data::ZSet(z)) => Ok(z.clone()),
        Some(_) => Err(Reply::error(WRONGTYPE)),
    }
}

/// The first position (in score order) at or after a score bound used as a minimum.
fn from_score(z: &ZSetValue, min: &ScoreBound) -> usize {
    z.count_below(min.value, min.exclusive)
}

/// The position after the last element within a score bound used as a maximum.
fn to_score(z: &ZSetValue, max: &ScoreBound) -> usize {
    z.count_below(max.value, !max.exclusive)
}

fn from_lex(z: &ZSetValue, min: &LexBound) -> usize {
    match min {
        LexBound::Min => 0,
        LexBound::Max => z.len(),
        LexBound::Inclusive(m) => z.count_lex_below(m, false),
        LexBound::Exclusive(m) => z.count_lex_below(m, true),
    }
}

fn to_lex(z: &ZSetValue, max: &LexBound) -> usize {
    match max {
        LexBound::Min => 0,
        LexBound::Max => z.len(),
        LexBound::Inclusive(m) => z.count_lex_below(m, true),
        LexBound::Exclusive(m) => z.count_lex_below(m, false),
    }
}

/// A rank range (Redis's negative-index rules) over `len` elements, as index bounds.
fn rank_bounds(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { start + len } else { start }.max(0);
    let stop = if stop < 0 { stop + len } else { stop };
    if start > stop || start >= len {
        return None;
    }
    let stop = stop.min(len - 1);
    Some((start as usize, stop as usize))
}

/// The positions `[from, to)` in ascending score order that a score or lex range covers,
/// or a rank range (counted in reply order when `rev`) covers.
fn bounds(z: &ZSetValue, by: &ZRangeBy, rev: bool) -> (usize, usize) {
    let (from, to) = match by {
        ZRangeBy::Rank { start, stop } => match rank_bounds(z.len(), *start, *stop) {
            None => (0, 0),
            Some((a, b)) if rev => (z.len() - 1 - b, z.len() - a),
            Some((a, b)) => (a, b + 1),
        },
        ZRangeBy::Score { min, max } => (from_score(z, min), to_score(z, max)),
        ZRangeBy::Lex { min, max } => (from_lex(z, min), to_lex(z, max)),
    };
    (from, to.max(from))
}

/// The elements `range` selects, in reply order.
fn select(z: &ZSetValue, range: &ZRange) -> Vec<(Bytes, f64)> {
    let (from, to) = bounds(z, &range.by, range.rev);
    let (skip, take) = match range.by {
        ZRangeBy::Rank { .. } => (0, usize::MAX),
        _ if range.offset < 0 => return Vec::new(),
        _ => (
            usize::try_from(range.offset).unwrap_or(usize::MAX),
            usize::try_from(range.count).unwrap_or(usize::MAX),
        ),
    };
    let items = z.range(from, to).map(|(m, s)| (m.clone(), s));
    if range.rev {
        items.rev().skip(skip).take(take).collect()
    } else {
        items.skip(skip).take(take).collect()
    }
}

/// `member, score, ...` as one flat array (ZPOPMIN without a count).
fn flat(items: Vec<(Bytes, f64)>) -> Vec<Reply> {
    items
        .into_iter()
        .flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)])
        .collect()
}

pub(super) fn scored(items: Vec<(Bytes, f64)>) -> Reply {
    Reply::Pairs(
        items
            .into_iter()
            .map(|(m, s)| (Reply::Bulk(m), Reply::Double(s)))
            .collect(),
    )
}

impl Ctx<'_> {
    /// The live sorted set at `key` (empty: no key), or the WRONGTYPE reply.
    fn zset_at(&mut self, key: &[u8]) -> std::result::Result<Arc<ZSetValue>, Reply> {
        zset_of(self.live_ref(key))
    }

    /// Runs `f` on the sorted set at `key` in place (creating it if `create`).
    fn with_zset<T>(
        &mut self,
        key: &[u8],
        create: bool,
        f: impl FnOnce(&mut ZSetValue) -> T,
    ) -> std::result::Result<Option<T>, Reply> {
        self.modify(key, Kind::ZSet, create, |v| zset_mut(v).map(f))
            .map(Option::flatten)
    }

    /// ZADD. With INCR the reply is the new score, or nil when a condition stopped it.
    pub(crate) fn zadd(
        &mut self,
        key: &Bytes,
        pairs: &[(f64, Bytes)],
        condition: Option<SetCondition>,
        compare: Option<ZCompare>,
        ch: bool,
        incr: bool,
    ) -> Result<Reply> {
        let current = match self.zset_at(key) {
            Err(e) => return Ok(e),
            Ok(z) => z,
        };
        // Decide every change first (an INCR to NaN refuses the whole command), then apply.
        // `pending` holds each member's latest decided score, so a member named twice sees
        // its first change, in O(1): the command stays O(M log N) as Redis documents.
        let mut changes: Vec<(Bytes, f64)> = Vec::new();
        let mut pending: HashMap<&Bytes, f64> = HashMap::new();
        let (mut added, mut updated) = (0, 0);
        let mut incr_reply = Reply::Nil;
        for (score, member) in pairs {
            let existing = pending
                .get(member)
                .copied()
                .or_else(|| current.score(member));
            match existing {
                Some(old) => {
                    if condition == Some(SetCondition::Nx) {
                        continue;
                    }
                    let new = if incr { old + score } else { *score };
                    if new.is_nan() {
                        return Ok(Reply::error(NAN_SCORE));
                    }
                    let blocked = match compare {
                        Some(ZCompare::Gt) => new <= old,
                        Some(ZCompare::Lt) => new >= old,
                        None => false,
                    };
                    if blocked {
                        continue;
                    }
                    if new != old {
                        changes.push((member.clone(), new));
                        pending.insert(member, new);
                        updated += 1;
                    }
                    incr_reply = Reply::Double(new);
                }
                None => {
                    if condition == Some(SetCondition::Xx) {
                        continue;
                    }
                    changes.push((member.clone(), *score));
                    pending.insert(member, *score);
                    added += 1;
                    incr_reply = Reply::Double(*score);
                }
            }
        }
        drop(current);
        if !changes.is_empty() {
            let applied = self.with_zset(key, true, |z| {
                for (m, s) in changes {
                    z.insert(m, s);
                }
            });
            if let Err(e) = applied {
                return Ok(e);
            }
        }
        Ok(if incr {
            incr_reply
        } else {
            Reply::Integer(if ch { added + updated } else { added })
        })
    }

    pub(crate) fn zincrby(&mut self, key: &Bytes, delta: f64, member: &Bytes) -> Result<Reply> {
        self.zadd(key, &[(delta, member.clone())], None, None, false, true)
    }

    pub(crate) fn zrem(&mut self, key: &Bytes, gone: &[Bytes]) -> Result<Reply> {
        match self.zset_at(key) {
            Err(e) => return Ok(e),
            Ok(z) if !gone.iter().any(|m| z.score(m).is_some()) => return Ok(Reply::Integer(0)),
            Ok(_) => {}
        }
        let removed = self.with_zset(key, false, |z| {
            gone.iter().filter(|m| z.remove(m).is_some()).count()
        });
        Ok(match removed {
            Err(e) => e,
            Ok(n) => Reply::Integer(n.unwrap_or(0) as i64),
        })
    }

    /// ZPOPMIN / ZPOPMAX. Without a count the reply is flat `[member, score]` (also in RESP3);
    /// with one it is pairs.
    pub(crate) fn zpop(&mut self, key: &Bytes, max: bool, count: Option<u64>) -> Result<Reply> {
        let all = match self.zpop_items(key, max, count.unwrap_or(1)) {
            Err(e) => return Ok(e),
            Ok(all) if all.is_empty() => return Ok(Reply::Array(Vec::new())),
            Ok(all) => all,
        };
        Ok(match count {
            None => Reply::Array(flat(all)),
            Some(_) => scored(all),
        })
    }

    /// ZMPOP and BZPOPMIN/BZPOPMAX's pop: from the first non-empty sorted set of `keys`, in
    /// order (a key of another type met first is WRONGTYPE). Without a count the reply is
    /// `[key, member, score]`, with one `[key, [[member, score] ...]]` (nested in RESP2 too);
    /// the null array if all are empty.
    pub(crate) fn zmpop(&mut self, keys: &[Bytes], max: bool, count: Option<u64>) -> Result<Reply> {
        for key in keys {
            let all = match self.zpop_items(key, max, count.unwrap_or(1)) {
                Err(e) => return Ok(e),
                Ok(all) if all.is_empty() => continue,
                Ok(all) => all,
            };
            let key = Reply::Bulk(key.clone());
            return Ok(match count {
                None => Reply::Array(std::iter::once(key).chain(flat(all)).collect()),
                Some(_) => Reply::Array(vec![
                    key,
                    Reply::Array(
                        all.into_iter()
                            .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                            .collect(),
                    ),
                ]),
            });
        }
        Ok(Reply::NilArray)
    }

    /// Removes and returns the `n` lowest (or highest) scored members of `key`.
    fn zpop_items(
        &mut self,
        key: &Bytes,
        max: bool,
        n: u64,
    ) -> std::result::Result<Vec<(Bytes, f64)>, Reply> {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if self.zset_at(key)?.is_empty() || n == 0 {
            return Ok(Vec::new());
        }
        let popped = self.with_zset(key, false, |z| {
            let mut out = Vec::new();
            while out.len() < n {
                let next = if max {
                    z.len().checked_sub(1).and_then(|i| z.by_rank(i))
                } else {
                    z.by_rank(0)
                };
                let Some((m, s)) = next.map(|(m, s)| (m.clone(), s)) else {
                    break;
                };
                z.remove(&m);
                out.push((m, s));
            }
            out
        })?;
        Ok(popped.unwrap_or_default())
    }

    /// ZRANGESTORE: the selection replaces `dst` whatever it held (and its TTL); an empty one
    /// deletes it.
    pub(crate) fn zrangestore(
        &mut self,
        dst: &Bytes,
        src: &Bytes,
        range: &ZRange,
    ) -> Result<Reply> {
        let picked: ZSetValue = match self.zset_at(src) {
            Err(e) => return Ok(e),
            Ok(z) => select(&z, range).into_iter().collect(),
        };
        let n = picked.len() as i64;
        self.put_or_delete(dst, StoredValue::new(Data::ZSet(Arc::new(picked)), None));
        Ok(Reply::Integer(n))
    }

    /// ZREMRANGEBYRANK / BYSCORE / BYLEX.
    pub(crate) fn zremrange(&mut self, key: &Bytes, by: &ZRangeBy) -> Result<Reply> {
        let gone: Vec<Bytes> = match self.zset_at(key) {
            Err(e) => return Ok(e),
            Ok(z) => {
                let (from, to) = bounds(&z, by, false);
                z.range(from, to).map(|(m, _)| m.clone()).collect()
            }
        };
        if gone.is_empty() {
            return Ok(Reply::Integer(0));
        }
        let removed = self.with_zset(key, false, |z| {
            for m in &gone {
                z.remove(m);
            }
        });
        Ok(match removed {
            Err(e) => e,
            Ok(_) => Reply::Integer(gone.len() as i64),
        })
    }

    /// ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE. Sets count as sorted sets with score 1.
    pub(crate) fn zstore(
        &mut self,
        op: SetOp,
        dst: &Bytes,
        keys: &[Bytes],
        weights: &[f64],
        how: ZAggregate,
    ) -> Result<Reply> {
        let mut inputs = Vec::with_capacity(keys.len());
        for k in keys {
            match zalgebra::input(self.live_ref(k)) {
                Ok(members) => inputs.push(members),
                Err(e) => return Ok(e),
            }
        }
        let result: ZSetValue = zalgebra::combine(op, inputs, weights, how)
            .into_iter()
            .collect();
        let n = result.len() as i64;
        self.put_or_delete(dst, StoredValue::new(Data::ZSet(Arc::new(result)), None));
        Ok(Reply::Integer(n))
    }
}

/// Answers a sorted set read on the live value of its key.
pub(super) fn read(cmd: &ReadCommand, value: Option<&StoredValue>, now_ms: u64) -> Reply {
    let z = match zset_of(value) {
        Err(e) => return e,
        Ok(z) => z,
    };
    match cmd {
        ReadCommand::ZScore { member, .. } => z.score(member).map_or(Reply::Nil, Reply::Double),
        ReadCommand::ZMScore { members: asked, .. } => Reply::Array(
            asked
                .iter()
                .map(|m| z.score(m).map_or(Reply::Nil, Reply::Double))
                .collect(),
        ),
        ReadCommand::ZCard { .. } => Reply::Integer(z.len() as i64),
        ReadCommand::ZRandMember {
            key,
            count,
            with_scores,
        } => zrandmember(key, &z, *count, *with_scores, now_ms),
        ReadCommand::ZCount { by, .. } => {
            let (from, to) = bounds(&z, by, false);
            Reply::Integer((to - from) as i64)
        }
        ReadCommand::ZRange {
            range, with_scores, ..
        } => {
            let picked = select(&z, range);
            if *with_scores {
                scored(picked)
            } else {
                Reply::Array(picked.into_iter().map(|(m, _)| Reply::Bulk(m)).collect())
            }
        }
        ReadCommand::ZRank {
            member,
            rev,
            with_score,
            ..
        } => match z.rank(member) {
            Some(i) => {
                let rank = if *rev { z.len() - 1 - i } else { i };
                let rank = Reply::Integer(rank as i64);
                match (with_score, z.score(member)) {
                    (true, Some(s)) => Reply::Array(vec![rank, Reply::Double(s)]),
                    _ => rank,
                }
            }
            None if *with_score => Reply::NilArray,
            None => Reply::Nil,
        },
        ReadCommand::CollectionScan {
            cursor,
            pattern,
            count,
            ..
        } => scan::reply(
            z.len(),
            |i| {
                z.member_at(i)
                    .map(|(m, s)| (m.clone(), Some(Bytes::from(format_double(s)))))
            },
            *cursor,
            pattern.as_deref(),
            *count,
        ),
        _ => Reply::error("ERR not a sorted set command"),
    }
}

/// ZRANDMEMBER: random members (with repeats for a negative count), with their scores.
fn zrandmember(
    key: &[u8],
    z: &ZSetValue,
    count: Option<i64>,
    with_scores: bool,
    now_ms: u64,
) -> Reply {
    let picks = match super::random::sample(key, z.len(), count, now_ms) {
        Err(e) => return e,
        Ok(super::random::Sample::One(i)) => {
            return Reply::opt_bulk(i.and_then(|i| z.member_at(i)).map(|m| m.0.clone()))
        }
        Ok(super::random::Sample::Many(picks)) => picks,
    };
    let chosen: Vec<(Bytes, f64)> = picks
        .into_iter()
        .filter_map(|i| z.member_at(i).map(|(m, s)| (m.clone(), s)))
        .collect();
    if with_scores {
        scored(chosen)
    } else {
        Reply::Array(chosen.into_iter().map(|(m, _)| Reply::Bulk(m)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bulk, bulks, exec, int, script, wrongtype};
    use super::super::State;
    use super::*;

    fn d(v: f64) -> Reply {
        Reply::Double(v)
    }

    fn arr(items: &[&str]) -> Reply {
        Reply::Array(bulks(items))
    }

    fn pairs(items: &[(&str, f64)]) -> Reply {
        Reply::Pairs(items.iter().map(|(m, s)| (bulk(m), d(*s))).collect())
    }

    #[test]
    fn zadd_flags_and_scores() {
        let mut t = State::default();
        assert_eq!(
            script(
                &mut t,
                &[
                    "zadd z 1 a 2 b 3 c",
                    "zadd z 1 a 5 b 4 d",
                    "zadd z ch 1 a 6 b 4 d 7 e",
                    "zadd z nx 10 a 8 f",
                    "zadd z xx ch 10 a 9 g",
                    "zadd z gt ch 5 a 11 b 1 h",
                    "zadd z lt ch 50 a 2 b",
                    "zcard z",
                    "zscore z a",
                    "zscore z b",
                    "zscore z nosuch",
                    "zscore nokey a",
                    "type z",
                ]
            ),
            [
                int(3),
                int(1),
                int(2),
                int(1),
                int(1),
                int(2),
                int(1),
                int(7),
                d(10.0),
                d(2.0),
                Reply::Nil,
                Reply::Nil,
                Reply::Simple("zset".into()),
            ]
        );
        assert_eq!(
            script(
                &mut t,
                &[
                    "zadd z incr 2.5 a",
                    "zadd z nx incr 1 a",
                    "zadd z xx incr 1 nosuch",
                    "zadd z gt incr -1 a",
                    "zadd z incr 1 new",
                    "zincrby z -0.5 new",
                    "zadd missing xx 1 a",
                    "zadd missing xx incr 1 a",
                    "exists missing",
                    "zadd inf 0 a",
                    "zincrby inf inf a",
                    "zincrby inf -inf a",
                    "zadd inf incr -inf a",
                    "zscore inf a",
                    "zmscore z a nosuch new",
                    "zmscore nokey a",
                ]
            ),
            [
                d(12.5),
                Reply::Nil,
                Reply::Nil,
                Reply::Nil,
                d(1.0),
                d(0.5),
                int(0),
                Reply::Nil,
                int(0),
                int(1),
                d(f64::INFINITY),
                Reply::error(NAN_SCORE),
                Reply::error(NAN_SCORE),
                d(f64::INFINITY),
                Reply::Array(vec![d(12.5), Reply::Nil, d(0.5)]),
                Reply::Array(vec![Reply::Nil]),
            ]
        );
    }

    #[test]
    fn ranges_by_rank_score_and_lex() {
        let mut t = State::default();
        exec(&mut t, "zadd z 1 a 2 b 2 c 3 d -inf m +inf n");
        assert_eq!(
            script(
                &mut t,
                &[
                    "zrange z 0 -1",
                    "zrange z 1 2 withscores",
                    "zrange z -2 100",
                    "zrange z 5 2",
                    "zrevrange z 0 1",
                    "zrange z 0 1 rev",
                    "zrangebyscore z (1 3",
                    "zrangebyscore z -inf +inf limit 1 2",
                    "zrangebyscore z -inf +inf limit -1 2",
                    "zrangebyscore z -inf +inf limit 4 -1",
                    "zrevrangebyscore z 3 (1 withscores",
                    "zrange z (3 (1 byscore rev",
                    "zrange z 1 (2 byscore",
                    "zcount z (1 +inf",
                    "zcount z -inf -inf",
                    "zrange nokey 0 -1",
                ]
            ),
            [
                arr(&["m", "a", "b", "c", "d", "n"]),
                pairs(&[("a", 1.0), ("b", 2.0)]),
                arr(&["d", "n"]),
                arr(&[]),
                arr(&["n", "d"]),
                arr(&["n", "d"]),
                arr(&["b", "c", "d"]),
                arr(&["a", "b"]),
                arr(&[]),
                arr(&["d", "n"]),
                pairs(&[("d", 3.0), ("c", 2.0), ("b", 2.0)]),
                arr(&["c", "b"]),
                arr(&["a"]),
                int(4),
                int(1),
                arr(&[]),
            ]
        );
        let mut t = State::default();
        exec(&mut t, "zadd l 0 a 0 b 0 c 0 d 0 e");
        assert_eq!(
            script(
                &mut t,
                &[
                    "zrangebylex l - +",
                    "zrangebylex l [b (d",
                    "zrangebylex l (b + limit 1 2",
                    "zrevrangebylex l [c -",
                    "zrange l [d - bylex rev limit 0 2",
                    "zlexcount l (a [c",
                    "zlexcount l + -",
                ]
            ),
            [
                arr(&["a", "b", "c", "d", "e"]),
                arr(&["b", "c"]),
                arr(&["d", "e"]),
                arr(&["c", "b", "a"]),
                arr(&["d", "c"]),
                int(2),
                int(0),
            ]
        );
        // Mixed scores: members compared in score order, as Redis walks its list
        // (redis-server 7.0.15 gives these answers).
        let mut t = State::default();
        exec(&mut t, "zadd m 1 a 2 b 3 c 4 d");
        assert_eq!(
            script(
                &mut t,
                &[
                    "zrange m [b [c bylex",
                    "zrangestore m2 m [b [c bylex",
                    "zlexcount m (a +",
                    "zrevrangebylex m [c (a",
                ]
            ),
            [arr(&["b", "c"]), int(2), int(3), arr(&["c", "b"]),]
        );
    }

    #[test]
    fn ranks_pops_and_removal() {
        let mut t = State::default();
        exec(&mut t, "zadd z 1 a 2 b 3 c 4 d 5 e");
        assert_eq!(
            script(
                &mut t,
                &[
                    "zrank z c",
                    "zrevrank z c",
                    "zrank z c withscore",
                    "zrank z x",
                    "zrank z x withscore",
                    "zrank nokey x",
                    "zpopmin z",
                    "zpopmax z 2",
                    "zpopmin z 0",
                    "zpopmin nokey",
                    "zpopmax nokey 3",
                    "zrem z b x",
                    "zrem z c",
                    "exists z",
                    "zpopmin nokey",
                ]
            ),
            [
                int(2),
                int(2),
                Reply::Array(vec![int(2), d(3.0)]),
                Reply::Nil,
                Reply::NilArray,
                Reply::Nil,
                Reply::Array(vec![bulk("a"), d(1.0)]),
                pairs(&[("e", 5.0), ("d", 4.0)]),
                arr(&[]),
                arr(&[]),
                arr(&[]),
                int(1),
                int(1),
                int(0),
                arr(&[]),
            ]
        );
        exec(&mut t, "zadd z 1 a 2 b 3 c 4 d 5 e");
        assert_eq!(
            script(
                &mut t,
                &[
                    "zremrangebyrank z -2 -1",
                    "zremrangebyscore z (1 2",
                    "zremrangebylex z - +",
                    "zremrangebyrank z 0 -1",
                    "exists z",
                    "zremrangebyscore nokey -inf +inf",
                ]
            ),
            [int(2), int(1), int(2), int(0), int(0), int(0)]
        );
        let mut t = State::default();
        exec(&mut t, "zadd p 3 x 1 y 2 z");
        let reply = exec(&mut t, "zpopmax p 10");
        assert_eq!(reply, pairs(&[("x", 3.0), ("z", 2.0), ("y", 1.0)]));
        assert_eq!(exec(&mut t, "exists p"), int(0));
    }

    #[test]
    fn stores_and_wrongtype() {
        let mut t = State::default();
        script(
            &mut t,
            &[
                "zadd a 1 x 2 y 3 z",
                "zadd b 10 y 20 z 30 w",
                "sadd s x w",
                "set str v",
                "set dst v",
                "expire dst 100",
            ],
        );
        assert_eq!(
            script(
                &mut t,
                &[
                    "zrangestore dst a 1 -1",
                    "ttl dst",
                    "zrange dst 0 -1 withscores",
                    "zrangestore dst nokey 0 -1",
                    "exists dst",
                    "zunionstore u 2 a b",
                    "zrange u 0 -1 withscores",
                    "zinterstore i 2 a b weights 2 1 aggregate max",
                    "zrange i 0 -1 withscores",
                    "zdiffstore df 2 a b",
                    "zrange df 0 -1 withscores",
                    "zunionstore us 2 a s aggregate min",
                    "zrange us 0 -1 withscores",
                    "zinterstore none 2 a nokey",
                    "exists none",
                    "zunionstore x 2 a str",
                ]
            ),
            [
                int(2),
                int(-1),
                pairs(&[("y", 2.0), ("z", 3.0)]),
                int(0),
                int(0),
                int(4),
                pairs(&[("x", 1.0), ("y", 12.0), ("z", 23.0), ("w", 30.0)]),
                int(2),
                pairs(&[("y", 10.0), ("z", 20.0)]),
                int(1),
                pairs(&[("x", 1.0)]),
                int(4),
                pairs(&[("w", 1.0), ("x", 1.0), ("y", 2.0), ("z", 3.0)]),
                int(0),
                int(0),
                wrongtype(),
            ]
        );
        for line in [
            "zadd str 1 a",
            "zscore str a",
            "zrange str 0 -1",
            "zrank str a",
            "zpopmin str",
            "zrem str a",
            "zcard str",
            "zrangestore d str 0 -1",
            "zscan str 0",
            "get a",
            "sadd a m",
            "lpush a m",
            "hset a f v",
        ] {
            assert_eq!(exec(&mut t, line), wrongtype(), "{line}");
        }
        assert_eq!(exec(&mut t, "rename a renamed"), Reply::ok());
        assert_eq!(exec(&mut t, "zcard renamed"), int(3));
    }

    #[test]
    fn multi_key_pops_take_the_first_non_empty_set() {
        let mut t = State::default();
        exec(&mut t, "zadd z 1 a 2 b 3 c");
        exec(&mut t, "set s x");
        let pair = |m: &str, s: f64| Reply::Array(vec![bulk(m), Reply::Double(s)]);
        assert_eq!(
            script(
                &mut t,
                &[
                    "zmpop 2 none z max count 2",
                    "bzpopmin none z 0",
                    "zmpop 1 z min",
                    "bzpopmax s z 0",
                ]
            ),
            [
                Reply::Array(vec![
                    bulk("z"),
                    Reply::Array(vec![pair("c", 3.0), pair("b", 2.0)])
                ]),
                Reply::Array(vec![bulk("z"), bulk("a"), Reply::Double(1.0)]),
                Reply::NilArray,
                wrongtype(),
            ]
        );
    }

    #[test]
    fn zrandmember_shapes() {
        let mut t = State::default();
        exec(&mut t, "zadd z 1 a 2 b 3 c");
        assert_eq!(exec(&mut t, "zrandmember missing"), Reply::Nil);
        assert_eq!(exec(&mut t, "zrandmember missing 3"), arr(&[]));
        assert_eq!(exec(&mut t, "zrandmember z 0"), arr(&[]));
        // A count covering the set returns all of it, in order, with scores if asked.
        assert_eq!(exec(&mut t, "zrandmember z 5"), arr(&["a", "b", "c"]));
        assert_eq!(
            exec(&mut t, "zrandmember z 3 withscores"),
            pairs(&[("a", 1.0), ("b", 2.0), ("c", 3.0)])
        );
        let Reply::Array(repeated) = exec(&mut t, "zrandmember z -7") else {
            panic!("not an array");
        };
        assert_eq!(repeated.len(), 7);
        assert!(exec(&mut t, "zrandmember z 1 withvalues").is_error());
        assert!(exec(&mut t, "zrandmember z -9223372036854775807 withscores").is_error());
    }

    #[test]
    fn zscan_lists_members_with_scores() {
        let mut t = State::default();
        exec(&mut t, "zadd z 2 b 1.5 a 1e20 c");
        assert_eq!(
            exec(&mut t, "zscan z 0"),
            Reply::Array(vec![bulk("0"), arr(&["b", "2", "a", "1.5", "c", "1e+20"])])
        );
        assert_eq!(
            exec(&mut t, "zscan z 0 match b"),
            Reply::Array(vec![bulk("0"), arr(&["b", "2"])])
        );
        assert_eq!(
            exec(&mut t, "zscan nokey 0"),
            Reply::Array(vec![bulk("0"), arr(&[])])
        );
    }
}
