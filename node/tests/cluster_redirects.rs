//! Goal: cluster-aware clients see one shard owning every slot, with the leader as master,
//! and (with --redirect) follow MOVED to the leader, also across a failover.
//! Method: CLUSTER SLOTS/NODES/SHARDS/INFO checked on every node; the `redis` crate's cluster
//! client seeded with a follower writes and reads; the leader is SIGKILLed and the same client
//! keeps working against the new leader.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{wait_for, Cluster};
use redis::Commands;

fn cid(id: u64) -> String {
    format!("{id:040x}")
}

#[test]
fn cluster_view_and_moved_redirects_across_failover() {
    let mut cluster = Cluster::start(3, &["--redirect"]);
    let leader = cluster.leader();
    let follower = cluster.follower();

    for n in &cluster.nodes {
        let mut c = n.conn();
        let slots: redis::Value = redis::cmd("CLUSTER").arg("SLOTS").query(&mut c).unwrap();
        let redis::Value::Array(ranges) = slots else {
            panic!("{slots:?}")
        };
        assert_eq!(ranges.len(), 1);
        let redis::Value::Array(range) = &ranges[0] else {
            panic!()
        };
        assert_eq!(range[0], redis::Value::Int(0));
        assert_eq!(range[1], redis::Value::Int(16383));
        assert_eq!(range.len(), 5, "range plus three nodes");
        let redis::Value::Array(master) = &range[2] else {
            panic!()
        };
        assert_eq!(
            master[1],
            redis::Value::Int(i64::from(cluster.node(leader).port))
        );

        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c).unwrap();
        assert_eq!(nodes.lines().count(), 3, "{nodes}");
        let master_line = nodes.lines().find(|l| l.contains("master")).unwrap();
        assert!(master_line.starts_with(&cid(leader)), "{nodes}");
        assert!(master_line.ends_with("connected 0-16383"), "{nodes}");
        let me = nodes.lines().find(|l| l.contains("myself")).unwrap();
        assert!(me.starts_with(&cid(n.id)), "{nodes}");

        let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut c).unwrap();
        assert!(info.contains("cluster_state:ok"), "{info}");
        let myid: String = redis::cmd("CLUSTER").arg("MYID").query(&mut c).unwrap();
        assert_eq!(myid, cid(n.id));
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg("foo")
            .query(&mut c)
            .unwrap();
        assert_eq!(slot, 12182);
    }

    // A plain connection to a follower gets MOVED for a write, reads are served.
    let mut fc = cluster.node(follower).conn();
    let err = fc.set::<_, _, ()>("foo", "bar").unwrap_err();
    assert_eq!(err.code(), Some("MOVED"), "{err}");
    assert!(
        err.to_string()
            .contains(&cluster.node(leader).port.to_string()),
        "{err}"
    );

    // The cluster client follows it, and follows the leader across a failover.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = redis::cluster::ClusterClient::builder(vec![cluster.node(follower).url()])
        .connection_timeout(Duration::from_secs(2))
        .response_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut cc = rt.block_on(client.get_async_connection()).unwrap();
    let set = |cc: &mut redis::cluster_async::ClusterConnection, k: String, v: i64| {
        rt.block_on(redis::cmd("SET").arg(k).arg(v).query_async::<()>(cc))
    };
    for i in 0..50 {
        set(&mut cc, format!("k{i}"), i).unwrap();
    }
    cluster.kill(leader);
    let survivor = cluster.nodes.iter().find(|n| n.id != leader).unwrap().id;
    wait_for(Duration::from_secs(15), "a new leader", || {
        let (_, l) = cluster.role_of(survivor)?;
        (l != 0 && l != leader).then_some(())
    });
    // The client's first attempts may hit the dead node; it refreshes its slot map and retries.
    wait_for(
        Duration::from_secs(30),
        "the cluster client to reach the new leader",
        || match set(&mut cc, "after".into(), 1) {
            Ok(()) => Some(()),
            Err(e) => {
                eprintln!("cluster client: {e}");
                None
            }
        },
    );
    for i in 50..100 {
        set(&mut cc, format!("k{i}"), i).unwrap();
    }
    for i in 0..100 {
        let v: i64 = rt
            .block_on(redis::cmd("GET").arg(format!("k{i}")).query_async(&mut cc))
            .unwrap();
        assert_eq!(v, i);
    }
}
