//! Goal: blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZMPOP) block on
//! an empty key and are woken by a push applied on their node, whichever node took the push;
//! their timeouts, WRONGTYPE and MULTI behaviour are Redis's; a client that disconnects while
//! blocked is no longer counted as blocked; the non-blocking LMPOP and ZMPOP answer as Redis.
//! Method: a 3-node cluster, a blocked client on one follower, pushes sent to the other
//! follower and to the leader through real `redis` clients; each blocked call runs on its own
//! thread with its own connection and is joined with a bound.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{cmd, code, wait_for, Cluster, WRONGTYPE};
use redis::{Commands, Value};

/// Runs `command` on node `id`'s own connection on a thread; its reply arrives on the channel.
fn blocked(
    cluster: &Cluster,
    id: u64,
    command: redis::Cmd,
) -> mpsc::Receiver<redis::RedisResult<Value>> {
    let mut conn = cluster.node(id).conn();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(command.query::<Value>(&mut conn));
    });
    rx
}

fn blocked_clients(cluster: &Cluster, id: u64) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("clients")
        .query(&mut cluster.node(id).conn())
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

fn wait_blocked(cluster: &Cluster, id: u64, n: u64) {
    wait_for(Duration::from_secs(10), "blocked clients", || {
        (blocked_clients(cluster, id) == n).then_some(())
    });
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn a_push_on_another_node_wakes_a_blocked_pop() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let followers: Vec<u64> = (1..=3).filter(|i| *i != leader).collect();
    let (waiter, pusher) = (followers[0], followers[1]);

    // BLPOP on two keys, woken by an RPUSH on the other follower: [key, element].
    let reply = blocked(&cluster, waiter, cmd("BLPOP", &["q1", "q2", "0"]));
    wait_blocked(&cluster, waiter, 1);
    let mut p = cluster.node(pusher).conn();
    let _: i64 = p.rpush("q2", &["a", "b"]).unwrap();
    let got = reply
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(got, Value::Array(vec![bulk("q2"), bulk("a")]));
    wait_blocked(&cluster, waiter, 0);
    // The pop went through the log: every node sees the rest.
    for id in 1..=3 {
        let rest: Vec<String> = cluster.node(id).conn().lrange("q2", 0, -1).unwrap();
        assert_eq!(rest, vec!["b"], "node {id}");
    }

    // A non-empty list pops at once; BRPOP takes the tail.
    let got: Value = cmd("BRPOP", &["q2", "1"])
        .query(&mut cluster.node(waiter).conn())
        .unwrap();
    assert_eq!(got, Value::Array(vec![bulk("q2"), bulk("b")]));

    // BLMOVE woken by a push on the leader moves the element.
    let reply = blocked(
        &cluster,
        waiter,
        cmd("BLMOVE", &["src", "dst", "LEFT", "RIGHT", "0"]),
    );
    wait_blocked(&cluster, waiter, 1);
    let _: i64 = cluster.node(leader).conn().lpush("src", "x").unwrap();
    let got = reply
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(got, bulk("x"));
    let dst: Vec<String> = cluster.node(pusher).conn().lrange("dst", 0, -1).unwrap();
    assert_eq!(dst, vec!["x"]);

    // BZPOPMIN woken by a ZADD: [key, member, score].
    let reply = blocked(&cluster, waiter, cmd("BZPOPMIN", &["z", "0"]));
    wait_blocked(&cluster, waiter, 1);
    let _: i64 = p.zadd_multiple("z", &[(2, "two"), (1, "one")]).unwrap();
    let got = reply
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(got, Value::Array(vec![bulk("z"), bulk("one"), bulk("1")]));

    // BLMPOP with a count pops up to count from the first non-empty list.
    let reply = blocked(
        &cluster,
        waiter,
        cmd("BLMPOP", &["0", "2", "m1", "m2", "RIGHT", "COUNT", "5"]),
    );
    wait_blocked(&cluster, waiter, 1);
    let _: i64 = p.rpush("m2", &["1", "2", "3"]).unwrap();
    let got = reply
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        Value::Array(vec![
            bulk("m2"),
            Value::Array(vec![bulk("3"), bulk("2"), bulk("1")])
        ])
    );
}

