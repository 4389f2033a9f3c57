//! Goal: SWAPDB swaps two databases on every replica at once: keys, TTLs and the consistency
//! digest go with them, a WATCH on either database sees the swap, and a client blocked on a
//! key in one of them is served by what the swap brings.
//! Method: a 3-node cluster, SWAPDB through a follower; every node's own copy is read
//! (READONLY), `CAIRN CHECK` must find the replicas consistent, a WATCHed transaction must
//! abort, and a BLPOP blocked in database 9 must get the list swapped in from database 1.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{wait_for, Cluster};
use redis::Commands;

fn select(c: &mut redis::Connection, db: u8) {
    redis::cmd("SELECT").arg(db).query::<()>(c).unwrap();
}

#[test]
fn swapdb_swaps_everywhere_and_wakes_and_aborts() {
    let cluster = Cluster::start(3, &[]);
    let mut c = cluster.node(cluster.follower()).conn();
    select(&mut c, 1);
    let _: () = c.set("in-one", "1").unwrap();
    let _: () = c.set_ex("ttl-one", "v", 1000).unwrap();
    let _: i64 = c.rpush("list", "from-one").unwrap();
    select(&mut c, 2);
    let _: () = c.set("in-two", "2").unwrap();

    // A client blocked on `list` in database 9, which database 1 will bring.
    let mut blocked = cluster.node(cluster.leader()).conn();
    select(&mut blocked, 9);
    let waiter = std::thread::spawn(move || {
        let got: Option<(String, String)> = blocked.blpop("list", 10.0).unwrap();
        got
    });
    // A transaction watching a key missing in database 9.
    let mut watcher = cluster.node(cluster.follower()).conn();
    select(&mut watcher, 9);
    redis::cmd("WATCH")
        .arg("in-one")
        .query::<()>(&mut watcher)
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let reply: String = redis::cmd("SWAPDB").arg(1).arg(9).query(&mut c).unwrap();
    assert_eq!(reply, "OK");
    assert_eq!(
        waiter.join().unwrap(),
        Some(("list".into(), "from-one".into()))
    );
    let aborted: Option<(String,)> = redis::pipe()
        .atomic()
        .set("in-one", "mine")
        .query(&mut watcher)
        .unwrap();
    assert!(aborted.is_none(), "EXEC after a swap of a watched database");

    // Every node's own copy holds the swapped databases.
    for n in &cluster.nodes {
        let mut local = n.conn();
        redis::cmd("READONLY").query::<()>(&mut local).unwrap();
        wait_for(Duration::from_secs(10), "the swap to apply", || {
            select(&mut local, 9);
            let v: Option<String> = local.get("in-one").ok()?;
            (v.as_deref() == Some("1")).then_some(())
        });
        let ttl: i64 = local.ttl("ttl-one").unwrap();
        assert!(ttl > 900, "the TTL moved with its key: {ttl}");
        select(&mut local, 1);
        let gone: Option<String> = local.get("in-one").unwrap();
        assert_eq!(gone, None);
        let size: i64 = redis::cmd("DBSIZE").query(&mut local).unwrap();
        assert_eq!(size, 0);
        select(&mut local, 2);
        let two: Option<String> = local.get("in-two").unwrap();
        assert_eq!(two.as_deref(), Some("2"));
    }

    let report: String = redis::cmd("CAIRN").arg("CHECK").query(&mut c).unwrap();
    assert!(report.contains("result: consistent"), "{report}");

    let mut err = |args: &[&str]| {
        let mut cmd = redis::cmd("SWAPDB");
        for a in args {
            cmd.arg(*a);
        }
        cmd.query::<String>(&mut c).unwrap_err().to_string()
    };
    assert!(err(&["x", "1"]).contains("invalid first DB index"));
    assert!(err(&["1", "y"]).contains("invalid second DB index"));
    assert!(err(&["1", "16"]).contains("DB index is out of range"));
    assert!(err(&["-1", "0"]).contains("DB index is out of range"));
}
