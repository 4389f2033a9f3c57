//! Hash commands. A hash is an insertion-ordered map (`value::HashValue`) changed in place:
//! HSET, HGET, HDEL are O(1) per field; a hash that loses its last field is deleted, as in
//! Redis.
//!
//! Replies that list a hash (HGETALL, HKEYS, HVALS) list it in insertion order (a removed
//! field's place is taken by the last one), as Redis lists a small hash; HSCAN visits it by
//! position (see `scan`).

use bytes::Bytes;
use cairn_protocol::command::{CollectionKind, HashPart, ReadCommand};
use cairn_protocol::errors::RedisError;
use cairn_protocol::long_double::LongDouble;
use cairn_protocol::num::parse_i64;
use cairn_protocol::Reply;

use super::random::{self, Sample};
use super::value::HashValue;
use super::{hash_mut, scan, Ctx, Data, Kind, StoredValue, WRONGTYPE};
use crate::error::Result;

/// The reply when a hash is changed in place, or WRONGTYPE.
fn done(r: std::result::Result<Option<Reply>, Reply>) -> Result<Reply> {
    Ok(match r {
        Ok(Some(reply)) => reply,
        Ok(None) => Reply::Integer(0),
        Err(e) => e,
    })
}

impl Ctx<'_> {
    pub(crate) fn hset(
        &mut self,
        key: &Bytes,
        pairs: &[(Bytes, Bytes)],
        hmset: bool,
    ) -> Result<Reply> {
        done(
            self.modify(key, Kind::Hash, true, |v| {
                let h = hash_mut(v)?;
                let created = pairs
                    .iter()
                    .filter(|(f, value)| h.insert(f.clone(), value.clone()).is_none())
                    .count();
                Some(if hmset {
                    Reply::ok()
                } else {
                    Reply::Integer(created as i64)
                })
            })
            .map(Option::flatten),
        )
    }

    pub(crate) fn hsetnx(&mut self, key: &Bytes, field: &Bytes, value: &Bytes) -> Result<Reply> {
        let exists = match self.live_ref(key) {
            Some(StoredValue {
                data: Data::Hash(h),
                ..
            }) => h.contains(field),
            Some(_) => return Ok(Reply::error(WRONGTYPE)),
            None => false,
        };
        if exists {
            return Ok(Reply::Integer(0));
        }
        done(
            self.modify(key, Kind::Hash, true, |v| {
                hash_mut(v)?.insert(field.clone(), value.clone());
                Some(Reply::Integer(1))
            })
            .map(Option::flatten),
        )
    }

    pub(crate) fn hdel(&mut self, key: &Bytes, fields: &[Bytes]) -> Result<Reply> {
        let any = match self.live_ref(key) {
            Some(StoredValue {
                data: Data::Hash(h),
                ..
            }) => fields.iter().any(|f| h.contains(f)),
            Some(_) => return Ok(Reply::error(WRONGTYPE)),
            None => false,
        };
        if !any {
            return Ok(Reply::Integer(0));
        }
        done(
            self.modify(key, Kind::Hash, false, |v| {
                let h = hash_mut(v)?;
                let removed = fields.iter().filter(|f| h.remove(f).is_some()).count();
                Some(Reply::Integer(removed as i64))
            })
            .map(Option::flatten),
        )
    }

    /// The current value of a hash field (`None`: no key or no field), or WRONGTYPE.
    fn hash_field(
        &mut self,
        key: &[u8],
        field: &[u8],
    ) -> std::result::Result<Option<Bytes>, Reply> {
        match self.live_ref(key) {
            Some(StoredValue {
                data: Data::Hash(h),
                ..
            }) => Ok(h.get(field).cloned()),
            Some(_) => Err(Reply::error(WRONGTYPE)),
            None => Ok(None),
        }
    }

    pub(crate) fn hincrby(&mut self, key: &Bytes, field: &Bytes, delta: i64) -> Result<Reply> {
        let current = match self.hash_field(key, field) {
            Err(e) => return Ok(e),
            Ok(None) => 0,
            Ok(Some(v)) => match parse_i64(&v) {
                Some(n) => n,
                None => return Ok(Reply::from(RedisError::HashNotInteger)),
            },
        };
        let Some(next) = current.checked_add(delta) else {
            return Ok(Reply::from(RedisError::Overflow));
        };
        done(
            self.modify(key, Kind::Hash, true, |v| {
                hash_mut(v)?.insert(field.clone(), Bytes::from(next.to_string()));
                Some(Reply::Integer(next))
            })
            .map(Option::flatten),
        )
    }

    pub(crate) fn hincrbyfloat(
        &mut self,
        key: &Bytes,
        field: &Bytes,
        delta: LongDouble,
    ) -> Result<Reply> {
        let current = match self.hash_field(key, field) {
            Err(e) => return Ok(e),
            Ok(None) => LongDouble::ZERO,
            Ok(Some(v)) => match LongDouble::parse(&v) {
                Some(n) => n,
                None => return Ok(Reply::from(RedisError::HashNotFloat)),
            },
        };
        // As INCRBYFLOAT: `long double` arithmetic, `%.17Lf` text (see `long_double`).
        let next = match current.add(&delta) {
            Some(next) if next.is_finite() => next,
            _ => return Ok(Reply::from(RedisError::IncrNaN)),
        };
        let text = Bytes::from(next.to_human_string());
        done(
            self.modify(key, Kind::Hash, true, |v| {
                hash_mut(v)?.insert(field.clone(), text.clone());
                Some(Reply::Bulk(text.clone()))
            })
            .map(Option::flatten),
        )
    }
}

