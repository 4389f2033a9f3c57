//! Goal: SIGKILL of the leader loses no acknowledged write; a new leader takes over and the
//! killed node catches up from its own data dir when it comes back.
//! Method: acknowledged writes are recorded; the leader is killed with SIGKILL mid-stream;
//! writes continue through a survivor; every acknowledged key must be readable on all nodes
//! after the old leader restarts.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{local_get, wait_for, Cluster};
use redis::Commands;

#[test]
fn killed_leader_is_replaced_and_catches_up_without_losing_writes() {
    let mut cluster = Cluster::start(3, &[]);
    let old = cluster.leader();
    let mut acked = Vec::new();
    {
        let mut c = cluster.node(old).conn();
        for i in 0..100 {
            let _: () = c.set(format!("k{i}"), i).unwrap();
            acked.push(i);
        }
    }
    cluster.kill(old);

    let survivor = cluster.nodes.iter().find(|n| n.id != old).unwrap().id;
    let new = wait_for(Duration::from_secs(15), "a new leader", || {
        let (_, l) = cluster.role_of(survivor)?;
        (l != 0 && l != old).then_some(l)
    });
    assert_ne!(new, old);
    {
        // Writes succeed again, also through a node that is not the leader.
        let other = cluster
            .nodes
            .iter()
            .find(|n| n.id != old && n.id != new)
            .unwrap()
            .id;
        let mut c = cluster.node(other).conn();
        for i in 100..200 {
            let _: () = c.set(format!("k{i}"), i).unwrap();
            acked.push(i);
        }
    }

    cluster.spawn(old);
    let node = cluster.node(old);
    wait_for(
        Duration::from_secs(20),
        "the old leader to catch up",
        || (local_get(node, "k199").as_deref() == Some("199")).then_some(()),
    );
    for n in &cluster.nodes {
        let mut c = n.conn();
        for i in &acked {
            let v: Option<i64> = c.get(format!("k{i}")).unwrap();
            assert_eq!(v, Some(*i), "node {} lost k{i}", n.id);
        }
    }
}

#[test]
fn writes_wait_out_an_election_instead_of_failing() {
    let mut cluster = Cluster::start(3, &[]);
    let old = cluster.leader();
    let follower = cluster.follower();
    let mut c = cluster.node(follower).conn();
    let _: () = c.set("before", 1).unwrap();
    // Every node up to date and past its start-up check first. A node whose first probe of
    // its peers came before the cluster was bootstrapped takes itself for one that lost its
    // data (it cannot tell the two apart yet) and votes only once it holds what the others had
    // applied; with the leader killed before that, the two survivors could not elect (the
    // documented safe outcome for a real lost disk, seen once in CI). This test is about a
    // write waiting out an election in a healthy cluster.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cluster
        .nodes
        .iter()
        .all(|n| local_get(n, "before").as_deref() == Some("1"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "a node never got `before`"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(700));
    cluster.kill(old);
    // Sent at once, before any new leader exists: the node holds it until one is elected.
    let _: () = c.set("during", 2).unwrap();
    let v: i64 = c.get("during").unwrap();
    assert_eq!(v, 2);
}

#[test]
fn without_a_quorum_clients_get_clusterdown_quickly() {
    let mut cluster = Cluster::start(
        3,
        &[
            "--election-timeout-min-ms",
            "300",
            "--election-timeout-max-ms",
            "500",
        ],
    );
    let leader = cluster.leader();
    let others: Vec<u64> = cluster
        .nodes
        .iter()
        .map(|n| n.id)
        .filter(|i| *i != leader)
        .collect();
    let survivor = others[0];
    cluster.kill(leader);
    cluster.kill(others[1]);
    let mut c = cluster.node(survivor).conn();
    let started = std::time::Instant::now();
    let err = c.set::<_, _, ()>("x", 1).unwrap_err();
    assert_eq!(err.code(), Some("CLUSTERDOWN"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

/// Goal: a paused leader neither holds writes for long nor takes stale ones when it resumes.
/// Method: SIGSTOP the leader; INCR through a follower, whose forward to the paused leader is
/// abandoned when a new leader is elected and retried there (applied once, by its request id);
/// SIGCONT the old leader and write through it; every node ends with the same counter.
#[test]
fn paused_leader_is_replaced_and_rejoins_as_follower() {
    let cluster = Cluster::start(3, &[]);
    let old = cluster.leader();
    let follower = cluster.follower();
    let mut c = cluster.node(follower).conn();
    let _: i64 = c.incr("n", 1).unwrap();
    cluster.signal(old, "STOP");
    let started = std::time::Instant::now();
    let n: i64 = c.incr("n", 1).unwrap();
    assert_eq!(n, 2);
    // Well under the 10 s a forward may take: the follower moved on to the new leader.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let (_, now_leading) = cluster.role_of(follower).unwrap();
    assert!(
        now_leading != old && now_leading != 0,
        "a new leader took over"
    );
    cluster.signal(old, "CONT");
    let mut through_old = cluster.node(old).conn();
    let n: i64 = through_old.incr("n", 1).unwrap();
    assert_eq!(
        n, 3,
        "the resumed node must forward, not apply as a stale leader"
    );
    for node in &cluster.nodes {
        wait_for(Duration::from_secs(10), "every node to hold n=3", || {
            (local_get(node, "n").as_deref() == Some("3")).then_some(())
        });
    }
}
