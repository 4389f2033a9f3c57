//! Goal: no acknowledged write is lost while a quorum survives, whatever node is SIGKILLed
//! and whenever.
//! Method: writer threads set unique keys through random nodes and record each write that
//! was acknowledged; meanwhile a seeded schedule SIGKILLs a random node (often the leader)
//! and restarts it from its data dir, several times. At the end every acknowledged key must
//! be on every node. A fourth writer INCRs one counter: no acknowledged increment may be lost
//! and none applied twice (writes are retried across leaders under request ids), so the
//! final value lies between the acknowledged count and that plus the unanswered attempts, and
//! no two acknowledged INCRs returned the same value. A second run does the same with a
//! snapshot every 20 entries and 1 MiB log segments, so the kills land while snapshot files
//! are written and segments roll. Rerun a failure with `SEED=<n>`.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{local_get, wait_for, Cluster};
use rand::{Rng, SeedableRng};
use redis::Commands;

/// A fresh connection to the node on `port`, or `None` (after a short pause) while it is
/// down: the writers try each node in turn, whatever is being killed.
fn connect(port: u16) -> Option<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    match client.get_connection_with_timeout(Duration::from_millis(300)) {
        Ok(c) => {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            Some(c)
        }
        Err(_) => {
            std::thread::sleep(Duration::from_millis(20));
            None
        }
    }
}

#[test]
fn acknowledged_writes_survive_repeated_sigkill() {
    survive_sigkills(&[], 0, 4);
}

#[test]
fn acknowledged_writes_survive_sigkills_during_snapshots_and_segment_rolls() {
    survive_sigkills(
        &["--snapshot-threshold", "20", "--log-segment-mb", "1"],
        2048,
        8,
    );
}

/// Runs the writers against a cluster started with `extra`, values padded to `pad` bytes,
/// through `rounds` kills, and checks what was acknowledged.
fn survive_sigkills(extra: &[&str], pad: usize, rounds: usize) {
    let seed: u64 = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut cluster = Cluster::start(3, extra);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));

    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (acked, stop, ports) = (acked.clone(), stop.clone(), ports.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                // Bounded: at most 20_000 attempts per writer, and the stop flag.
                while !stop.load(Ordering::Relaxed) && i < 20_000 {
                    let port = ports[(i as usize + w) % ports.len()];
                    i += 1;
                    let key = format!("w{w}-{i}");
                    let Some(mut c) = connect(port) else {
                        continue;
                    };
                    let value = format!("{i:0pad$}");
                    if c.set::<_, _, ()>(&key, value).is_ok() {
                        acked.lock().unwrap().push(key);
                    }
                }
            })
        })
        .collect();

    // (acknowledged replies, attempts without an answer)
    let counter = Arc::new(Mutex::new((Vec::<i64>::new(), 0u64)));
    let incrementer = {
        let (counter, stop, ports) = (counter.clone(), stop.clone(), ports.clone());
        std::thread::spawn(move || {
            // Bounded like the writers.
            for i in 0..20_000usize {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Some(mut c) = connect(ports[i % ports.len()]) else {
                    continue;
                };
                match c.incr::<_, _, i64>("counter", 1) {
                    Ok(v) => counter.lock().unwrap().0.push(v),
                    Err(_) => counter.lock().unwrap().1 += 1,
                }
            }
        })
    };

    for round in 0..rounds {
        std::thread::sleep(Duration::from_millis(rng.gen_range(300..900)));
        let victim = if rng.gen_bool(0.6) {
            cluster.leader()
        } else {
            rng.gen_range(1..=3)
        };
        println!("round {round}: SIGKILL node {victim}");
        cluster.kill(victim);
        std::thread::sleep(Duration::from_millis(rng.gen_range(200..1200)));
        cluster.spawn(victim);
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    incrementer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "too few writes went through: {}",
        acked.len()
    );
    cluster.leader();
    let last = acked.last().unwrap().clone();
    for n in &cluster.nodes {
        wait_for(Duration::from_secs(30), "every node to catch up", || {
            local_get(n, &last).map(|_| ())
        });
        let mut c = n.conn();
        let keys: Vec<&String> = acked.iter().collect();
        for chunk in keys.chunks(500) {
            let values: Vec<Option<String>> = c.mget(chunk).unwrap();
            for (k, v) in chunk.iter().zip(values) {
                assert!(
                    v.is_some(),
                    "seed {seed}: node {} lost acknowledged {k}",
                    n.id
                );
            }
        }
    }
    let (mut replies, unanswered) = counter.lock().unwrap().clone();
    let mut c = cluster.node(cluster.leader()).conn();
    let value: i64 = c.get("counter").unwrap();
    let acknowledged = replies.len() as i64;
    assert!(
        value >= acknowledged && value <= acknowledged + unanswered as i64,
        "seed {seed}: counter {value}, {acknowledged} acknowledged INCRs, {unanswered} unanswered"
    );
    replies.sort_unstable();
    let before = replies.len();
    replies.dedup();
    assert_eq!(
        replies.len(),
        before,
        "seed {seed}: two INCRs answered the same value"
    );
    println!(
        "{} acknowledged writes verified on 3 nodes; counter {value} after {acknowledged} acknowledged and {unanswered} unanswered INCRs",
        acked.len()
    );
}
