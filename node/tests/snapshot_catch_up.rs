//! Goal: a node that was down while the log was purged catches up by snapshot.
//! Method: a small snapshot threshold; one follower is killed; enough writes go in for the
//! leader to snapshot and purge past the follower's log; the follower restarts and must
//! end up with every key (and the ACL users), which it can only get from the snapshot.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{local_get, wait_for, Cluster};
use redis::Commands;

fn info_field(c: &mut redis::Connection, section: &str, key: &str) -> Option<i64> {
    let info: String = redis::cmd("INFO").arg(section).query(c).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn lagging_node_catches_up_from_a_snapshot() {
    let mut cluster = Cluster::start(
        3,
        &["--snapshot-threshold", "100", "--snapshot-logs-keep", "10"],
    );
    let leader = cluster.leader();
    let lagging = cluster.follower();
    cluster.kill(lagging);

    let mut c = cluster.node(leader).conn();
    // ACL users are replicated state: they travel in the snapshot too.
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "reader", "on", ">r3ad", "~*", "+@read"])
        .query(&mut c)
        .unwrap();
    // One at a time, so each write is its own log entry (a pipeline would share entries).
    for i in 0..1000 {
        let _: () = c.set(format!("key:{i}"), i).unwrap();
    }
    let _: () = c.set_ex("with-ttl", "v", 1000).unwrap();

    // The leader has snapshotted and purged beyond anything the lagging node holds.
    wait_for(
        Duration::from_secs(20),
        "the leader to purge its log",
        || {
            let purged = info_field(&mut c, "persistence", "cairn_purged_index")?;
            (purged > 500).then_some(())
        },
    );

    cluster.spawn(lagging);
    let node = cluster.node(lagging);
    wait_for(
        Duration::from_secs(30),
        "the lagging node to catch up",
        || (local_get(node, "key:999").as_deref() == Some("999")).then_some(()),
    );
    let mut lc = node.conn();
    redis::cmd("READONLY").query::<()>(&mut lc).unwrap();
    for i in (0..1000).step_by(37) {
        let v: i64 = lc.get(format!("key:{i}")).unwrap();
        assert_eq!(v, i);
    }
    let ttl: i64 = lc.ttl("with-ttl").unwrap();
    assert!(
        ttl > 900 && ttl <= 1000,
        "TTL travelled with the snapshot: {ttl}"
    );
    let size: i64 = redis::cmd("DBSIZE").query(&mut lc).unwrap();
    assert_eq!(size, 1001);
    assert!(
        node.log_text().contains("installed snapshot"),
        "the node caught up through a snapshot"
    );
    let reader = redis::Client::open(format!("redis://reader:r3ad@127.0.0.1:{}/", node.port))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(5));
    let mut reader = reader.expect("the snapshot carried the ACL user");
    let v: i64 = reader.get("key:1").unwrap();
    assert_eq!(v, 1);
    assert!(
        reader.set::<_, _, ()>("key:1", 2).is_err(),
        "reader may not write"
    );
}
