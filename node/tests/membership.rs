//! Goal: membership changes while serving: a node started with `--join` is added as a
//! learner, catches up (snapshot and log) and becomes a voter; `CAIRN MEMBER ADD` adds a
//! node started without `--join`; `CAIRN MEMBER REMOVE` removes the leader itself, a new
//! leader takes over and the cluster keeps every write.
//! Method: a 3-node cluster with a small snapshot threshold; writes before each change and a
//! client incrementing a counter through a follower all along (every acknowledged increment
//! must be in the final count); the new nodes' data is read locally (READONLY), so it can
//! only come from replication.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{cmd, local_get, wait_for, Cluster};
use redis::Commands;

fn members(c: &mut redis::Connection) -> String {
    cmd("CAIRN", &["MEMBERS"]).query(c).unwrap()
}

fn is_voter(list: &str, id: u64) -> bool {
    list.lines()
        .any(|l| l.starts_with(&format!("id={id} ")) && l.contains(" voter"))
}

#[test]
fn nodes_join_and_leave_while_the_cluster_serves() {
    let mut cluster = Cluster::start(
        3,
        &["--snapshot-threshold", "200", "--snapshot-logs-keep", "20"],
    );
    let leader = cluster.leader();
    let mut c = cluster.node(leader).conn();
    for i in 0..500 {
        let _: () = c.set(format!("k{i}"), i).unwrap();
    }

    // A client increments a counter through a follower that stays, during every change.
    let stays = (1..=3).find(|id| *id != leader).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let mut w = cluster.node(stays).conn();
        std::thread::spawn(move || {
            let (mut acked, mut tried) = (0i64, 0i64);
            while !stop.load(Ordering::Relaxed) && tried < 100_000 {
                tried += 1;
                match w.incr::<_, _, i64>("counter", 1) {
                    Ok(_) => acked += 1,
                    Err(e) if e.is_io_error() => break,
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            (acked, tried)
        })
    };

    // A node started with --join adds itself through any member.
    let four = cluster.add_node();
    let via = format!("127.0.0.1:{}", cluster.node(1).raft_port);
    cluster.spawn_with(four, &["--join", &via]);
    wait_for(Duration::from_secs(60), "node 4 to become a voter", || {
        is_voter(&members(&mut c), four).then_some(())
    });
    wait_for(Duration::from_secs(30), "node 4 to hold the data", || {
        (local_get(cluster.node(four), "k499").as_deref() == Some("499")).then_some(())
    });
    let list = members(&mut cluster.node(four).conn());
    assert_eq!(list.lines().count(), 4, "{list}");

    // CAIRN MEMBER ADD through a follower, for a node started without --join.
    let five = cluster.add_node();
    cluster.spawn(five);
    // (Node 5 knows no leader yet, so the harness's follower() would wait for it.)
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let addr = format!(
        "127.0.0.1:{}@{}",
        cluster.node(five).port,
        cluster.node(five).raft_port
    );
    let done: String = cmd("CAIRN", &["MEMBER", "ADD", &five.to_string(), &addr])
        .query(&mut cluster.node(follower).conn())
        .unwrap();
    assert!(done.contains("added as a voter"), "{done}");
    let again: String = cmd("CAIRN", &["MEMBER", "ADD", &five.to_string(), &addr])
        .query(&mut c)
        .unwrap();
    assert!(again.contains("already a voter"), "{again}");
    assert!(cmd("CAIRN", &["MEMBER", "ADD", "5", "127.0.0.1:1@2"])
        .query::<String>(&mut c)
        .is_err());

    // Remove the leader itself: another node leads and every write is still there.
    let done: String = cmd("CAIRN", &["MEMBER", "REMOVE", &leader.to_string()])
        .query(&mut cluster.node(four).conn())
        .unwrap();
    assert!(done.contains("removed"), "{done}");
    // It handed leadership over before it was removed (no lease and election to wait out).
    let said = cluster.node(leader).log_text();
    assert!(said.contains("leadership transfer: done"), "{said}");
    let new_leader = wait_for(Duration::from_secs(20), "a new leader", || {
        let l = cluster
            .nodes
            .iter()
            .filter(|n| n.id != leader)
            .find_map(|n| cluster.role_of(n.id).map(|(_, l)| l))?;
        (l != leader && l != 0).then_some(l)
    });
    let mut c = cluster.node(new_leader).conn();
    let list = members(&mut c);
    assert!(!list.contains(&format!("id={leader} ")), "{list}");
    assert_eq!(list.lines().count(), 4, "{list}");
    let _: () = c.set("after", "removal").unwrap();
    for id in [four, five] {
        let v: String = cluster.node(id).conn().get("after").unwrap();
        assert_eq!(v, "removal");
        let v: i64 = cluster.node(id).conn().get("k123").unwrap();
        assert_eq!(v, 123);
    }
    // Every acknowledged increment survived the changes; none was applied twice.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (acked, tried) = writer.join().unwrap();
    let counter: i64 = c.get("counter").unwrap();
    assert!(acked > 0, "the writer made progress");
    assert!(
        acked <= counter && counter <= tried,
        "acked {acked}, counted {counter}, tried {tried}"
    );

    let err = cmd("CAIRN", &["MEMBER", "REMOVE", "99"]).query::<String>(&mut c);
    assert!(err.unwrap_err().to_string().contains("not a member"));

    // The same through the CLI.
    let out = std::process::Command::new(common::BIN)
        .args([
            "members",
            "list",
            "--port",
            &cluster.node(five).port.to_string(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().filter(|l| l.contains(" voter")).count(),
        4,
        "{text}"
    );
}
