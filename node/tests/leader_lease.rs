//! Goal: the leader serves linearizable reads under its lease with no quorum round, and a
//! leader that was paused past its lease (SIGSTOP), deposed meanwhile, never answers a read
//! from what it held, even a read that was already waiting in its socket when it resumed.
//! With `--read-policy read-index`, every read takes a round.
//! Method: real 3-node clusters; raw sockets for the read sent to a stopped leader; INFO's
//! `cairn_lease_reads` and `cairn_read_index_rounds` counters; every wait is bounded.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{info_field, info_num, wait_for, Cluster};
use redis::Commands;

/// Reads one RESP reply line (and a bulk body) from `s`, bounded by its read timeout.
fn read_reply(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    let deadline = Instant::now() + Duration::from_secs(15);
    // A bulk reply is two lines; anything else is one.
    let mut lines = 0;
    while Instant::now() < deadline {
        match s.read(&mut byte) {
            Ok(1) => {
                out.push(byte[0]);
                if out.ends_with(b"\r\n") {
                    lines += 1;
                    let bulk = out.first() == Some(&b'$') && !out.starts_with(b"$-1");
                    if lines == 2 || !bulk {
                        break;
                    }
                }
            }
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

/// The node other than `except` that all of `others` name as leader, once they agree.
fn new_leader(cluster: &Cluster, others: &[u64], except: u64) -> u64 {
    wait_for(Duration::from_secs(20), "a new leader", || {
        let mut seen = None;
        for &id in others {
            let (_, l) = cluster.role_of(id)?;
            if l == 0 || l == except || seen.is_some_and(|s| s != l) {
                return None;
            }
            seen = Some(l);
        }
        seen
    })
}

#[test]
fn a_paused_deposed_leader_never_answers_from_its_lease() {
    let cluster = Cluster::start(3, &[]);
    let mut leader = cluster.leader();
    // Three rounds: each pauses the current leader, so each deposes a different one.
    for round in 0..3 {
        let key = format!("lease:{round}");
        let port = cluster.node(leader).port;
        let mut c = cluster.node(leader).conn();
        let _: () = c.set(&key, "old").unwrap();
        let before = info_num(&mut c, "stats", "cairn_lease_reads");
        for _ in 0..20 {
            let v: String = c.get(&key).unwrap();
            assert_eq!(v, "old");
        }
        let after = info_num(&mut c, "stats", "cairn_lease_reads");
        let rounds = info_num(&mut c, "stats", "cairn_read_index_rounds");
        let role = info_field(&mut c, "replication", "role");
        assert!(
            after > before,
            "round {round}: the leader {leader} ({role}) reads under its lease ({rounds} rounds)"
        );

        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        s.write_all(format!("GET {key}\r\n").as_bytes()).unwrap();
        assert_eq!(read_reply(&mut s), "$3\r\nold\r\n");

        // Paused just after a read renewed its lease; the others elect and write.
        cluster.signal(leader, "STOP");
        let others: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
        let next = new_leader(&cluster, &others, leader);
        let mut w = cluster.node(next).conn();
        let _: () = w.set(&key, "new").unwrap();

        // A read waits in the paused leader's socket; it resumes with a stale state.
        s.write_all(format!("GET {key}\r\n").as_bytes()).unwrap();
        cluster.signal(leader, "CONT");
        let reply = read_reply(&mut s);
        assert!(
            reply != "$3\r\nold\r\n",
            "round {round}: the resumed, deposed leader {leader} answered from its lease"
        );
        assert!(
            reply == "$3\r\nnew\r\n" || reply.starts_with('-'),
            "round {round}: {reply:?}"
        );
        leader = next;
    }
}

#[test]
fn leader_reads_take_no_round_while_the_lease_holds() {
    let cluster = Cluster::start(3, &[]);
    let mut c = cluster.node(cluster.leader()).conn();
    let _: () = c.set("k", "v").unwrap();
    let rounds = info_num(&mut c, "stats", "cairn_read_index_rounds");
    let leased = info_num(&mut c, "stats", "cairn_lease_reads");
    for _ in 0..300 {
        let v: String = c.get("k").unwrap();
        assert_eq!(v, "v");
    }
    let rounds = info_num(&mut c, "stats", "cairn_read_index_rounds") - rounds;
    let leased = info_num(&mut c, "stats", "cairn_lease_reads") - leased;
    // A round starts the lease and renewals run beside the reads; nearly all are leased.
    assert!(
        leased >= 290,
        "{leased} leased reads of 300 ({rounds} rounds)"
    );
    assert!(rounds <= 10, "{rounds} rounds for 300 reads");
}

#[test]
fn the_read_index_policy_takes_a_round_for_every_read() {
    let cluster = Cluster::start(3, &["--read-policy", "read-index"]);
    let mut c = cluster.node(cluster.leader()).conn();
    let _: () = c.set("k", "v").unwrap();
    let rounds = info_num(&mut c, "stats", "cairn_read_index_rounds");
    for _ in 0..50 {
        let v: String = c.get("k").unwrap();
        assert_eq!(v, "v");
    }
    let rounds = info_num(&mut c, "stats", "cairn_read_index_rounds") - rounds;
    assert_eq!(rounds, 50);
    assert_eq!(info_num(&mut c, "stats", "cairn_lease_reads"), 0);
}
