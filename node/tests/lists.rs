//! Goal: lists behave as in Redis 7 through a replicated cluster: replies, errors (WRONGTYPE
//! both ways), the RESP2/RESP3 nil rules of LPOP/RPOP with a count, and identical state on
//! every node.
//! Method: a 3-node cluster; writes through a follower (forwarded to the leader), reads on
//! every node (linearizable), expected values from Redis's documentation examples; raw bytes
//! over TCP where the exact nil encoding matters.
#![allow(clippy::unwrap_used)]

mod common;

use common::{cmd, code, err_text, raw, Cluster, WRONGTYPE};
use redis::Commands;

#[test]
fn lists_through_a_follower() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut w = cluster.node(follower).conn();

    // LPUSH, RPUSH, LPUSHX, RPUSHX.
    assert_eq!(w.rpush::<_, _, i64>("mylist", &["one", "two"]).unwrap(), 2);
    assert_eq!(w.lpush::<_, _, i64>("mylist", "zero").unwrap(), 3);
    assert_eq!(w.rpush_exists::<_, _, i64>("mylist", "three").unwrap(), 4);
    assert_eq!(w.lpush_exists::<_, _, i64>("nolist", "x").unwrap(), 0);
    // LINSERT, LSET, LREM, LTRIM.
    let n: i64 = cmd("LINSERT", &["mylist", "BEFORE", "two", "1.5"])
        .query(&mut w)
        .unwrap();
    assert_eq!(n, 5);
    let n: i64 = cmd("LINSERT", &["mylist", "AFTER", "nope", "x"])
        .query(&mut w)
        .unwrap();
    assert_eq!(n, -1);
    let _: () = w.lset("mylist", -1, "THREE").unwrap();
    assert_eq!(
        err_text(w.lset::<_, _, ()>("mylist", 99, "x")),
        "ERR index out of range"
    );
    assert_eq!(
        err_text(w.lset::<_, _, ()>("nolist", 0, "x")),
        "ERR no such key"
    );
    let _: i64 = w.rpush("rem", &["hello", "hello", "foo", "hello"]).unwrap();
    assert_eq!(w.lrem::<_, _, i64>("rem", -2, "hello").unwrap(), 2);
    let _: i64 = w.rpush("trim", &["one", "two", "three"]).unwrap();
    let _: () = w.ltrim("trim", 1, -1).unwrap();
    // LPOP/RPOP with and without a count; an emptied list is deleted.
    let _: i64 = w
        .rpush("pops", &["one", "two", "three", "four", "five"])
        .unwrap();
    assert_eq!(w.lpop::<_, String>("pops", None).unwrap(), "one");
    let two: Vec<String> = cmd("LPOP", &["pops", "2"]).query(&mut w).unwrap();
    assert_eq!(two, ["two", "three"]);
    let tail: Vec<String> = cmd("RPOP", &["pops", "5"]).query(&mut w).unwrap();
    assert_eq!(tail, ["five", "four"]);
    assert_eq!(w.exists::<_, i64>("pops").unwrap(), 0);
    assert_eq!(w.rpop::<_, Option<String>>("pops", None).unwrap(), None);
    assert_eq!(
        err_text(cmd("LPOP", &["mylist", "-1"]).query::<Vec<String>>(&mut w)),
        "ERR value is out of range, must be positive"
    );
    // LMOVE and RPOPLPUSH.
    let _: i64 = w.rpush("src", &["a", "b", "c"]).unwrap();
    assert_eq!(w.rpoplpush::<_, _, String>("src", "dst").unwrap(), "c");
    let moved: String = cmd("LMOVE", &["src", "dst", "LEFT", "RIGHT"])
        .query(&mut w)
        .unwrap();
    assert_eq!(moved, "a");
    let rotated: String = cmd("LMOVE", &["dst", "dst", "LEFT", "RIGHT"])
        .query(&mut w)
        .unwrap();
    assert_eq!(rotated, "c");
    let none: Option<String> = w.rpoplpush("nolist", "dst").unwrap();
    assert_eq!(none, None);
    let _: i64 = w
        .rpush("pos", &["a", "b", "c", "1", "2", "3", "c", "c"])
        .unwrap();

    // Wrong types, both ways.
    let _: () = w.set("str", "v").unwrap();
    assert_eq!(code(w.lpush::<_, _, i64>("str", "x")), WRONGTYPE);
    assert_eq!(code(w.rpoplpush::<_, _, String>("src", "str")), WRONGTYPE);
    assert_eq!(code(w.append::<_, _, i64>("mylist", "x")), WRONGTYPE);
    assert_eq!(code(w.sadd::<_, _, i64>("mylist", "x")), WRONGTYPE);
    assert_eq!(code(w.hset::<_, _, _, i64>("mylist", "f", "v")), WRONGTYPE);
    assert_eq!(
        err_text(cmd("LPOS", &["pos", "c", "RANK", "0"]).query::<i64>(&mut w)),
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
         or use negative to start from the end of the list"
    );
    // Generic commands.
    let _: i64 = w.rpush("ttl", "x").unwrap();
    assert!(w.expire::<_, bool>("ttl", 100).unwrap());
    let _: () = w.rename("trim", "trimmed").unwrap();

    for node in &cluster.nodes {
        let mut r = node.conn();
        let id = node.id;
        assert_eq!(
            r.lrange::<_, Vec<String>>("mylist", 0, -1).unwrap(),
            ["zero", "one", "1.5", "two", "THREE"],
            "node {id}"
        );
        assert_eq!(r.llen::<_, i64>("mylist").unwrap(), 5);
        assert_eq!(r.llen::<_, i64>("nolist").unwrap(), 0);
        assert_eq!(r.lindex::<_, String>("mylist", -2).unwrap(), "two");
        assert_eq!(r.lindex::<_, Option<String>>("mylist", 9).unwrap(), None);
        assert_eq!(
            r.lrange::<_, Vec<String>>("rem", 0, -1).unwrap(),
            ["hello", "foo"]
        );
        assert_eq!(
            r.lrange::<_, Vec<String>>("trimmed", 0, -1).unwrap(),
            ["two", "three"]
        );
        assert_eq!(r.lrange::<_, Vec<String>>("src", 0, -1).unwrap(), ["b"]);
        assert_eq!(
            r.lrange::<_, Vec<String>>("dst", 0, -1).unwrap(),
            ["a", "c"]
        );
        let pos: i64 = cmd("LPOS", &["pos", "c"]).query(&mut r).unwrap();
        assert_eq!(pos, 2);
        let pos: i64 = cmd("LPOS", &["pos", "c", "RANK", "-1"])
            .query(&mut r)
            .unwrap();
        assert_eq!(pos, 7);
        let all: Vec<i64> = cmd("LPOS", &["pos", "c", "COUNT", "0"])
            .query(&mut r)
            .unwrap();
        assert_eq!(all, [2, 6, 7]);
        let some: Vec<i64> = cmd("LPOS", &["pos", "c", "RANK", "2", "COUNT", "1"])
            .query(&mut r)
            .unwrap();
        assert_eq!(some, [6]);
        let none: Option<i64> = cmd("LPOS", &["pos", "c", "MAXLEN", "2"])
            .query(&mut r)
            .unwrap();
        assert_eq!(none, None);
        assert_eq!(r.key_type::<_, String>("mylist").unwrap(), "list");
        assert_eq!(r.exists::<_, i64>("trim").unwrap(), 0);
        assert!(r.ttl::<_, i64>("ttl").unwrap() > 90);
        let (cursor, keys): (String, Vec<String>) = cmd(
            "SCAN",
            &["0", "TYPE", "list", "COUNT", "1000", "MATCH", "p*"],
        )
        .query(&mut r)
        .unwrap();
        assert_eq!((cursor.as_str(), keys), ("0", vec!["pos".to_string()]));
        assert_eq!(code(r.llen::<_, i64>("str")), WRONGTYPE);
        assert_eq!(code(r.lrange::<_, Vec<String>>("str", 0, 1)), WRONGTYPE);
        assert_eq!(code(r.get::<_, String>("mylist")), WRONGTYPE);
        assert_eq!(code(r.smembers::<_, Vec<String>>("mylist")), WRONGTYPE);
    }

    // The exact nil replies: with a count, a missing key is a null array in RESP2.
    let port = cluster.node(follower).port;
    assert_eq!(
        raw(
            port,
            b"LPOP nolist\r\nLPOP nolist 1\r\nRPOP nolist 0\r\nLPOP mylist 0\r\nLINDEX nolist 0\r\n"
        ),
        "$-1\r\n*-1\r\n*-1\r\n*0\r\n$-1\r\n"
    );
    assert_eq!(
        raw(port, b"HELLO 3\r\nLPOP nolist\r\nLPOP nolist 1\r\n")
            .split_once("\r\n_\r\n")
            .map(|(_, rest)| rest.to_string()),
        Some("_\r\n".to_string())
    );
}
