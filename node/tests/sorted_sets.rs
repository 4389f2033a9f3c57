//! Goal: sorted sets behave as in Redis 7 through a replicated cluster: replies and their
//! score formatting (RESP2 bulk strings, RESP3 doubles), errors (WRONGTYPE both ways, option
//! conflicts), and identical state on every node.
//! Method: a 3-node cluster; writes through a follower (forwarded to the leader), reads on
//! every node (linearizable), expected values from Redis's documentation examples; raw bytes
//! over TCP where the exact encoding matters.
#![allow(clippy::unwrap_used)]

mod common;

use common::{cmd, code, err_text, raw, Cluster, WRONGTYPE};
use redis::Commands;

#[test]
fn sorted_sets_through_a_follower() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut w = cluster.node(follower).conn();

    // ZADD and its options.
    let n: i64 = cmd(
        "ZADD",
        &["myzset", "1", "one", "1", "uno", "2", "two", "3", "three"],
    )
    .query(&mut w)
    .unwrap();
    assert_eq!(n, 4);
    let n: i64 = cmd("ZADD", &["myzset", "CH", "GT", "5", "three", "0", "two"])
        .query(&mut w)
        .unwrap();
    assert_eq!(n, 1);
    let s: Option<String> = cmd("ZADD", &["myzset", "XX", "INCR", "1", "nope"])
        .query(&mut w)
        .unwrap();
    assert_eq!(s, None);
    let s: String = cmd("ZINCRBY", &["myzset", "0.5", "uno"])
        .query(&mut w)
        .unwrap();
    assert_eq!(s, "1.5");
    assert_eq!(
        err_text(cmd("ZADD", &["myzset", "NX", "XX", "1", "a"]).query::<i64>(&mut w)),
        "ERR XX and NX options at the same time are not compatible"
    );
    assert_eq!(
        err_text(cmd("ZADD", &["myzset", "GT", "LT", "1", "a"]).query::<i64>(&mut w)),
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        err_text(cmd("ZADD", &["myzset", "1", "a", "x", "b"]).query::<i64>(&mut w)),
        "ERR value is not a valid float"
    );
    let _: i64 = cmd("ZADD", &["inf", "+inf", "a"]).query(&mut w).unwrap();
    assert_eq!(
        err_text(cmd("ZINCRBY", &["inf", "-inf", "a"]).query::<String>(&mut w)),
        "ERR resulting score is not a number (NaN)"
    );

    // Pops, removals, stores.
    let _: i64 = cmd("ZADD", &["pop", "1", "a", "2", "b", "3", "c", "4", "d"])
        .query(&mut w)
        .unwrap();
    let popped: Vec<String> = cmd("ZPOPMIN", &["pop"]).query(&mut w).unwrap();
    assert_eq!(popped, ["a", "1"]);
    let popped: Vec<String> = cmd("ZPOPMAX", &["pop", "2"]).query(&mut w).unwrap();
    assert_eq!(popped, ["d", "4", "c", "3"]);
    let _: i64 = cmd(
        "ZADD",
        &["lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"],
    )
    .query(&mut w)
    .unwrap();
    let n: i64 = cmd("ZREMRANGEBYLEX", &["lex", "[d", "+"])
        .query(&mut w)
        .unwrap();
    assert_eq!(n, 2);
    let n: i64 = cmd(
        "ZRANGESTORE",
        &["stored", "myzset", "(1", "+inf", "BYSCORE"],
    )
    .query(&mut w)
    .unwrap();
    assert_eq!(n, 3);
    let n: i64 = cmd(
        "ZUNIONSTORE",
        &["union", "2", "pop", "lex", "WEIGHTS", "2", "1"],
    )
    .query(&mut w)
    .unwrap();
    assert_eq!(n, 3);
    assert_eq!(w.zrem::<_, _, i64>("pop", "b").unwrap(), 1);
    let _: () = w.set("str", "v").unwrap();
    assert_eq!(code(w.zadd::<_, _, _, i64>("str", "a", 1)), WRONGTYPE);
    assert!(w.expire::<_, bool>("stored", 100).unwrap());

    for node in &cluster.nodes {
        let mut r = node.conn();
        let id = node.id;
        let all: Vec<String> = cmd("ZRANGE", &["myzset", "0", "-1", "WITHSCORES"])
            .query(&mut r)
            .unwrap();
        assert_eq!(
            all,
            ["one", "1", "uno", "1.5", "two", "2", "three", "5"],
            "node {id}"
        );
        assert_eq!(r.zcard::<_, i64>("myzset").unwrap(), 4);
        assert_eq!(r.zscore::<_, _, String>("myzset", "uno").unwrap(), "1.5");
        assert_eq!(
            r.zscore::<_, _, Option<String>>("myzset", "x").unwrap(),
            None
        );
        assert_eq!(r.zscore::<_, _, String>("inf", "a").unwrap(), "inf");
        let scores: Vec<Option<String>> = cmd("ZMSCORE", &["myzset", "one", "x"])
            .query(&mut r)
            .unwrap();
        assert_eq!(scores, [Some("1".to_string()), None]);
        assert_eq!(r.zcount::<_, _, _, i64>("myzset", "(1", "+inf").unwrap(), 3);
        let rev: Vec<String> = cmd(
            "ZREVRANGEBYSCORE",
            &["myzset", "+inf", "-inf", "LIMIT", "1", "2"],
        )
        .query(&mut r)
        .unwrap();
        assert_eq!(rev, ["two", "uno"]);
        let lex: Vec<String> = cmd("ZRANGE", &["lex", "[b", "-", "BYLEX", "REV"])
            .query(&mut r)
            .unwrap();
        assert_eq!(lex, ["b", "a"]);
        let n: i64 = cmd("ZLEXCOUNT", &["lex", "-", "+"]).query(&mut r).unwrap();
        assert_eq!(n, 3);
        assert_eq!(r.zrank::<_, _, i64>("myzset", "three").unwrap(), 3);
        assert_eq!(r.zrevrank::<_, _, i64>("myzset", "three").unwrap(), 0);
        let with: (i64, String) = cmd("ZRANK", &["myzset", "uno", "WITHSCORE"])
            .query(&mut r)
            .unwrap();
        assert_eq!(with, (1, "1.5".to_string()));
        let stored: Vec<String> = cmd("ZRANGE", &["stored", "0", "-1"]).query(&mut r).unwrap();
        assert_eq!(stored, ["uno", "two", "three"]);
        assert!(r.ttl::<_, i64>("stored").unwrap() > 90);
        let union: Vec<String> = cmd("ZRANGE", &["union", "0", "-1", "WITHSCORES"])
            .query(&mut r)
            .unwrap();
        assert_eq!(union, ["a", "0", "c", "0", "b", "4"]);
        assert_eq!(r.zcard::<_, i64>("pop").unwrap(), 0);
        assert_eq!(r.exists::<_, i64>("pop").unwrap(), 0);
        assert_eq!(r.key_type::<_, String>("myzset").unwrap(), "zset");
        let (cursor, keys): (String, Vec<String>) = cmd(
            "SCAN",
            &["0", "TYPE", "zset", "COUNT", "1000", "MATCH", "my*"],
        )
        .query(&mut r)
        .unwrap();
        assert_eq!((cursor.as_str(), keys), ("0", vec!["myzset".to_string()]));
        let (cursor, items): (String, Vec<String>) = cmd("ZSCAN", &["myzset", "0", "MATCH", "t*"])
            .query(&mut r)
            .unwrap();
        // Member and score pairs, in the set's own order.
        let mut pairs: Vec<(String, String)> = items
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
        pairs.sort();
        assert_eq!(cursor, "0");
        assert_eq!(
            pairs,
            vec![("three".into(), "5".into()), ("two".into(), "2".into())]
        );
        assert_eq!(code(r.zcard::<_, i64>("str")), WRONGTYPE);
        assert_eq!(code(r.zscore::<_, _, String>("str", "a")), WRONGTYPE);
        assert_eq!(code(r.get::<_, String>("myzset")), WRONGTYPE);
        assert_eq!(code(r.smembers::<_, Vec<String>>("myzset")), WRONGTYPE);
    }

    // Score formatting and RESP3 shapes on the wire.
    let port = cluster.node(follower).port;
    let _: i64 = cmd(
        "ZADD",
        &["fmt", "1e20", "big", "0.1", "small", "3.0", "three"],
    )
    .query(&mut w)
    .unwrap();
    assert_eq!(
        raw(
            port,
            b"ZSCORE fmt big\r\nZRANGE fmt 0 -1 WITHSCORES\r\nZRANK fmt nope WITHSCORE\r\nZPOPMIN nokey\r\n"
        ),
        "$5\r\n1e+20\r\n*6\r\n$5\r\nsmall\r\n$3\r\n0.1\r\n$5\r\nthree\r\n$1\r\n3\r\n$3\r\nbig\r\n$5\r\n1e+20\r\n*-1\r\n*0\r\n"
    );
    assert_eq!(
        raw(
            port,
            b"HELLO 3\r\nECHO mark\r\nZSCORE fmt big\r\nZRANGE fmt 0 1 WITHSCORES\r\nZPOPMIN nokey 1\r\nZSCORE fmt nope\r\n"
        )
        .split_once("$4\r\nmark\r\n")
        .map(|(_, rest)| rest.to_string()),
        Some(
            ",1e+20\r\n*2\r\n*2\r\n$5\r\nsmall\r\n,0.1\r\n*2\r\n$5\r\nthree\r\n,3\r\n*0\r\n_\r\n"
                .to_string()
        )
    );
    // ZUNION, ZINTER, ZDIFF and ZINTERCARD read across keys, through the same follower.
    assert_eq!(
        raw(
            port,
            b"ZADD za 1 a 2 b\r\nZADD zb 3 b 4 c\r\nZUNION 2 za zb WITHSCORES\r\nZINTER 2 za zb\r\nZDIFF 2 za zb\r\nZINTERCARD 2 za zb LIMIT 5\r\n"
        ),
        ":2\r\n:2\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\n4\r\n$1\r\nb\r\n$1\r\n5\r\n*1\r\n$1\r\nb\r\n*1\r\n$1\r\na\r\n:1\r\n"
    );
}
