//! List commands. A list is a ring buffer (`value::ListValue`) changed in place: pushes and
//! pops at either end are O(1), LINDEX and LSET O(1) (Redis: O(n)), LRANGE O(s+n); a list
//! that loses its last element is deleted, as in Redis.

use bytes::Bytes;
use cairn_protocol::command::{ListEnd, ReadCommand};
use cairn_protocol::errors::RedisError;
use cairn_protocol::Reply;

use super::value::ListValue;
use super::{list_mut, Ctx, Data, Kind, StoredValue, WRONGTYPE};
use crate::error::Result;

impl Ctx<'_> {
    /// The length of the live list at `key` (`None`: no key), or the WRONGTYPE reply.
    fn list_len(&mut self, key: &[u8]) -> std::result::Result<Option<usize>, Reply> {
        match self.live_ref(key) {
            None => Ok(None),
            Some(StoredValue {
                data: Data::List(l),
                ..
            }) => Ok(Some(l.len())),
            Some(_) => Err(Reply::error(WRONGTYPE)),
        }
    }

    /// Runs `f` on the list at `key` in place (creating it if `create`); `None` if there is no
    /// list (and none is created), or the WRONGTYPE reply.
    fn with_list<T>(
        &mut self,
        key: &[u8],
        create: bool,
        f: impl FnOnce(&mut ListValue) -> T,
    ) -> std::result::Result<Option<T>, Reply> {
        self.modify(key, Kind::List, create, |v| list_mut(v).map(f))
            .map(Option::flatten)
    }

    /// LPUSH, RPUSH, LPUSHX, RPUSHX.
    pub(crate) fn lpush(
        &mut self,
        key: &Bytes,
        end: ListEnd,
        elements: &[Bytes],
        existing: bool,
    ) -> Result<Reply> {
        let pushed = self.with_list(key, !existing, |l| {
            for element in elements {
                push(l, end, element.clone());
            }
            l.len()
        });
        Ok(match pushed {
            Ok(len) => Reply::Integer(len.unwrap_or(0) as i64),
            Err(e) => e,
        })
    }

    /// LPOP and RPOP: one element as a bulk string, or with a count an array of up to `count`
    /// elements in the order they were popped.
    pub(crate) fn lpop(&mut self, key: &Bytes, end: ListEnd, count: Option<u64>) -> Result<Reply> {
        if count == Some(0) {
            return Ok(match self.list_len(key) {
                Err(e) => e,
                Ok(None) => Reply::NilArray,
                Ok(Some(_)) => Reply::Array(Vec::new()),
            });
        }
        let popped = self.with_list(key, false, |l| match count {
            None => Reply::opt_bulk(pop(l, end)),
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX).min(l.len());
                Reply::Array(
                    (0..n)
                        .filter_map(|_| pop(l, end))
                        .map(Reply::Bulk)
                        .collect(),
                )
            }
        });
        Ok(match popped {
            Err(e) => e,
            Ok(Some(reply)) => reply,
            Ok(None) if count.is_some() => Reply::NilArray,
            Ok(None) => Reply::Nil,
        })
    }

    /// LMPOP and BLPOP's pop: from the first non-empty list of `keys`, checked in order as
    /// Redis does (a key of another type met first is WRONGTYPE). Without a count the reply
    /// is `[key, element]`, with one `[key, [element ...]]`; the null array if all are empty.
    pub(crate) fn lmpop(
        &mut self,
        keys: &[Bytes],
        end: ListEnd,
        count: Option<u64>,
    ) -> Result<Reply> {
        for key in keys {
            match self.list_len(key) {
                Err(e) => return Ok(e),
                Ok(None) => continue,
                Ok(Some(_)) => {}
            }
            let n = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
            let popped = self.with_list(key, false, |l| {
                (0..n.min(l.len()))
                    .filter_map(|_| pop(l, end))
                    .map(Reply::Bulk)
                    .collect::<Vec<_>>()
            });
            let popped = match popped {
                Err(e) => return Ok(e),
                Ok(p) => p.unwrap_or_default(),
            };
            let key = Reply::Bulk(key.clone());
            return Ok(match count {
                Some(_) => Reply::Array(vec![key, Reply::Array(popped)]),
                None => Reply::Array(std::iter::once(key).chain(popped).collect()),
            });
        }
        Ok(Reply::NilArray)
    }

    pub(crate) fn lset(&mut self, key: &Bytes, index: i64, element: &Bytes) -> Result<Reply> {
        let len = match self.list_len(key) {
            Err(e) => return Ok(e),
            Ok(None) => return Ok(Reply::from(RedisError::NoSuchKey)),
            Ok(Some(len)) => len,
        };
        let Some(i) = position(len, index) else {
            return Ok(Reply::from(RedisError::IndexOutOfRange));
        };
        Ok(
            match self.with_list(key, false, |l| l.set(i, element.clone())) {
                Err(e) => e,
                Ok(_) => Reply::ok(),
            },
        )
    }

    /// LINSERT: the new length, 0 for a missing key, -1 if the pivot is not in the list.
    pub(crate) fn linsert(
        &mut self,
        key: &Bytes,
        before: bool,
        pivot: &Bytes,
        element: &Bytes,
    ) -> Result<Reply> {
        let at = match self.live_ref(key) {
            None => return Ok(Reply::Integer(0)),
            Some(StoredValue {
                data: Data::List(l),
                ..
            }) => l.iter().position(|e| e == pivot),
            Some(_) => return Ok(Reply::error(WRONGTYPE)),
        };
        let Some(at) = at else {
            return Ok(Reply::Integer(-1));
        };
        let inserted = self.with_list(key, false, |l| {
            l.insert(if before { at } else { at + 1 }, element.clone());
            l.len()
        });
        Ok(match inserted {
            Err(e) => e,
            Ok(len) => Reply::Integer(len.unwrap_or(0) as i64),
        })
    }

    /// LREM: removes up to |count| matches (all if 0), from the tail if count is negative.
    pub(crate) fn lrem(&mut self, key: &Bytes, count: i64, element: &Bytes) -> Result<Reply> {
        let positions = match self.live_ref(key) {
            None => return Ok(Reply::Integer(0)),
            Some(StoredValue {
                data: Data::List(l),
                ..
            }) => {
                let limit = match count.unsigned_abs() {
                    0 => usize::MAX,
                    n => usize::try_from(n).unwrap_or(usize::MAX),
                };
                let matching = l.iter().enumerate().filter(|(_, e)| *e == element);
                let positions: Vec<usize> = if count < 0 {
                    matching.rev().take(limit).map(|(i, _)| i).collect()
                } else {
                    matching.take(limit).map(|(i, _)| i).collect()
                };
                positions
            }
            Some(_) => return Ok(Reply::error(WRONGTYPE)),
        };
        if positions.is_empty() {
            return Ok(Reply::Integer(0));
        }
        let mut gone = positions.clone();
        gone.sort_unstable();
        let removed = self.with_list(key, false, |l| {
            l.retain(|i, _| gone.binary_search(&i).is_err())
        });
        Ok(match removed {
            Err(e) => e,
            Ok(n) => Reply::Integer(n.unwrap_or(0) as i64),
        })
    }

    /// LTRIM: keeps the inclusive range; an empty range deletes the list.
    pub(crate) fn ltrim(&mut self, key: &Bytes, start: i64, stop: i64) -> Result<Reply> {
        let len = match self.list_len(key) {
            Err(e) => return Ok(e),
            Ok(None) => return Ok(Reply::ok()),
            Ok(Some(len)) => len,
        };
        let (first, end) = match range(len, start, stop) {
            None => (0, 0),
            Some((first, last)) => (first, last + 1),
        };
        Ok(match self.with_list(key, false, |l| l.trim(first, end)) {
            Err(e) => e,
            Ok(_) => Reply::ok(),
        })
    }

    /// LMOVE and RPOPLPUSH: the moved element, or nil if the source is missing. The
    /// destination's type is checked before anything changes; source and destination may be
    /// the same list (a rotation).
    pub(crate) fn lmove(
        &mut self,
        src: &Bytes,
        dst: &Bytes,
        from: ListEnd,
        to: ListEnd,
    ) -> Result<Reply> {
        match self.list_len(src) {
            Err(e) => return Ok(e),
            Ok(None) => return Ok(Reply::Nil),
            Ok(Some(_)) => {}
        }
        if let Err(e) = self.list_len(dst) {
            return Ok(e);
        }
        let element = match self.with_list(src, false, |l| pop(l, from)) {
            Err(e) => return Ok(e),
            Ok(e) => e.flatten(),
        };
        let Some(element) = element else {
            return Ok(Reply::Nil);
        };
        Ok(
            match self.with_list(dst, true, |l| push(l, to, element.clone())) {
                Err(e) => e,
                Ok(_) => Reply::Bulk(element),
            },
        )
    }
}

