//! Goal: WAIT answers how many other members hold the connection's acknowledged writes,
//! waits up to its timeout for more, and refuses bad arguments as Redis does.
//! Method: a 3-node cluster; WAIT through a follower with all nodes up, then with the other
//! follower stopped (SIGSTOP): the answer drops to the members that hold the write, after
//! the timeout, and comes back once the stopped node resumes and catches up.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::Cluster;
use redis::Commands;

fn wait(c: &mut redis::Connection, replicas: i64, timeout_ms: i64) -> redis::RedisResult<i64> {
    redis::cmd("WAIT").arg(replicas).arg(timeout_ms).query(c)
}

#[test]
fn wait_counts_the_members_that_hold_the_writes() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let follower = cluster.follower();
    let other = (1..=3).find(|id| *id != leader && *id != follower).unwrap();
    let mut c = cluster.node(follower).conn();

    let _: () = c.set("k", "1").unwrap();
    assert_eq!(wait(&mut c, 2, 5000).unwrap(), 2);
    assert_eq!(wait(&mut c, 0, 0).unwrap(), 2, "WAIT 0 0 answers at once");

    cluster.signal(other, "STOP");
    let _: () = c.set("k", "2").unwrap();
    let started = Instant::now();
    assert_eq!(
        wait(&mut c, 2, 400).unwrap(),
        1,
        "only the leader holds the write"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "WAIT waited its timeout"
    );
    // A number it already has returns at once.
    assert_eq!(wait(&mut c, 1, 0).unwrap(), 1);

    cluster.signal(other, "CONT");
    assert_eq!(
        wait(&mut c, 2, 10_000).unwrap(),
        2,
        "the resumed node catches up"
    );

    let err = |r: redis::RedisResult<i64>| r.unwrap_err().to_string();
    assert!(err(redis::cmd("WAIT").arg("x").arg(0).query(&mut c)).contains("not an integer"));
    assert!(err(wait(&mut c, 1, -1)).contains("timeout is negative"));
    assert!(err(redis::cmd("WAIT").arg(1).query(&mut c)).contains("wrong number of arguments"));
}
