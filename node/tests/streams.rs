//! Goal: streams and consumer groups behave as Redis's do through any node, and a group's
//! state is replicated: after the leader is killed, pending entries are still pending, and no
//! entry is delivered twice to `>` (after its ACK or at all); blocked XREAD and XREADGROUP on
//! one node are woken by an XADD sent to another.
//! Method: a 3-node cluster and the `redis` crate. Producers and consumers on different
//! nodes; the leader is SIGKILLed halfway; every reply is checked against what was sent.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Cluster;
use redis::Value;

/// The IDs (and the `n` field) of XREADGROUP's / XREAD's reply for one stream.
fn entries(reply: &Value) -> Vec<(String, String)> {
    let Value::Array(streams) = reply else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in streams {
        let Value::Array(pair) = s else { continue };
        let Some(Value::Array(list)) = pair.get(1) else {
            continue;
        };
        for e in list {
            let Value::Array(e) = e else { continue };
            let id = match e.first() {
                Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("entry id {other:?}"),
            };
            let n = match e.get(1) {
                Some(Value::Array(f)) => match f.get(1) {
                    Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            out.push((id, n));
        }
    }
    out
}

fn readgroup(c: &mut redis::Connection, consumer: &str, count: usize, id: &str) -> Value {
    redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("workers")
        .arg(consumer)
        .arg("COUNT")
        .arg(count)
        .arg("STREAMS")
        .arg("jobs")
        .arg(id)
        .query(c)
        .unwrap()
}

fn xack(c: &mut redis::Connection, ids: &[String]) -> i64 {
    redis::cmd("XACK")
        .arg("jobs")
        .arg("workers")
        .arg(ids)
        .query(c)
        .unwrap()
}

fn pending_ids(c: &mut redis::Connection) -> Vec<String> {
    let rows: Vec<(String, String, i64, i64)> = redis::cmd("XPENDING")
        .arg("jobs")
        .arg("workers")
        .arg("-")
        .arg("+")
        .arg(1000)
        .query(c)
        .unwrap();
    rows.into_iter().map(|(id, ..)| id).collect()
}

#[test]
fn consumer_groups_survive_a_leader_kill() {
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let followers: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let mut producer = cluster.node(followers[0]).conn();
    let mut consumer = cluster.node(followers[1]).conn();

    let ok: String = redis::cmd("XGROUP")
        .arg(&["CREATE", "jobs", "workers", "$", "MKSTREAM"])
        .query(&mut producer)
        .unwrap();
    assert_eq!(ok, "OK");
    let mut sent = Vec::new();
    for n in 0..200 {
        let id: String = redis::cmd("XADD")
            .arg("jobs")
            .arg("*")
            .arg("n")
            .arg(n)
            .query(&mut producer)
            .unwrap();
        sent.push(id);
    }
    let sorted = {
        let mut s = sent.clone();
        s.sort_by_key(|id| {
            let (ms, seq) = id.split_once('-').unwrap();
            (ms.parse::<u64>().unwrap(), seq.parse::<u64>().unwrap())
        });
        s
    };
    assert_eq!(sent, sorted, "IDs only grow");
    let len: i64 = redis::cmd("XLEN").arg("jobs").query(&mut consumer).unwrap();
    assert_eq!(len, 200);

    // Deliver 50, acknowledge 30 of them.
    let first = entries(&readgroup(&mut consumer, "c1", 50, ">"));
    let got: Vec<String> = first.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(got, sent[..50].to_vec());
    assert_eq!(
        first.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>(),
        (0..50).map(|n| n.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(xack(&mut consumer, &got[..30]), 30);
    assert_eq!(xack(&mut consumer, &got[..30]), 0, "an ACK counts once");
    assert_eq!(pending_ids(&mut consumer), got[30..].to_vec());

    cluster.kill(leader);
    let new_leader = cluster.wait_leader(Duration::from_secs(10));
    assert_ne!(new_leader, leader);
    let survivor = followers
        .iter()
        .copied()
        .find(|id| *id != new_leader)
        .unwrap_or(new_leader);
    let mut c = cluster.node(survivor).conn();

    // The pending entries are what they were; `>` goes on after the 50 delivered.
    assert_eq!(pending_ids(&mut c), got[30..].to_vec());
    let rest = entries(&readgroup(&mut c, "c2", 1000, ">"));
    let rest_ids: Vec<String> = rest.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(
        rest_ids,
        sent[50..].to_vec(),
        "nothing delivered twice to >"
    );
    let again = readgroup(&mut c, "c2", 1000, ">");
    assert_eq!(again, Value::Nil, "nothing new: {again:?}");

    // c1's history is its 20 pending entries, each delivered a second time now.
    let history = entries(&readgroup(&mut c, "c1", 1000, "0"));
    let history_ids: Vec<String> = history.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(history_ids, got[30..].to_vec());
    let summary: (i64, String, String, Vec<(String, String)>) = redis::cmd("XPENDING")
        .arg("jobs")
        .arg("workers")
        .query(&mut c)
        .unwrap();
    assert_eq!(summary.0, 170);
    assert_eq!(
        summary.3,
        vec![("c1".into(), "20".into()), ("c2".into(), "150".into())]
    );
    let detail: Vec<(String, String, i64, i64)> = redis::cmd("XPENDING")
        .arg(&["jobs", "workers", "-", "+", "1", "c1"])
        .query(&mut c)
        .unwrap();
    assert_eq!(detail[0].0, got[30]);
    assert_eq!(detail[0].3, 2, "delivered twice");

    // Claim c1's entries for c2, acknowledge everything: nothing is pending anywhere.
    let claimed: Vec<String> = redis::cmd("XCLAIM")
        .arg(&["jobs", "workers", "c2", "0"])
        .arg(&got[30..])
        .arg("JUSTID")
        .query(&mut c)
        .unwrap();
    assert_eq!(claimed, got[30..].to_vec());
    let all: Vec<String> = got[30..].iter().chain(&rest_ids).cloned().collect();
    assert_eq!(xack(&mut c, &all), 170);
    let summary: (i64, Value, Value, Value) = redis::cmd("XPENDING")
        .arg("jobs")
        .arg("workers")
        .query(&mut c)
        .unwrap();
    assert_eq!(summary.0, 0);

    // The restarted old leader catches up to the same group state.
    cluster.spawn(leader);
    let mut old = common::wait_for(Duration::from_secs(10), "the old leader to listen", || {
        cluster.node(leader).try_conn()
    });
    common::wait_for(
        Duration::from_secs(20),
        "the old leader to catch up",
        || {
            let n: i64 = redis::cmd("XLEN").arg("jobs").query(&mut old).ok()?;
            let p: (i64, Value, Value, Value) = redis::cmd("XPENDING")
                .arg("jobs")
                .arg("workers")
                .query(&mut old)
                .ok()?;
            (n == 200 && p.0 == 0).then_some(())
        },
    );
    let report: String = redis::cmd("CAIRN").arg("CHECK").query(&mut c).unwrap();
    assert!(report.contains("result: consistent"), "{report}");
}

#[test]
fn blocked_readers_on_one_node_wake_for_an_xadd_on_another() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let follower = cluster.follower();
    let mut writer = cluster.node(leader).conn();
    let ok: String = redis::cmd("XGROUP")
        .arg(&["CREATE", "events", "g", "$", "MKSTREAM"])
        .query(&mut writer)
        .unwrap();
    assert_eq!(ok, "OK");

    let port = cluster.node(follower).port;
    let spawn = |args: Vec<&'static str>| {
        std::thread::spawn(move || {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
            let mut c = client.get_connection().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut cmd = redis::cmd(args[0]);
            for a in &args[1..] {
                cmd.arg(*a);
            }
            cmd.query::<Value>(&mut c).unwrap()
        })
    };
    let xread = spawn(vec!["XREAD", "BLOCK", "15000", "STREAMS", "events", "$"]);
    let xreadgroup = spawn(vec![
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "BLOCK",
        "15000",
        "STREAMS",
        "events",
        ">",
    ]);
    // Both are blocked on the follower before the write.
    let mut f = cluster.node(follower).conn();
    common::wait_for(Duration::from_secs(10), "two blocked clients", || {
        (common::info_num(&mut f, "clients", "blocked_clients") == 2).then_some(())
    });
    let id: String = redis::cmd("XADD")
        .arg(&["events", "*", "kind", "signup"])
        .query(&mut writer)
        .unwrap();
    for handle in [xread, xreadgroup] {
        let got = entries(&handle.join().unwrap());
        assert_eq!(got, vec![(id.clone(), "signup".to_string())]);
    }
    let pending: (i64, String, String, Vec<(String, String)>) = redis::cmd("XPENDING")
        .arg("events")
        .arg("g")
        .query(&mut f)
        .unwrap();
    assert_eq!(pending.0, 1);
    assert_eq!(pending.3, vec![("alice".into(), "1".into())]);

    // Errors as Redis words them; the connection goes on.
    let err = |r: redis::RedisResult<Value>| r.unwrap_err().to_string();
    assert!(err(redis::cmd("XADD")
        .arg(&["events", "1-1", "a", "b"])
        .query(&mut f))
    .contains("equal or smaller than the target stream top item"));
    assert!(
        err(redis::cmd("XADD").arg(&["events", "*", "a"]).query(&mut f))
            .contains("wrong number of arguments for 'xadd' command")
    );
    assert!(err(redis::cmd("XREADGROUP")
        .arg(&["GROUP", "nope", "c", "STREAMS", "events", ">"])
        .query(&mut f))
    .starts_with("NOGROUP"));
    let _: () = redis::cmd("SET")
        .arg(&["plain", "x"])
        .query(&mut f)
        .unwrap();
    assert!(err(redis::cmd("XLEN").arg("plain").query(&mut f)).contains("WRONGTYPE"));
    let ids: BTreeSet<String> = BTreeSet::from([id]);
    let range: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(&["events", "-", "+"])
        .query(&mut f)
        .unwrap();
    assert_eq!(
        range.into_iter().map(|(id, _)| id).collect::<BTreeSet<_>>(),
        ids
    );
}
