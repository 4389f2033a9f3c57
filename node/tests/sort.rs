//! Goal: SORT, SORT_RO and SORT ... STORE answer as Redis 7 does on any node, the stored
//! list is the same on every replica, and ACL key rules cover STORE and the patterns.
//! Method: a 3-node cluster; data written through a follower; SORT read on every node and
//! stored through a follower (applied through the log); a restricted user for the ACL part.
#![allow(clippy::unwrap_used)]

mod common;

use common::{cmd, err_text, Cluster};
use redis::Commands;

#[test]
fn sort_on_every_node_and_store_through_a_follower() {
    let cluster = Cluster::start(3, &[]);
    let mut w = cluster.node(cluster.follower()).conn();
    let _: () = cmd("RPUSH", &["ids", "3", "1", "2"]).query(&mut w).unwrap();
    let _: () = cmd(
        "MSET",
        &["w_1", "30", "w_2", "10", "w_3", "20", "n_1", "one"],
    )
    .query(&mut w)
    .unwrap();
    let _: () = cmd("SADD", &["tags", "b", "c", "a"]).query(&mut w).unwrap();

    for n in &cluster.nodes {
        let mut c = n.conn();
        let plain: Vec<String> = cmd("SORT", &["ids"]).query(&mut c).unwrap();
        assert_eq!(plain, ["1", "2", "3"]);
        let by: Vec<String> = cmd("SORT", &["ids", "BY", "w_*", "DESC"])
            .query(&mut c)
            .unwrap();
        assert_eq!(by, ["1", "3", "2"]);
        let got: Vec<Option<String>> = cmd("SORT_RO", &["ids", "GET", "#", "GET", "n_*"])
            .query(&mut c)
            .unwrap();
        let expected = [Some("1"), Some("one"), Some("2"), None, Some("3"), None];
        assert_eq!(got, expected.map(|v| v.map(String::from)));
        let alpha: Vec<String> = cmd("SORT", &["tags", "ALPHA", "LIMIT", "1", "5"])
            .query(&mut c)
            .unwrap();
        assert_eq!(alpha, ["b", "c"]);
    }

    // STORE through a follower: one log entry, the same list on every replica.
    let stored: i64 = cmd("SORT", &["ids", "BY", "w_*", "STORE", "out"])
        .query(&mut w)
        .unwrap();
    assert_eq!(stored, 3);
    for n in &cluster.nodes {
        let mut c = n.conn();
        let list: Vec<String> = c.lrange("out", 0, -1).unwrap();
        assert_eq!(list, ["2", "3", "1"], "node {}", n.id);
    }
    assert_eq!(
        common::code(cmd("SORT", &["w_1"]).query::<Vec<String>>(&mut w)),
        common::WRONGTYPE
    );
    let _: () = cmd("RPUSH", &["words", "x", "y"]).query(&mut w).unwrap();
    assert_eq!(
        err_text(cmd("SORT", &["words"]).query::<Vec<String>>(&mut w)),
        "ERR One or more scores can't be converted into double"
    );

    // COMMAND GETKEYS finds the STORE destination (the last one), as ACL checks do.
    let keys: Vec<String> = cmd(
        "COMMAND",
        &["GETKEYS", "sort", "abc", "store", "bad", "store", "def"],
    )
    .query(&mut w)
    .unwrap();
    assert_eq!(keys, ["abc", "def"]);
    let keys: Vec<String> = cmd("COMMAND", &["GETKEYS", "sort_ro", "abc"])
        .query(&mut w)
        .unwrap();
    assert_eq!(keys, ["abc"]);
    assert_eq!(
        err_text(cmd("COMMAND", &["GETKEYS", "ping"]).query::<Vec<String>>(&mut w)),
        "ERR The command has no key arguments"
    );
    assert_eq!(
        err_text(cmd("COMMAND", &["GETKEYS", "nope", "x"]).query::<Vec<String>>(&mut w)),
        "ERR Invalid command specified"
    );
    assert_eq!(
        err_text(cmd("COMMAND", &["GETKEYS", "get"]).query::<Vec<String>>(&mut w)),
        "ERR Invalid number of arguments specified for command"
    );

    // A user limited to `ids*` and `out*` may sort and store there, not elsewhere, and not
    // through patterns (which could name any key).
    let _: String = cmd(
        "ACL",
        &["SETUSER", "app", "on", ">pw", "~ids*", "~out*", "+@all"],
    )
    .query(&mut w)
    .unwrap();
    let mut app = redis::Client::open(format!(
        "redis://app:pw@127.0.0.1:{}/",
        cluster.node(cluster.follower()).port
    ))
    .unwrap()
    .get_connection()
    .unwrap();
    let n: i64 = cmd("SORT", &["ids", "STORE", "out2"])
        .query(&mut app)
        .unwrap();
    assert_eq!(n, 3);
    let denied = "NOPERM this user has no permissions to access one of the keys used as arguments";
    assert_eq!(
        err_text(cmd("SORT", &["ids", "STORE", "elsewhere"]).query::<i64>(&mut app)),
        denied
    );
    assert_eq!(
        err_text(cmd("SORT", &["ids", "BY", "w_*"]).query::<Vec<String>>(&mut app)),
        denied
    );
    assert_eq!(
        err_text(cmd("SORT", &["ids", "GET", "#"]).query::<Vec<String>>(&mut app)),
        denied
    );
}
