//! Set commands. A set is an insertion-ordered hash set (`value::SetValue`) changed in place:
//! SADD, SREM, SISMEMBER are O(1) per member, SPOP O(1) per popped member; a set that loses
//! its last member is deleted, as in Redis.
//!
//! Replies that list a set (SMEMBERS, SINTER, SPOP with a count, ...) list it in the set's
//! own order (insertion, with a removed member's place taken by the last one); Redis's
//! order depends on its encoding. Clients must not rely on either.

use cairn_protocol::errors::RedisError;
use std::sync::Arc;

use bytes::Bytes;
use cairn_protocol::command::{CollectionKind, ReadCommand, SetOp};
use cairn_protocol::Reply;

use super::random::{self, SplitMix64, MAX_REPEATED_SAMPLE};
use super::value::SetValue;
use super::{scan, set_mut, Ctx, Data, Kind, StoredValue, WRONGTYPE};
use crate::error::Result;

/// The members of `value` if it is a set (empty for no value), or the WRONGTYPE reply.
fn members(value: Option<&StoredValue>) -> std::result::Result<Arc<SetValue>, Reply> {
    match value.map(|v| &v.data) {
        None => Ok(Arc::default()),
        Some(Data::Set(set)) => Ok(set.clone()),
        Some(_) => Err(Reply::error(WRONGTYPE)),
    }
}

fn set_reply<'a>(set: impl IntoIterator<Item = &'a Bytes>) -> Reply {
    Reply::Set(set.into_iter().cloned().map(Reply::Bulk).collect())
}

/// SINTER, SUNION or SDIFF of `sets` (a missing key is an empty set), in O(total size).
fn algebra(op: SetOp, sets: &[Arc<SetValue>]) -> SetValue {
    let Some((first, others)) = sets.split_first() else {
        return SetValue::default();
    };
    match op {
        SetOp::Inter => {
            // Walk the smallest, probe the others.
            let smallest = sets.iter().min_by_key(|s| s.len()).unwrap_or(first);
            smallest
                .iter()
                .filter(|m| sets.iter().all(|s| s.contains(m)))
                .cloned()
                .collect()
        }
        SetOp::Union => sets.iter().flat_map(|s| s.iter().cloned()).collect(),
        SetOp::Diff => first
            .iter()
            .filter(|m| !others.iter().any(|s| s.contains(m)))
            .cloned()
            .collect(),
    }
}

/// SINTERCARD: the size of the intersection, counting no further than `limit` (0: no limit).
fn inter_card(sets: &[Arc<SetValue>], limit: u64) -> u64 {
    let Some(smallest) = sets.iter().min_by_key(|s| s.len()) else {
        return 0;
    };
    let mut n = 0;
    for m in smallest.iter() {
        if sets.iter().all(|s| s.contains(m)) {
            n += 1;
            if n == limit {
                break;
            }
        }
    }
    n
}

