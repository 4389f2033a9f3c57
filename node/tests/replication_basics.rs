//! Goal: a 3-node cluster serves writes on any node and every node reads them back.
//! Method: real `cairn` processes; writes through the leader and through a follower (which
//! forwards), then linearizable reads on all three and local (READONLY) reads converge.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{local_get, wait_for, Cluster};
use redis::Commands;

#[test]
fn writes_on_leader_and_follower_are_read_on_every_node() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let follower = cluster.follower();

    let mut lc = cluster.node(leader).conn();
    let mut fc = cluster.node(follower).conn();
    let _: () = lc.set("from-leader", "1").unwrap();
    let _: () = fc.set("from-follower", "2").unwrap();
    let n: i64 = fc.incr("counter", 5).unwrap();
    assert_eq!(n, 5);
    let n: i64 = lc.incr("counter", 1).unwrap();
    assert_eq!(n, 6);

    for node in &cluster.nodes {
        let mut c = node.conn();
        // Default reads are linearizable: they see every acknowledged write at once.
        let a: Option<String> = c.get("from-leader").unwrap();
        let b: Option<String> = c.get("from-follower").unwrap();
        let n: i64 = c.get("counter").unwrap();
        assert_eq!(
            (a.as_deref(), b.as_deref(), n),
            (Some("1"), Some("2"), 6),
            "node {}",
            node.id
        );
        // Local reads converge too.
        wait_for(Duration::from_secs(5), "local replica to apply", || {
            (local_get(node, "from-follower").as_deref() == Some("2")).then_some(())
        });
    }
}

#[test]
fn pipelined_writes_through_a_follower_keep_their_order() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut c = cluster.node(follower).conn();
    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("APPEND").arg("seq").arg(format!("{i},"));
    }
    let lens: Vec<i64> = pipe.query(&mut c).unwrap();
    assert_eq!(lens.len(), 200);
    assert!(
        lens.windows(2).all(|w| w[0] < w[1]),
        "appends applied in pipeline order"
    );
    let expected: String = (0..200).map(|i| format!("{i},")).collect();
    for node in &cluster.nodes {
        let v: String = node.conn().get("seq").unwrap();
        assert_eq!(v, expected, "node {}", node.id);
    }
}

#[test]
fn status_command_and_cli_show_members_and_leader() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let out = std::process::Command::new(common::BIN)
        .args(["status", "--host", "127.0.0.1", "--port"])
        .arg(cluster.node(2).port.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("leader: {leader}")), "{text}");
    for n in &cluster.nodes {
        assert!(text.contains(&format!("127.0.0.1:{}", n.port)), "{text}");
    }
}

/// RANDOMKEY returns every key sooner or later and nil on an empty database; TOUCH counts the
/// keys that exist, like EXISTS. Both on a follower, after a write through the leader.
#[test]
fn randomkey_and_touch() {
    let cluster = Cluster::start(3, &[]);
    let mut leader = cluster.node(cluster.leader()).conn();
    let mut c = cluster.node(cluster.follower()).conn();
    let none: Option<String> = redis::cmd("RANDOMKEY").query(&mut c).unwrap();
    assert_eq!(none, None);
    let () = redis::cmd("MSET")
        .arg(&["a", "1", "b", "2", "c", "3"])
        .query(&mut leader)
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..500 {
        let k: String = redis::cmd("RANDOMKEY").query(&mut c).unwrap();
        seen.insert(k);
        if seen.len() == 3 {
            break;
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    let touched: i64 = redis::cmd("TOUCH")
        .arg(&["a", "b", "nope", "a"])
        .query(&mut c)
        .unwrap();
    assert_eq!(touched, 3);
    // Inside MULTI RANDOMKEY is refused (a transaction runs in `apply`, which is random-free).
    let mut tx = redis::pipe();
    tx.atomic().cmd("RANDOMKEY");
    assert!(tx.query::<redis::Value>(&mut c).is_err());
}

/// COPY (with DB and REPLACE) and MOVE through a follower, seen in the target database on
/// every node, TTL included.
#[test]
fn copy_and_move_across_databases() {
    let cluster = Cluster::start(3, &[]);
    let mut c = cluster.node(cluster.follower()).conn();
    let () = redis::cmd("SET")
        .arg(&["src", "v", "EX", "100"])
        .query(&mut c)
        .unwrap();
    let copied: i64 = redis::cmd("COPY")
        .arg(&["src", "dst", "DB", "2"])
        .query(&mut c)
        .unwrap();
    assert_eq!(copied, 1);
    let again: i64 = redis::cmd("COPY")
        .arg(&["src", "dst", "DB", "2"])
        .query(&mut c)
        .unwrap();
    assert_eq!(again, 0);
    let moved: i64 = redis::cmd("MOVE").arg(&["src", "5"]).query(&mut c).unwrap();
    assert_eq!(moved, 1);
    // The connection is in db 0 already.
    let same = redis::cmd("MOVE").arg(&["dst", "0"]).query::<i64>(&mut c);
    let err = same.unwrap_err();
    assert_eq!(
        err.detail(),
        Some("source and destination objects are the same")
    );
    for n in &cluster.nodes {
        let mut r = n.conn();
        let () = redis::cmd("SELECT").arg(2).query(&mut r).unwrap();
        let v: Option<String> = r.get("dst").unwrap();
        assert_eq!(v.as_deref(), Some("v"), "node {}", n.id);
        let () = redis::cmd("SELECT").arg(5).query(&mut r).unwrap();
        let ttl: i64 = r.ttl("src").unwrap();
        assert!(ttl > 0 && ttl <= 100, "node {}: ttl {ttl}", n.id);
        let () = redis::cmd("SELECT").arg(0).query(&mut r).unwrap();
        let gone: bool = r.exists("src").unwrap();
        assert!(!gone, "node {}", n.id);
    }
}
