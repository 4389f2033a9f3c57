//! Goal: MULTI/EXEC is atomic on every replica and WATCH aborts EXEC when a watched key was
//! written, by anyone, on any node, after the WATCH.
//! Method: real clients on different nodes of a 3-node cluster; raw RESP for the exact
//! error texts.
#![allow(clippy::unwrap_used)]

mod common;

use common::{raw, Cluster};
use redis::Commands;

#[test]
fn exec_is_atomic_and_replicated() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut c = cluster.node(follower).conn();
    let (set, incr, get): (String, i64, String) = redis::pipe()
        .atomic()
        .set("a", 1)
        .incr("a", 1)
        .get("a")
        .query(&mut c)
        .unwrap();
    assert_eq!((set.as_str(), incr, get.as_str()), ("OK", 2, "2"));
    for n in &cluster.nodes {
        let v: i64 = n.conn().get("a").unwrap();
        assert_eq!(v, 2, "node {}", n.id);
    }

    // Queue-time errors abort the whole transaction; run-time errors are per command.
    let port = cluster.node(follower).port;
    let out = raw(port, b"MULTI\r\nSET a 10\r\nNOSUCH x\r\nEXEC\r\nGET a\r\n");
    assert_eq!(
        out,
        "+OK\r\n+QUEUED\r\n-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n\
-EXECABORT Transaction discarded because of previous errors.\r\n$1\r\n2\r\n"
    );
    let out = raw(
        port,
        b"MULTI\r\nSET s text\r\nINCR s\r\nSET t 1\r\nEXEC\r\nGET t\r\n",
    );
    assert_eq!(
        out,
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n$1\r\n1\r\n"
    );
    let out = raw(
        port,
        b"EXEC\r\nDISCARD\r\nMULTI\r\nMULTI\r\nWATCH a\r\nDISCARD\r\nGET a\r\n",
    );
    assert_eq!(
        out,
        "-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n\
-ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n+OK\r\n$1\r\n2\r\n"
    );
}

#[test]
fn watch_aborts_exec_after_a_write_on_another_node() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let follower = cluster.follower();
    let mut mine = cluster.node(follower).conn();
    let mut other = cluster.node(leader).conn();
    let _: () = other.set("balance", 100).unwrap();

    // Compare-and-set that loses: another node writes between WATCH and EXEC.
    redis::cmd("WATCH")
        .arg("balance")
        .query::<()>(&mut mine)
        .unwrap();
    let seen: i64 = mine.get("balance").unwrap();
    let _: () = other.set("balance", 50).unwrap();
    let result: Option<(String,)> = redis::pipe()
        .atomic()
        .set("balance", seen + 1)
        .query(&mut mine)
        .unwrap();
    assert_eq!(result, None, "EXEC must abort");
    let v: i64 = other.get("balance").unwrap();
    assert_eq!(v, 50);

    // ... and one that wins when nobody interferes.
    redis::cmd("WATCH")
        .arg("balance")
        .query::<()>(&mut mine)
        .unwrap();
    let seen: i64 = mine.get("balance").unwrap();
    let result: Option<(String,)> = redis::pipe()
        .atomic()
        .set("balance", seen + 1)
        .query(&mut mine)
        .unwrap();
    assert_eq!(result, Some(("OK".to_string(),)));
    for n in &cluster.nodes {
        let v: i64 = n.conn().get("balance").unwrap();
        assert_eq!(v, 51, "node {}", n.id);
    }

    // UNWATCH forgets; a watched key that expires or is deleted counts as changed.
    redis::cmd("WATCH")
        .arg("balance")
        .query::<()>(&mut mine)
        .unwrap();
    redis::cmd("UNWATCH").query::<()>(&mut mine).unwrap();
    let _: () = other.set("balance", 7).unwrap();
    let ok: Option<(String,)> = redis::pipe().atomic().set("x", 1).query(&mut mine).unwrap();
    assert!(ok.is_some());
    redis::cmd("WATCH")
        .arg("balance")
        .query::<()>(&mut mine)
        .unwrap();
    let _: i64 = other.del("balance").unwrap();
    let aborted: Option<(String,)> = redis::pipe().atomic().set("x", 2).query(&mut mine).unwrap();
    assert!(aborted.is_none());

    // Any write aborts, even one that puts back the value WATCH saw (X -> v -> X): the
    // client read v after WATCH, so committing would overwrite the other client's X.
    let _: () = other.set("balance", 3).unwrap();
    redis::cmd("WATCH")
        .arg("balance")
        .query::<()>(&mut mine)
        .unwrap();
    let _: () = other.set("balance", 2).unwrap();
    let seen: i64 = mine.get("balance").unwrap();
    assert_eq!(seen, 2);
    let _: () = other.set("balance", 3).unwrap();
    let aborted: Option<(String,)> = redis::pipe()
        .atomic()
        .set("balance", 0)
        .query(&mut mine)
        .unwrap();
    assert!(aborted.is_none(), "EXEC must abort after X -> v -> X");
    let v: i64 = other.get("balance").unwrap();
    assert_eq!(v, 3);

    // The same for a key that is missing at WATCH, created and deleted again before EXEC.
    redis::cmd("WATCH")
        .arg("fresh")
        .query::<()>(&mut mine)
        .unwrap();
    let _: () = other.set("fresh", "v").unwrap();
    let _: i64 = other.del("fresh").unwrap();
    let aborted: Option<(String,)> = redis::pipe()
        .atomic()
        .set("fresh", "mine")
        .query(&mut mine)
        .unwrap();
    assert!(
        aborted.is_none(),
        "EXEC must abort after absent -> v -> absent"
    );
    // Likewise when the key is a collection that a pop empties (and so deletes).
    redis::cmd("WATCH")
        .arg("fresh-list")
        .query::<()>(&mut mine)
        .unwrap();
    let _: i64 = other.rpush("fresh-list", "x").unwrap();
    let _: Option<String> = other.lpop("fresh-list", None).unwrap();
    let aborted: Option<(String,)> = redis::pipe()
        .atomic()
        .set("fresh-list", "mine")
        .query(&mut mine)
        .unwrap();
    assert!(
        aborted.is_none(),
        "EXEC must abort after absent -> [x] -> emptied"
    );
    // SMOVE of a member the destination already holds leaves the destination untouched.
    let _: i64 = other.sadd("src-set", &["a", "b"]).unwrap();
    let _: i64 = other.sadd("dst-set", "a").unwrap();
    redis::cmd("WATCH")
        .arg("dst-set")
        .query::<()>(&mut mine)
        .unwrap();
    let moved: i64 = other.smove("src-set", "dst-set", "a").unwrap();
    assert_eq!(moved, 1);
    let ok: Option<(i64,)> = redis::pipe()
        .atomic()
        .sadd("dst-set", "c")
        .query(&mut mine)
        .unwrap();
    assert_eq!(ok, Some((1,)), "the destination did not change");
    // Untouched, a missing watched key lets EXEC through.
    redis::cmd("WATCH")
        .arg("fresh")
        .query::<()>(&mut mine)
        .unwrap();
    let ok: Option<(String,)> = redis::pipe()
        .atomic()
        .set("fresh", "mine")
        .query(&mut mine)
        .unwrap();
    assert_eq!(ok, Some(("OK".to_string(),)));
}
