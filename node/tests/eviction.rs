//! Goal: over maxmemory cairn behaves as Redis does under each policy, and the replicas never
//! diverge: evictions are the leader's decisions, replicated as deletes.
//! Method: a real 3-node cluster per policy; maxmemory and the policy are set with CONFIG
//! SET through a follower (they are replicated), keys are written past the limit through a
//! real client, and then the test asserts which keys survived, that the dataset is back under
//! the limit, that evicted_keys moved, and that all three replicas hold exactly the same keys
//! (KEYS on each with READONLY, and `CAIRN CHECK`).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{cmd, err_text, info_field, info_num, wait_for, Cluster};
use redis::Commands;

/// Room for about 115 of the test's keys (a 100-byte value, a short key, 48 bytes overhead).
const MAXMEMORY: u64 = 20_000;
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn value() -> String {
    "v".repeat(100)
}

/// Sets maxmemory and the policy through a follower, and waits until every node sees them.
fn limit(cluster: &Cluster, policy: &str, maxmemory: u64) {
    let mut c = cluster.node(cluster.follower()).conn();
    let _: () = cmd(
        "CONFIG",
        &[
            "SET",
            "maxmemory",
            &maxmemory.to_string(),
            "maxmemory-policy",
            policy,
            "maxmemory-samples",
            "10",
        ],
    )
    .query(&mut c)
    .unwrap();
    for n in &cluster.nodes {
        wait_for(Duration::from_secs(5), "the settings on every node", || {
            let mut c = n.try_conn()?;
            let got: Vec<String> = cmd("CONFIG", &["GET", "maxmemory*"]).query(&mut c).ok()?;
            (got.contains(&maxmemory.to_string()) && got.contains(&policy.to_string()))
                .then_some(())
        });
    }
}

/// Waits until the leader has evicted down to maxmemory and every replica has applied the
/// same log; returns the keys of db 0, the same on every node.
fn settled_keys(cluster: &Cluster) -> BTreeSet<String> {
    let leader = cluster.leader();
    let mut c = cluster.node(leader).conn();
    wait_for(Duration::from_secs(10), "eviction under maxmemory", || {
        (info_num(&mut c, "memory", "used_memory") <= MAXMEMORY).then_some(())
    });
    let keys = wait_for(Duration::from_secs(10), "identical replicas", || {
        let mut seen = Vec::new();
        for n in &cluster.nodes {
            let mut rc = n.try_conn()?;
            redis::cmd("READONLY").query::<()>(&mut rc).ok()?;
            let keys: Vec<String> = rc.keys("*").ok()?;
            let used: u64 = info_field(&mut rc, "memory", "used_memory").parse().ok()?;
            seen.push((keys.into_iter().collect::<BTreeSet<_>>(), used));
        }
        seen.windows(2)
            .all(|w| w[0] == w[1])
            .then(|| seen.remove(0))
    });
    let report: String = cmd("CAIRN", &["CHECK"]).query(&mut c).unwrap();
    assert!(report.contains("result: consistent"), "{report}");
    keys.0
}

fn fill(c: &mut redis::Connection, prefix: &str, n: usize, ttl_secs: impl Fn(usize) -> u64) {
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("SET")
            .arg(format!("{prefix}{i}"))
            .arg(value())
            .arg("EX")
            .arg(ttl_secs(i))
            .ignore();
    }
    let _: () = pipe.query(c).unwrap();
}