fn push(list: &mut ListValue, end: ListEnd, element: Bytes) {
    match end {
        ListEnd::Left => list.push_front(element),
        ListEnd::Right => list.push_back(element),
    }
}

fn pop(list: &mut ListValue, end: ListEnd) -> Option<Bytes> {
    match end {
        ListEnd::Left => list.pop_front(),
        ListEnd::Right => list.pop_back(),
    }
}

/// The position of LINDEX/LSET's `index` (negative: from the tail) in a list of `len`.
fn position(len: usize, index: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if index < 0 { len + index } else { index };
    usize::try_from(i).ok().filter(|_| i < len)
}

/// LRANGE's and LTRIM's inclusive range with Redis's negative-index rules, as positions
/// (first, last); `None` if it is empty.
fn range(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = i64::try_from(len).ok()?;
    let start = if start < 0 { len + start } else { start }.max(0);
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    let stop = stop.min(len - 1);
    Some((usize::try_from(start).ok()?, usize::try_from(stop).ok()?))
}

/// Answers a list read; `value` is the live value at the command's key.
pub(super) fn read(cmd: &ReadCommand, value: Option<&StoredValue>) -> Reply {
    let list = match value.map(|v| &v.data) {
        None => None,
        Some(Data::List(list)) => Some(&**list),
        Some(_) => return Reply::error(WRONGTYPE),
    };
    match cmd {
        ReadCommand::LLen { .. } => Reply::Integer(list.map_or(0, |l| l.len() as i64)),
        ReadCommand::LRange { start, stop, .. } => {
            let Some(list) = list else {
                return Reply::Array(Vec::new());
            };
            Reply::Array(match range(list.len(), *start, *stop) {
                None => Vec::new(),
                Some((first, last)) => list
                    .range(first, last + 1)
                    .cloned()
                    .map(Reply::Bulk)
                    .collect(),
            })
        }
        ReadCommand::LIndex { index, .. } => Reply::opt_bulk(
            list.and_then(|l| position(l.len(), *index).and_then(|i| l.get(i).cloned())),
        ),
        ReadCommand::LPos {
            element,
            rank,
            count,
            maxlen,
            ..
        } => match list {
            None if count.is_some() => Reply::Array(Vec::new()),
            None => Reply::Nil,
            Some(list) => lpos(list, element, *rank, *count, *maxlen),
        },
        _ => Reply::error("ERR not a list command"),
    }
}

