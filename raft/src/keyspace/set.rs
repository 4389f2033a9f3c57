//! Set commands. A set is one stored value (`Data::Set`, a `BTreeSet` in member order), read
//! and rewritten whole; a set that loses its last member is deleted, as in Redis.
//!
//! Replies that list a set (SMEMBERS, SINTER, SPOP with a count, ...) list it in member order
//! (bytewise); Redis's order depends on its encoding. Clients must not rely on either.

use std::collections::BTreeSet;

use bytes::Bytes;
use cairn_protocol::command::{CollectionKind, ReadCommand, SetOp};
use cairn_protocol::Reply;

use super::random::{self, SplitMix64, MAX_REPEATED_SAMPLE};
use super::{scan, Ctx, Data, StoredValue, WRONGTYPE};
use crate::error::Result;

/// A live set and its expiry.
type Set = (BTreeSet<Bytes>, Option<u64>);

/// The members of `value` if it is a set (`None` for no value), or the WRONGTYPE reply.
fn members(value: Option<StoredValue>) -> std::result::Result<Option<Set>, Reply> {
    match value {
        None => Ok(None),
        Some(StoredValue {
            data: Data::Set(set),
            expire_at_ms,
            ..
        }) => Ok(Some((set, expire_at_ms))),
        Some(_) => Err(Reply::error(WRONGTYPE)),
    }
}

fn set_reply(set: impl IntoIterator<Item = Bytes>) -> Reply {
    Reply::Set(set.into_iter().map(Reply::Bulk).collect())
}

/// SINTER, SUNION or SDIFF of `sets` (a missing key is an empty set).
fn algebra(op: SetOp, sets: Vec<BTreeSet<Bytes>>) -> BTreeSet<Bytes> {
    let mut sets = sets.into_iter();
    let Some(first) = sets.next() else {
        return BTreeSet::new();
    };
    sets.fold(first, |acc, s| match op {
        SetOp::Inter => acc.intersection(&s).cloned().collect(),
        SetOp::Union => acc.union(&s).cloned().collect(),
        SetOp::Diff => acc.difference(&s).cloned().collect(),
    })
}

/// SINTERCARD: the size of the intersection, counting no further than `limit` (0: no limit).
fn inter_card(mut sets: Vec<BTreeSet<Bytes>>, limit: u64) -> u64 {
    sets.sort_by_key(BTreeSet::len);
    let Some((smallest, others)) = sets.split_first() else {
        return 0;
    };
    let mut n = 0;
    for m in smallest {
        if others.iter().all(|s| s.contains(m)) {
            n += 1;
            if n == limit {
                break;
            }
        }
    }
    n
}