#[test]
fn timeouts_types_and_transactions_follow_redis() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut c = cluster.node(follower).conn();

    // A timeout answers the null array (nil for BLMOVE) after about the time asked.
    let started = Instant::now();
    let got: Value = cmd("BLPOP", &["none1", "none2", "0.3"])
        .query(&mut c)
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(got, Value::Nil);
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    let got: Value = cmd("BRPOPLPUSH", &["none1", "d", "0.05"])
        .query(&mut c)
        .unwrap();
    assert_eq!(got, Value::Nil);

    // Argument errors.
    assert_eq!(
        common::err_text(cmd("BLPOP", &["k", "-1"]).query::<Value>(&mut c)),
        "ERR timeout is negative"
    );
    assert_eq!(
        common::err_text(cmd("BLPOP", &["k", "soon"]).query::<Value>(&mut c)),
        "ERR timeout is not a float or out of range"
    );
    assert_eq!(
        common::err_text(cmd("LMPOP", &["0", "k", "LEFT"]).query::<Value>(&mut c)),
        "ERR numkeys should be greater than 0"
    );

    // WRONGTYPE for a key of another type met before a non-empty list.
    let _: () = c.set("str", "v").unwrap();
    let _: i64 = c.rpush("full", "e").unwrap();
    assert_eq!(
        code(cmd("BLPOP", &["str", "full", "0"]).query::<Value>(&mut c)),
        WRONGTYPE
    );
    let got: Value = cmd("BLPOP", &["empty", "full", "0"]).query(&mut c).unwrap();
    assert_eq!(got, Value::Array(vec![bulk("full"), bulk("e")]));

    // Inside MULTI a blocking pop never blocks: nil when empty.
    let (got,): (Value,) = redis::pipe()
        .atomic()
        .cmd("BLPOP")
        .arg("empty")
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(got, Value::Nil);

    // LMPOP and ZMPOP without blocking.
    let _: i64 = c.rpush("l", &["a", "b", "c"]).unwrap();
    let got: Value = cmd("LMPOP", &["2", "nolist", "l", "LEFT", "COUNT", "2"])
        .query(&mut c)
        .unwrap();
    assert_eq!(
        got,
        Value::Array(vec![bulk("l"), Value::Array(vec![bulk("a"), bulk("b")])])
    );
    let got: Value = cmd("LMPOP", &["1", "nolist", "LEFT"])
        .query(&mut c)
        .unwrap();
    assert_eq!(got, Value::Nil);
    let _: i64 = c.zadd_multiple("zs", &[(1, "a"), (2, "b")]).unwrap();
    let got: Value = cmd("ZMPOP", &["1", "zs", "MAX", "COUNT", "9"])
        .query(&mut c)
        .unwrap();
    assert_eq!(
        got,
        Value::Array(vec![
            bulk("zs"),
            Value::Array(vec![
                Value::Array(vec![bulk("b"), bulk("2")]),
                Value::Array(vec![bulk("a"), bulk("1")]),
            ])
        ])
    );
}

#[test]
fn a_blocked_client_that_disconnects_stops_waiting() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let node = cluster.node(follower);
    // A raw socket: the client goes away without reading a reply.
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", node.port)).unwrap();
    s.write_all(b"*3\r\n$5\r\nBLPOP\r\n$5\r\nnever\r\n$1\r\n0\r\n")
        .unwrap();
    wait_blocked(&cluster, follower, 1);
    drop(s);
    wait_blocked(&cluster, follower, 0);
    // A later push is not popped by the departed client.
    let _: i64 = node.conn().rpush("never", "kept").unwrap();
    let v: Vec<String> = node.conn().lrange("never", 0, -1).unwrap();
    assert_eq!(v, vec!["kept"]);
}
