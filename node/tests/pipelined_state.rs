//! Goal: a pipeline that changes connection state (SELECT, HELLO) between data commands
//! runs each command with the state in force when it was sent: writes and reads before a
//! SELECT use the old database, replies before a HELLO use the old protocol.
//! Method: one burst of raw RESP to a follower of a 3-node cluster, replies compared byte
//! for byte; then each database read back on its own.
#![allow(clippy::unwrap_used)]

mod common;

use common::{raw, Cluster};

#[test]
fn select_and_hello_take_effect_in_pipeline_order() {
    let cluster = Cluster::start(3, &[]);
    let port = cluster.node(cluster.follower()).port;
    let out = raw(
        port,
        b"SELECT 1\r\nSET x one\r\nGET x\r\nSELECT 2\r\nSET x two\r\nGET x\r\nSELECT 1\r\nGET x\r\nHELLO 3\r\nGET nothing\r\n",
    );
    let (before_hello, after_hello) = out.split_once("%7\r\n").unwrap();
    assert_eq!(
        before_hello,
        "+OK\r\n+OK\r\n$3\r\none\r\n+OK\r\n+OK\r\n$3\r\ntwo\r\n+OK\r\n$3\r\none\r\n"
    );
    // GET after HELLO 3 answers RESP3's null.
    assert!(after_hello.ends_with("_\r\n"), "{after_hello}");
    assert_eq!(
        raw(port, b"SELECT 2\r\nGET x\r\nSELECT 0\r\nEXISTS x\r\n"),
        "+OK\r\n$3\r\ntwo\r\n+OK\r\n:0\r\n"
    );
}
