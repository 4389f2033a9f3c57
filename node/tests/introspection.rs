//! Goal: the introspection commands behave as Redis's do on each node: CLIENT LIST filters
//! and flags, CLIENT KILL (old form and filters), CLIENT UNBLOCK of a blocked pop, CLIENT
//! PAUSE WRITE holding writes but not reads, SLOWLOG recording commands over its threshold,
//! the LATENCY monitor, TIME, MONITOR streaming other clients' commands with credentials redacted,
//! DEBUG refused with an explanation, and COMMAND (COUNT, INFO, LIST FILTERBY, GETKEYS, DOCS).
//! Method: one node of a 3-node cluster, several real `redis` connections, raw sockets where
//! the exact wire output matters; every wait is bounded.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use common::{cmd, err_text, info_field, raw, wait_for, Cluster};
use redis::{Commands, Value};

fn client_id(c: &mut redis::Connection) -> i64 {
    redis::cmd("CLIENT").arg("ID").query(c).unwrap()
}

#[test]
fn client_list_kill_unblock_and_pause() {
    let cluster = Cluster::start(3, &[]);
    let node = cluster.node(cluster.follower());
    let mut me = node.conn();
    let mut other = node.conn();
    let other_id = client_id(&mut other);

    // CLIENT LIST ID shows just that client, with its last command's full name.
    let list: String = cmd("CLIENT", &["LIST", "ID", &other_id.to_string()])
        .query(&mut me)
        .unwrap();
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains(&format!("id={other_id} ")), "{list}");
    assert!(list.contains(" cmd=client|id "), "{list}");

    // CLIENT UNBLOCK wakes a blocked BLPOP with its timeout reply, or an error.
    let mut blocked = node.conn();
    let blocked_id = client_id(&mut blocked);
    let waiter = std::thread::spawn(move || {
        let first: Value = cmd("BLPOP", &["nothing", "0"]).query(&mut blocked).unwrap();
        let second = cmd("BLPOP", &["nothing", "0"]).query::<Value>(&mut blocked);
        (
            first,
            second.map_err(|e| format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))),
        )
    });
    for error in [false, true] {
        wait_for(Duration::from_secs(10), "the client to block", || {
            let list: String = cmd("CLIENT", &["LIST"]).query(&mut me).ok()?;
            list.lines()
                .any(|l| l.starts_with(&format!("id={blocked_id} ")) && l.contains(" flags=b "))
                .then_some(())
        });
        let mode = if error { "ERROR" } else { "TIMEOUT" };
        let n: i64 = cmd("CLIENT", &["UNBLOCK", &blocked_id.to_string(), mode])
            .query(&mut me)
            .unwrap();
        assert_eq!(n, 1);
    }
    let (first, second) = waiter.join().unwrap();
    assert_eq!(first, Value::Nil);
    assert_eq!(
        second.unwrap_err(),
        "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    );
    let n: i64 = cmd("CLIENT", &["UNBLOCK", &other_id.to_string()])
        .query(&mut me)
        .unwrap();
    assert_eq!(n, 0, "a client that is not blocked");

    // CLIENT PAUSE WRITE holds writes until it ends; reads go on.
    let _: () = cmd("CLIENT", &["PAUSE", "400", "WRITE"])
        .query(&mut me)
        .unwrap();
    let started = Instant::now();
    let _: Option<String> = other.get("k").unwrap();
    let read_took = started.elapsed();
    let _: () = other.set("k", "v").unwrap();
    let write_took = started.elapsed();
    assert!(read_took < Duration::from_millis(300), "{read_took:?}");
    assert!(write_took >= Duration::from_millis(300), "{write_took:?}");
    let _: () = cmd("CLIENT", &["PAUSE", "100000", "WRITE"])
        .query(&mut me)
        .unwrap();
    let _: () = cmd("CLIENT", &["UNPAUSE"]).query(&mut me).unwrap();
    let _: () = other.set("k", "v2").unwrap();

    // CLIENT KILL by id and by the old address form.
    let killed: i64 = cmd("CLIENT", &["KILL", "ID", &other_id.to_string()])
        .query(&mut me)
        .unwrap();
    assert_eq!(killed, 1);
    assert!(other.get::<_, Option<String>>("k").is_err(), "killed");
    assert_eq!(
        err_text(cmd("CLIENT", &["KILL", "1.2.3.4:5"]).query::<()>(&mut me)),
        "ERR No such client"
    );
    assert_eq!(
        err_text(cmd("CLIENT", &["KILL", "USER", "nobody"]).query::<()>(&mut me)),
        "ERR No such user 'nobody'"
    );
    // SKIPME yes (the default) spares the caller.
    let _extra = node.conn();
    let n: i64 = cmd("CLIENT", &["KILL", "TYPE", "normal"])
        .query(&mut me)
        .unwrap();
    assert!(n >= 1);
    let pong: String = redis::cmd("PING").query(&mut me).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn reset_returns_a_connection_to_its_first_state() {
    let cluster = Cluster::start(3, &[]);
    let node = cluster.node(cluster.follower());
    let mut c = node.conn();
    let _: () = cmd("SELECT", &["2"]).query(&mut c).unwrap();
    let _: () = c.set("in2", "v").unwrap();
    let _: () = cmd("CLIENT", &["SETNAME", "before-reset"])
        .query(&mut c)
        .unwrap();
    let _: () = cmd("CLIENT", &["NO-TOUCH", "ON"]).query(&mut c).unwrap();
    let _: () = cmd("READONLY", &[]).query(&mut c).unwrap();
    let info: String = cmd("CLIENT", &["INFO"]).query(&mut c).unwrap();
    assert!(
        info.contains(" name=before-reset ") && info.contains(" db=2 "),
        "{info}"
    );
    assert!(info.contains("flags=T"), "{info}");

    let reset: String = cmd("RESET", &[]).query(&mut c).unwrap();
    assert_eq!(reset, "RESET");
    let info: String = cmd("CLIENT", &["INFO"]).query(&mut c).unwrap();
    for field in [" name= ", " db=0 ", " resp=2 ", " user=default "] {
        assert!(info.contains(field), "{field} in {info}");
    }
    assert!(!info.contains("flags=T"), "no-touch is off again: {info}");
    let gone: Option<String> = c.get("in2").unwrap();
    assert_eq!(gone, None, "back in database 0");
    let _: () = cmd("SELECT", &["2"]).query(&mut c).unwrap();
    let kept: String = c.get("in2").unwrap();
    assert_eq!(kept, "v");
}

#[test]
fn slowlog_latency_debug_and_monitor() {
    let cluster = Cluster::start(3, &[]);
    let node = cluster.node(cluster.leader());
    let mut c = node.conn();

    // TIME: the node's clock as [seconds, microseconds], bulk strings.
    let (secs, micros): (String, String) = cmd("TIME", &[]).query(&mut c).unwrap();
    let secs: u64 = secs.parse().unwrap();
    let micros: u32 = micros.parse().unwrap();
    let ours = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        secs.abs_diff(ours) <= 2 && micros < 1_000_000,
        "{secs} {micros}"
    );
    assert!(err_text(cmd("TIME", &["x"]).query::<Value>(&mut c)).contains("wrong number"));

    // SLOWLOG: with a threshold of 0 every command is logged, newest first.
    let _: () = cmd("CONFIG", &["SET", "slowlog-log-slower-than", "0"])
        .query(&mut c)
        .unwrap();
    let _: () = cmd("SLOWLOG", &["RESET"]).query(&mut c).unwrap();
    let _: () = c.set("slow", "x".repeat(200)).unwrap();
    let entries: Vec<Value> = cmd("SLOWLOG", &["GET", "1"]).query(&mut c).unwrap();
    let Value::Array(entry) = &entries[0] else {
        panic!("{entries:?}");
    };
    assert_eq!(entry.len(), 6);
    let Value::Array(args) = &entry[3] else {
        panic!("{entry:?}");
    };
    assert_eq!(
        args[0],
        Value::BulkString(b"SET".to_vec()),
        "as the client sent it"
    );
    let cut = String::from_utf8_lossy(match &args[2] {
        Value::BulkString(b) => b,
        other => panic!("{other:?}"),
    })
    .to_string();
    assert!(cut.ends_with("... (72 more bytes)"), "{cut}");
    let len: i64 = cmd("SLOWLOG", &["LEN"]).query(&mut c).unwrap();
    assert!(len >= 2);
    let _: () = cmd("CONFIG", &["SET", "slowlog-log-slower-than", "-1"])
        .query(&mut c)
        .unwrap();
    let _: () = cmd("SLOWLOG", &["RESET"]).query(&mut c).unwrap();
    let _: () = c.set("fast", "y").unwrap();
    let len: i64 = cmd("SLOWLOG", &["LEN"]).query(&mut c).unwrap();
    assert_eq!(len, 0, "a negative threshold logs nothing");

    // LATENCY: a 50 ms BLPOP timeout is a `command` latency spike over a 10 ms threshold.
    let _: () = cmd("CONFIG", &["SET", "latency-monitor-threshold", "10"])
        .query(&mut c)
        .unwrap();
    let _: Value = cmd("BLPOP", &["none", "0.05"]).query(&mut c).unwrap();
    let latest: Vec<(String, i64, i64, i64)> = cmd("LATENCY", &["LATEST"]).query(&mut c).unwrap();
    assert_eq!(latest.len(), 1, "{latest:?}");
    assert_eq!(latest[0].0, "command");
    assert!(latest[0].2 >= 50, "{latest:?}");
    let history: Vec<(i64, i64)> = cmd("LATENCY", &["HISTORY", "command"])
        .query(&mut c)
        .unwrap();
    assert_eq!(history.len(), 1);
    let n: i64 = cmd("LATENCY", &["RESET"]).query(&mut c).unwrap();
    assert_eq!(n, 1);
    let hist: Value = cmd("LATENCY", &["HISTOGRAM", "set"]).query(&mut c).unwrap();
    assert!(format!("{hist:?}").contains("calls"), "{hist:?}");

    // DEBUG is refused with a reason.
    assert!(err_text(cmd("DEBUG", &["SLEEP", "0"]).query::<()>(&mut c))
        .starts_with("ERR DEBUG is not supported by cairn"));

    // MONITOR: another client's commands, AUTH redacted, admin commands left out.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", node.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"MONITOR\r\n").unwrap();
    let mut lines = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    assert_eq!(line, "+OK\r\n");
    let _: () = c.set("watched", "1").unwrap();
    let _ = cmd("AUTH", &["someone", "s3cret"]).query::<()>(&mut c);
    let _: () = cmd("CONFIG", &["GET", "maxmemory"])
        .query::<Value>(&mut c)
        .map(|_| ())
        .unwrap();
    let _: Option<String> = c.get("watched").ok();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut l = String::new();
        lines.read_line(&mut l).unwrap();
        seen.push(l);
    }
    assert!(seen[0].contains("\"SET\" \"watched\" \"1\""), "{seen:?}");
    assert!(
        seen[1].contains("\"AUTH\" \"(redacted)\" \"(redacted)\""),
        "{seen:?}"
    );
    assert!(
        seen[2].contains("\"GET\" \"watched\""),
        "CONFIG is not shown: {seen:?}"
    );
    assert!(seen.iter().all(|l| !l.contains("s3cret")));
}