/// LPOS (`lposCommand`): skips the first |rank|-1 matches, searching from the tail if rank
/// is negative, and looks at no more than `maxlen` elements (0: all).
fn lpos(list: &ListValue, element: &Bytes, rank: i64, count: Option<u64>, maxlen: u64) -> Reply {
    let len = list.len();
    let skip = rank.unsigned_abs();
    let limit = usize::try_from(maxlen)
        .ok()
        .filter(|m| *m != 0)
        .unwrap_or(usize::MAX);
    let order: Box<dyn Iterator<Item = usize>> = if rank < 0 {
        Box::new((0..len).rev())
    } else {
        Box::new(0..len)
    };
    let mut matches = 0u64;
    let mut found = Vec::new();
    for i in order.take(limit) {
        if list.get(i) != Some(element) {
            continue;
        }
        matches += 1;
        if matches < skip {
            continue;
        }
        found.push(Reply::Integer(i as i64));
        match count {
            None => break,
            Some(c) if c != 0 && matches - skip + 1 >= c => break,
            Some(_) => {}
        }
    }
    match count {
        Some(_) => Reply::Array(found),
        None => found.pop().unwrap_or(Reply::Nil),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bulk, bulks, exec, int, script, wrongtype};
    use super::super::State;
    use super::*;

    fn array(items: &[&str]) -> Reply {
        Reply::Array(bulks(items))
    }

    fn ints(items: &[i64]) -> Reply {
        Reply::Array(items.iter().map(|n| int(*n)).collect())
    }

    #[test]
    fn push_range_and_len() {
        let mut t = State::default();
        assert_eq!(
            script(
                &mut t,
                &[
                    "rpush l a b",
                    "lpush l z y",
                    "rpushx l c",
                    "lpushx l x",
                    "lpushx missing a",
                    "rpushx missing a",
                    "llen l",
                    "llen missing",
                    "exists missing",
                    "type l",
                ]
            ),
            [
                int(2),
                int(4),
                int(5),
                int(6),
                int(0),
                int(0),
                int(6),
                int(0),
                int(0),
                Reply::Simple("list".into()),
            ]
        );
        assert_eq!(
            exec(&mut t, "lrange l 0 -1"),
            array(&["x", "y", "z", "a", "b", "c"])
        );
        assert_eq!(exec(&mut t, "lrange l 1 2"), array(&["y", "z"]));
        assert_eq!(exec(&mut t, "lrange l -2 100"), array(&["b", "c"]));
        assert_eq!(exec(&mut t, "lrange l -100 0"), array(&["x"]));
        assert_eq!(exec(&mut t, "lrange l 3 2"), array(&[]));
        assert_eq!(exec(&mut t, "lrange l 6 10"), array(&[]));
        assert_eq!(exec(&mut t, "lrange l -1 -2"), array(&[]));
        assert_eq!(
            exec(&mut t, "lrange l -9223372036854775808 9223372036854775807"),
            array(&["x", "y", "z", "a", "b", "c"])
        );
        assert_eq!(exec(&mut t, "lrange missing 0 -1"), array(&[]));
        assert_eq!(exec(&mut t, "lindex l 0"), bulk("x"));
        assert_eq!(exec(&mut t, "lindex l -1"), bulk("c"));
        assert_eq!(exec(&mut t, "lindex l 6"), Reply::Nil);
        assert_eq!(exec(&mut t, "lindex l -7"), Reply::Nil);
        assert_eq!(exec(&mut t, "lindex missing 0"), Reply::Nil);
    }

    #[test]
    fn multi_key_pops_take_the_first_non_empty_list() {
        let mut t = State::default();
        exec(&mut t, "rpush b 1 2 3");
        exec(&mut t, "set s x");
        let key_and = |k: &str, items: Reply| Reply::Array(vec![bulk(k), items]);
        assert_eq!(
            script(
                &mut t,
                &[
                    "lmpop 2 a b left count 2",
                    "blpop a b 0",
                    "lmpop 1 b right",
                    "blpop a s b 0",
                    "lmpop 2 a s left",
                ]
            ),
            [
                key_and("b", array(&["1", "2"])),
                array(&["b", "3"]),
                Reply::NilArray,
                Reply::error(WRONGTYPE),
                Reply::error(WRONGTYPE),
            ]
        );
        assert_eq!(exec(&mut t, "exists b"), int(0));
    }

    #[test]
    fn pops_and_the_emptied_list_is_deleted() {
        let mut t = State::default();
        exec(&mut t, "rpush l a b c d e");
        assert_eq!(
            script(
                &mut t,
                &[
                    "lpop l", "rpop l", "lpop l 0", "rpop l 2", "lpop l 5", "exists l", "lpop l",
                    "lpop l 1", "rpop l 0",
                ]
            ),
            [
                bulk("a"),
                bulk("e"),
                array(&[]),
                array(&["d", "c"]),
                array(&["b"]),
                int(0),
                Reply::Nil,
                Reply::NilArray,
                Reply::NilArray,
            ]
        );
        assert!(super::super::testing::keys(&t).is_empty());
    }

    #[test]
    fn lset_linsert_lrem_ltrim() {
        let mut t = State::default();
        exec(&mut t, "rpush l a b a c a");
        assert_eq!(
            script(
                &mut t,
                &[
                    "lset l 1 B",
                    "lset l -1 A",
                    "lset l 5 x",
                    "lset l -6 x",
                    "lset missing 0 x",
                    "linsert l before B x",
                    "linsert l after A y",
                    "linsert l after nope y",
                    "linsert missing after a y",
                    "lrange l 0 -1",
                ]
            ),
            [
                Reply::ok(),
                Reply::ok(),
                Reply::error("ERR index out of range"),
                Reply::error("ERR index out of range"),
                Reply::error("ERR no such key"),
                int(6),
                int(7),
                int(-1),
                int(0),
                array(&["a", "x", "B", "a", "c", "A", "y"]),
            ]
        );
        assert_eq!(exec(&mut t, "exists missing"), int(0));
        exec(&mut t, "del l");
        exec(&mut t, "rpush l a b a c a b a");
        assert_eq!(exec(&mut t, "lrem l 2 a"), int(2));
        assert_eq!(
            exec(&mut t, "lrange l 0 -1"),
            array(&["b", "c", "a", "b", "a"])
        );
        assert_eq!(exec(&mut t, "lrem l -1 b"), int(1));
        assert_eq!(exec(&mut t, "lrange l 0 -1"), array(&["b", "c", "a", "a"]));
        assert_eq!(exec(&mut t, "lrem l 0 a"), int(2));
        assert_eq!(exec(&mut t, "lrem l 0 nope"), int(0));
        assert_eq!(exec(&mut t, "lrem missing 0 a"), int(0));
        assert_eq!(exec(&mut t, "lrem l -9223372036854775808 b"), int(1));
        assert_eq!(exec(&mut t, "lrem l 1 c"), int(1));
        assert_eq!(exec(&mut t, "exists l"), int(0));

        exec(&mut t, "rpush l a b c d e");
        assert_eq!(exec(&mut t, "ltrim l 1 -2"), Reply::ok());
        assert_eq!(exec(&mut t, "lrange l 0 -1"), array(&["b", "c", "d"]));
        assert_eq!(exec(&mut t, "ltrim l -100 100"), Reply::ok());
        assert_eq!(exec(&mut t, "llen l"), int(3));
        assert_eq!(exec(&mut t, "ltrim missing 0 1"), Reply::ok());
        assert_eq!(exec(&mut t, "ltrim l 2 1"), Reply::ok());
        assert_eq!(exec(&mut t, "exists l"), int(0));
        assert!(super::super::testing::keys(&t).is_empty());
    }

    #[test]
    fn lpos_matches_redis() {
        let mut t = State::default();
        exec(&mut t, "rpush l a b c 1 2 3 c c");
        for (line, reply) in [
            ("lpos l c", int(2)),
            ("lpos l c rank 2", int(6)),
            ("lpos l c rank -1", int(7)),
            ("lpos l c rank -3", int(2)),
            ("lpos l c rank 4", Reply::Nil),
            ("lpos l x", Reply::Nil),
            ("lpos l c count 2", ints(&[2, 6])),
            ("lpos l c count 0", ints(&[2, 6, 7])),
            ("lpos l c rank -1 count 2", ints(&[7, 6])),
            ("lpos l c rank 2 count 0", ints(&[6, 7])),
            ("lpos l c count 0 maxlen 7", ints(&[2, 6])),
            ("lpos l c maxlen 2", Reply::Nil),
            ("lpos l c rank -1 maxlen 1", int(7)),
            ("lpos l x count 1", ints(&[])),
            ("lpos missing c", Reply::Nil),
            ("lpos missing c count 1", ints(&[])),
        ] {
            assert_eq!(exec(&mut t, line), reply, "{line}");
        }
    }

    #[test]
    fn lmove_and_rpoplpush() {
        let mut t = State::default();
        exec(&mut t, "rpush src a b c");
        assert_eq!(
            script(
                &mut t,
                &[
                    "rpoplpush src dst",
                    "lmove src dst left right",
                    "lmove src src left right",
                    "lrange src 0 -1",
                    "lrange dst 0 -1",
                    "lmove missing dst left left",
                    "rpoplpush src dst",
                    "exists src",
                    "rpoplpush src dst",
                ]
            ),
            [
                bulk("c"),
                bulk("a"),
                bulk("b"),
                array(&["b"]),
                array(&["c", "a"]),
                Reply::Nil,
                bulk("b"),
                int(0),
                Reply::Nil,
            ]
        );
        exec(&mut t, "rpush one x y");
        assert_eq!(exec(&mut t, "rpoplpush one one"), bulk("y"));
        assert_eq!(exec(&mut t, "lrange one 0 -1"), array(&["y", "x"]));
        // The destination's type is checked before the source changes.
        exec(&mut t, "set str v");
        assert_eq!(exec(&mut t, "lmove one str left left"), wrongtype());
        assert_eq!(exec(&mut t, "llen one"), int(2));
        assert_eq!(exec(&mut t, "lmove str one left left"), wrongtype());
        assert_eq!(exec(&mut t, "lmove missing str left left"), Reply::Nil);
    }

    #[test]
    fn wrong_types_both_ways() {
        let mut t = State::default();
        script(
            &mut t,
            &["set str v", "rpush l a", "hset h f v", "sadd s m"],
        );
        for line in [
            "lpush str a",
            "rpush h a",
            "lpushx s a",
            "rpushx str a",
            "lpop str",
            "rpop str 2",
            "llen h",
            "lrange s 0 -1",
            "lindex str 0",
            "lset str 0 v",
            "linsert str before a b",
            "lrem str 0 a",
            "ltrim str 0 1",
            "lpos str a",
            "lpos str a count 1",
            "lmove str l left left",
            "rpoplpush l h",
            "get l",
            "append l x",
            "incr l",
            "strlen l",
            "hget l f",
            "hset l f v",
            "sadd l m",
            "smembers l",
            "sismember l m",
        ] {
            assert_eq!(exec(&mut t, line), wrongtype(), "{line}");
        }
        assert_eq!(exec(&mut t, "lrange l 0 -1"), array(&["a"]));
        assert_eq!(exec(&mut t, "set l v"), Reply::ok());
        assert_eq!(exec(&mut t, "type l"), Reply::Simple("string".into()));
    }

    #[test]
    fn generic_commands_work_on_lists() {
        let mut t = State::default();
        assert_eq!(
            script(
                &mut t,
                &[
                    "rpush l a",
                    "pexpire l 5000",
                    "rpush l b",
                    "pttl l",
                    "rename l l2",
                    "lrange l2 0 -1",
                    "scan 0 type list",
                    "scan 0 type string",
                    "del l2",
                    "exists l2",
                ]
            ),
            [
                int(1),
                int(1),
                int(2),
                int(5000),
                Reply::ok(),
                array(&["a", "b"]),
                Reply::Array(vec![bulk("0"), array(&["l2"])]),
                Reply::Array(vec![bulk("0"), array(&[])]),
                int(1),
                int(0),
            ]
        );
    }
}
