//! Goal: pub/sub works across the cluster as one Redis: a PUBLISH on any node reaches the
//! subscribers of every node, in order, and its reply counts them all; subscribed RESP2
//! connections follow Redis's rules.
//! Method: real subscribers (the `redis` crate's PubSub) on two nodes, a publisher on the
//! third; raw RESP for the exact bytes of replies in the subscribed context.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{cmd, raw, wait_for, Cluster};

fn numsub(cluster: &Cluster, node: u64, channel: &str) -> i64 {
    let mut c = cluster.node(node).conn();
    let reply: (String, i64) = cmd("PUBSUB", &["NUMSUB", channel]).query(&mut c).unwrap();
    reply.1
}

#[test]
fn publish_reaches_subscribers_on_every_node() {
    let cluster = Cluster::start(3, &[]);
    let mut c1 = cluster.node(1).conn();
    let mut sub1 = c1.as_pubsub();
    sub1.subscribe("news").unwrap();
    sub1.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut c3 = cluster.node(3).conn();
    let mut sub3 = c3.as_pubsub();
    sub3.psubscribe("n*").unwrap();
    sub3.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let mut publisher = cluster.node(2).conn();
    let receivers: i64 = cmd("PUBLISH", &["news", "hello"])
        .query(&mut publisher)
        .unwrap();
    assert_eq!(
        receivers, 2,
        "one channel subscriber and one pattern subscriber"
    );
    let m = sub1.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "news");
    assert_eq!(m.get_payload::<String>().unwrap(), "hello");
    let m = sub3.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "news");
    assert_eq!(m.get_pattern::<String>().unwrap(), "n*");
    assert_eq!(m.get_payload::<String>().unwrap(), "hello");

    // One publisher's messages arrive in order on another node.
    for i in 0..200 {
        let _: i64 = cmd("PUBLISH", &["news", &i.to_string()])
            .query(&mut publisher)
            .unwrap();
    }
    for i in 0..200 {
        let m = sub1.get_message().unwrap();
        assert_eq!(m.get_payload::<String>().unwrap(), i.to_string());
    }
    // Nobody listens on other channels; counts are per node, as in Redis Cluster.
    let none: i64 = cmd("PUBLISH", &["other", "x"])
        .query(&mut publisher)
        .unwrap();
    assert_eq!(none, 0);
    assert_eq!(numsub(&cluster, 1, "news"), 1);
    assert_eq!(numsub(&cluster, 2, "news"), 0);
    let mut on3 = cluster.node(3).conn();
    let numpat: i64 = cmd("PUBSUB", &["NUMPAT"]).query(&mut on3).unwrap();
    assert_eq!(numpat, 1);
    let mut on1 = cluster.node(1).conn();
    let channels: Vec<String> = cmd("PUBSUB", &["CHANNELS", "n*"]).query(&mut on1).unwrap();
    assert_eq!(channels, vec!["news".to_string()]);

    // A closed subscriber is forgotten.
    sub1.unsubscribe("news").unwrap();
    drop(sub1);
    wait_for(Duration::from_secs(5), "the unsubscribe", || {
        (numsub(&cluster, 1, "news") == 0).then_some(())
    });
    let receivers: i64 = cmd("PUBLISH", &["news", "bye"])
        .query(&mut publisher)
        .unwrap();
    assert_eq!(receivers, 1);
}

#[test]
fn subscribed_resp2_connections_follow_redis_rules() {
    let cluster = Cluster::start(3, &[]);
    let port = cluster.node(1).port;
    let out = raw(
        port,
        b"SUBSCRIBE a b\r\nGET k\r\nPING\r\nPING hi\r\nUNSUBSCRIBE a\r\nUNSUBSCRIBE\r\nUNSUBSCRIBE\r\nPUNSUBSCRIBE\r\nGET k\r\n",
    );
    let expected = concat!(
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
        "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
        "*2\r\n$4\r\npong\r\n$0\r\n\r\n",
        "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n",
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n",
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n",
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n",
        "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n",
        "$-1\r\n",
    );
    assert_eq!(out, expected);
    // RESP3: pushes, and any command is allowed while subscribed.
    let out = raw(port, b"HELLO 3\r\nSUBSCRIBE a\r\nGET k\r\n");
    let after_hello = out.split_once(">3\r\n").map(|(_, rest)| rest).unwrap_or("");
    assert_eq!(after_hello, "$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n_\r\n");
    let err = raw(port, b"PUBLISH onlyone\r\nPUBSUB NOPE\r\n");
    assert_eq!(
        err,
        "-ERR wrong number of arguments for 'publish' command\r\n-ERR unknown subcommand 'NOPE'. Try PUBSUB HELP.\r\n"
    );
}

/// CLIENT REPLY OFF|SKIP|ON as Redis: silenced commands still run; pub/sub pushes (RESP3)
/// still arrive.
#[test]
fn client_reply_silences_replies_but_not_pushes() {
    let cluster = Cluster::start(3, &[]);
    let port = cluster.node(cluster.follower()).port;
    let out = raw(
        port,
        b"CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nNOSUCH\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nGET a\r\nCLIENT REPLY SKIP\r\nINCR a\r\nGET a\r\n",
    );
    assert_eq!(out, "+OK\r\n$1\r\n1\r\n$1\r\n2\r\n");
    let out = raw(
        port,
        b"HELLO 3\r\nCLIENT REPLY OFF\r\nSUBSCRIBE ch\r\nPING\r\nUNSUBSCRIBE ch\r\n",
    );
    let after_hello = out.split_once(">3\r\n").map(|(_, rest)| rest).unwrap_or("");
    assert_eq!(
        after_hello,
        "$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n>3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n"
    );
}
