//! Read commands, served from the applied state.
//!
//! A replica hides keys that are logically expired at its own clock, as Redis replicas do;
//! removing them is the leader's job (through the log).

use bytes::Bytes;
use cairn_protocol::command::{CollectionKind, ObjectQuery, ReadCommand, TtlQuery};
use cairn_protocol::glob::glob_match;
use cairn_protocol::Reply;

use super::{
    bits, dump, hash, lcs, list, set, sort, zalgebra, zset, Data, State, StoredValue, WRONGTYPE,
};
use crate::error::Result;

/// Answers a read command in database `db` at the reader's clock `now_ms`.
pub fn read<'s>(state: &'s State, db: u8, cmd: &ReadCommand, now_ms: u64) -> Result<Reply> {
    let live = |key: &[u8]| -> Option<&'s StoredValue> { state.get_live(db, key, now_ms) };
    Ok(match cmd {
        ReadCommand::Get { key } => match live(key) {
            None => Reply::Nil,
            Some(v) => string_or_wrongtype(v, |s| Reply::Bulk(s.reply_bytes())),
        },
        ReadCommand::MGet { keys } => {
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                out.push(match live(k) {
                    Some(StoredValue {
                        data: Data::Str(s), ..
                    }) => Reply::Bulk(s.reply_bytes()),
                    // MGET answers nil for a key of another type, as Redis does.
                    _ => Reply::Nil,
                });
            }
            Reply::Array(out)
        }
        ReadCommand::StrLen { key } => match live(key) {
            None => Reply::Integer(0),
            Some(v) => string_or_wrongtype(v, |s| Reply::Integer(s.len() as i64)),
        },
        ReadCommand::GetRange { key, start, end } => match live(key) {
            None => Reply::Bulk(Bytes::new()),
            Some(v) => string_or_wrongtype(v, |s| Reply::Bulk(range(s.bytes(), *start, *end))),
        },
        ReadCommand::Exists { keys } => {
            let mut n = 0;
            for k in keys {
                if live(k).is_some() {
                    n += 1;
                }
            }
            Reply::Integer(n)
        }
        ReadCommand::RandomKey => random_key(state, db, now_ms),
        ReadCommand::Object { what, key } => match live(key) {
            None => Reply::Nil,
            Some(v) => object(*what, &v.data),
        },
        ReadCommand::Type { key } => match live(key) {
            None => Reply::Simple("none".into()),
            Some(v) => Reply::Simple(v.data.type_name().into()),
        },
        ReadCommand::Keys { pattern } => {
            let keys = state
                .db(db)
                .into_iter()
                .flat_map(|d| d.keys.iter())
                .filter(|(k, v)| !v.is_expired(now_ms) && glob_match(pattern, k, false))
                .map(|(k, _)| Reply::Bulk(Bytes::copy_from_slice(k)))
                .collect();
            Reply::Array(keys)
        }
        ReadCommand::Scan {
            cursor,
            pattern,
            count,
            type_name,
        } => {
            let (entries, next) = state.scan(db, *cursor, *count);
            let keys = entries
                .into_iter()
                .filter(|(k, v)| {
                    !v.is_expired(now_ms)
                        && pattern.as_ref().is_none_or(|p| glob_match(p, k, false))
                        && type_name
                            .as_ref()
                            .is_none_or(|t| t.eq_ignore_ascii_case(v.data.type_name()))
                })
                .map(|(k, _)| Reply::Bulk(Bytes::copy_from_slice(k)))
                .collect();
            Reply::Array(vec![
                Reply::Bulk(Bytes::from(next.to_string())),
                Reply::Array(keys),
            ])
        }
        ReadCommand::ScriptExists { shas } => super::script::catalog::exists(&state.scripts, shas),
        ReadCommand::FunctionList { pattern, with_code } => {
            super::script::catalog::list(&state.libraries, pattern.as_deref(), *with_code)
        }
        ReadCommand::FunctionStats => super::script::catalog::stats(&state.libraries),
        ReadCommand::FunctionDump => super::script::catalog::dump(&state.libraries),
        ReadCommand::DbSize => Reply::Integer(i64::try_from(state.len(db)).unwrap_or(i64::MAX)),
        // The key's share of `used_memory`: the stored record (value and expiry), the key,
        // and a fixed per-key overhead for the index entries, an estimate as Redis's is.
        ReadCommand::MemoryUsage { key } => match live(key) {
            None => Reply::Nil,
            Some(v) => {
                Reply::Integer(i64::try_from(super::entry_bytes(key, v)).unwrap_or(i64::MAX))
            }
        },
        ReadCommand::Ttl { key, query } => ttl(live(key), *query, now_ms),
        ReadCommand::HGet { key, .. }
        | ReadCommand::HMGet { key, .. }
        | ReadCommand::HGetAll { key, .. }
        | ReadCommand::HLen { key }
        | ReadCommand::HExists { key, .. }
        | ReadCommand::HStrLen { key, .. }
        | ReadCommand::HRandField { key, .. }
        | ReadCommand::CollectionScan {
            key,
            kind: CollectionKind::Hash,
            ..
        } => hash::read(cmd, live(key), now_ms),
        ReadCommand::SMembers { .. }
        | ReadCommand::SIsMember { .. }
        | ReadCommand::SMIsMember { .. }
        | ReadCommand::SCard { .. }
        | ReadCommand::SRandMember { .. }
        | ReadCommand::SetAlgebra { .. }
        | ReadCommand::SInterCard { .. }
        | ReadCommand::CollectionScan {
            kind: CollectionKind::Set,
            ..
        } => set::read(cmd, &live, now_ms)?,
        ReadCommand::LLen { key }
        | ReadCommand::LRange { key, .. }
        | ReadCommand::LIndex { key, .. }
        | ReadCommand::LPos { key, .. } => list::read(cmd, live(key)),
        ReadCommand::ZScore { key, .. }
        | ReadCommand::ZMScore { key, .. }
        | ReadCommand::ZCard { key }
        | ReadCommand::ZCount { key, .. }
        | ReadCommand::ZRange { key, .. }
        | ReadCommand::ZRank { key, .. }
        | ReadCommand::CollectionScan {
            key,
            kind: CollectionKind::ZSet,
            ..
        }
        | ReadCommand::ZRandMember { key, .. } => zset::read(cmd, live(key), now_ms),
        ReadCommand::ZCombine { .. } | ReadCommand::ZInterCard { .. } => {
            zalgebra::read(cmd, &live)?
        }
        ReadCommand::Sort(spec) => {
            let mut lookup = |k: &[u8]| Ok(live(k).cloned());
            match sort::sort(live(&spec.key).cloned(), spec, false, &mut lookup)? {
                Ok(rows) => Reply::Array(rows.into_iter().map(Reply::opt_bulk).collect()),
                Err(e) => e,
            }
        }
        ReadCommand::Dump { key } => match live(key) {
            None => Reply::Nil,
            Some(v) => Reply::Bulk(dump::payload(&v.data)?),
        },
        ReadCommand::Lcs { a, b, answer } => lcs::lcs(live(a), live(b), *answer),
        ReadCommand::GetBit { key, offset } => bits::getbit(live(key), *offset),
        ReadCommand::PfCount { keys } => {
            let values: Vec<_> = keys.iter().map(|k| live(k)).collect();
            super::hll::pfcount(&values)
        }
        ReadCommand::GeoPos { key, .. }
        | ReadCommand::GeoHash { key, .. }
        | ReadCommand::GeoDist { key, .. }
        | ReadCommand::GeoSearch { key, .. } => super::geo::read(cmd, live(key)),
        ReadCommand::XLen { .. }
        | ReadCommand::XRange { .. }
        | ReadCommand::XRead { .. }
        | ReadCommand::XInfo(_)
        | ReadCommand::XPending { .. }
        | ReadCommand::XHelp { .. } => super::stream::read::read(cmd, live, now_ms),
        ReadCommand::PfDebug { sub, key } => super::hll::pfdebug(sub, live(key)),
        ReadCommand::BitField { key, ops } => super::bitfield::bitfield_get(live(key), ops),
        ReadCommand::BitCount { key, range } => bits::bitcount(live(key), *range),
        ReadCommand::BitPos {
            key,
            bit,
            start,
            end,
            unit,
        } => bits::bitpos(live(key), *bit, *start, *end, *unit),
    })
}