impl Ctx<'_> {
    /// The live set at `key` (`None`: no key), or the WRONGTYPE reply.
    fn set_at(&mut self, key: &[u8]) -> Result<std::result::Result<Option<Set>, Reply>> {
        Ok(members(self.live(key)?))
    }

    /// Stores `set` at `key` with its expiry, or deletes the key if the set is empty.
    fn put_set(&mut self, key: &[u8], (set, expire_at_ms): Set) -> Result<()> {
        let data = Data::Set(set);
        self.put_or_delete(key, StoredValue::new(data, expire_at_ms))
    }

    pub(crate) fn sadd(&mut self, key: &Bytes, new: &[Bytes]) -> Result<Reply> {
        let mut set = match self.set_at(key)? {
            Err(e) => return Ok(e),
            Ok(s) => s.unwrap_or_default(),
        };
        let added = new.iter().filter(|m| set.0.insert((*m).clone())).count();
        if added > 0 {
            self.put_set(key, set)?;
        }
        Ok(Reply::Integer(added as i64))
    }

    pub(crate) fn srem(&mut self, key: &Bytes, gone: &[Bytes]) -> Result<Reply> {
        let mut set = match self.set_at(key)? {
            Err(e) => return Ok(e),
            Ok(None) => return Ok(Reply::Integer(0)),
            Ok(Some(s)) => s,
        };
        let removed = gone.iter().filter(|m| set.0.remove(*m)).count();
        if removed > 0 {
            self.put_set(key, set)?;
        }
        Ok(Reply::Integer(removed as i64))
    }

    /// SPOP: the members are chosen by a generator seeded from the entry's timestamp, the key
    /// and the set's size (see `random`), so every replica removes the same ones.
    pub(crate) fn spop(&mut self, key: &Bytes, count: Option<u64>) -> Result<Reply> {
        let (set, expire) = match self.set_at(key)? {
            Err(e) => return Ok(e),
            Ok(None) => {
                return Ok(if count.is_some() {
                    set_reply([])
                } else {
                    Reply::Nil
                })
            }
            Ok(Some(s)) => s,
        };
        let all: Vec<Bytes> = set.into_iter().collect();
        let mut rng = SplitMix64::for_write(self.now, key, all.len());
        let Some(count) = count else {
            let i = rng.below(all.len());
            let popped = all.get(i).cloned().unwrap_or_default();
            let rest = all.into_iter().filter(|m| *m != popped).collect();
            self.put_set(key, (rest, expire))?;
            return Ok(Reply::Bulk(popped));
        };
        if count == 0 {
            return Ok(set_reply([]));
        }
        let mut picked = vec![false; all.len()];
        let mut popped = Vec::new();
        for i in random::distinct(&mut rng, all.len(), count) {
            if let (Some(flag), Some(m)) = (picked.get_mut(i), all.get(i)) {
                *flag = true;
                popped.push(m.clone());
            }
        }
        let rest = all
            .into_iter()
            .zip(picked)
            .filter_map(|(m, p)| (!p).then_some(m))
            .collect();
        self.put_set(key, (rest, expire))?;
        Ok(set_reply(popped))
    }

    pub(crate) fn smove(&mut self, src: &Bytes, dst: &Bytes, member: &Bytes) -> Result<Reply> {
        let from = match self.set_at(src)? {
            Err(e) => return Ok(e),
            Ok(None) => return Ok(Reply::Integer(0)),
            Ok(Some(s)) => s,
        };
        let to = match self.set_at(dst)? {
            Err(e) => return Ok(e),
            Ok(to) => to,
        };
        if src == dst {
            return Ok(Reply::Integer(i64::from(from.0.contains(member))));
        }
        let mut from = from;
        if !from.0.remove(member) {
            return Ok(Reply::Integer(0));
        }
        self.put_set(src, from)?;
        let mut to = to.unwrap_or_default();
        if to.0.insert(member.clone()) {
            self.put_set(dst, to)?;
        }
        Ok(Reply::Integer(1))
    }

    /// SINTERSTORE, SUNIONSTORE, SDIFFSTORE: the result replaces `dst` whatever it held (and
    /// its TTL); an empty result deletes it.
    pub(crate) fn sstore(&mut self, op: SetOp, dst: &Bytes, keys: &[Bytes]) -> Result<Reply> {
        let mut sets = Vec::with_capacity(keys.len());
        for k in keys {
            match self.set_at(k)? {
                Err(e) => return Ok(e),
                Ok(s) => sets.push(s.map(|(s, _)| s).unwrap_or_default()),
            }
        }
        let result = algebra(op, sets);
        let n = result.len() as i64;
        self.put_set(dst, (result, None))?;
        Ok(Reply::Integer(n))
    }
}

