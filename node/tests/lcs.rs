//! Goal: LCS answers as Redis 7 does, on any node and inside a transaction.
//! Method: a 3-node cluster; the documentation's example strings are written through a
//! follower, and LCS (plain, LEN, IDX with WITHMATCHLEN and MINMATCHLEN) is read on every
//! node through a real client, then once more inside MULTI/EXEC (where it is applied from
//! the log). RESP3's map reply is checked with raw HELLO 3 bytes.
#![allow(clippy::unwrap_used)]

mod common;

use common::{cmd, err_text, Cluster};
use redis::Value;

fn int(v: i64) -> Value {
    Value::Int(v)
}

fn range(a: (i64, i64), b: (i64, i64), len: Option<i64>) -> Value {
    let pair = |(x, y)| Value::Array(vec![int(x), int(y)]);
    let mut parts = vec![pair(a), pair(b)];
    parts.extend(len.map(int));
    Value::Array(parts)
}

#[test]
fn lcs_on_every_node_and_in_a_transaction() {
    let cluster = Cluster::start(3, &[]);
    let mut w = cluster.node(cluster.follower()).conn();
    let _: () = cmd("MSET", &["key1", "ohmytext", "key2", "mynewtext"])
        .query(&mut w)
        .unwrap();
    for node in &cluster.nodes {
        let mut c = node.conn();
        let text: String = cmd("LCS", &["key1", "key2"]).query(&mut c).unwrap();
        assert_eq!(text, "mytext");
        let len: i64 = cmd("LCS", &["key1", "key2", "LEN"]).query(&mut c).unwrap();
        assert_eq!(len, 6);
        let idx: Value = cmd("LCS", &["key1", "key2", "IDX"]).query(&mut c).unwrap();
        // RESP2: the map is a flat array.
        assert_eq!(
            idx,
            Value::Array(vec![
                Value::BulkString(b"matches".to_vec()),
                Value::Array(vec![
                    range((4, 7), (5, 8), None),
                    range((2, 3), (0, 1), None)
                ]),
                Value::BulkString(b"len".to_vec()),
                int(6),
            ])
        );
        let long: Value = cmd(
            "LCS",
            &["key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
        )
        .query(&mut c)
        .unwrap();
        assert_eq!(
            long,
            Value::Array(vec![
                Value::BulkString(b"matches".to_vec()),
                Value::Array(vec![range((4, 7), (5, 8), Some(4))]),
                Value::BulkString(b"len".to_vec()),
                int(6),
            ])
        );
        // A missing key is an empty string.
        let none: String = cmd("LCS", &["key1", "missing"]).query(&mut c).unwrap();
        assert_eq!(none, "");
    }

    let _: () = cmd("SADD", &["set", "x"]).query(&mut w).unwrap();
    assert_eq!(
        err_text(cmd("LCS", &["key1", "set"]).query::<String>(&mut w)),
        "ERR The specified keys must contain string values"
    );
    assert_eq!(
        err_text(cmd("LCS", &["key1", "key2", "LEN", "IDX"]).query::<String>(&mut w)),
        "ERR If you want both the length and indexes, please just use IDX."
    );

    // In a transaction the read runs where the writes apply, after them.
    let (before, after): (String, String) = redis::pipe()
        .atomic()
        .cmd("LCS")
        .arg("key1")
        .arg("key2")
        .cmd("SET")
        .arg("key2")
        .arg("ohtext")
        .ignore()
        .cmd("LCS")
        .arg("key1")
        .arg("key2")
        .query(&mut w)
        .unwrap();
    assert_eq!((before.as_str(), after.as_str()), ("mytext", "ohtext"));

    // RESP3: a real map ("ohmytext" and "ohtext" now).
    let reply = common::raw(
        cluster.node(cluster.leader()).port,
        b"HELLO 3\r\nLCS key1 key2 IDX\r\n",
    );
    let matches = "*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:2\r\n:5\r\n\
                   *2\r\n*2\r\n:0\r\n:1\r\n*2\r\n:0\r\n:1\r\n";
    let expected = format!("%2\r\n$7\r\nmatches\r\n{matches}$3\r\nlen\r\n:6\r\n");
    assert!(reply.ends_with(&expected), "{reply}");
}
