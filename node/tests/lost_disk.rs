//! Goal: a voter whose data dir is lost comes back without voting until it holds what the
//! cluster had applied; it catches up by itself, then votes again.
//! Method: a real 3-node cluster; a follower is killed and its data dir deleted, and the
//! leader is killed too, so the one remaining node could only be elected with the empty
//! node's vote: it must not be. Then the old leader returns, the empty node catches up, and a
//! later election that needs its vote succeeds. And an empty follower whose leader purged
//! its log behind a snapshot catches up by that snapshot. Every wait is bounded.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{local_get, wait_for, Cluster};
use redis::Commands;

#[test]
fn a_voter_that_lost_its_data_does_not_vote_until_it_caught_up() {
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let mut c = cluster.node(leader).conn();
    for i in 0..300 {
        let _: () = c.set(format!("k{i}"), i).unwrap();
    }
    let lost = cluster.follower();
    let other = (1..=3).find(|&id| id != leader && id != lost).unwrap();

    cluster.kill(lost);
    std::fs::remove_dir_all(&cluster.node(lost).data_dir).unwrap();
    cluster.kill(leader);
    cluster.spawn(lost);
    wait_for(Duration::from_secs(20), "the empty node to notice", || {
        cluster
            .node(lost)
            .log_text()
            .contains("started without data")
            .then_some(())
    });
    // Four seconds: many election timeouts. The remaining node cannot win without the
    // empty node's vote, which it must not give.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        if let Some((role, _)) = cluster.role_of(other) {
            assert_ne!(
                role, "master",
                "elected with the vote of a node that lost its data"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    cluster.spawn(leader);
    let now_leading = cluster.leader();
    wait_for(
        Duration::from_secs(30),
        "the empty node to catch up",
        || (local_get(cluster.node(lost), "k299").as_deref() == Some("299")).then_some(()),
    );
    wait_for(
        Duration::from_secs(10),
        "the empty node to vote again",
        || {
            cluster
                .node(lost)
                .log_text()
                .contains("voting again")
                .then_some(())
        },
    );

    // An election that needs the once-empty node's vote now succeeds.
    cluster.kill(now_leading);
    let next = cluster.leader();
    assert_ne!(next, now_leading);
    let mut c = cluster.node(next).conn();
    let _: () = c.set("after", "1").unwrap();
    let v: i64 = c.get("k150").unwrap();
    assert_eq!(v, 150);
}

#[test]
fn an_empty_follower_catches_up_by_snapshot_after_a_purge() {
    // The leader keeps running, so it remembers how far the follower had matched; the log
    // behind its snapshot is gone, so only the snapshot can bring the follower back.
    let mut cluster = Cluster::start(3, &["--snapshot-logs-keep", "10"]);
    let leader = cluster.leader();
    let mut c = cluster.node(leader).conn();
    for i in 0..300 {
        let _: () = c.set(format!("k{i}"), i).unwrap();
    }
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let lost = cluster.follower();
    cluster.kill(lost);
    std::fs::remove_dir_all(&cluster.node(lost).data_dir).unwrap();
    cluster.spawn(lost);
    wait_for(
        Duration::from_secs(30),
        "the empty node to catch up",
        || (local_get(cluster.node(lost), "k299").as_deref() == Some("299")).then_some(()),
    );
    assert!(cluster.node(lost).log_text().contains("installed snapshot"));
    let _: () = c.set("after", "1").unwrap();
    wait_for(Duration::from_secs(10), "a write after the rejoin", || {
        (local_get(cluster.node(lost), "after").as_deref() == Some("1")).then_some(())
    });
}
