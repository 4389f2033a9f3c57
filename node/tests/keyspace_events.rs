//! Goal: keyspace notifications are Redis's: the same events, names, channels and order as
//! redis-server for the same commands, heard alike by subscribers on the leader and on a
//! follower, and "expired" raised when a key expires in the background.
//! Method: a redis-server started here and a 3-node cluster get `notify-keyspace-events
//! KEAn` and the same commands (set through a follower); a `PSUBSCRIBE *` on each records
//! what it hears, and the recordings must be equal. Skipped where redis-server is not
//! installed, except in CI. And the setting, replicated, reads back at once through a follower.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::reference::redis_server;
use common::Cluster;

/// Commands over every type, with creations, emptied collections, stores of nothing,
/// renames and moves between databases.
const COMMANDS: &[&str] = &[
    "set foo bar",
    "set foo baz",
    "lpush l a",
    "lpop l",
    "sadd s a b",
    "srem s a b",
    "hset h f v",
    "hincrby h n 1",
    "hdel h f n",
    "rename foo foo2",
    "expire foo2 100",
    "persist foo2",
    "expire foo2 -1",
    "zadd z 1 a",
    "zincrby z 2 a",
    "zrem z a",
    "incr c",
    "append c x",
    "mset a 1 b 2",
    "del a b",
    "rpush l2 x y",
    "lmove l2 l3 left right",
    "rpoplpush l2 l3",
    "copy l3 l4",
    "sunionstore s2 nope",
    "sadd s3 q",
    "sunionstore s4 s3",
    "geoadd g 13 38 p",
    "geosearchstore g2 g fromlonlat 13 38 byradius 10 km",
    "georadius g 13 38 10 km store g3",
    "setbit bits 3 1",
    "pfadd hl a",
    "getdel c",
    "setex e 100 v",
    "getex e persist",
    "move e 3",
    "smove s3 s5 q",
    "zadd zz 1 a 2 b",
    "zpopmin zz 5",
    "rpush q a b c",
    "ltrim q 5 6",
    "hsetnx hh a b",
    "incrbyfloat f 1.5",
    "setrange sr 2 ab",
    "zadd z3 1 a 2 b 3 c",
    "zremrangebyscore z3 0 5",
    "sort l4 alpha store l5",
    "bitop or bo bits",
    "eval \"redis.call('set', KEYS[1], 'v'); redis.call('del', KEYS[1])\" 1 scripted",
    "psetex short 50 v",
];

fn send(c: &mut redis::Connection, line: &str) {
    let args = shell_words(line);
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a);
    }
    cmd.query::<redis::Value>(c).unwrap();
}

/// Splits on spaces, keeping a double-quoted argument whole.
fn shell_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap();
            out.push(quoted[..end].to_string());
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
    }
    out
}

/// What a `PSUBSCRIBE *` on `conn` hears: `want` messages, or what came within `within`.
fn record(
    ps: &mut redis::PubSub<'_>,
    want: Option<usize>,
    within: Duration,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + within;
    let mut heard = Vec::new();
    while want.is_none_or(|n| heard.len() < n) && Instant::now() < deadline {
        match ps.get_message() {
            Ok(m) => heard.push((
                m.get_channel_name().to_string(),
                m.get_payload::<String>().unwrap(),
            )),
            Err(e) if e.is_timeout() => {}
            Err(e) => panic!("subscriber: {e}"),
        }
    }
    heard
}

#[test]
fn keyspace_events_are_redis_servers_on_every_node() {
    let Some(reference) = redis_server() else {
        return;
    };
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let follower = cluster.follower();
    let mut theirs = redis::Client::open(format!("redis://127.0.0.1:{}", reference.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let mut ours = cluster.node(follower).conn();
    for c in [&mut theirs, &mut ours] {
        send(c, "config set notify-keyspace-events KEAn");
        // As Redis shows it: `n` is not part of `A`'s form.
        let shown: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("notify-keyspace-events")
            .query(c)
            .unwrap();
        assert_eq!(shown[1], "AKE");
    }
    let mut subscribers = Vec::new();
    for port in [
        reference.port,
        cluster.node(leader).port,
        cluster.node(follower).port,
    ] {
        let c = redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .unwrap()
            .get_connection()
            .unwrap();
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        subscribers.push(c);
    }
    let mut pubsubs: Vec<_> = subscribers.iter_mut().map(|c| c.as_pubsub()).collect();
    for ps in &mut pubsubs {
        ps.psubscribe("*").unwrap();
    }
    for line in COMMANDS {
        send(&mut theirs, line);
        send(&mut ours, line);
    }
    // The last command's key expires in the background on both: its event ends the record.
    let expected = record(&mut pubsubs[0], None, Duration::from_secs(3));
    assert!(
        expected
            .iter()
            .any(|(ch, key)| ch == "__keyevent@0__:expired" && key == "short"),
        "redis-server did not expire the key: {expected:?}"
    );
    assert!(expected.len() > 150, "{} messages", expected.len());
    for (ps, node) in pubsubs[1..].iter_mut().zip([leader, follower]) {
        let heard = record(ps, Some(expected.len()), Duration::from_secs(15));
        assert_eq!(heard, expected, "node {node}");
    }
}

/// A replicated setting set through a follower is what that connection reads back at once
/// (the follower applies it before it answers), as with one redis-server.
#[test]
fn a_replicated_setting_reads_back_at_once_through_a_follower() {
    let cluster = Cluster::start(3, &[]);
    let mut c = cluster.node(cluster.follower()).conn();
    for (i, (set, shown)) in [("KA", "AK"), ("EA", "AE"), ("gKE", "gKE"), ("Kl", "lK")]
        .iter()
        .cycle()
        .take(40)
        .enumerate()
    {
        send(&mut c, &format!("config set notify-keyspace-events {set}"));
        let got: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("notify-keyspace-events")
            .query(&mut c)
            .unwrap();
        assert_eq!(got[1], *shown, "round {i}");
    }
}