/// Answers a hash read; `value` is the live value at the command's key.
pub(super) fn read(cmd: &ReadCommand, value: Option<&StoredValue>, now_ms: u64) -> Reply {
    let empty = HashValue::default();
    let map = match value.map(|v| &v.data) {
        None => &empty,
        Some(Data::Hash(map)) => map,
        Some(_) => return Reply::error(WRONGTYPE),
    };
    match cmd {
        ReadCommand::HGet { field, .. } => Reply::opt_bulk(map.get(field).cloned()),
        ReadCommand::HMGet { fields, .. } => Reply::Array(
            fields
                .iter()
                .map(|f| Reply::opt_bulk(map.get(f).cloned()))
                .collect(),
        ),
        ReadCommand::HGetAll { part, .. } => match part {
            HashPart::All => Reply::Map(
                map.iter()
                    .map(|(f, v)| (Reply::Bulk(f.clone()), Reply::Bulk(v.clone())))
                    .collect(),
            ),
            HashPart::Keys => {
                Reply::Array(map.iter().map(|(f, _)| Reply::Bulk(f.clone())).collect())
            }
            HashPart::Values => {
                Reply::Array(map.iter().map(|(_, v)| Reply::Bulk(v.clone())).collect())
            }
        },
        ReadCommand::HLen { .. } => Reply::Integer(map.len() as i64),
        ReadCommand::HExists { field, .. } => Reply::Integer(i64::from(map.contains(field))),
        ReadCommand::HStrLen { field, .. } => {
            Reply::Integer(map.get(field).map_or(0, |v| v.len() as i64))
        }
        ReadCommand::HRandField {
            key,
            count,
            with_values,
        } => hrandfield(key, map, *count, *with_values, now_ms),
        ReadCommand::CollectionScan {
            kind: CollectionKind::Hash,
            cursor,
            pattern,
            count,
            ..
        } => scan::reply(
            map.len(),
            |i| map.get_index(i).map(|(f, v)| (f.clone(), Some(v.clone()))),
            *cursor,
            pattern.as_deref(),
            *count,
        ),
        _ => Reply::error("ERR not a hash command"),
    }
}

