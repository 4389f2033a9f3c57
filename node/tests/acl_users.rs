//! Goal: ACL users are replicated state: a user created on one node authenticates and is
//! held to its permissions (commands, categories, keys, channels) on every node; changes and
//! deletions reach every node; CONFIG SET requirepass on one node protects all of them; a
//! `--requirepass` cluster keeps its password when the default user is changed; passwords
//! are stored and replicated only as SHA-256 hashes.
//! Method: a 3-node cluster and real `redis` clients; a user is created through a follower
//! and used on the other nodes; the data dirs and logs are searched for the clear passwords.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{cmd, err_text, raw, wait_for, Cluster};
use redis::{Commands, Value};

fn connect_as(port: u16, user: &str, pass: &str) -> redis::RedisResult<redis::Connection> {
    let url = format!("redis://{user}:{pass}@127.0.0.1:{port}/");
    redis::Client::open(url)?.get_connection_with_timeout(Duration::from_secs(5))
}

/// Every file under `dir` holds no `needle`.
fn nowhere_in(dir: &std::path::Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true;
    };
    entries.flatten().all(|e| {
        let p = e.path();
        if p.is_dir() {
            nowhere_in(&p, needle)
        } else {
            let bytes = std::fs::read(&p).unwrap_or_default();
            !bytes.windows(needle.len()).any(|w| w == needle)
        }
    })
}

#[test]
fn users_created_on_one_node_are_enforced_on_every_node() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut admin = cluster.node(follower).conn();
    let ok: String = cmd(
        "ACL",
        &[
            "SETUSER",
            "app",
            "on",
            ">app-Pa55",
            "~app:*",
            "%R~shared:*",
            "&events.*",
            "+@read",
            "+@write",
            "-del",
            "+publish",
            "+@transaction",
        ],
    )
    .query(&mut admin)
    .unwrap();
    assert_eq!(ok, "OK");
    let _: () = admin.set("shared:motd", "hello").unwrap();

    for n in &cluster.nodes {
        // The user exists everywhere once its entry is applied there.
        wait_for(Duration::from_secs(10), "the user on every node", || {
            connect_as(n.port, "app", "app-Pa55").ok()
        });
        let mut c = connect_as(n.port, "app", "app-Pa55").unwrap();
        let me: String = cmd("ACL", &["WHOAMI"]).query(&mut c).unwrap_or_default();
        // WHOAMI is in none of the user's categories: refused like any other command.
        assert_eq!(me, "");
        let _: () = c.set(format!("app:{}", n.id), "v").unwrap();
        let v: String = c.get("shared:motd").unwrap();
        assert_eq!(v, "hello");
        assert_eq!(
            err_text(c.set::<_, _, ()>("shared:motd", "x")),
            "NOPERM this user has no permissions to access one of the keys used as arguments"
        );
        assert_eq!(
            err_text(c.del::<_, ()>("app:1")),
            "NOPERM this user has no permissions to run the 'del' command"
        );
        assert_eq!(
            err_text(c.publish::<_, _, ()>("other", "m")),
            "NOPERM this user has no permissions to access one of the channels used as arguments"
        );
        let receivers: i64 = c.publish("events.x", "m").unwrap();
        assert_eq!(receivers, 0);
        // A refused command inside MULTI aborts the transaction.
        let r: redis::RedisResult<Value> = redis::pipe()
            .atomic()
            .set("app:t", "1")
            .del("app:t")
            .query(&mut c);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("EXECABORT") || e.contains("NOPERM"), "{e}");
        let exists: bool = c.exists("app:t").unwrap();
        assert!(!exists, "the aborted transaction applied nothing");
        // Wrong passwords and unknown users are refused alike.
        for (user, pass) in [("app", "nope"), ("ghost", "x")] {
            let bad = connect_as(n.port, user, pass).map(|_| ()).unwrap_err();
            assert_eq!(bad.kind(), redis::ErrorKind::AuthenticationFailed, "{bad}");
        }
    }

    // ACL LIST / GETUSER show the same user on every node, with the hash only.
    let list: Vec<String> = cmd("ACL", &["LIST"])
        .query(&mut cluster.node(cluster.leader()).conn())
        .unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list[0].starts_with("user app on #"), "{list:?}");
    assert!(
        list[0].ends_with(
            "~app:* %R~shared:* &events.* -@all +@read +@write -del +publish +@transaction"
        ),
        "{list:?}"
    );
    assert_eq!(list[1], "user default on nopass ~* &* +@all");

    // A change made on one node applies to open connections on another.
    let other = cluster.nodes.iter().find(|n| n.id != follower).unwrap();
    let mut c = connect_as(other.port, "app", "app-Pa55").unwrap();
    let _: String = cmd("ACL", &["SETUSER", "app", "+del"])
        .query(&mut admin)
        .unwrap();
    wait_for(Duration::from_secs(10), "DEL allowed", || {
        c.del::<_, i64>("app:1").ok()
    });

    // Deleting the user closes its connections and refuses new ones.
    let n: i64 = cmd("ACL", &["DELUSER", "app", "nobody"])
        .query(&mut admin)
        .unwrap();
    assert_eq!(n, 1);
    wait_for(
        Duration::from_secs(10),
        "the deleted user's connection closed",
        || c.get::<_, Option<String>>("app:1").is_err().then_some(()),
    );
    assert!(connect_as(other.port, "app", "app-Pa55").is_err());

    // Clear-text passwords are nowhere on disk or in the logs.
    for n in &cluster.nodes {
        assert!(nowhere_in(&n.data_dir, b"app-Pa55"), "node {} data", n.id);
        assert!(!n.log_text().contains("app-Pa55"), "node {} log", n.id);
    }
}

#[test]
fn requirepass_set_on_one_node_protects_every_node() {
    let cluster = Cluster::start(3, &[]);
    let mut c = cluster.node(cluster.follower()).conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("n3w-pass")
        .query(&mut c)
        .unwrap();
    for n in &cluster.nodes {
        wait_for(Duration::from_secs(10), "AUTH required", || {
            raw(n.port, b"PING\r\n")
                .starts_with("-NOAUTH")
                .then_some(())
        });
        assert_eq!(
            raw(n.port, b"AUTH n3w-pass\r\nPING\r\n"),
            "+OK\r\n+PONG\r\n",
            "node {}",
            n.id
        );
    }
}

#[test]
fn a_requirepass_cluster_keeps_its_password_when_default_changes() {
    let cluster = Cluster::start(3, &["--requirepass", "b00t"]);
    let mut c = cluster.node(cluster.leader()).conn();
    let _: String = cmd("ACL", &["SETUSER", "default", "-flushall"])
        .query(&mut c)
        .unwrap();
    for n in &cluster.nodes {
        wait_for(Duration::from_secs(10), "the change applied", || {
            raw(n.port, b"AUTH b00t\r\nFLUSHALL\r\n")
                .contains("NOPERM")
                .then_some(())
        });
        assert!(
            raw(n.port, b"PING\r\n").starts_with("-NOAUTH"),
            "node {}",
            n.id
        );
    }
}
