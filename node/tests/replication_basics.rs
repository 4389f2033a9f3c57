//! Goal: a 3-node cluster serves writes on any node and every node reads them back.
//! Method: real `cairn` processes; writes through the leader and through a follower (which
//! forwards), then linearizable reads on all three and local (READONLY) reads converge.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{local_get, wait_for, Cluster};
use redis::Commands;

#[test]
fn writes_on_leader_and_follower_are_read_on_every_node() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let follower = cluster.follower();

    let mut lc = cluster.node(leader).conn();
    let mut fc = cluster.node(follower).conn();
    let _: () = lc.set("from-leader", "1").unwrap();
    let _: () = fc.set("from-follower", "2").unwrap();
    let n: i64 = fc.incr("counter", 5).unwrap();
    assert_eq!(n, 5);
    let n: i64 = lc.incr("counter", 1).unwrap();
    assert_eq!(n, 6);

    for node in &cluster.nodes {
        let mut c = node.conn();
        // Default reads are linearizable: they see every acknowledged write at once.
        let a: Option<String> = c.get("from-leader").unwrap();
        let b: Option<String> = c.get("from-follower").unwrap();
        let n: i64 = c.get("counter").unwrap();
        assert_eq!(
            (a.as_deref(), b.as_deref(), n),
            (Some("1"), Some("2"), 6),
            "node {}",
            node.id
        );
        // Local reads converge too.
        wait_for(Duration::from_secs(5), "local replica to apply", || {
            (local_get(node, "from-follower").as_deref() == Some("2")).then_some(())
        });
    }
}

#[test]
fn pipelined_writes_through_a_follower_keep_their_order() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut c = cluster.node(follower).conn();
    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("APPEND").arg("seq").arg(format!("{i},"));
    }
    let lens: Vec<i64> = pipe.query(&mut c).unwrap();
    assert_eq!(lens.len(), 200);
    assert!(
        lens.windows(2).all(|w| w[0] < w[1]),
        "appends applied in pipeline order"
    );
    let expected: String = (0..200).map(|i| format!("{i},")).collect();
    for node in &cluster.nodes {
        let v: String = node.conn().get("seq").unwrap();
        assert_eq!(v, expected, "node {}", node.id);
    }
}

#[test]
fn status_command_and_cli_show_members_and_leader() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let out = std::process::Command::new(common::BIN)
        .args(["status", "--host", "127.0.0.1", "--port"])
        .arg(cluster.node(2).port.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("leader: {leader}")), "{text}");
    for n in &cluster.nodes {
        assert!(text.contains(&format!("127.0.0.1:{}", n.port)), "{text}");
    }
}
