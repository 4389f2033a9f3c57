//! Goal: cluster-mode clients work end to end against a 3-node cluster, as users run them:
//! redis-py's `RedisCluster` (replica reads on and off), the `redis` crate's cluster client
//! and `redis-cli -c`, with and without `--redirect`, through a leader kill, with no
//! acknowledged write lost.
//! Method: each client runs a scenario of strings, hashes, pipelines and multi-key commands on
//! one slot; the leader is SIGKILLed halfway while the client keeps going; at the end every
//! acknowledged value is read back (by the client, then by the test on a plain connection).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{python_client, wait_for, Cluster};

/// Rounds of the scenario each client runs; the leader dies after half of them.
const ROUNDS: usize = 40;

/// A call retried until it succeeds, for at most a minute: a leader kill makes a few fail.
fn retry<T>(what: &str, mut f: impl FnMut() -> redis::RedisResult<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline => {
                eprintln!("retry {what}: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("{what}: still failing after 60 s: {e}"),
        }
    }
}

/// Every key the scenario acknowledged, read on a fresh plain connection to the new leader.
fn assert_all_there(cluster: &Cluster, expect: &BTreeMap<String, String>) {
    let mut c = cluster.node(cluster.leader()).conn();
    for (k, v) in expect {
        let got: Option<String> = redis::cmd("GET").arg(k).query(&mut c).unwrap();
        assert_eq!(got.as_deref(), Some(v.as_str()), "key {k}");
    }
}

/// Runs the redis-py scenario (tests/clients/redis_py_cluster.py) seeded with node `seed`,
/// killing the leader when it says HALF.
fn redis_py_scenario(extra: &[&str], replica_reads: bool) {
    let mut cluster = Cluster::start(3, extra);
    let leader = cluster.leader();
    let seed = cluster.follower();
    let args = [
        cluster.node(seed).port.to_string(),
        (if replica_reads { "1" } else { "0" }).to_string(),
        ROUNDS.to_string(),
    ];
    let (status, lines) = python_client(
        "redis_py_cluster.py",
        &args,
        Duration::from_secs(240),
        |line| {
            if line == "HALF" {
                cluster.kill(leader);
            }
        },
    );
    assert!(
        status.success(),
        "redis-py scenario failed ({status}); it printed {lines:?}"
    );
    assert!(lines.iter().any(|l| l == "HALF"), "{lines:?}");
    let done = lines.iter().find_map(|l| l.strip_prefix("DONE ")).unwrap();
    assert_eq!(done.parse::<usize>().unwrap(), ROUNDS * 10);
    assert!(!cluster.node(leader).is_running());
    let mut expect = BTreeMap::new();
    for r in 0..ROUNDS {
        expect.insert(format!("py:s:{r}"), format!("v{r}"));
        for j in 0..5 {
            expect.insert(format!("py:p:{r}:{j}"), j.to_string());
        }
        expect.insert(format!("{{py:tag:{r}}}a"), "1".into());
    }
    assert_all_there(&cluster, &expect);
}

#[test]
fn redis_py_cluster_with_replica_reads_through_a_leader_kill() {
    redis_py_scenario(&[], true);
}

#[test]
fn redis_py_cluster_with_redirects_through_a_leader_kill() {
    redis_py_scenario(&["--redirect"], false);
}

