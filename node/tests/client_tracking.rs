//! Goal: client-side caching works across the cluster: a client of one node caches what it
//! reads, and a write sent to any other node invalidates that cache, so the client reads
//! the new value; a RESP2 client gets the invalidations on the channel it redirects them to;
//! NOLOOP leaves the client's own writes out; BCAST announces keys by prefix.
//! Method: a 3-node cluster; redis-py's own cache (RESP3) reading through a follower while
//! the other two nodes take writes, the leader killed halfway; raw RESP2 connections for the redirect, NOLOOP and
//! BCAST cases, checked message by message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{python_client, Cluster};
use redis::Value;

#[test]
fn redis_py_cache_on_a_follower_stays_correct_through_a_leader_kill() {
    let mut cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let leader = cluster.leader();
    let others: Vec<u16> = (1..=3)
        .filter(|id| *id != follower)
        .map(|id| cluster.node(id).port)
        .collect();
    let args = [
        cluster.node(follower).port.to_string(),
        others[0].to_string(),
        others[1].to_string(),
        "300".to_string(),
    ];
    let (status, lines) =
        python_client("client_cache.py", &args, Duration::from_secs(120), |line| {
            if line == "HALF" {
                cluster.kill(leader);
            }
        });
    assert!(
        status.success(),
        "redis-py cache failed ({status}): {lines:?}"
    );
    eprintln!("redis-py cache: {lines:?}");
    let hits: u64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("HITS "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        hits <= 1,
        "200 cached reads went to the server {hits} times"
    );
    assert!(lines.iter().any(|l| l == "DONE 300"), "{lines:?}");
    assert!(
        !cluster.node(leader).is_running(),
        "the leader was killed halfway"
    );
}

/// The next message on a subscribed RESP2 connection: (channel, keys).
fn invalidation(c: &mut redis::Connection) -> Vec<String> {
    let msg = c.recv_response().unwrap();
    let Value::Array(parts) = msg else {
        panic!("not a message: {msg:?}");
    };
    assert_eq!(parts[0], Value::BulkString(b"message".to_vec()));
    assert_eq!(
        parts[1],
        Value::BulkString(b"__redis__:invalidate".to_vec())
    );
    match &parts[2] {
        Value::Array(keys) => keys
            .iter()
            .map(|k| match k {
                Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("keys {other:?}"),
    }
}

#[test]
fn redirected_noloop_and_bcast_invalidations() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let leader = cluster.leader();
    let node = cluster.node(follower);
    // The connection that receives the invalidations (RESP2: a subscriber).
    let mut inbox = node.conn();
    let inbox_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut inbox).unwrap();
    redis::cmd("SUBSCRIBE")
        .arg("__redis__:invalidate")
        .exec(&mut inbox)
        .unwrap();
    let mut tracked = node.conn();
    let mut writer = cluster.node(leader).conn();

    let on = |c: &mut redis::Connection, extra: &[&str]| {
        let _: () = redis::cmd("CLIENT")
            .arg("TRACKING")
            .arg("OFF")
            .query(c)
            .unwrap();
        let ok: String = redis::cmd("CLIENT")
            .arg(&["TRACKING", "ON", "REDIRECT", &inbox_id.to_string()])
            .arg(extra)
            .query(c)
            .unwrap();
        assert_eq!(ok, "OK");
    };

    // Default mode: only keys the client read, once each.
    on(&mut tracked, &[]);
    let _: () = redis::cmd("MSET")
        .arg(&["a", "1", "b", "1"])
        .query(&mut writer)
        .unwrap();
    let _: Option<String> = redis::cmd("GET").arg("a").query(&mut tracked).unwrap();
    let _: () = redis::cmd("INCR").arg("b").query(&mut writer).unwrap();
    let _: () = redis::cmd("INCR").arg("a").query(&mut writer).unwrap();
    assert_eq!(invalidation(&mut inbox), vec!["a"]);
    let redir: i64 = redis::cmd("CLIENT")
        .arg("GETREDIR")
        .query(&mut tracked)
        .unwrap();
    assert_eq!(redir, inbox_id);

    // NOLOOP: the client's own write is not announced to it, another client's is.
    on(&mut tracked, &["NOLOOP"]);
    let _: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["own", "theirs"])
        .query(&mut tracked)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(&["own", "x"])
        .query(&mut tracked)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(&["theirs", "x"])
        .query(&mut writer)
        .unwrap();
    assert_eq!(invalidation(&mut inbox), vec!["theirs"]);

    // BCAST with a prefix: every matching key, read or not.
    on(&mut tracked, &["BCAST", "PREFIX", "user:"]);
    let _: () = redis::cmd("SET")
        .arg(&["other:1", "x"])
        .query(&mut writer)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(&["user:7", "x"])
        .query(&mut writer)
        .unwrap();
    assert_eq!(invalidation(&mut inbox), vec!["user:7"]);
    let info: Value = redis::cmd("CLIENT")
        .arg("TRACKINGINFO")
        .query(&mut tracked)
        .unwrap();
    let text = format!("{info:?}");
    assert!(text.contains("bcast") && text.contains("user:"), "{text}");

    // Errors as Redis words them.
    let err = |r: redis::RedisResult<String>| r.unwrap_err().to_string();
    let mut c = node.conn();
    assert!(err(redis::cmd("CLIENT")
        .arg(&["TRACKING", "ON", "PREFIX", "x"])
        .query(&mut c))
    .contains("PREFIX option requires BCAST mode to be enabled"));
    assert!(err(redis::cmd("CLIENT")
        .arg(&["TRACKING", "ON", "REDIRECT", "999999"])
        .query(&mut c))
    .contains("The client ID you want redirect to does not exist"));
    assert!(
        err(redis::cmd("CLIENT").arg(&["CACHING", "YES"]).query(&mut c))
            .contains("CLIENT CACHING can be called only when the client is in tracking mode")
    );
}
