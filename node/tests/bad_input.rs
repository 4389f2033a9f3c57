//! Goal: malformed or oversized input gets Redis's error and the node goes on serving.
//! Method: raw bytes over TCP, asserting the exact reply text, then a fresh connection
//! checks the node still answers.
#![allow(clippy::unwrap_used)]

mod common;

use common::{raw, Cluster};

fn still_serving(port: u16) {
    assert_eq!(raw(port, b"PING\r\n"), "+PONG\r\n");
}

#[test]
fn protocol_errors_are_answered_and_the_node_keeps_serving() {
    let cluster = Cluster::start(1, &["--max-bulk-len", "1048576"]);
    let port = cluster.node(1).port;
    let cases: &[(&[u8], &str)] = &[
        (
            b"*abc\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n+PING\r\n",
            "-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        // Over the configured limit: refused from the header, before any data is buffered.
        (
            b"*2\r\n$3\r\nSET\r\n$2000000\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*99999999999\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"SET \"unbalanced\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            raw(port, input),
            *expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
        still_serving(port);
    }
}

#[test]
fn command_errors_are_redis_errors_and_the_connection_goes_on() {
    let cluster = Cluster::start(1, &[]);
    let port = cluster.node(1).port;
    let script = b"FOO bar baz\r\n\
GET\r\n\
SET k v EX 0\r\n\
SET k v NX XX\r\n\
SET k notanumber\r\n\
INCR k\r\n\
SELECT 16\r\n\
CONFIG SET no-such-option 1\r\n\
EXPIRE k abc\r\n\
PING\r\n";
    let out = raw(port, script);
    let expected = "-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n\
-ERR wrong number of arguments for 'get' command\r\n\
-ERR invalid expire time in 'set' command\r\n\
-ERR syntax error\r\n\
+OK\r\n\
-ERR value is not an integer or out of range\r\n\
-ERR DB index is out of range\r\n\
-ERR Unknown option or number of arguments for CONFIG SET - 'no-such-option'\r\n\
-ERR value is not an integer or out of range\r\n\
+PONG\r\n";
    assert_eq!(out, expected);
}

#[test]
fn inline_commands_and_resp3_work() {
    let cluster = Cluster::start(1, &[]);
    let port = cluster.node(1).port;
    assert_eq!(
        raw(port, b"SET greeting \"hello world\"\r\nGET greeting\r\n"),
        "+OK\r\n$11\r\nhello world\r\n"
    );
    let out = raw(port, b"HELLO 3\r\nGET nothing\r\n");
    assert!(out.starts_with("%7\r\n"), "{out}");
    assert!(out.ends_with("_\r\n"), "{out}");
}