fn string_or_wrongtype(v: &StoredValue, f: impl FnOnce(&super::value::Str) -> Reply) -> Reply {
    match &v.data {
        Data::Str(s) => f(s),
        Data::Hash(_) | Data::Set(_) | Data::List(_) | Data::ZSet(_) | Data::Stream(_) => {
            Reply::error(WRONGTYPE)
        }
    }
}

fn ttl(v: Option<&StoredValue>, query: TtlQuery, now_ms: u64) -> Reply {
    let Some(v) = v else {
        return Reply::Integer(-2);
    };
    let Some(at) = v.expire_at_ms() else {
        return Reply::Integer(-1);
    };
    let remaining = at.saturating_sub(now_ms) as i64;
    let at = at as i64;
    Reply::Integer(match query {
        // Redis rounds seconds to the nearest, for the remaining time and the unix time alike.
        TtlQuery::TtlSecs => (remaining + 500) / 1000,
        TtlQuery::TtlMs => remaining,
        TtlQuery::AtSecs => (at + 500) / 1000,
        TtlQuery::AtMs => at,
    })
}

/// GETRANGE's inclusive range with Redis's negative-index rules.
fn range(s: &[u8], start: i64, end: i64) -> Bytes {
    let len = s.len() as i64;
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return Bytes::new();
    }
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (norm(start), norm(end).min(len - 1));
    if start > end || start >= len {
        return Bytes::new();
    }
    Bytes::copy_from_slice(&s[start as usize..=end as usize])
}

