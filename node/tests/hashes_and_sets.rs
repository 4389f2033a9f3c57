//! Goal: hashes and sets behave as in Redis 7 through a replicated cluster: replies, errors
//! (WRONGTYPE both ways), RESP3 types, and identical state on every node, SPOP included.
//! Method: a 3-node cluster; writes through a follower (forwarded to the leader), reads on
//! every node (linearizable), expected values from Redis's documentation examples.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{code, err_text, Cluster, WRONGTYPE};
use redis::{Commands, Connection, Value};

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn hashes_and_sets_through_a_follower() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut w = cluster.node(follower).conn();

    // Hashes (HSET, HGET, HMGET, HSETNX, HDEL, HINCRBY, HINCRBYFLOAT examples).
    let n: i64 = redis::cmd("HSET")
        .arg(&["myhash", "field1", "Hello", "field2", "World"])
        .query(&mut w)
        .unwrap();
    assert_eq!(n, 2);
    let ok: String = w.hset_multiple("hm", &[("a", "1"), ("b", "2")]).unwrap();
    assert_eq!(ok, "OK");
    let added: i64 = redis::cmd("HSET")
        .arg(&["myhash", "field2", "Hi", "field3", "x"])
        .query(&mut w)
        .unwrap();
    assert_eq!(added, 1);
    assert_eq!(
        w.hset_nx::<_, _, _, i64>("myhash", "field1", "no").unwrap(),
        0
    );
    assert_eq!(
        w.hdel::<_, _, i64>("myhash", &["field3", "nope"]).unwrap(),
        1
    );
    assert_eq!(w.hincr::<_, _, _, i64>("counters", "n", 5).unwrap(), 5);
    assert_eq!(w.hincr::<_, _, _, i64>("counters", "n", -1).unwrap(), 4);
    let _: () = w.hset("counters", "f", "10.50").unwrap();
    let f: String = redis::cmd("HINCRBYFLOAT")
        .arg(&["counters", "f", "0.1"])
        .query(&mut w)
        .unwrap();
    assert_eq!(f, "10.6");
    let _: () = w.hset("counters", "e", "5.0e3").unwrap();
    let e: String = redis::cmd("HINCRBYFLOAT")
        .arg(&["counters", "e", "2.0e2"])
        .query(&mut w)
        .unwrap();
    assert_eq!(e, "5200");
    let _: () = w.hset("counters", "s", "abc").unwrap();
    assert_eq!(
        err_text(w.hincr::<_, _, _, i64>("counters", "s", 1)),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        err_text(
            redis::cmd("HINCRBYFLOAT")
                .arg(&["counters", "s", "1"])
                .query::<String>(&mut w)
        ),
        "ERR hash value is not a float"
    );
    let _: () = w.hset("gone", "only", "1").unwrap();
    assert_eq!(w.hdel::<_, _, i64>("gone", "only").unwrap(), 1);

    // Sets (SADD, SREM, SMOVE, SDIFF/SINTER/SUNION and STORE examples).
    assert_eq!(
        w.sadd::<_, _, i64>("myset", &["one", "two", "three"])
            .unwrap(),
        3
    );
    assert_eq!(w.sadd::<_, _, i64>("myset", "one").unwrap(), 0);
    assert_eq!(w.srem::<_, _, i64>("myset", &["three", "four"]).unwrap(), 1);
    assert_eq!(w.sadd::<_, _, i64>("myotherset", "three").unwrap(), 1);
    assert_eq!(
        w.smove::<_, _, _, i64>("myset", "myotherset", "two")
            .unwrap(),
        1
    );
    let _: i64 = w.sadd("key1", &["a", "b", "c", "d"]).unwrap();
    let _: i64 = w.sadd("key2", "c").unwrap();
    let _: i64 = w.sadd("key3", &["a", "c", "e"]).unwrap();
    assert_eq!(
        w.sinterstore::<_, _, i64>("inter", &["key1", "key3"])
            .unwrap(),
        2
    );
    assert_eq!(
        w.sunionstore::<_, _, i64>("union", &["key1", "key3"])
            .unwrap(),
        5
    );
    assert_eq!(
        w.sdiffstore::<_, _, i64>("diff", &["key1", "key2", "key3"])
            .unwrap(),
        2
    );
    let members: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    let _: i64 = w.sadd("pool", &members).unwrap();
    let popped: String = w.spop("pool").unwrap();
    let popped_more: BTreeSet<String> =
        redis::cmd("SPOP").arg("pool").arg(3).query(&mut w).unwrap();
    assert_eq!(popped_more.len(), 3);
    assert!(!popped_more.contains(&popped));
    let nothing: Option<String> = w.spop("nope").unwrap();
    assert_eq!(nothing, None);

    // Wrong types, both ways.
    let _: () = w.set("str", "v").unwrap();
    assert_eq!(code(w.hset::<_, _, _, i64>("str", "f", "v")), WRONGTYPE);
    assert_eq!(code(w.sadd::<_, _, i64>("str", "m")), WRONGTYPE);
    assert_eq!(code(w.sadd::<_, _, i64>("myhash", "m")), WRONGTYPE);
    assert_eq!(code(w.append::<_, _, i64>("myhash", "x")), WRONGTYPE);
    assert_eq!(code(w.incr::<_, _, i64>("myset", 1)), WRONGTYPE);
    assert_eq!(
        code(w.sinterstore::<_, _, i64>("x", &["key1", "str"])),
        WRONGTYPE
    );
    assert_eq!(code(w.smove::<_, _, _, i64>("key1", "str", "a")), WRONGTYPE);

    let mut pools = Vec::new();
    for node in &cluster.nodes {
        let mut r = node.conn();
        let id = node.id;
        let h: BTreeMap<String, String> = r.hgetall("myhash").unwrap();
        assert_eq!(
            h,
            BTreeMap::from([
                ("field1".to_string(), "Hello".to_string()),
                ("field2".to_string(), "Hi".to_string())
            ]),
            "node {id}"
        );
        assert_eq!(r.hget::<_, _, String>("myhash", "field1").unwrap(), "Hello");
        assert_eq!(
            r.hget::<_, _, Option<String>>("myhash", "nope").unwrap(),
            None
        );
        let got: Vec<Option<String>> = r.hget("myhash", &["field1", "nope", "field2"]).unwrap();
        assert_eq!(got, [Some("Hello".into()), None, Some("Hi".into())]);
        assert_eq!(r.hlen::<_, i64>("myhash").unwrap(), 2);
        assert!(r.hexists::<_, _, bool>("myhash", "field2").unwrap());
        assert!(!r.hexists::<_, _, bool>("myhash", "field3").unwrap());
        assert_eq!(
            r.hkeys::<_, Vec<String>>("myhash").unwrap(),
            ["field1", "field2"]
        );
        assert_eq!(
            r.hvals::<_, Vec<String>>("myhash").unwrap(),
            ["Hello", "Hi"]
        );
        let len: i64 = redis::cmd("HSTRLEN")
            .arg(&["myhash", "field1"])
            .query(&mut r)
            .unwrap();
        assert_eq!(len, 5);
        assert_eq!(r.hget::<_, _, i64>("counters", "n").unwrap(), 4);
        assert_eq!(r.hlen::<_, i64>("hm").unwrap(), 2);
        assert_eq!(r.exists::<_, i64>("gone").unwrap(), 0);
        let field: String = redis::cmd("HRANDFIELD")
            .arg("myhash")
            .query(&mut r)
            .unwrap();
        assert!(field.starts_with("field"));
        let pairs: Vec<String> = redis::cmd("HRANDFIELD")
            .arg(&["myhash", "-5", "WITHVALUES"])
            .query(&mut r)
            .unwrap();
        assert_eq!(pairs.len(), 10);
        let (cursor, scanned): (String, Vec<String>) = redis::cmd("HSCAN")
            .arg(&["myhash", "0", "MATCH", "*2"])
            .query(&mut r)
            .unwrap();
        assert_eq!(
            (cursor.as_str(), scanned),
            ("0", vec!["field2".into(), "Hi".into()])
        );
        assert_eq!(r.key_type::<_, String>("myhash").unwrap(), "hash");
        assert_eq!(r.key_type::<_, String>("myset").unwrap(), "set");

        assert_eq!(
            r.smembers::<_, BTreeSet<String>>("myset").unwrap(),
            set(&["one"])
        );
        assert_eq!(
            r.smembers::<_, BTreeSet<String>>("myotherset").unwrap(),
            set(&["three", "two"])
        );
        assert_eq!(r.sismember::<_, _, i64>("myset", "one").unwrap(), 1);
        let mis: Vec<i64> = redis::cmd("SMISMEMBER")
            .arg(&["myset", "one", "two"])
            .query(&mut r)
            .unwrap();
        assert_eq!(mis, [1, 0]);
        assert_eq!(r.scard::<_, i64>("key1").unwrap(), 4);
        assert_eq!(
            r.sdiff::<_, BTreeSet<String>>(&["key1", "key2", "key3"])
                .unwrap(),
            set(&["b", "d"])
        );
        assert_eq!(
            r.sinter::<_, BTreeSet<String>>(&["key1", "key2", "key3"])
                .unwrap(),
            set(&["c"])
        );
        assert_eq!(
            r.sunion::<_, BTreeSet<String>>(&["key1", "key2", "key3"])
                .unwrap(),
            set(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(
            r.smembers::<_, BTreeSet<String>>("inter").unwrap(),
            set(&["a", "c"])
        );
        assert_eq!(r.scard::<_, i64>("union").unwrap(), 5);
        assert_eq!(
            r.smembers::<_, BTreeSet<String>>("diff").unwrap(),
            set(&["b", "d"])
        );
        let card: i64 = redis::cmd("SINTERCARD")
            .arg(&["2", "key1", "key3", "LIMIT", "1"])
            .query(&mut r)
            .unwrap();
        assert_eq!(card, 1);
        let card: i64 = redis::cmd("SINTERCARD")
            .arg(&["2", "key1", "key3"])
            .query(&mut r)
            .unwrap();
        assert_eq!(card, 2);
        let some: Vec<String> = r.srandmember_multiple("key1", 2).unwrap();
        assert_eq!(some.len(), 2);
        let many: Vec<String> = redis::cmd("SRANDMEMBER")
            .arg(&["key1", "-6"])
            .query(&mut r)
            .unwrap();
        assert_eq!(many.len(), 6);
        let (cursor, scanned): (String, BTreeSet<String>) = redis::cmd("SSCAN")
            .arg(&["key1", "0"])
            .query(&mut r)
            .unwrap();
        assert_eq!(
            (cursor.as_str(), scanned),
            ("0", set(&["a", "b", "c", "d"]))
        );

        // Errors on reads, and MGET's nil for other types.
        assert_eq!(code(r.get::<_, String>("myhash")), WRONGTYPE);
        assert_eq!(code(r.hget::<_, _, String>("str", "f")), WRONGTYPE);
        assert_eq!(code(r.smembers::<_, Vec<String>>("myhash")), WRONGTYPE);
        assert_eq!(
            code(r.sinter::<_, Vec<String>>(&["nope", "str"])),
            WRONGTYPE
        );
        let mget: Vec<Option<String>> = r.mget(&["str", "myhash", "myset"]).unwrap();
        assert_eq!(mget, [Some("v".into()), None, None]);
        assert_eq!(
            err_text(
                redis::cmd("SINTERCARD")
                    .arg(&["0", "key1"])
                    .query::<i64>(&mut r)
            ),
            "ERR numkeys should be greater than 0"
        );

        // SPOP chose the same members on every replica.
        pools.push(r.smembers::<_, BTreeSet<String>>("pool").unwrap());
    }
    assert_eq!(pools[0].len(), 16);
    assert!(pools.iter().all(|p| *p == pools[0]), "{pools:?}");

    // RESP3 types: HGETALL is a map, SMEMBERS a set, HRANDFIELD WITHVALUES nested pairs.
    let url = format!("{}?protocol=resp3", cluster.node(follower).url());
    let mut r3: Connection = redis::Client::open(url).unwrap().get_connection().unwrap();
    let v: Value = redis::cmd("HGETALL").arg("myhash").query(&mut r3).unwrap();
    assert!(matches!(&v, Value::Map(m) if m.len() == 2), "{v:?}");
    let v: Value = redis::cmd("SMEMBERS").arg("key1").query(&mut r3).unwrap();
    assert!(matches!(&v, Value::Set(s) if s.len() == 4), "{v:?}");
    let v: Value = redis::cmd("HRANDFIELD")
        .arg(&["myhash", "2", "WITHVALUES"])
        .query(&mut r3)
        .unwrap();
    assert!(
        matches!(&v, Value::Array(a) if a.len() == 2 && a.iter().all(|p| matches!(p, Value::Array(kv) if kv.len() == 2))),
        "{v:?}"
    );
    let v: Value = redis::cmd("SPOP")
        .arg(&["nope", "2"])
        .query(&mut r3)
        .unwrap();
    assert!(matches!(&v, Value::Set(s) if s.is_empty()), "{v:?}");
}
