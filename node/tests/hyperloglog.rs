//! Goal: HyperLogLogs behave as Redis's through any node: the same bytes on every replica,
//! counts within Redis's error, Redis's errors for other types and damaged values, and
//! `hll-sparse-max-bytes` applying alike everywhere.
//! Method: a 3-node cluster; writes through a follower; each replica's copy read locally
//! (READONLY) and compared byte for byte. Exact agreement with redis-server's bytes and
//! counts is checked by the codec's unit tests against values read from redis-server 7.0.15.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{err_text, wait_for, Cluster};
use redis::Commands;

#[test]
fn hyperloglogs_agree_on_every_replica() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut c = cluster.node(follower).conn();

    let created: i64 = redis::cmd("PFADD").arg("empty").query(&mut c).unwrap();
    assert_eq!(created, 1);
    let n: i64 = c.pfcount("empty").unwrap();
    assert_eq!(n, 0);
    assert_eq!(c.pfadd::<_, _, i64>("small", &["a", "b", "c"]).unwrap(), 1);
    assert_eq!(c.pfadd::<_, _, i64>("small", "a").unwrap(), 0);
    // A raw string in Redis, however short.
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("small")
        .query(&mut c)
        .unwrap();
    assert_eq!(encoding, "raw");
    let elements: Vec<String> = (0..20_000).map(|i| format!("user:{i}")).collect();
    for chunk in elements.chunks(500) {
        let _: i64 = c.pfadd("big", chunk).unwrap();
    }
    let n: i64 = c.pfcount("big").unwrap();
    assert!((n - 20_000).abs() < 20_000 * 3 / 100, "{n}");
    let enc: String = redis::cmd("PFDEBUG")
        .arg("ENCODING")
        .arg("big")
        .query(&mut c)
        .unwrap();
    assert_eq!(enc, "dense");
    let enc: String = redis::cmd("PFDEBUG")
        .arg("ENCODING")
        .arg("small")
        .query(&mut c)
        .unwrap();
    assert_eq!(enc, "sparse");

    // The union: PFMERGE and a multi-key PFCOUNT agree.
    let _: () = redis::cmd("PFMERGE")
        .arg("union")
        .arg("small")
        .arg("big")
        .query(&mut c)
        .unwrap();
    let merged: i64 = c.pfcount("union").unwrap();
    let counted: i64 = redis::cmd("PFCOUNT")
        .arg("small")
        .arg("big")
        .query(&mut c)
        .unwrap();
    assert_eq!(merged, counted);

    // Every replica comes to hold the leader's bytes.
    let mut l = cluster.node(cluster.leader()).conn();
    for key in ["empty", "small", "big", "union"] {
        let want: Vec<u8> = l.get(key).unwrap();
        assert!(want.starts_with(b"HYLL"), "{key}");
        for n in &cluster.nodes {
            let mut r = n.conn();
            let _: () = redis::cmd("READONLY").query(&mut r).unwrap();
            wait_for(Duration::from_secs(10), "a replica to apply", || {
                let got: Option<Vec<u8>> = r.get(key).ok()?;
                (got.as_ref() == Some(&want)).then_some(())
            });
        }
    }

    // Redis's errors.
    let _: () = c.set("text", "not an hll").unwrap();
    let e = err_text(c.pfadd::<_, _, i64>("text", "x"));
    assert!(
        e.contains("WRONGTYPE Key is not a valid HyperLogLog string value"),
        "{e}"
    );
    let _: i64 = c.lpush("list", "x").unwrap();
    let e = err_text(c.pfcount::<_, i64>("list"));
    assert!(e.starts_with("WRONGTYPE Operation against a key"), "{e}");
    let _: i64 = c.append("small", "hello").unwrap();
    let e = err_text(c.pfcount::<_, i64>("small"));
    assert!(e.contains("INVALIDOBJ"), "{e}");

    // The sparse limit is replicated: set through one node, applied by every replica.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("hll-sparse-max-bytes")
        .arg("40")
        .query(&mut c)
        .unwrap();
    let few: Vec<String> = (0..30).map(|i| i.to_string()).collect();
    let _: i64 = c.pfadd("promoted", &few).unwrap();
    for n in &cluster.nodes {
        let mut r = n.conn();
        let _: () = redis::cmd("READONLY").query(&mut r).unwrap();
        wait_for(Duration::from_secs(10), "a replica to apply", || {
            r.exists::<_, bool>("promoted").ok()?.then_some(())
        });
        let enc: String = redis::cmd("PFDEBUG")
            .arg("ENCODING")
            .arg("promoted")
            .query(&mut r)
            .unwrap();
        assert_eq!(enc, "dense", "node {}", n.id);
    }
}
