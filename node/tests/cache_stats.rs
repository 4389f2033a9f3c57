//! Goal: the cache statistics move as Redis's do, and accesses served by a follower reach the
//! leader, which decides evictions.
//! Method: commands through a follower of a real 3-node cluster, then INFO stats / keyspace /
//! memory on that node; CONFIG RESETSTAT; OBJECT FREQ on the leader for a key read only
//! through a follower.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{cmd, info_field, info_num, wait_for, Cluster};
use redis::Commands;

#[test]
fn hits_misses_keyspace_ops_and_resetstat() {
    let cluster = Cluster::start(3, &[]);
    let mut c = cluster.node(cluster.follower()).conn();
    let _: () = c.set("a", "1").unwrap();
    let _: () = c.set_ex("b", "2", 1000).unwrap();
    let _: Option<String> = c.get("a").unwrap();
    let _: Option<String> = c.get("missing").unwrap();
    let _: Vec<Option<String>> = c.mget(&["a", "missing"]).unwrap();
    let _: u64 = c.exists("b").unwrap();
    // OBJECT and TYPE look keys up too (they count), but do not touch them.
    let _: String = cmd("TYPE", &["a"]).query(&mut c).unwrap();
    assert_eq!(info_num(&mut c, "stats", "keyspace_hits"), 4);
    assert_eq!(info_num(&mut c, "stats", "keyspace_misses"), 2);
    assert!(info_num(&mut c, "stats", "total_commands_processed") >= 9);
    // avg_ttl: the one key with a TTL has about 1000 s left.
    let db0 = info_field(&mut c, "keyspace", "db0");
    let (counts, avg) = db0.rsplit_once(",avg_ttl=").unwrap();
    assert_eq!(counts, "keys=2,expires=1");
    let avg: u64 = avg.parse().unwrap();
    assert!((990_000..=1_000_000).contains(&avg), "{db0}");
    // The dataset measure: two keys, each its bytes, its encoded value and the overhead.
    let used = info_num(&mut c, "memory", "used_memory");
    let usage: u64 = cmd("MEMORY", &["USAGE", "a"]).query(&mut c).unwrap();
    let usage_b: u64 = cmd("MEMORY", &["USAGE", "b"]).query(&mut c).unwrap();
    assert_eq!(used, usage + usage_b);
    assert!(info_num(&mut c, "memory", "used_memory_rss") > used);
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory_policy"),
        "noeviction"
    );

    // instantaneous_ops_per_sec follows a burst of commands.
    let mut pipe = redis::pipe();
    for _ in 0..500 {
        pipe.cmd("PING").ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    wait_for(Duration::from_secs(3), "instantaneous_ops_per_sec", || {
        (info_num(&mut c, "stats", "instantaneous_ops_per_sec") > 0).then_some(())
    });

    let _: () = cmd("CONFIG", &["RESETSTAT"]).query(&mut c).unwrap();
    assert_eq!(info_num(&mut c, "stats", "keyspace_hits"), 0);
    assert_eq!(info_num(&mut c, "stats", "keyspace_misses"), 0);
    assert_eq!(info_num(&mut c, "stats", "evicted_keys"), 0);
    // Only the INFO commands since the reset.
    assert!(info_num(&mut c, "stats", "total_commands_processed") <= 4);
    // RESETSTAT does not touch the data.
    assert!(info_field(&mut c, "keyspace", "db0").starts_with("keys=2,expires=1,avg_ttl="));
}

