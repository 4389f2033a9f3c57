//! Goal: Lua scripts (EVAL, EVALSHA, SCRIPT) work through any node of a 3-node cluster, as
//! client libraries use them (the `redis` crate's `Script`, redis-py's `Lock` and
//! `register_script`), and a script's writes come out the same on every replica.
//! Method: scripts sent to a follower; each node's state read locally afterwards; redis-py's
//! lock scenario run against a follower while the leader is SIGKILLed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{err_text, local_get, python_client, wait_for, Cluster};

#[test]
fn scripts_through_a_follower_write_the_same_on_every_replica() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut c = cluster.node(follower).conn();

    let reply: Vec<redis::Value> = redis::cmd("EVAL")
        .arg(
            "redis.call('set', KEYS[1], ARGV[1]) \
             redis.call('set', KEYS[2], tostring(math.random())) \
             return {redis.call('incr', 'n'), redis.call('get', KEYS[1])}",
        )
        .arg(2)
        .arg("greeting")
        .arg("rnd")
        .arg("hello")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        reply,
        vec![
            redis::Value::Int(1),
            redis::Value::BulkString(b"hello".to_vec())
        ]
    );
    // math.random drew the same number on every replica.
    let leader_value: String = redis::cmd("GET")
        .arg("rnd")
        .query(&mut cluster.node(cluster.leader()).conn())
        .unwrap();
    for id in 1..=3 {
        wait_for(Duration::from_secs(10), "the script applied", || {
            (local_get(cluster.node(id), "rnd").as_deref() == Some(leader_value.as_str()))
                .then_some(())
        });
        assert_eq!(
            local_get(cluster.node(id), "greeting").as_deref(),
            Some("hello")
        );
    }

    // The redis crate's Script: EVALSHA, SCRIPT LOAD on NOSCRIPT, EVALSHA again.
    let script = redis::Script::new("return redis.call('incrby', KEYS[1], ARGV[1])");
    let n: i64 = script.key("n").arg(5).invoke(&mut c).unwrap();
    assert_eq!(n, 6);

    // The cache is replicated: loaded through one node, run through another.
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("return ARGV[1] .. '!'")
        .query(&mut c)
        .unwrap();
    let mut other = cluster.node(cluster.leader()).conn();
    let out: String = redis::cmd("EVALSHA")
        .arg(&sha)
        .arg(0)
        .arg("hi")
        .query(&mut other)
        .unwrap();
    assert_eq!(out, "hi!");
    let exists: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&sha)
        .arg("0".repeat(40))
        .query(&mut c)
        .unwrap();
    assert_eq!(exists, vec![1, 0]);

    // Errors as Redis words them, and the node goes on.
    assert_eq!(
        err_text(
            redis::cmd("EVAL")
                .arg("return 1")
                .arg(2)
                .arg("k")
                .query::<i64>(&mut c)
        ),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        err_text(redis::cmd("EVALSHA").arg("abc").arg(0).query::<i64>(&mut c)),
        "NOSCRIPT No matching script. Please use EVAL."
    );
    assert_eq!(
        err_text(redis::cmd("SCRIPT").arg("KILL").query::<()>(&mut c)),
        "NOTBUSY No scripts in execution right now."
    );
    let e = err_text(
        redis::cmd("EVAL")
            .arg("redis.call('set', 'x', 1) return redis.call('lpush', 'x', 1)")
            .arg(0)
            .query::<i64>(&mut c),
    );
    assert!(e.starts_with("WRONGTYPE Operation against a key"), "{e}");
    assert!(e.contains("on @user_script:1."), "{e}");
    // A runaway script stops at its instruction budget on every replica; writes go on.
    let e = err_text(
        redis::cmd("EVAL")
            .arg("while true do end")
            .arg(0)
            .query::<()>(&mut c),
    );
    assert!(e.contains("budget"), "{e}");
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query(&mut c)
        .unwrap();

    // Read-only scripts refuse writes; inside MULTI a script is one more queued command.
    let e = err_text(
        redis::cmd("EVAL_RO")
            .arg("return redis.call('del', 'greeting')")
            .arg(0)
            .query::<i64>(&mut c),
    );
    assert!(e.starts_with("ERR Write commands are not allowed from read-only scripts."));
    let (a, b): (i64, String) = redis::pipe()
        .atomic()
        .cmd("EVAL")
        .arg("return redis.call('incr', KEYS[1])")
        .arg(1)
        .arg("m")
        .cmd("EVAL_RO")
        .arg("return redis.call('get', KEYS[1])")
        .arg(1)
        .arg("m")
        .query(&mut c)
        .unwrap();
    assert_eq!((a, b.as_str()), (1, "1"));
}

#[test]
fn redis_py_lock_and_registered_scripts_through_a_leader_kill() {
    const ROUNDS: usize = 30;
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let follower = cluster.follower();
    let args = [cluster.node(follower).port.to_string(), ROUNDS.to_string()];
    let (status, lines) = python_client(
        "redis_py_lock.py",
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
        "the lock scenario failed ({status}): {lines:?}"
    );
    assert!(!cluster.node(leader).is_running());
    let done: Vec<usize> = lines
        .iter()
        .find_map(|l| l.strip_prefix("DONE "))
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    let (acked, counter, resent) = (done[0], done[1], done[2]);
    assert_eq!(acked, ROUNDS);
    // Every acknowledged increment is there; more only where an increment was sent again
    // after its first attempt's reply was lost in the failover.
    assert!(
        counter >= acked && counter <= acked + resent,
        "counter {counter}, acknowledged {acked}, sent again {resent}"
    );
}

#[test]
fn a_paused_lock_holder_is_fenced_off_by_the_newer_token() {
    let cluster = Cluster::start(3, &[]);
    let port = cluster.node(cluster.follower()).port;
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/fencing");
    let mut holder = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/clients/fenced_lock.py"
        ))
        .arg(port.to_string())
        .arg(docs)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 (scripts/test.sh installs redis-py)");
    let pid = holder.id().to_string();
    let mut out = BufReader::new(holder.stdout.take().unwrap()).lines();
    let first = out.next().unwrap().unwrap();
    let old: i64 = first.strip_prefix("ACQUIRED ").unwrap().parse().unwrap();
    // The holder stops past its 1 s lease, as a GC pause or a stalled VM would stop it.
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(1500));
    let read = |name: &str| std::fs::read_to_string(format!("{docs}/{name}")).unwrap();
    let mut c = cluster.node(cluster.leader()).conn();
    let new: i64 = redis::Script::new(&read("acquire.lua"))
        .key("lock:job")
        .arg("second-holder")
        .arg(10_000)
        .invoke(&mut c)
        .unwrap();
    assert!(new > old, "tokens only grow: {old} then {new}");
    let _: () = redis::Script::new(&read("fenced_set.lua"))
        .key("lock:job")
        .key("job:result")
        .arg(new)
        .arg("from the new holder")
        .invoke(&mut c)
        .unwrap();
    assert!(Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    let verdict = wait_for(Duration::from_secs(30), "the holder's verdict", || {
        out.next().and_then(|l| l.ok())
    });
    assert_eq!(verdict, "FENCED");
    assert!(holder.wait().unwrap().success());
    let result: String = redis::cmd("GET").arg("job:result").query(&mut c).unwrap();
    assert_eq!(result, "from the new holder");
}
