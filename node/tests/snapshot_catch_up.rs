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

/// Waits for the leader's log to be purged past `index`, writing a key per look: openraft
/// judges the snapshot threshold as entries are applied, so entries applied while a slow
/// (debug-build) snapshot was still being written start no new one until more arrive.
fn wait_purged_past(c: &mut redis::Connection, index: i64) {
    let mut filler = 0u64;
    wait_for(
        Duration::from_secs(40),
        "the leader to purge its log",
        || {
            filler += 1;
            redis::cmd("SET")
                .arg("purge:filler")
                .arg(filler)
                .query::<()>(c)
                .ok()?;
            let purged = info_field(c, "persistence", "cairn_purged_index")?;
            (purged > index).then_some(())
        },
    );
    redis::cmd("DEL")
        .arg("purge:filler")
        .query::<()>(c)
        .unwrap();
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
    wait_purged_past(&mut c, 500);

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

/// A snapshot replaces the keyspace in several storage batches (all keys out, then the
/// snapshot's in). Reads on the installing node must never see that half-way state: here a
/// READONLY reader hammers keys that exist before and after the install, and every answer is
/// the value or LOADING (Redis's error while a replica loads), never nil.
#[test]
fn reads_during_a_snapshot_install_never_see_it_half_loaded() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let mut cluster = Cluster::start(
        3,
        &["--snapshot-threshold", "100", "--snapshot-logs-keep", "10"],
    );
    let leader = cluster.leader();
    let mut c = cluster.node(leader).conn();
    const KEYS: usize = 100_000;
    for chunk in 0..KEYS / 1000 {
        let mut mset = redis::cmd("MSET");
        for i in chunk * 1000..(chunk + 1) * 1000 {
            mset.arg(format!("old:{i}")).arg("v");
        }
        mset.query::<()>(&mut c).unwrap();
    }
    let lagging = cluster.follower();
    wait_for(
        Duration::from_secs(30),
        "the follower to hold every key",
        || {
            (local_get(cluster.node(lagging), &format!("old:{}", KEYS - 1)).as_deref() == Some("v"))
                .then_some(())
        },
    );
    cluster.kill(lagging);
    for i in 0..300 {
        let _: () = c.set(format!("new:{i}"), i).unwrap();
    }
    wait_purged_past(&mut c, 250);

    cluster.spawn(lagging);
    let node = cluster.node(lagging);
    let port = node.port;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || {
            let (mut values, mut loading) = (0u64, 0u64);
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
            // Bounded: the caught-up flag, or 2,000 connection attempts.
            for _ in 0..2_000 {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut rc) = client.get_connection_with_timeout(Duration::from_millis(200))
                else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                if redis::cmd("READONLY").query::<()>(&mut rc).is_err() {
                    continue;
                }
                // Each key in turn, so the reads cover the whole keyspace while it is replaced.
                for i in (0..KEYS).cycle().take(2 * KEYS) {
                    if done.load(Ordering::Relaxed) {
                        break;
                    }
                    match rc.get::<_, Option<String>>(format!("old:{i}")) {
                        Ok(Some(v)) => {
                            assert_eq!(v, "v");
                            values += 1;
                        }
                        Ok(None) => panic!("old:{i} read as missing during the install"),
                        Err(e) if e.kind() == redis::ErrorKind::BusyLoadingError => loading += 1,
                        // The node is still starting, or restarting its connection.
                        Err(_) => break,
                    }
                }
            }
            (values, loading)
        })
    };
    wait_for(
        Duration::from_secs(60),
        "the lagging node to catch up",
        || (local_get(node, "new:299").as_deref() == Some("299")).then_some(()),
    );
    done.store(true, Ordering::Relaxed);
    let (values, loading) = reader.join().unwrap();
    println!("reads during the catch-up: {values} values, {loading} LOADING");
    assert!(values > 0);
    assert!(node.log_text().contains("installed snapshot"));
}