/// OBJECT's answers. cairn stores whole values, not Redis's encodings, so ENCODING names
/// the encoding Redis 7.2 would choose at its default thresholds (clients and tests use it to
/// reason about sizes); there is no sharing (REFCOUNT 1). Access facts are not replicated
/// state: the node answers IDLETIME and FREQ from its own tracking (node `lookups`); these
/// answers (IDLETIME 0, FREQ's error for a non-LFU policy) are for OBJECT inside MULTI/EXEC,
/// which is applied from the log.
fn object(what: ObjectQuery, data: &Data) -> Reply {
    match what {
        ObjectQuery::Encoding => Reply::bulk(encoding(data)),
        ObjectQuery::RefCount => Reply::Integer(1),
        ObjectQuery::IdleTime => Reply::Integer(0),
        ObjectQuery::Freq => Reply::error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ),
    }
}

/// Redis 7.2's encoding for a value, at its default `*-max-listpack-*` and `set-max-intset-
/// entries` settings.
fn encoding(data: &Data) -> &'static str {
    const ENTRIES_MAX: usize = 128;
    const VALUE_BYTES_MAX: usize = 64;
    fn small<'a>(len: usize, mut items: impl Iterator<Item = &'a Bytes>) -> bool {
        len <= ENTRIES_MAX && items.all(|b| b.len() <= VALUE_BYTES_MAX)
    }
    match data {
        Data::Str(s) if s.len() <= 20 && cairn_protocol::num::parse_i64(s.bytes()).is_some() => {
            "int"
        }
        // Redis builds a HyperLogLog as a raw string (PFADD), however short.
        Data::Str(s) if super::hll::is_hll(s.bytes()) => "raw",
        Data::Str(s) if s.len() <= 44 => "embstr",
        Data::Str(_) => "raw",
        Data::List(l) if small(l.len(), l.iter()) => "listpack",
        Data::List(_) => "quicklist",
        Data::Set(s)
            if s.len() <= 512
                && s.iter()
                    .all(|m| cairn_protocol::num::parse_i64(m).is_some()) =>
        {
            "intset"
        }
        Data::Set(s) if small(s.len(), s.iter()) => "listpack",
        Data::Set(_) => "hashtable",
        Data::Hash(h) if small(h.len(), h.iter().flat_map(|(k, v)| [k, v])) => "listpack",
        Data::Hash(_) => "hashtable",
        Data::ZSet(z) if small(z.len(), z.members().map(|(m, _)| m)) => "listpack",
        Data::ZSet(_) => "skiplist",
        Data::Stream(_) => "stream",
    }
}

/// Scan steps RANDOMKEY takes past expired keys before it answers nil.
const RANDOM_KEY_STEPS_MAX: usize = 64;
/// Keys RANDOMKEY picks among, gathered from a random scan position on.
const RANDOM_KEY_SAMPLE: usize = 16;

