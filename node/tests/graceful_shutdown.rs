//! Goal: SIGTERM stops a node cleanly: it exits 0 within a Kubernetes-sized grace period,
//! a stopping leader hands off to a successor that stands for election, a leader's stop is ridden out by clients writing through a follower (the write waits for
//! the next leader instead of failing), nothing acknowledged is lost, and the node rejoins
//! from its data dir.
//! Method: a writer increments a counter through a follower while the leader gets SIGTERM;
//! every acknowledged INCR must be in the final value.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{local_get, wait_for, Cluster};

#[test]
fn sigterm_on_the_leader_exits_zero_and_loses_nothing() {
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let follower = cluster.follower();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let node_url = cluster.node(follower).url();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let client = redis::Client::open(node_url).unwrap();
            let mut c = client.get_connection().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let (mut acked, mut failed) = (0u64, 0u64);
            let mut longest = Duration::ZERO;
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let sent = Instant::now();
                match redis::cmd("INCR").arg("counter").query::<i64>(&mut c) {
                    Ok(_) => acked += 1,
                    Err(_) => failed += 1,
                }
                longest = longest.max(sent.elapsed());
            }
            (acked, failed, longest)
        })
    };
    wait_for(Duration::from_secs(10), "some writes", || {
        (local_get(cluster.node(leader), "counter")?
            .parse::<u64>()
            .ok()?
            >= 50)
            .then_some(())
    });

    let stopped_at = Instant::now();
    cluster.signal(leader, "TERM");
    let status = cluster.wait_exit(leader, Duration::from_secs(25));
    assert!(status.success(), "SIGTERM exit status: {status}");
    assert!(stopped_at.elapsed() < Duration::from_secs(25));

    // Writes continue under the next leader.
    wait_for(Duration::from_secs(20), "a new leader", || {
        let (_, l) = cluster.role_of(follower)?;
        (l != 0 && l != leader).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let (acked, failed, longest) = writer.join().unwrap();
    // The pause clients see; a figure to read, not a timing assertion.
    eprintln!("longest INCR across the leader's stop: {longest:?}");
    // The stopping leader handed off: it named a successor, which stood for election.
    let said = cluster.node(leader).log_text();
    let successor: u64 = said
        .lines()
        .find(|l| l.contains("leadership transfer: starting"))
        .and_then(|l| l.split("successor=").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no hand-off in the leader's log:\n{said}"));
    assert!(cluster
        .node(successor)
        .log_text()
        .contains("leadership hand-off: standing for election"));
    assert_eq!(
        failed, 0,
        "a write through the follower failed instead of waiting"
    );

    // Nothing acknowledged is lost, on any node, once the stopped node is back.
    cluster.spawn(leader);
    let new_leader = cluster.wait_leader(Duration::from_secs(20));
    let mut c = cluster.node(new_leader).conn();
    let total: u64 = redis::cmd("GET").arg("counter").query(&mut c).unwrap();
    assert_eq!(total, acked, "every acknowledged INCR, exactly once");
    for n in 1..=3 {
        wait_for(
            Duration::from_secs(20),
            "every replica to hold the count",
            || (local_get(cluster.node(n), "counter")?.parse::<u64>().ok()? == total).then_some(()),
        );
    }
}

/// SHUTDOWN stops a node as SIGTERM does: no reply, the connection closes, the process
/// exits 0, and the cluster goes on. Inside MULTI it is refused and aborts the EXEC.
#[test]
fn shutdown_command_stops_the_node_and_is_refused_in_multi() {
    let mut cluster = Cluster::start(3, &[]);
    let victim = cluster.follower();
    let mut c = cluster.node(victim).conn();
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let refused = redis::cmd("SHUTDOWN").query::<()>(&mut c);
    assert_eq!(
        common::err_text(refused),
        "ERR Command not allowed inside a transaction"
    );
    let aborted = redis::cmd("EXEC").query::<()>(&mut c);
    assert!(common::err_text(aborted).starts_with("EXECABORT"));
    assert_eq!(
        common::err_text(redis::cmd("SHUTDOWN").arg("ABORT").query::<()>(&mut c)),
        "ERR No shutdown in progress."
    );
    assert_eq!(
        common::err_text(
            redis::cmd("SHUTDOWN")
                .arg("SAVE")
                .arg("NOSAVE")
                .query::<()>(&mut c)
        ),
        "ERR syntax error"
    );

    // No reply: the connection closes under the client.
    assert!(redis::cmd("SHUTDOWN").query::<()>(&mut c).is_err());
    let status = cluster.wait_exit(victim, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0));

    let leader = cluster.leader();
    let mut l = cluster.node(leader).conn();
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query(&mut l)
        .unwrap();
    cluster.spawn(victim);
    wait_for(Duration::from_secs(30), "the node to come back", || {
        (local_get(cluster.node(victim), "after").as_deref() == Some("1")).then_some(())
    });
}
