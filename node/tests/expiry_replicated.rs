//! Goal: keys with a TTL vanish on every node, and no replica ever returns an expired value.
//! Method: keys with short TTLs are written; local (READONLY) reads on every replica are
//! polled; once the TTL has passed no replica may return the value, and the leader's active
//! expiry removes the keys everywhere (DBSIZE drops, expired_keys counts them).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{wait_for, Cluster};
use redis::Commands;

#[test]
fn ttl_keys_vanish_everywhere_and_are_never_served_stale() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let mut c = cluster.node(leader).conn();
    // One pipeline: the 50 writes share a log entry or a few, so even a loaded machine
    // writes them well within their TTL.
    let mut pipe = redis::pipe();
    for i in 0..50 {
        pipe.cmd("SET")
            .arg(format!("t{i}"))
            .arg("v")
            .arg("PX")
            .arg(600)
            .ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let _: () = c.set("stays", "1").unwrap();
    let written = Instant::now();
    let pttl: i64 = c.pttl("t0").unwrap();
    assert!(pttl > 0 && pttl <= 600, "{pttl}");

    // Every replica serves the value while it is live...
    for n in &cluster.nodes {
        wait_for(Duration::from_secs(5), "replica to apply", || {
            let mut rc = n.try_conn()?;
            redis::cmd("READONLY").query::<()>(&mut rc).ok()?;
            let v: Option<String> = rc.get("stays").ok()?;
            v.map(|_| ())
        });
    }
    // ...and none serves it once the TTL has passed, expired-but-not-yet-deleted or not.
    std::thread::sleep(Duration::from_millis(650).saturating_sub(written.elapsed()));
    for n in &cluster.nodes {
        let mut rc = n.conn();
        redis::cmd("READONLY").query::<()>(&mut rc).unwrap();
        for i in 0..50 {
            let v: Option<String> = rc.get(format!("t{i}")).unwrap();
            assert_eq!(v, None, "node {} served expired t{i}", n.id);
        }
        let ttl: i64 = rc.ttl("t0").unwrap();
        assert_eq!(ttl, -2);
    }
    // Active expiry on the leader deletes them through the log, on every replica.
    for n in &cluster.nodes {
        wait_for(
            Duration::from_secs(10),
            "active expiry to reach every node",
            || {
                let mut rc = n.try_conn()?;
                redis::cmd("READONLY").query::<()>(&mut rc).ok()?;
                let size: i64 = redis::cmd("DBSIZE").query(&mut rc).ok()?;
                (size == 1).then_some(())
            },
        );
    }
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    let expired: i64 = info
        .lines()
        .find_map(|l| l.strip_prefix("expired_keys:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(expired, 50);
}

#[test]
fn expire_persist_and_ttl_follow_redis() {
    let cluster = Cluster::start(3, &[]);
    let mut c = cluster.node(cluster.follower()).conn();
    let _: () = c.set("k", "v").unwrap();
    assert_eq!(c.ttl::<_, i64>("k").unwrap(), -1);
    assert_eq!(c.ttl::<_, i64>("missing").unwrap(), -2);
    assert_eq!(c.expire::<_, i64>("k", 100).unwrap(), 1);
    assert_eq!(c.ttl::<_, i64>("k").unwrap(), 100);
    let gt: i64 = redis::cmd("EXPIRE")
        .arg("k")
        .arg(50)
        .arg("GT")
        .query(&mut c)
        .unwrap();
    assert_eq!(gt, 0);
    assert_eq!(c.persist::<_, i64>("k").unwrap(), 1);
    assert_eq!(c.ttl::<_, i64>("k").unwrap(), -1);
    let at: i64 = redis::cmd("EXPIRETIME").arg("k").query(&mut c).unwrap();
    assert_eq!(at, -1);
    // An expiry in the past deletes the key.
    assert_eq!(c.expire::<_, i64>("k", -1).unwrap(), 1);
    assert_eq!(c.exists::<_, i64>("k").unwrap(), 0);
    // SET replaces a TTL unless KEEPTTL.
    let _: () = c.set_ex("k2", "v", 100).unwrap();
    let _: () = redis::cmd("SET")
        .arg("k2")
        .arg("w")
        .arg("KEEPTTL")
        .query(&mut c)
        .unwrap();
    assert!(c.ttl::<_, i64>("k2").unwrap() > 0);
    let _: () = c.set("k2", "x").unwrap();
    assert_eq!(c.ttl::<_, i64>("k2").unwrap(), -1);
}
