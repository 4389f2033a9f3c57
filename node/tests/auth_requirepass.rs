//! Goal: `--requirepass` makes every node demand AUTH, with Redis's errors.
//! Method: raw RESP over TCP to a follower and the leader of a 3-node cluster.
#![allow(clippy::unwrap_used)]

mod common;

use common::{raw, Cluster};

#[test]
fn requirepass_is_enforced_on_every_node() {
    let cluster = Cluster::start(3, &["--requirepass", "s3cret"]);
    for n in &cluster.nodes {
        let out = raw(
            n.port,
            b"GET k\r\nAUTH wrong\r\nAUTH default wrong\r\nAUTH s3cret\r\nSET k v\r\nGET k\r\n",
        );
        assert_eq!(
            out,
            "-NOAUTH Authentication required.\r\n\
-WRONGPASS invalid username-password pair or user is disabled.\r\n\
-WRONGPASS invalid username-password pair or user is disabled.\r\n\
+OK\r\n+OK\r\n$1\r\nv\r\n",
            "node {}",
            n.id
        );
    }
    // HELLO with AUTH authenticates and switches protocol at once.
    let out = raw(
        cluster.node(1).port,
        b"HELLO 3 AUTH default s3cret\r\nGET k\r\n",
    );
    assert!(out.starts_with("%7\r\n"), "{out}");
    assert!(out.ends_with("$1\r\nv\r\n"), "{out}");
    // RESET logs the connection out again, and back to RESP2.
    let out = raw(
        cluster.node(2).port,
        b"HELLO 3 AUTH default s3cret\r\nRESET\r\nGET k\r\nAUTH s3cret\r\nGET k\r\n",
    );
    assert!(
        out.ends_with("+RESET\r\n-NOAUTH Authentication required.\r\n+OK\r\n$1\r\nv\r\n"),
        "{out}"
    );
    // The password never appears in the logs.
    for n in &cluster.nodes {
        assert!(!n.log_text().contains("s3cret"));
    }
}