#[test]
fn noeviction_refuses_writes_that_grow_but_serves_reads_and_deletes() {
    let cluster = Cluster::start(3, &[]);
    limit(&cluster, "noeviction", MAXMEMORY);
    let mut c = cluster.node(cluster.follower()).conn();
    let mut written = 0;
    let refused = loop {
        assert!(written < 1000, "never refused");
        match c.set::<_, _, ()>(format!("k{written}"), value()) {
            Ok(()) => written += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err_text::<()>(Err(refused)), OOM);
    assert!(written > 50, "refused after {written} keys");
    // Every node refuses, the leader too: the measure and the settings are replicated.
    let mut l = cluster.node(cluster.leader()).conn();
    assert_eq!(err_text(l.set::<_, _, ()>("more", "x")), OOM);
    assert_eq!(err_text(l.lpush::<_, _, ()>("list", "x")), OOM);
    // Inside MULTI the refused command aborts the EXEC, as Redis does.
    let _: () = redis::cmd("MULTI").query(&mut l).unwrap();
    assert_eq!(err_text(l.set::<_, _, ()>("more", "x")), OOM);
    assert!(err_text(redis::cmd("EXEC").query::<()>(&mut l)).starts_with("EXECABORT"));
    // Reads and deletes still work, and a delete makes room.
    let v: String = c.get("k0").unwrap();
    assert_eq!(v, value());
    let deleted: u64 = c.del(&["k0", "k1", "k2", "k3"]).unwrap();
    assert_eq!(deleted, 4);
    let _: () = c.set("k0", value()).unwrap();
    let keys = settled_keys(&cluster);
    assert_eq!(keys.len(), written - 3);
    assert_eq!(info_num(&mut l, "stats", "evicted_keys"), 0);
}

#[test]
fn allkeys_lru_keeps_a_key_read_constantly() {
    let cluster = Cluster::start(3, &[]);
    limit(&cluster, "allkeys-lru", MAXMEMORY);
    // Reads through a follower: its accesses reach the leader in its periodic reports.
    let mut c = cluster.node(cluster.follower()).conn();
    let _: () = c.set("hot", value()).unwrap();
    for i in 0..300 {
        let _: () = c.set(format!("k{i}"), value()).unwrap();
        let _: String = c.get("hot").unwrap();
    }
    let keys = settled_keys(&cluster);
    assert!(keys.contains("hot"), "the key read constantly was evicted");
    assert!(keys.len() > 50 && keys.len() < 150, "{} keys", keys.len());
    // The survivors are the recently written keys, as LRU with sampling approximates.
    let recent = keys
        .iter()
        .filter_map(|k| k.strip_prefix('k')?.parse::<usize>().ok())
        .filter(|i| *i >= 150)
        .count();
    assert!(recent * 10 >= (keys.len() - 1) * 9, "{keys:?}");
    let mut l = cluster.node(cluster.leader()).conn();
    let evicted = info_num(&mut l, "stats", "evicted_keys");
    assert_eq!(evicted as usize, 301 - keys.len());
    // OBJECT IDLETIME answers from the accesses; FREQ needs an LFU policy, as in Redis.
    let idle: u64 = cmd("OBJECT", &["IDLETIME", "hot"]).query(&mut c).unwrap();
    assert!(idle <= 2, "{idle}");
    assert!(
        err_text(cmd("OBJECT", &["FREQ", "hot"]).query::<u64>(&mut c))
            .contains("An LFU maxmemory policy is not selected")
    );
}

#[test]
fn allkeys_lfu_keeps_a_frequently_read_key() {
    let cluster = Cluster::start(3, &[]);
    limit(&cluster, "allkeys-lfu", MAXMEMORY);
    let mut c = cluster.node(cluster.leader()).conn();
    let _: () = c.set("hot", value()).unwrap();
    for _ in 0..200 {
        let _: String = c.get("hot").unwrap();
    }
    let hot_freq: u64 = cmd("OBJECT", &["FREQ", "hot"]).query(&mut c).unwrap();
    fill(&mut c, "k", 300, |_| 100_000);
    let keys = settled_keys(&cluster);
    assert!(keys.contains("hot"), "the frequently read key was evicted");
    assert!(keys.len() < 150, "{} keys", keys.len());
    let cold = keys.iter().find(|k| *k != "hot").unwrap();
    let cold_freq: u64 = cmd("OBJECT", &["FREQ", cold]).query(&mut c).unwrap();
    assert!(hot_freq > cold_freq, "hot {hot_freq}, cold {cold_freq}");
    assert!(
        err_text(cmd("OBJECT", &["IDLETIME", "hot"]).query::<u64>(&mut c))
            .contains("An LFU maxmemory policy is selected")
    );
}

#[test]
fn allkeys_random_evicts_down_to_the_limit() {
    let cluster = Cluster::start(3, &[]);
    limit(&cluster, "allkeys-random", MAXMEMORY);
    let mut c = cluster.node(cluster.follower()).conn();
    fill(&mut c, "k", 300, |_| 100_000);
    let keys = settled_keys(&cluster);
    assert!(keys.len() > 50 && keys.len() < 150, "{} keys", keys.len());
    let mut l = cluster.node(cluster.leader()).conn();
    assert_eq!(
        info_num(&mut l, "stats", "evicted_keys") as usize,
        300 - keys.len()
    );
}

#[test]
fn volatile_ttl_removes_the_soonest_expiring_first() {
    let cluster = Cluster::start(3, &[]);
    let mut c = cluster.node(cluster.follower()).conn();
    for i in 0..30 {
        let _: () = c.set(format!("p{i}"), value()).unwrap();
    }
    limit(&cluster, "volatile-ttl", MAXMEMORY);
    // Later keys expire sooner, so the soonest-expiring are the newest: the opposite of LRU.
    fill(&mut c, "t", 200, |i| 100_000 - 100 * i as u64);
    let keys = settled_keys(&cluster);
    assert!((0..30).all(|i| keys.contains(&format!("p{i}"))), "{keys:?}");
    let kept: Vec<usize> = keys
        .iter()
        .filter_map(|k| k.strip_prefix('t')?.parse().ok())
        .collect();
    assert!(!kept.is_empty() && kept.len() < 200);
    // The longest-lived keys remain: a prefix of the writes (a round evicts only until the
    // dataset is under the limit, so it never makes room for a later key), but for a key or
    // two when the pipeline was applied in batches more than 100 ms apart: each key's TTL
    // counts from when it is applied, so such a gap reorders neighbouring deadlines.
    let longest = kept.len() + 2;
    assert!(kept.iter().all(|i| *i < longest), "{kept:?}");
    assert!((0..10).all(|i| kept.contains(&i)), "{kept:?}");
}

#[test]
fn volatile_policies_never_remove_keys_without_ttl() {
    let cluster = Cluster::start(3, &[]);
    let mut c = cluster.node(cluster.follower()).conn();
    for policy in ["volatile-lru", "volatile-lfu", "volatile-random"] {
        limit(&cluster, policy, 0);
        let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
        for i in 0..60 {
            let _: () = c.set(format!("p{i}"), value()).unwrap();
        }
        limit(&cluster, policy, MAXMEMORY);
        fill(&mut c, "t", 200, |_| 100_000);
        let keys = settled_keys(&cluster);
        assert!(
            (0..60).all(|i| keys.contains(&format!("p{i}"))),
            "{policy}: {keys:?}"
        );
        assert!(keys.len() < 150, "{policy}: {} keys", keys.len());
        // With only keys without a TTL left over the limit, nothing can be evicted: OOM.
        let used = info_num(&mut c, "memory", "used_memory");
        let _: () = cmd("DEL", &["t0"]).query(&mut c).unwrap();
        limit(&cluster, policy, used / 4);
        wait_for(Duration::from_secs(10), "every TTL key evicted", || {
            let mut l = cluster.node(cluster.leader()).conn();
            let info: String = redis::cmd("INFO").arg("keyspace").query(&mut l).ok()?;
            info.contains("db0:keys=60,expires=0").then_some(())
        });
        assert_eq!(err_text(c.set::<_, _, ()>("more", "x")), OOM, "{policy}");
    }
}