impl Ctx<'_> {
    /// The live set at `key` (empty: no key), or the WRONGTYPE reply.
    fn set_at(&mut self, key: &[u8]) -> std::result::Result<Arc<SetValue>, Reply> {
        members(self.live_ref(key))
    }

    pub(crate) fn sadd(&mut self, key: &Bytes, new: &[Bytes]) -> Result<Reply> {
        let set = match self.set_at(key) {
            Err(e) => return Ok(e),
            Ok(s) => s,
        };
        if new.iter().all(|m| set.contains(m)) {
            return Ok(Reply::Integer(0));
        }
        drop(set);
        let added = self.modify(key, Kind::Set, true, |v| {
            set_mut(v).map_or(0, |s| new.iter().filter(|m| s.insert((*m).clone())).count())
        });
        Ok(match added {
            Ok(n) => Reply::Integer(n.unwrap_or(0) as i64),
            Err(e) => e,
        })
    }

    pub(crate) fn srem(&mut self, key: &Bytes, gone: &[Bytes]) -> Result<Reply> {
        let set = match self.set_at(key) {
            Err(e) => return Ok(e),
            Ok(s) => s,
        };
        if !gone.iter().any(|m| set.contains(m)) {
            return Ok(Reply::Integer(0));
        }
        drop(set);
        let removed = self.modify(key, Kind::Set, false, |v| {
            set_mut(v).map_or(0, |s| gone.iter().filter(|m| s.remove(m)).count())
        });
        Ok(match removed {
            Ok(n) => Reply::Integer(n.unwrap_or(0) as i64),
            Err(e) => e,
        })
    }

    /// SPOP: the members are chosen by a generator seeded from the entry's timestamp, the key
    /// and the set's size (see `random`), and the set's order is the same on every replica,
    /// so every replica removes the same ones.
    pub(crate) fn spop(&mut self, key: &Bytes, count: Option<u64>) -> Result<Reply> {
        let set = match self.set_at(key) {
            Err(e) => return Ok(e),
            Ok(s) => s,
        };
        if set.is_empty() {
            return Ok(if count.is_some() {
                set_reply([])
            } else {
                Reply::Nil
            });
        }
        let mut rng = SplitMix64::for_write(self.now, key, set.len());
        let picks = match count {
            None => vec![rng.below(set.len())],
            Some(0) => return Ok(set_reply([])),
            Some(n) => random::distinct(&mut rng, set.len(), n),
        };
        let popped: Vec<Bytes> = picks
            .into_iter()
            .filter_map(|i| set.get_index(i).cloned())
            .collect();
        drop(set);
        let done = self.modify(key, Kind::Set, false, |v| {
            if let Some(s) = set_mut(v) {
                for m in &popped {
                    s.remove(m);
                }
            }
        });
        if let Err(e) = done {
            return Ok(e);
        }
        Ok(match count {
            None => Reply::opt_bulk(popped.into_iter().next()),
            Some(_) => set_reply(&popped),
        })
    }

    pub(crate) fn smove(&mut self, src: &Bytes, dst: &Bytes, member: &Bytes) -> Result<Reply> {
        // As Redis: a missing source answers 0 before any type is checked.
        if self.live_ref(src).is_none() {
            return Ok(Reply::Integer(0));
        }
        let from = match self.set_at(src) {
            Err(e) => return Ok(e),
            Ok(s) => s,
        };
        let already = match self.set_at(dst) {
            Err(e) => return Ok(e),
            Ok(to) => to.contains(member),
        };
        if !from.contains(member) {
            return Ok(Reply::Integer(0));
        }
        drop(from);
        if src == dst {
            return Ok(Reply::Integer(1));
        }
        let removed = self.modify(src, Kind::Set, false, |v| {
            set_mut(v).is_some_and(|s| s.remove(member))
        });
        // A destination that already holds the member is not written (nor its WATCH touched).
        let moved = match removed {
            Ok(_) if already => Ok(None),
            Ok(_) => self.modify(dst, Kind::Set, true, |v| {
                set_mut(v).map(|s| s.insert(member.clone()))
            }),
            Err(e) => Err(e),
        };
        Ok(match moved {
            Ok(_) => Reply::Integer(1),
            Err(e) => e,
        })
    }

    /// SINTERSTORE, SUNIONSTORE, SDIFFSTORE: the result replaces `dst` whatever it held (and
    /// its TTL); an empty result deletes it.
    pub(crate) fn sstore(&mut self, op: SetOp, dst: &Bytes, keys: &[Bytes]) -> Result<Reply> {
        let mut sets = Vec::with_capacity(keys.len());
        for k in keys {
            match self.set_at(k) {
                Err(e) => return Ok(e),
                Ok(s) => sets.push(s),
            }
        }
        let result = algebra(op, &sets);
        drop(sets);
        let n = result.len() as i64;
        self.put_or_delete(dst, StoredValue::new(Data::Set(Arc::new(result)), None));
        Ok(Reply::Integer(n))
    }
}

