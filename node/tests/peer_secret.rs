//! Goal: with `--cluster-secret`, a process without the secret cannot take part in the
//! cluster's consensus: its join is refused, its votes and appends are rejected, and the
//! cluster keeps serving; a process with the secret joins as usual.
//! Method: a 3-node cluster with a secret; a 4th node with a wrong secret asks to join; a
//! 5th with the right one joins.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{wait_for, Cluster};

fn members(cluster: &Cluster, id: u64) -> String {
    let mut c = cluster.node(id).conn();
    redis::cmd("CAIRN").arg("MEMBERS").query(&mut c).unwrap()
}

#[test]
fn peers_without_the_cluster_secret_are_refused() {
    // The secret from the environment, so one node's flag can override it.
    let mut cluster = Cluster::unstarted(3, &[]);
    cluster.env = vec![("CAIRN_CLUSTER_SECRET".into(), "right-secret".into())];
    cluster.launch();
    let leader = cluster.leader();
    let via = format!("127.0.0.1:{}", cluster.node(leader).raft_port);

    // The wrong secret: the join is refused, every time it is tried, and the node says why.
    let stranger = cluster.add_node();
    cluster.spawn_with(stranger, &["--join", &via, "--cluster-secret", "wrong"]);
    wait_for(
        Duration::from_secs(20),
        "the stranger to be refused",
        || {
            let log = cluster.node(stranger).log_text().to_lowercase();
            log.contains("cluster's secret").then_some(())
        },
    );
    let listed = members(&cluster, leader);
    assert!(
        !listed
            .lines()
            .any(|l| l.starts_with(&format!("id={stranger} "))),
        "{listed}"
    );
    // The cluster still serves writes (the stranger, never a member, knows no leader).
    cluster.kill(stranger);
    let mut c = cluster.node(cluster.leader()).conn();
    redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<()>(&mut c)
        .unwrap();

    // The right secret joins as any new member does.
    let friend = cluster.add_node();
    cluster.spawn_with(friend, &["--join", &via]);
    wait_for(Duration::from_secs(30), "the friend to join", || {
        let listed = members(&cluster, cluster.leader());
        listed
            .lines()
            .any(|l| l.starts_with(&format!("id={friend} ")) && l.contains(" voter"))
            .then_some(())
    });
}
