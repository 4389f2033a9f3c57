//! Goal: large and heavily pipelined writes replicate without stalling the cluster, and a
//! write too large to replicate within a heartbeat is refused up front with a clear error.
//! Method: a follower takes pipelined batches of 4 KiB values (log entries far larger than
//! one AppendEntries call may carry, so replication ships them in parts); every node must
//! hold every value and the leader must not change. Likewise for a stream of single commands
//! of a megabyte each (20,000-member ZADDs, which also were quadratic to apply). Then a node
//! with a small
//! `--max-write-bytes` refuses one oversized SET inside a pipeline and serves the rest.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{local_get, raw, wait_for, Cluster};
use redis::Commands;

#[test]
fn pipelined_large_batches_replicate_in_parts() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let follower = cluster.follower();
    let mut c = cluster.node(follower).conn();
    let value = "v".repeat(4096);
    for batch in 0..40 {
        let mut pipe = redis::pipe();
        for i in 0..64 {
            pipe.set(format!("k{batch}-{i}"), &value).ignore();
        }
        let () = pipe.query(&mut c).unwrap();
    }
    let () = redis::cmd("FLUSHDB").query(&mut c).unwrap();
    let _: () = c.set("last", "written").unwrap();
    for n in &cluster.nodes {
        wait_for(
            Duration::from_secs(20),
            "every node to apply the last write",
            || (local_get(n, "last").as_deref() == Some("written")).then_some(()),
        );
    }
    assert_eq!(
        cluster.leader(),
        leader,
        "the load must not cost an election"
    );
}

#[test]
fn megabyte_commands_do_not_cost_an_election() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let mut c = cluster.node(cluster.follower()).conn();
    for round in 0..12 {
        let _: () = c.del("big").unwrap();
        let mut zadd = redis::cmd("ZADD");
        zadd.arg("big");
        for i in 0..20_000u32 {
            // Distinct scores and members of about 50 bytes in all per pair.
            zadd.arg(f64::from(i) * 1.000_001 + f64::from(round))
                .arg(format!("member-{round}-{i:08}-padding-padding"));
        }
        let added: u64 = zadd.query(&mut c).unwrap();
        assert_eq!(added, 20_000);
    }
    let card: u64 = c.zcard("big").unwrap();
    assert_eq!(card, 20_000);
    assert_eq!(
        cluster.leader(),
        leader,
        "megabyte writes must not cost an election"
    );
}

#[test]
fn a_write_over_max_write_bytes_is_refused_and_the_rest_goes_on() {
    let cluster = Cluster::start(3, &["--max-write-bytes", "2000"]);
    let port = cluster.node(cluster.follower()).port;
    let big = "x".repeat(3000);
    let request = format!(
        "SET small ok\r\n*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$3000\r\n{big}\r\nGET small\r\nEXISTS big\r\n"
    );
    let out = raw(port, request.as_bytes());
    let lines: Vec<&str> = out.split("\r\n").collect();
    assert_eq!(lines[0], "+OK", "{out}");
    assert!(
        lines[1].starts_with("-ERR write of ")
            && lines[1].ends_with(
                "bytes is over max-write-bytes (2000): it could not be replicated in time"
            ),
        "{out}"
    );
    assert_eq!(&lines[2..6], ["$2", "ok", ":0", ""], "{out}");
}