/// Answers a set read. `live` gives the live value of a key.
pub(super) fn read(
    cmd: &ReadCommand,
    live: &dyn Fn(&[u8]) -> Result<Option<StoredValue>>,
    now_ms: u64,
) -> Result<Reply> {
    let set_of = |key: &[u8]| -> Result<std::result::Result<BTreeSet<Bytes>, Reply>> {
        Ok(members(live(key)?).map(|s| s.map(|(s, _)| s).unwrap_or_default()))
    };
    let sets_of = |keys: &[Bytes]| -> Result<std::result::Result<Vec<BTreeSet<Bytes>>, Reply>> {
        let mut sets = Vec::with_capacity(keys.len());
        for k in keys {
            match set_of(k)? {
                Ok(s) => sets.push(s),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(sets))
    };
    let one = |key: &[u8], f: &dyn Fn(BTreeSet<Bytes>) -> Reply| -> Result<Reply> {
        Ok(set_of(key)?.map_or_else(|e| e, f))
    };
    Ok(match cmd {
        ReadCommand::SMembers { key } => one(key, &set_reply)?,
        ReadCommand::SIsMember { key, member } => {
            one(key, &|s| Reply::Integer(i64::from(s.contains(member))))?
        }
        ReadCommand::SMIsMember { key, members } => one(key, &|s| {
            Reply::Array(
                members
                    .iter()
                    .map(|m| Reply::Integer(i64::from(s.contains(m))))
                    .collect(),
            )
        })?,
        ReadCommand::SCard { key } => one(key, &|s| Reply::Integer(s.len() as i64))?,
        ReadCommand::SRandMember { key, count } => {
            one(key, &|s| srandmember(key, s, *count, now_ms))?
        }
        ReadCommand::SetAlgebra { op, keys } => match sets_of(keys)? {
            Ok(sets) => set_reply(algebra(*op, sets)),
            Err(e) => e,
        },
        ReadCommand::SInterCard { keys, limit } => match sets_of(keys)? {
            Ok(sets) => Reply::Integer(i64::try_from(inter_card(sets, *limit)).unwrap_or(i64::MAX)),
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
                s.into_iter().map(|m| (m, None)).collect(),
                *cursor,
                pattern.as_deref(),
                *count,
            )
        })?,
        _ => Reply::error("ERR not a set command"),
    })
}

fn srandmember(key: &[u8], set: BTreeSet<Bytes>, count: Option<i64>, now_ms: u64) -> Reply {
    let mut rng = SplitMix64::for_read(key, now_ms);
    let all: Vec<Bytes> = set.into_iter().collect();
    let Some(count) = count else {
        return match all.len() {
            0 => Reply::Nil,
            n => Reply::opt_bulk(all.get(rng.below(n)).cloned()),
        };
    };
    let n = count.unsigned_abs();
    if all.is_empty() || n == 0 {
        return Reply::Array(Vec::new());
    }
    let picks = if count >= 0 {
        random::distinct(&mut rng, all.len(), n)
    } else if n > MAX_REPEATED_SAMPLE {
        return Reply::error("ERR value is out of range");
    } else {
        random::repeated(&mut rng, all.len(), n)
    };
    Reply::Array(
        picks
            .into_iter()
            .filter_map(|i| all.get(i).cloned().map(Reply::Bulk))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bulk, bulks, exec, int, script, wrongtype};
    use super::super::tests::MemTxn;
    use super::*;

    fn set(items: &[&str]) -> Reply {
        Reply::Set(bulks(items))
    }

    #[test]
    fn sadd_srem_and_membership() {
        let mut t = MemTxn::default();
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
        assert_eq!(exec(&mut t, "smembers s"), set(&["b", "c", "d"]));
        assert_eq!(exec(&mut t, "smembers missing"), set(&[]));
        assert_eq!(exec(&mut t, "srem s b c d"), int(3));
        assert_eq!(exec(&mut t, "exists s"), int(0));
        assert!(t.0.is_empty());
    }

    #[test]
    fn spop_is_deterministic_and_removes() {
        let pop = |line: &str| {
            let mut t = MemTxn::default();
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
        let mut t = MemTxn::default();
        assert_eq!(exec(&mut t, "spop missing"), Reply::Nil);
        assert_eq!(exec(&mut t, "spop missing 2"), set(&[]));
        exec(&mut t, "sadd s only");
        assert_eq!(exec(&mut t, "spop s"), bulk("only"));
        assert_eq!(exec(&mut t, "exists s"), int(0));
    }

    #[test]
    fn srandmember_shapes() {
        let mut t = MemTxn::default();
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
        let mut t = MemTxn::default();
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
        let mut t = MemTxn::default();
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
        let mut t = MemTxn::default();
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
        let mut t = MemTxn::default();
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
