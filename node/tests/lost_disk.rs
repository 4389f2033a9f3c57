//! Goal: a voter whose data dir is lost comes back without voting until it holds what the
//! cluster had applied; it catches up by itself, then votes again.
//! Method: a real 3-node cluster; a follower is killed and its data dir deleted, and the
//! leader is killed too, so the one remaining node could only be elected with the empty
//! node's vote: it must not be. Then the old leader returns, the empty node catches up, and a
//! later election that needs its vote succeeds. An empty node that restarts while the
//! leader answers learns the leader's applied entry as a floor, so when that leader dies
//! before it caught up, the survivors still elect (with its vote, for a log that reaches the
//! floor). And an empty follower whose leader purged its log behind a snapshot catches up by
//! that snapshot. Every wait is bounded.
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

#[test]
fn an_empty_node_that_heard_the_leader_votes_for_a_log_that_reaches_its_floor() {
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let mut c = cluster.node(leader).conn();
    // Enough data that catching up takes a while, so the leader dies before it is done.
    let value = "v".repeat(200);
    for chunk in 0..50 {
        let mut p = redis::pipe();
        for i in chunk * 1000..(chunk + 1) * 1000 {
            p.set(format!("k{i}"), &value).ignore();
        }
        let _: () = p.query(&mut c).unwrap();
    }
    let _: () = c.set("last", "1").unwrap();
    let lost = cluster.follower();
    let other = (1..=3).find(|&id| id != leader && id != lost).unwrap();
    wait_for(
        Duration::from_secs(20),
        "the follower to hold the writes",
        || (local_get(cluster.node(lost), "last").as_deref() == Some("1")).then_some(()),
    );

    // The node's log spans its starts; its first start may have said the same (it started
    // after node 1 had bootstrapped the cluster).
    let floor_said = |cluster: &Cluster| {
        cluster
            .node(lost)
            .log_text()
            .matches("votes only for logs that reach")
            .count()
    };
    let before = floor_said(&cluster);
    cluster.kill(lost);
    std::fs::remove_dir_all(&cluster.node(lost).data_dir).unwrap();
    cluster.spawn(lost);
    let deadline = Instant::now() + Duration::from_secs(20);
    while floor_said(&cluster) == before {
        assert!(
            Instant::now() < deadline,
            "the empty node never heard the leader"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    cluster.kill(leader);
    let caught_up = local_get(cluster.node(lost), "last").is_some();
    eprintln!("the empty node had caught up when the leader died: {caught_up}");

    // The remaining member holds every committed entry, so its log reaches the floor: the
    // empty node's vote elects it (before the change it refused until the old leader came
    // back).
    let next = cluster.wait_leader(Duration::from_secs(15));
    assert_eq!(next, other, "only the node that kept its data may lead");
    let mut c = cluster.node(next).conn();
    let _: () = c.set("after", "1").unwrap();
    let v: String = c.get("k49999").unwrap();
    assert_eq!(v, value);
    wait_for(
        Duration::from_secs(30),
        "the empty node to catch up",
        || (local_get(cluster.node(lost), "after").as_deref() == Some("1")).then_some(()),
    );
}