/// Answers a set read. `live` gives the live value of a key.
pub(super) fn read<'s>(
    cmd: &ReadCommand,
    live: &dyn Fn(&[u8]) -> Option<&'s StoredValue>,
    now_ms: u64,
) -> Result<Reply> {
    let sets_of = |keys: &[Bytes]| -> std::result::Result<Vec<Arc<SetValue>>, Reply> {
        keys.iter().map(|k| members(live(k))).collect()
    };
    let one = |key: &[u8], f: &dyn Fn(&SetValue) -> Reply| -> Reply {
        members(live(key)).map_or_else(|e| e, |s| f(&s))
    };
    Ok(match cmd {
        ReadCommand::SMembers { key } => one(key, &|s| set_reply(s.iter())),
        ReadCommand::SIsMember { key, member } => {
            one(key, &|s| Reply::Integer(i64::from(s.contains(member))))
        }
        ReadCommand::SMIsMember { key, members } => one(key, &|s| {
            Reply::Array(
                members
                    .iter()
                    .map(|m| Reply::Integer(i64::from(s.contains(m))))
                    .collect(),
            )
        }),
        ReadCommand::SCard { key } => one(key, &|s| Reply::Integer(s.len() as i64)),
        ReadCommand::SRandMember { key, count } => {
            one(key, &|s| srandmember(key, s, *count, now_ms))
        }
        ReadCommand::SetAlgebra { op, keys } => match sets_of(keys) {
            Ok(sets) => set_reply(algebra(*op, &sets).iter()),
            Err(e) => e,
        },
        ReadCommand::SInterCard { keys, limit } => match sets_of(keys) {
            Ok(sets) => {
                Reply::Integer(i64::try_from(inter_card(&sets, *limit)).unwrap_or(i64::MAX))
            }
            Err(e) => e,
        },
        ReadCommand::CollectionScan {
            key,
            kind: CollectionKind::Set,
            cursor,
            pattern,
            count,
        } => one(key, &|s| {
            scan::reply(
                s.len(),
                |i| s.get_index(i).map(|m| (m.clone(), None)),
                *cursor,
                pattern.as_deref(),
                *count,
            )
        }),
        _ => Reply::error("ERR not a set command"),
    })
}