/// RANDOMKEY: a random live key among a sample gathered from a random scan position on
/// (wrapping around once). Keys sit in scan-hash order and similar keys hash close together,
/// so picking within the sample (the whole database when it is small) keeps small databases
/// uniform and large ones random, much as Redis's own sampling is. Reads may use randomness;
/// `apply` never does.
fn random_key(state: &State, db: u8, now_ms: u64) -> Reply {
    let mut cursor = random_position(now_ms);
    let mut wrapped = false;
    let mut sample: Vec<Bytes> = Vec::new();
    for _ in 0..RANDOM_KEY_STEPS_MAX {
        let (batch, next) = state.scan(db, cursor, RANDOM_KEY_SAMPLE);
        sample.extend(
            batch
                .into_iter()
                .filter(|(_, v)| !v.is_expired(now_ms))
                .map(|(k, _)| Bytes::copy_from_slice(k)),
        );
        if sample.len() >= RANDOM_KEY_SAMPLE {
            break;
        }
        if next == 0 {
            if wrapped {
                break;
            }
            wrapped = true;
        }
        cursor = next;
    }
    sample.sort();
    sample.dedup();
    if sample.is_empty() {
        return Reply::Nil;
    }
    let pick = random_position(now_ms) % sample.len() as u64;
    Reply::Bulk(sample.swap_remove(pick as usize))
}

/// A fresh pseudo-random scan position (splitmix64 over the clock and a counter).
fn random_position(now_ms: u64) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut z = now_ms.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(
        CALLS
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0xBF58_476D_1CE4_E5B9),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_answers_like_redis_at_default_thresholds() {
        use super::super::testing::{bulk, exec, int};
        let mut txn = State::default();
        let long = "x".repeat(45);
        let many: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
        for line in [
            "set i 12345".to_string(),
            "set e short".to_string(),
            format!("set r {long}"),
            "rpush l a b".to_string(),
            "sadd s 1 2 3".to_string(),
            "sadd t a b".to_string(),
            format!("sadd big {}", many.join(" ")),
            "hset h f v".to_string(),
            format!("hset hb f {long}{long}"),
            "zadd z 1 a".to_string(),
        ] {
            exec(&mut txn, &line);
        }
        for (key, enc) in [
            ("i", "int"),
            ("e", "embstr"),
            ("r", "raw"),
            ("l", "listpack"),
            ("s", "intset"),
            ("t", "listpack"),
            ("big", "hashtable"),
            ("h", "listpack"),
            ("hb", "hashtable"),
            ("z", "listpack"),
        ] {
            assert_eq!(
                exec(&mut txn, &format!("object encoding {key}")),
                bulk(enc),
                "{key}"
            );
        }
        assert_eq!(exec(&mut txn, "object encoding nope"), Reply::Nil);
        assert_eq!(exec(&mut txn, "object refcount i"), int(1));
        assert_eq!(exec(&mut txn, "object idletime i"), int(0));
        assert!(
            matches!(exec(&mut txn, "object freq i"), Reply::Error(e) if e.starts_with("ERR An LFU maxmemory policy is not selected"))
        );
    }

    #[test]
    fn getrange_matches_redis() {
        let s = Bytes::from_static(b"This is a string");
        assert_eq!(range(&s, 0, 3), "This");
        assert_eq!(range(&s, -3, -1), "ing");
        assert_eq!(range(&s, 0, -1), "This is a string");
        assert_eq!(range(&s, 10, 100), "string");
        assert_eq!(range(&s, 5, 3), "");
        assert_eq!(range(&s, -1, -5), "");
        assert_eq!(range(&Bytes::new(), 0, -1), "");
    }

    fn with_expiry(at: u64) -> StoredValue {
        StoredValue::string(Bytes::from_static(b"v"), Some(at))
    }

    #[test]
    fn expiretime_rounds_to_the_nearest_second_like_redis() {
        // `SET k v PXAT 9999999999500` then `EXPIRETIME k` is 10000000000 in Redis.
        let now = 1_000;
        let reply = |at, q| ttl(Some(&with_expiry(at)), q, now);
        assert_eq!(
            reply(9_999_999_999_500, TtlQuery::AtSecs),
            Reply::Integer(10_000_000_000)
        );
        assert_eq!(
            reply(9_999_999_999_499, TtlQuery::AtSecs),
            Reply::Integer(9_999_999_999)
        );
        assert_eq!(
            reply(9_999_999_999_500, TtlQuery::AtMs),
            Reply::Integer(9_999_999_999_500)
        );
        assert_eq!(reply(2_499, TtlQuery::TtlSecs), Reply::Integer(1));
        assert_eq!(reply(2_500, TtlQuery::TtlSecs), Reply::Integer(2));
        assert_eq!(ttl(None, TtlQuery::AtSecs, now), Reply::Integer(-2));
    }
}
