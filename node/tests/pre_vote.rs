//! Goal: a node cut off from the others does not raise its term while it is away, so when it
//! returns the leader stays leader and the term is unchanged (pre-vote); and a killed
//! leader is still replaced.
//! Method: a real 3-node cluster with a cluster secret; one follower restarted with the wrong
//! secret is isolated both ways (every peer call it makes or gets is refused) for longer
//! than several election timeouts, then restarted with the right one; INFO's `cairn_term`
//! and the leader every node names are compared before and after.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{info_field, wait_for, Cluster};
use redis::Commands;

fn term(cluster: &Cluster, id: u64) -> u64 {
    let mut c = cluster.node(id).conn();
    info_field(&mut c, "replication", "cairn_term")
        .parse()
        .unwrap()
}

#[test]
fn an_isolated_node_returns_without_deposing_the_leader() {
    let mut cluster = Cluster::unstarted(3, &[]);
    cluster.env = vec![("CAIRN_CLUSTER_SECRET".into(), "right-secret".into())];
    cluster.launch();
    let leader = cluster.leader();
    let away = cluster.follower();
    let before = term(&cluster, leader);

    cluster.kill(away);
    cluster.spawn_with(away, &["--cluster-secret", "wrong-secret"]);
    // Twelve election timeouts and more: without a pre-vote it would stand again and again.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        term(&cluster, away),
        before,
        "the isolated node raised its term"
    );
    let mut c = cluster.node(leader).conn();
    let _: () = c.set("while-away", "1").unwrap();

    cluster.kill(away);
    cluster.spawn(away);
    wait_for(Duration::from_secs(20), "the node to catch up", || {
        let mut c = cluster.node(away).try_conn()?;
        redis::cmd("READONLY").query::<()>(&mut c).ok()?;
        let v: Option<String> = c.get("while-away").ok()?;
        v.filter(|v| v == "1")
    });
    assert_eq!(cluster.leader(), leader, "the leader changed");
    for id in 1..=3 {
        assert_eq!(term(&cluster, id), before, "node {id}'s term");
    }

    // Elections still happen when they must: a killed leader is replaced.
    cluster.kill(leader);
    let next = cluster.leader();
    assert_ne!(next, leader);
    let mut c = cluster.node(next).conn();
    let _: () = c.set("after", "1").unwrap();
}