fn srandmember(key: &[u8], set: &SetValue, count: Option<i64>, now_ms: u64) -> Reply {
    let mut rng = SplitMix64::for_read(key, now_ms);
    let Some(count) = count else {
        return match set.len() {
            0 => Reply::Nil,
            n => Reply::opt_bulk(set.get_index(rng.below(n)).cloned()),
        };
    };
    let n = count.unsigned_abs();
    if set.is_empty() || n == 0 {
        return Reply::Array(Vec::new());
    }
    let picks = if count >= 0 {
        random::distinct(&mut rng, set.len(), n)
    } else if n > MAX_REPEATED_SAMPLE {
        return Reply::from(RedisError::OutOfRange);
    } else {
        random::repeated(&mut rng, set.len(), n)
    };
    Reply::Array(
        picks
            .into_iter()
            .filter_map(|i| set.get_index(i).cloned().map(Reply::Bulk))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bulk, bulks, exec, int, script, wrongtype};
    use super::super::State;
    use super::*;

    fn set(items: &[&str]) -> Reply {
        Reply::Set(bulks(items))
    }

    #[test]
    fn sadd_srem_and_membership() {
        let mut t = State::default();
        assert_eq!(
            script(
                &mut t,
                &[
                    "sadd s a b c",
                    "sadd s a d",
                    "scard s",
                    "sismember s a",
                    "sismember s x",
                    "sismember missing x",
                    "scard missing",
                    "srem s a x",
                    "srem missing a",
                    "type s",
                ]
            ),
            [
                int(3),
                int(1),
                int(4),
                int(1),
                int(0),
                int(0),
                int(0),
                int(1),
                int(0),
                Reply::Simple("set".into()),
            ]
        );
        assert_eq!(
            exec(&mut t, "smismember s b x d"),
            Reply::Array(vec![int(1), int(0), int(1)])
        );
        // Insertion order, a removed member's place taken by the last one.
        assert_eq!(exec(&mut t, "smembers s"), set(&["d", "b", "c"]));
        assert_eq!(exec(&mut t, "smembers missing"), set(&[]));
        assert_eq!(exec(&mut t, "srem s b c d"), int(3));
        assert_eq!(exec(&mut t, "exists s"), int(0));
        assert!(super::super::testing::keys(&t).is_empty());
    }

    #[test]
    fn spop_is_deterministic_and_removes() {
        let pop = |line: &str| {
            let mut t = State::default();
            exec(&mut t, "sadd s a b c d e f g");
            let reply = exec(&mut t, line);
            (reply, exec(&mut t, "smembers s"))
        };
        // Same entry, same choice: what every replica computes.
        assert_eq!(pop("spop s"), pop("spop s"));
        assert_eq!(pop("spop s 3"), pop("spop s 3"));
        let (Reply::Bulk(m), Reply::Set(rest)) = pop("spop s") else {
            panic!("bad shape");
        };
        assert_eq!(rest.len(), 6);
        assert!(!rest.contains(&Reply::Bulk(m)));
        let (Reply::Set(popped), Reply::Set(rest)) = pop("spop s 3") else {
            panic!("bad shape");
        };
        assert_eq!((popped.len(), rest.len()), (3, 4));
        assert!(popped.iter().all(|m| !rest.contains(m)));
        assert_eq!(pop("spop s 0").0, set(&[]));
        // Popping at least the whole set returns it and deletes the key.
        assert_eq!(
            pop("spop s 7"),
            (set(&["a", "b", "c", "d", "e", "f", "g"]), set(&[]))
        );
        let mut t = State::default();
        assert_eq!(exec(&mut t, "spop missing"), Reply::Nil);
        assert_eq!(exec(&mut t, "spop missing 2"), set(&[]));
        exec(&mut t, "sadd s only");
        assert_eq!(exec(&mut t, "spop s"), bulk("only"));
        assert_eq!(exec(&mut t, "exists s"), int(0));
    }

    #[test]
    fn srandmember_shapes() {
        let mut t = State::default();
        exec(&mut t, "sadd s a b c");
        assert_eq!(exec(&mut t, "srandmember missing"), Reply::Nil);
        assert_eq!(exec(&mut t, "srandmember missing 2"), Reply::Array(vec![]));
        assert_eq!(exec(&mut t, "srandmember s 0"), Reply::Array(vec![]));
        assert_eq!(
            exec(&mut t, "srandmember s 3"),
            Reply::Array(bulks(&["a", "b", "c"]))
        );
        let Reply::Array(two) = exec(&mut t, "srandmember s 2") else {
            panic!("not an array");
        };
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1]);
        let Reply::Array(many) = exec(&mut t, "srandmember s -7") else {
            panic!("not an array");
        };
        assert_eq!(many.len(), 7);
        assert!(many.iter().all(|m| bulks(&["a", "b", "c"]).contains(m)));
        assert_eq!(exec(&mut t, "scard s"), int(3));
    }

    #[test]
    fn smove_like_redis() {
        let mut t = State::default();
        assert_eq!(
            script(
                &mut t,
                &[
                    "sadd myset one two",
                    "sadd myotherset three",
                    "smove myset myotherset two",
                    "smove myset myotherset nope",
                    "smove missing myotherset one",
                    "smove myset myset one",
                    "smove myset myset two",
                    "set str x",
                    "smove myset str one",
                    "smove str myset one",
                    "smove missing str one",
                    "smove myset fresh one",
                    "exists myset",
                ]
            ),
            [
                int(2),
                int(1),
                int(1),
                int(0),
                int(0),
                int(1),
                int(0),
                Reply::ok(),
                wrongtype(),
                wrongtype(),
                int(0),
                int(1),
                int(0),
            ]
        );
        assert_eq!(exec(&mut t, "smembers myotherset"), set(&["three", "two"]));
        assert_eq!(exec(&mut t, "smembers fresh"), set(&["one"]));
    }

    #[test]
    fn algebra_like_redis() {
        let mut t = State::default();
        script(
            &mut t,
            &["sadd key1 a b c d", "sadd key2 c", "sadd key3 a c e"],
        );
        assert_eq!(exec(&mut t, "sdiff key1 key2 key3"), set(&["b", "d"]));
        assert_eq!(exec(&mut t, "sinter key1 key2 key3"), set(&["c"]));
        assert_eq!(
            exec(&mut t, "sunion key1 key2 key3"),
            set(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(exec(&mut t, "sinter key1 missing"), set(&[]));
        assert_eq!(exec(&mut t, "sunion missing key2"), set(&["c"]));
        assert_eq!(exec(&mut t, "sdiff missing key2"), set(&[]));
        assert_eq!(exec(&mut t, "sintercard 2 key1 key3"), int(2));
        assert_eq!(exec(&mut t, "sintercard 2 key1 key3 limit 1"), int(1));
        assert_eq!(exec(&mut t, "sintercard 2 key1 key3 limit 0"), int(2));
        assert_eq!(exec(&mut t, "sintercard 2 key1 missing"), int(0));
        exec(&mut t, "set str x");
        for line in [
            "sinter key1 str",
            "sinter missing str",
            "sunion str",
            "sdiff key1 str",
            "sintercard 2 missing str",
            "sinterstore d key1 str",
            "sadd str a",
            "srem str a",
            "smembers str",
            "scard str",
            "sismember str a",
            "smismember str a",
            "spop str",
            "spop str 0",
            "srandmember str",
            "srandmember str 0",
            "sscan str 0",
        ] {
            assert_eq!(exec(&mut t, line), wrongtype(), "{line}");
        }
    }

    #[test]
    fn store_forms_replace_the_destination() {
        let mut t = State::default();
        script(
            &mut t,
            &[
                "sadd key1 a b c d",
                "sadd key2 c",
                "sadd key3 a c e",
                "set dst x",
                "pexpire dst 9000",
            ],
        );
        assert_eq!(
            script(
                &mut t,
                &[
                    "sunionstore dst key1 key3",
                    "pttl dst",
                    "type dst",
                    "sdiffstore key1 key1 key2",
                    "sinterstore dst key2 missing",
                    "exists dst",
                    "sinterstore key2 key2 key3",
                ]
            ),
            [
                int(5),
                int(-1),
                Reply::Simple("set".into()),
                int(3),
                int(0),
                int(0),
                int(1),
            ]
        );
        assert_eq!(exec(&mut t, "smembers key1"), set(&["a", "b", "d"]));
    }

    #[test]
    fn sscan_lists_members() {
        let mut t = State::default();
        exec(&mut t, "sadd s a b ab");
        assert_eq!(
            exec(&mut t, "sscan s 0 match a*"),
            Reply::Array(vec![bulk("0"), Reply::Array(bulks(&["a", "ab"]))])
        );
        let members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
        exec(&mut t, &format!("sadd big {}", members.join(" ")));
        let (mut cursor, mut seen) = ("0".to_string(), Vec::new());
        loop {
            let Reply::Array(parts) = exec(&mut t, &format!("sscan big {cursor} count 20")) else {
                panic!("not an array");
            };
            let [Reply::Bulk(next), Reply::Array(found)] = &parts[..] else {
                panic!("bad shape");
            };
            seen.extend(found.iter().cloned());
            cursor = String::from_utf8_lossy(next).into_owned();
            if cursor == "0" {
                break;
            }
        }
        seen.sort_by_key(|r| format!("{r:?}"));
        seen.dedup();
        assert_eq!(seen.len(), 300);
    }
}