#[test]
fn a_followers_reads_raise_the_leaders_lfu_counter() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut f = cluster.node(follower).conn();
    // An LFU policy without a limit: accesses are tracked, nothing is evicted.
    let _: () = cmd("CONFIG", &["SET", "maxmemory-policy", "allkeys-lfu"])
        .query(&mut f)
        .unwrap();
    let _: () = f.set("x", "1").unwrap();
    let _: () = f.set("y", "1").unwrap();
    // 1,000 reads raise Redis's logarithmic counter by about 9 (lfu-log-factor 10); the
    // increments are random, so the test asks for a margin well below that. Reports are
    // best effort (one that times out is dropped, by design), so a round of reads whose
    // report was lost is followed by another, up to 5.
    let mut l = cluster.node(cluster.leader()).conn();
    let mut raised = false;
    for _round in 0..5 {
        let mut pipe = redis::pipe();
        for _ in 0..1000 {
            pipe.cmd("GET").arg("x").ignore();
        }
        let _: () = pipe.query(&mut f).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !raised && std::time::Instant::now() < deadline {
            let x: u64 = cmd("OBJECT", &["FREQ", "x"]).query(&mut l).unwrap();
            let y: u64 = cmd("OBJECT", &["FREQ", "y"]).query(&mut l).unwrap();
            raised = x > y + 4;
            std::thread::sleep(Duration::from_millis(50));
        }
        if raised {
            break;
        }
    }
    assert!(
        raised,
        "the follower's reads never reached the leader's LFU counter"
    );
    // CLIENT NO-TOUCH: the connection's reads leave the counter alone.
    let _: () = cmd("CLIENT", &["NO-TOUCH", "ON"]).query(&mut l).unwrap();
    let before: u64 = cmd("OBJECT", &["FREQ", "y"]).query(&mut l).unwrap();
    for _ in 0..50 {
        let _: String = l.get("y").unwrap();
    }
    let after: u64 = cmd("OBJECT", &["FREQ", "y"]).query(&mut l).unwrap();
    assert_eq!(before, after);
    // The setting is replicated: every node answers OBJECT FREQ.
    for n in &cluster.nodes {
        let mut c = n.conn();
        let policy: Vec<String> = cmd("CONFIG", &["GET", "maxmemory-policy"])
            .query(&mut c)
            .unwrap();
        assert_eq!(policy, ["maxmemory-policy", "allkeys-lfu"]);
        let _: u64 = cmd("OBJECT", &["FREQ", "x"]).query(&mut c).unwrap();
    }
}

#[test]
fn maxmemory_flags_set_each_nodes_starting_values() {
    let cluster = Cluster::start(
        3,
        &["--maxmemory", "1mb", "--maxmemory-policy", "volatile-ttl"],
    );
    for n in &cluster.nodes {
        let mut c = n.conn();
        assert_eq!(info_num(&mut c, "memory", "maxmemory"), 1 << 20);
        assert_eq!(info_field(&mut c, "memory", "maxmemory_human"), "1.00M");
        assert_eq!(
            info_field(&mut c, "memory", "maxmemory_policy"),
            "volatile-ttl"
        );
    }
}

#[test]
fn invalid_memory_settings_are_refused_and_not_replicated() {
    let cluster = Cluster::start(3, &[]);
    let mut c = cluster.node(cluster.follower()).conn();
    for args in [
        ["maxmemory", "lots"],
        ["maxmemory", "-1"],
        ["maxmemory-policy", "allkeys-mru"],
        ["maxmemory-samples", "five"],
    ] {
        let r: redis::RedisResult<()> = cmd("CONFIG", &["SET", args[0], args[1]]).query(&mut c);
        assert!(r.is_err(), "{args:?} accepted");
    }
    // All or nothing: a valid pair beside an invalid one is not applied either.
    let r: redis::RedisResult<()> = cmd(
        "CONFIG",
        &["SET", "maxmemory", "1mb", "maxmemory-policy", "nonsense"],
    )
    .query(&mut c);
    assert!(r.is_err());
    // A valid change through the log, then every node still shows it and only it.
    let _: () = cmd("CONFIG", &["SET", "maxmemory", "2mb"])
        .query(&mut c)
        .unwrap();
    for n in &cluster.nodes {
        let mut c = n.conn();
        let got: Vec<String> = cmd("CONFIG", &["GET", "maxmemory"]).query(&mut c).unwrap();
        assert_eq!(got, ["maxmemory", "2097152"]);
        let policy: Vec<String> = cmd("CONFIG", &["GET", "maxmemory-policy"])
            .query(&mut c)
            .unwrap();
        assert_eq!(policy, ["maxmemory-policy", "noeviction"]);
    }
}
