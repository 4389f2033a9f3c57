//! Goal: DUMP and RESTORE move a value between keys and nodes as Redis's do: any type, TTL
//! given at RESTORE, BUSYKEY unless REPLACE, ABSTTL, a damaged payload refused.
//! Method: a 3-node cluster; values written through a follower, dumped on one node and
//! restored through another, then read back on every node with a real client.
#![allow(clippy::unwrap_used)]

mod common;

use common::{cmd, err_text, Cluster};
use redis::Commands;

fn dump<T: redis::FromRedisValue>(c: &mut redis::Connection, key: &str) -> redis::RedisResult<T> {
    redis::cmd("DUMP").arg(key).query(c)
}

#[test]
fn dump_on_one_node_restore_through_another() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut w = cluster.node(follower).conn();
    let mut l = cluster.node(cluster.leader()).conn();
    let _: () = cmd("HSET", &["h", "a", "1", "b", "2"])
        .query(&mut w)
        .unwrap();
    let _: () = cmd("ZADD", &["z", "1.5", "x", "-2", "y"])
        .query(&mut w)
        .unwrap();
    let _: () = cmd("RPUSH", &["l", "p", "q", "r"]).query(&mut w).unwrap();
    let _: () = cmd("SET", &["s", "text"]).query(&mut w).unwrap();

    for key in ["h", "z", "l", "s"] {
        let payload: Vec<u8> = dump(&mut l, key).unwrap();
        let copy = format!("{key}-copy");
        let _: () = redis::cmd("RESTORE")
            .arg(&copy)
            .arg(0)
            .arg(&payload)
            .query(&mut w)
            .unwrap();
        // The same value everywhere: the copy dumps to the same bytes on every node.
        for n in &cluster.nodes {
            let mut c = n.conn();
            let again: Vec<u8> = dump(&mut c, &copy).unwrap();
            assert_eq!(again, payload, "{key} on node {}", n.id);
        }
        let busy = redis::cmd("RESTORE")
            .arg(&copy)
            .arg(0)
            .arg(&payload)
            .query::<()>(&mut w);
        assert_eq!(err_text(busy), "BUSYKEY Target key name already exists.");
    }
    let h: Vec<(String, String)> = w.hgetall("h-copy").unwrap();
    assert_eq!(h, vec![("a".into(), "1".into()), ("b".into(), "2".into())]);
    let z: Vec<(String, f64)> = w.zrange_withscores("z-copy", 0, -1).unwrap();
    assert_eq!(z, vec![("y".into(), -2.0), ("x".into(), 1.5)]);
    let list: Vec<String> = w.lrange("l-copy", 0, -1).unwrap();
    assert_eq!(list, ["p", "q", "r"]);

    // REPLACE with a TTL, and LRU/LFU hints accepted.
    let payload: Vec<u8> = dump(&mut w, "s").unwrap();
    let _: () = redis::cmd("RESTORE")
        .arg("l-copy")
        .arg(5000)
        .arg(&payload)
        .arg("REPLACE")
        .arg("IDLETIME")
        .arg(10)
        .query(&mut w)
        .unwrap();
    let value: String = w.get("l-copy").unwrap();
    assert_eq!(value, "text");
    let ttl: i64 = w.pttl("l-copy").unwrap();
    assert!(ttl > 3000 && ttl <= 5000, "{ttl}");
    // ABSTTL in the past: the key is replaced by nothing.
    let _: () = redis::cmd("RESTORE")
        .arg("s-copy")
        .arg(1)
        .arg(&payload)
        .arg("REPLACE")
        .arg("ABSTTL")
        .query(&mut w)
        .unwrap();
    let exists: bool = w.exists("s-copy").unwrap();
    assert!(!exists);

    // Damage anywhere is refused; bad options as Redis words them.
    let mut bad = payload.clone();
    bad[3] ^= 1;
    let refused = redis::cmd("RESTORE")
        .arg("new")
        .arg(0)
        .arg(&bad)
        .query::<()>(&mut w);
    assert_eq!(
        err_text(refused),
        "ERR DUMP payload version or checksum are wrong"
    );
    let neg = redis::cmd("RESTORE")
        .arg("new")
        .arg(-1)
        .arg(&payload)
        .query::<()>(&mut w);
    assert_eq!(err_text(neg), "ERR Invalid TTL value, must be >= 0");
    let freq = redis::cmd("RESTORE")
        .arg("new")
        .arg(0)
        .arg(&payload)
        .arg("FREQ")
        .arg(300)
        .query::<()>(&mut w);
    assert_eq!(
        err_text(freq),
        "ERR Invalid FREQ value, must be >= 0 and <= 255"
    );
    // IDLETIME and FREQ set the restored key's LRU/LFU facts on the node that took it.
    let _: () = cmd("CONFIG", &["SET", "maxmemory-policy", "allkeys-lru"])
        .query(&mut w)
        .unwrap();
    let _: () = redis::cmd("RESTORE")
        .arg("lru")
        .arg(0)
        .arg(&payload)
        .arg("IDLETIME")
        .arg(1000)
        .query(&mut w)
        .unwrap();
    let idle: i64 = cmd("OBJECT", &["IDLETIME", "lru"]).query(&mut w).unwrap();
    assert!((1000..=1010).contains(&idle), "{idle}");
    let _: () = cmd("CONFIG", &["SET", "maxmemory-policy", "allkeys-lfu"])
        .query(&mut w)
        .unwrap();
    let _: () = redis::cmd("RESTORE")
        .arg("lfu")
        .arg(0)
        .arg(&payload)
        .arg("FREQ")
        .arg(100)
        .query(&mut w)
        .unwrap();
    let freq: i64 = cmd("OBJECT", &["FREQ", "lfu"]).query(&mut w).unwrap();
    assert_eq!(freq, 100);
    let both = redis::cmd("RESTORE")
        .arg("new")
        .arg(0)
        .arg(&payload)
        .arg("IDLETIME")
        .arg(1)
        .arg("FREQ")
        .arg(1)
        .query::<()>(&mut w);
    assert_eq!(err_text(both), "ERR syntax error");

    let missing: Option<Vec<u8>> = dump(&mut w, "missing").unwrap();
    assert_eq!(missing, None);
}