#[test]
fn command_table_through_a_follower() {
    let cluster = Cluster::start(3, &[]);
    let mut c = cluster.node(cluster.follower()).conn();

    let count: i64 = cmd("COMMAND", &["COUNT"]).query(&mut c).unwrap();
    let all: Vec<Value> = redis::cmd("COMMAND").query(&mut c).unwrap();
    assert_eq!(all.len() as i64, count);

    // COMMAND INFO: name, arity, flags, first key, last key, step, ACL categories...
    let info: Vec<Value> = cmd("COMMAND", &["INFO", "get", "nosuch"])
        .query(&mut c)
        .unwrap();
    assert_eq!(info.len(), 2);
    assert_eq!(info[1], Value::Nil);
    let Value::Array(get) = &info[0] else {
        panic!("COMMAND INFO get: {:?}", info[0])
    };
    assert_eq!(get[0], Value::BulkString(b"get".to_vec()));
    assert_eq!(get[1], Value::Int(2));
    assert_eq!(&get[3..6], &[Value::Int(1), Value::Int(1), Value::Int(1)]);

    // COMMAND LIST, whole and filtered as Redis filters: subcommands listed by full name.
    let list: Vec<String> = cmd("COMMAND", &["LIST"]).query(&mut c).unwrap();
    assert!(list.len() as i64 > count, "subcommands are listed too");
    assert!(list.iter().any(|n| n == "config|get"));
    let mut pattern: Vec<String> = cmd("COMMAND", &["LIST", "FILTERBY", "PATTERN", "HINC*"])
        .query(&mut c)
        .unwrap();
    pattern.sort();
    assert_eq!(pattern, ["hincrby", "hincrbyfloat"]);
    let hashes: Vec<String> = cmd("COMMAND", &["LIST", "FILTERBY", "ACLCAT", "HASH"])
        .query(&mut c)
        .unwrap();
    assert!(hashes.iter().any(|n| n == "hset") && hashes.iter().all(|n| n.starts_with('h')));
    let modules: Vec<String> = cmd("COMMAND", &["LIST", "FILTERBY", "MODULE", "json"])
        .query(&mut c)
        .unwrap();
    assert!(modules.is_empty());
    assert_eq!(
        err_text(cmd("COMMAND", &["LIST", "FILTERBY", "COLOUR", "x"]).query::<Value>(&mut c)),
        "ERR syntax error"
    );

    // COMMAND GETKEYS and DOCS for a command that exists.
    let keys: Vec<String> = cmd("COMMAND", &["GETKEYS", "mset", "a", "1", "b", "2"])
        .query(&mut c)
        .unwrap();
    assert_eq!(keys, ["a", "b"]);
    let docs: Value = cmd("COMMAND", &["DOCS", "get"]).query(&mut c).unwrap();
    assert!(format!("{docs:?}").contains("summary"), "{docs:?}");

    // In RESP3 (sets of maps, maps of maps) the connection lives on after every form.
    let port = cluster.node(cluster.follower()).port;
    let out = raw(
        port,
        b"HELLO 3\r\nCOMMAND\r\nCOMMAND DOCS\r\nCOMMAND INFO get\r\nCOMMAND LIST\r\nPING\r\n",
    );
    assert!(
        out.starts_with('%') && out.ends_with("+PONG\r\n"),
        "{out:.200}"
    );

    // A command that panicked would be counted here (and the cluster's Drop checks the logs).
    assert_eq!(info_field(&mut c, "stats", "cairn_connection_panics"), "0");
}