fn hrandfield(
    key: &[u8],
    map: &HashValue,
    count: Option<i64>,
    with_values: bool,
    now_ms: u64,
) -> Reply {
    let picks = match random::sample(key, map.len(), count, now_ms) {
        Err(e) => return e,
        Ok(Sample::One(i)) => {
            return Reply::opt_bulk(i.and_then(|i| map.get_index(i)).map(|e| e.0.clone()))
        }
        Ok(Sample::Many(picks)) => picks,
    };
    let chosen = picks.into_iter().filter_map(|i| map.get_index(i));
    if with_values {
        Reply::Pairs(
            chosen
                .map(|(f, v)| (Reply::Bulk(f.clone()), Reply::Bulk(v.clone())))
                .collect(),
        )
    } else {
        Reply::Array(chosen.map(|(f, _)| Reply::Bulk(f.clone())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bulk, bulks, exec, int, script, wrongtype};
    use super::super::State;
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Reply {
        Reply::Map(pairs.iter().map(|(f, v)| (bulk(f), bulk(v))).collect())
    }

    #[test]
    fn hset_hget_and_friends() {
        let mut t = State::default();
        assert_eq!(
            script(
                &mut t,
                &[
                    "hset h f1 v1 f2 v2",
                    "hset h f1 x f3 y",
                    "hget h f1",
                    "hget h nope",
                    "hget missing f",
                    "hmset h a 1",
                    "hsetnx h f1 z",
                    "hsetnx h n z",
                    "hlen h",
                    "hexists h f2",
                    "hexists h nope",
                    "hstrlen h f3",
                    "hstrlen h nope",
                    "hlen missing",
                ]
            ),
            [
                int(2),
                int(1),
                bulk("x"),
                Reply::Nil,
                Reply::Nil,
                Reply::ok(),
                int(0),
                int(1),
                int(5),
                int(1),
                int(0),
                int(1),
                int(0),
                int(0),
            ]
        );
        assert_eq!(
            exec(&mut t, "hmget h f1 nope f2"),
            Reply::Array(vec![bulk("x"), Reply::Nil, bulk("v2")])
        );
        assert_eq!(
            exec(&mut t, "hmget missing a"),
            Reply::Array(vec![Reply::Nil])
        );
        // In insertion order, as Redis lists a small hash.
        assert_eq!(
            exec(&mut t, "hgetall h"),
            map(&[
                ("f1", "x"),
                ("f2", "v2"),
                ("f3", "y"),
                ("a", "1"),
                ("n", "z")
            ])
        );
        assert_eq!(
            exec(&mut t, "hkeys h"),
            Reply::Array(bulks(&["f1", "f2", "f3", "a", "n"]))
        );
        assert_eq!(
            exec(&mut t, "hvals h"),
            Reply::Array(bulks(&["x", "v2", "y", "1", "z"]))
        );
        assert_eq!(exec(&mut t, "hgetall missing"), Reply::Map(Vec::new()));
        assert_eq!(exec(&mut t, "hkeys missing"), Reply::Array(Vec::new()));
        assert_eq!(exec(&mut t, "type h"), Reply::Simple("hash".into()));
    }

    #[test]
    fn an_emptied_hash_is_deleted() {
        let mut t = State::default();
        assert_eq!(
            script(
                &mut t,
                &[
                    "hset h a 1 b 2",
                    "hdel h a nope",
                    "hdel missing a",
                    "hdel h b",
                    "exists h",
                    "type h",
                    "hdel h b",
                ]
            ),
            [
                int(2),
                int(1),
                int(0),
                int(1),
                int(0),
                Reply::Simple("none".into()),
                int(0)
            ]
        );
        assert!(super::super::testing::keys(&t).is_empty());
    }

    #[test]
    fn hincrby_and_hincrbyfloat() {
        let mut t = State::default();
        assert_eq!(
            script(
                &mut t,
                &[
                    "hincrby h c 5",
                    "hincrby h c -2",
                    "hset h s abc big 9223372036854775807 f 10.50 e 5.0e3",
                    "hincrby h s 1",
                    "hincrby h big 1",
                    "hincrby h f 1",
                    "hincrbyfloat h f 0.1",
                    "hincrbyfloat h f -5",
                    "hincrbyfloat h e 2.0e2",
                    "hincrbyfloat h s 1",
                    "hincrbyfloat h new 0.25",
                    "hincrbyfloat h c 1.5",
                    "hget h c",
                ]
            ),
            [
                int(5),
                int(3),
                int(4),
                Reply::error("ERR hash value is not an integer"),
                Reply::error("ERR increment or decrement would overflow"),
                Reply::error("ERR hash value is not an integer"),
                bulk("10.6"),
                bulk("5.6"),
                bulk("5200"),
                Reply::error("ERR hash value is not a float"),
                bulk("0.25"),
                bulk("4.5"),
                bulk("4.5"),
            ]
        );
        // f64 would answer 0.30000000000000004.
        assert_eq!(
            script(&mut t, &["hset h x 0.1", "hincrbyfloat h x 0.2"])[1],
            bulk("0.3")
        );
    }

    #[test]
    fn wrong_types_both_ways() {
        let mut t = State::default();
        script(&mut t, &["set str v", "hset h f v", "sadd s m"]);
        for line in [
            "hget str f",
            "hmget str f",
            "hset str f v",
            "hsetnx str f v",
            "hdel str f",
            "hgetall str",
            "hkeys str",
            "hvals str",
            "hlen str",
            "hexists str f",
            "hstrlen str f",
            "hincrby str f 1",
            "hincrbyfloat str f 1",
            "hrandfield str",
            "hrandfield str 0",
            "hscan str 0",
            "hget s f",
            "get h",
            "getset h v",
            "getdel h",
            "getex h",
            "set h v GET",
            "append h x",
            "setrange h 0 x",
            "incr h",
            "incrbyfloat h 1",
            "strlen h",
            "getrange h 0 1",
        ] {
            assert_eq!(exec(&mut t, line), wrongtype(), "{line}");
        }
        assert_eq!(
            exec(&mut t, "mget str h s"),
            Reply::Array(vec![bulk("v"), Reply::Nil, Reply::Nil])
        );
        // The state is unchanged by the failures, and SET overwrites any type.
        assert_eq!(exec(&mut t, "hget h f"), bulk("v"));
        assert_eq!(exec(&mut t, "setnx h v"), int(0));
        assert_eq!(exec(&mut t, "set h v2"), Reply::ok());
        assert_eq!(exec(&mut t, "type h"), Reply::Simple("string".into()));
        assert_eq!(exec(&mut t, "get h"), bulk("v2"));
    }

    #[test]
    fn generic_commands_work_on_hashes() {
        let mut t = State::default();
        assert_eq!(
            script(
                &mut t,
                &[
                    "hset h f v",
                    "pexpire h 5000",
                    "hset h g w",
                    "pttl h",
                    "rename h h2",
                    "hget h2 g",
                    "exists h h2",
                    "persist h2",
                    "del h2",
                    "exists h2",
                ]
            ),
            [
                int(1),
                int(1),
                int(1),
                int(5000),
                Reply::ok(),
                bulk("w"),
                int(1),
                int(1),
                int(1),
                int(0),
            ]
        );
    }

    #[test]
    fn hrandfield_shapes() {
        let mut t = State::default();
        exec(&mut t, "hset h a 1 b 2 c 3");
        assert_eq!(exec(&mut t, "hrandfield missing"), Reply::Nil);
        assert_eq!(exec(&mut t, "hrandfield missing 3"), Reply::Array(vec![]));
        assert_eq!(exec(&mut t, "hrandfield missing -3"), Reply::Array(vec![]));
        assert_eq!(exec(&mut t, "hrandfield h 0"), Reply::Array(vec![]));
        let fields = bulks(&["a", "b", "c"]);
        let Reply::Bulk(one) = exec(&mut t, "hrandfield h") else {
            panic!("not a bulk");
        };
        assert!(fields.contains(&Reply::Bulk(one)));
        // A count covering the hash returns all of it.
        assert_eq!(exec(&mut t, "hrandfield h 5"), Reply::Array(fields.clone()));
        let Reply::Array(two) = exec(&mut t, "hrandfield h 2") else {
            panic!("not an array");
        };
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1]);
        let Reply::Array(many) = exec(&mut t, "hrandfield h -10") else {
            panic!("not an array");
        };
        assert_eq!(many.len(), 10);
        assert!(many.iter().all(|f| fields.contains(f)));
        let Reply::Pairs(pairs) = exec(&mut t, "hrandfield h -4 withvalues") else {
            panic!("not pairs");
        };
        assert_eq!(pairs.len(), 4);
        for (f, v) in pairs {
            assert_eq!(exec(&mut t, &format!("hget h {}", text(&f))), v);
        }
        assert_eq!(
            exec(&mut t, "hrandfield h -2000000"),
            Reply::error("ERR value is out of range")
        );
    }

    fn text(r: &Reply) -> String {
        match r {
            Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("not a bulk: {other:?}"),
        }
    }

    #[test]
    fn hscan_returns_fields_and_values() {
        let mut t = State::default();
        exec(&mut t, "hset h a 1 b 2 ab 3");
        assert_eq!(
            exec(&mut t, "hscan h 0"),
            Reply::Array(vec![
                bulk("0"),
                Reply::Array(bulks(&["a", "1", "b", "2", "ab", "3"]))
            ])
        );
        assert_eq!(
            exec(&mut t, "hscan h 0 match a* count 1"),
            Reply::Array(vec![bulk("0"), Reply::Array(bulks(&["a", "1", "ab", "3"]))])
        );
        assert_eq!(
            exec(&mut t, "hscan missing 0"),
            Reply::Array(vec![bulk("0"), Reply::Array(vec![])])
        );
    }
}