#[test]
fn redis_crate_cluster_client_with_replica_reads_through_a_leader_kill() {
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let seed = cluster.follower();
    // The async client: on a refused connection it refreshes its slot map (the sync one in
    // redis 0.27 only reconnects to the same, dead, address until MOVED tells it otherwise).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = redis::cluster::ClusterClient::builder(vec![cluster.node(seed).url()])
        .read_from_replicas()
        .connection_timeout(Duration::from_secs(2))
        .response_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut c = rt.block_on(client.get_async_connection()).unwrap();
    let mut pc = c.clone();
    let mut q = |what: &str, cmd: &redis::Cmd| -> redis::Value {
        retry(what, || rt.block_on(cmd.query_async(&mut c)))
    };
    let mut expect = BTreeMap::new();
    for r in 0..ROUNDS {
        if r == ROUNDS / 2 {
            cluster.kill(leader);
        }
        let key = format!("rs:s:{r}");
        q("SET", redis::cmd("SET").arg(&key).arg(r));
        expect.insert(key.clone(), r.to_string());
        // Replica reads may trail the write they follow by a moment.
        let want = redis::Value::BulkString(r.to_string().into_bytes());
        wait_for(Duration::from_secs(10), "GET from a replica", || {
            (q("GET", redis::cmd("GET").arg(&key)) == want).then_some(())
        });

        let h = format!("rs:h:{r}");
        q(
            "HSET",
            redis::cmd("HSET").arg(&h).arg(&["a", "1", "b", "2"]),
        );
        wait_for(Duration::from_secs(10), "HGET", || {
            let v = q("HMGET", redis::cmd("HMGET").arg(&h).arg(&["a", "b"]));
            let want = ["1", "2"].map(|s| redis::Value::BulkString(s.into()));
            (v == redis::Value::Array(want.to_vec())).then_some(())
        });

        // The async cluster client sends a pipeline to one node: its keys share a slot.
        let mut p = redis::pipe();
        for j in 0..5 {
            p.cmd("SET").arg(format!("{{rs:p:{r}}}{j}")).arg(j).ignore();
            expect.insert(format!("{{rs:p:{r}}}{j}"), j.to_string());
        }
        retry("pipeline", || rt.block_on(p.query_async::<()>(&mut pc)));

        let tag = format!("{{rs:tag:{r}}}");
        let (a, b) = (format!("{tag}a"), format!("{tag}b"));
        q("MSET", redis::cmd("MSET").arg(&a).arg("x").arg(&b).arg("y"));
        expect.insert(a.clone(), "x".into());
        expect.insert(b.clone(), "y".into());
        wait_for(Duration::from_secs(10), "MGET", || {
            let v = q("MGET", redis::cmd("MGET").arg(&a).arg(&b));
            let want = ["x", "y"].map(|s| redis::Value::BulkString(s.into()));
            (v == redis::Value::Array(want.to_vec())).then_some(())
        });
    }
    assert!(!cluster.node(leader).is_running());
    assert_all_there(&cluster, &expect);
}

/// `redis-cli -c -p PORT ARGS...`: its output (raw, as redis-cli prints to a pipe), or None when redis-cli is not installed
/// outside CI (scripts/test.sh installs redis-tools).
fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    match Command::new("redis-cli")
        .args(["-c", "-p", &port.to_string()])
        .args(args)
        .output()
    {
        Ok(o) => Some(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-cli is missing in CI: {e}"
            );
            eprintln!("skipped: no redis-cli: {e}");
            None
        }
    }
}

#[test]
fn redis_cli_cluster_mode_follows_moved_through_a_leader_kill() {
    let mut cluster = Cluster::start(3, &["--redirect"]);
    let leader = cluster.leader();
    let follower = cluster.follower();
    let port = cluster.node(follower).port;
    let Some(out) = redis_cli(port, &["SET", "cli:a", "1"]) else {
        return;
    };
    // redis-cli -c follows the MOVED a follower answers to the leader and says so.
    assert_eq!(out, "OK");
    assert_eq!(redis_cli(port, &["HSET", "cli:h", "f", "v"]).unwrap(), "1");
    assert_eq!(
        redis_cli(port, &["MSET", "{cli}x", "1", "{cli}y", "2"]).unwrap(),
        "OK"
    );
    assert_eq!(
        redis_cli(port, &["MGET", "{cli}x", "{cli}y"]).unwrap(),
        "1\n2"
    );
    assert_eq!(redis_cli(port, &["HGET", "cli:h", "f"]).unwrap(), "v");

    cluster.kill(leader);
    let survivor = cluster
        .nodes
        .iter()
        .find(|n| n.id != leader)
        .map(|n| n.port)
        .unwrap();
    wait_for(
        Duration::from_secs(20),
        "redis-cli -c to write after the kill",
        || (redis_cli(survivor, &["SET", "cli:b", "2"]).unwrap() == "OK").then_some(()),
    );
    for (k, v) in [("cli:a", "1"), ("cli:b", "2"), ("{cli}y", "2")] {
        assert_eq!(redis_cli(survivor, &["GET", k]).unwrap(), v, "{k}");
    }
}
