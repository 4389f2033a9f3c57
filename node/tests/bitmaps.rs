//! Goal: the bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP) behave as in Redis 7
//! through a replicated cluster: replies, errors, WRONGTYPE, and the same bytes on every node.
//! Method: a 3-node cluster; writes through a follower (forwarded to the leader), reads on
//! every node (linearizable), expected values from Redis's documentation examples.
#![allow(clippy::unwrap_used)]

mod common;

use common::{cmd, code, err_text, Cluster, WRONGTYPE};
use redis::Connection;

fn int(c: &mut Connection, name: &str, args: &[&str]) -> i64 {
    cmd(name, args)
        .query(c)
        .unwrap_or_else(|e| panic!("{name} {args:?}: {e}"))
}

fn set_bytes(c: &mut Connection, key: &str, value: &[u8]) {
    let _: () = redis::cmd("SET").arg(key).arg(value).query(c).unwrap();
}

fn get_bytes(c: &mut Connection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query(c).unwrap()
}

fn error(c: &mut Connection, name: &str, args: &[&str]) -> String {
    err_text(cmd(name, args).query::<i64>(c))
}

#[test]
fn bitmaps_through_a_follower() {
    let cluster = Cluster::start(3, &[]);
    let follower = cluster.follower();
    let mut w = cluster.node(follower).conn();

    // SETBIT and GETBIT (documentation examples): the bitmap is a plain string.
    assert_eq!(int(&mut w, "SETBIT", &["mykey", "7", "1"]), 0);
    assert_eq!(int(&mut w, "SETBIT", &["mykey", "7", "0"]), 1);
    assert_eq!(get_bytes(&mut w, "mykey"), Some(b"\x00".to_vec()));
    assert_eq!(int(&mut w, "SETBIT", &["bits", "7", "1"]), 0);
    // Growing the string with zero bytes; the previous value of a new bit is 0.
    assert_eq!(int(&mut w, "SETBIT", &["grown", "17", "1"]), 0);
    assert_eq!(int(&mut w, "SETBIT", &["grown", "0", "1"]), 0);
    assert_eq!(int(&mut w, "SETBIT", &["grown", "0", "1"]), 1);

    // BITCOUNT, BITPOS and BITOP inputs.
    let _: () = redis::cmd("SET")
        .arg(&["str", "foobar"])
        .query(&mut w)
        .unwrap();
    set_bytes(&mut w, "ones", b"\xff\xf0\x00");
    set_bytes(&mut w, "mid", b"\x00\xff\xf0");
    set_bytes(&mut w, "zeros", b"\x00\x00\x00");
    set_bytes(&mut w, "full", b"\xff\xff");
    let _: () = redis::cmd("SET")
        .arg(&["key2", "abcdef"])
        .query(&mut w)
        .unwrap();
    assert_eq!(int(&mut w, "BITOP", &["AND", "dest", "str", "key2"]), 6);
    assert_eq!(int(&mut w, "BITOP", &["or", "padded", "bits", "str"]), 6);
    assert_eq!(int(&mut w, "BITOP", &["XOR", "self", "str", "str"]), 6);
    assert_eq!(int(&mut w, "BITOP", &["NOT", "inverted", "mid"]), 3);
    // Missing keys are empty strings: an empty result deletes the destination.
    let _: () = redis::cmd("SET").arg(&["gone", "x"]).query(&mut w).unwrap();
    assert_eq!(int(&mut w, "BITOP", &["and", "gone", "nope1", "nope2"]), 0);
    assert_eq!(int(&mut w, "BITOP", &["and", "zeroed", "nope1", "bits"]), 1);

    // Errors, checked before anything reaches the log.
    let list: i64 = redis::cmd("RPUSH")
        .arg(&["list", "a"])
        .query(&mut w)
        .unwrap();
    assert_eq!(list, 1);
    let bad_offset = "ERR bit offset is not an integer or out of range";
    assert_eq!(
        error(&mut w, "SETBIT", &["k", "4294967296", "1"]),
        bad_offset
    );
    assert_eq!(error(&mut w, "SETBIT", &["k", "-1", "1"]), bad_offset);
    assert_eq!(error(&mut w, "GETBIT", &["k", "x"]), bad_offset);
    let bad_bit = "ERR bit is not an integer or out of range";
    assert_eq!(error(&mut w, "SETBIT", &["k", "0", "2"]), bad_bit);
    assert_eq!(error(&mut w, "SETBIT", &["k", "0", "x"]), bad_bit);
    assert_eq!(error(&mut w, "BITCOUNT", &["str", "0"]), "ERR syntax error");
    assert_eq!(
        error(&mut w, "BITCOUNT", &["str", "0", "1", "hello"]),
        "ERR syntax error"
    );
    assert_eq!(
        error(&mut w, "BITCOUNT", &["str", "a", "1"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        error(&mut w, "BITPOS", &["str", "2"]),
        "ERR The bit argument must be 1 or 0."
    );
    assert_eq!(
        error(&mut w, "BITPOS", &["str", "1", "0", "1", "bits"]),
        "ERR syntax error"
    );
    assert_eq!(
        error(&mut w, "BITOP", &["NOT", "d", "a", "b"]),
        "ERR BITOP NOT must be called with a single source key."
    );
    assert_eq!(
        error(&mut w, "BITOP", &["NAND", "d", "a"]),
        "ERR syntax error"
    );
    assert_eq!(
        error(&mut w, "BITOP", &["AND", "d"]),
        "ERR wrong number of arguments for 'bitop' command"
    );
    assert_eq!(
        code(cmd("SETBIT", &["list", "0", "1"]).query::<i64>(&mut w)),
        WRONGTYPE
    );
    assert_eq!(
        code(cmd("BITOP", &["OR", "d", "str", "list"]).query::<i64>(&mut w)),
        WRONGTYPE
    );
    assert_eq!(
        err_text(cmd("GETBIT", &["list", "0"]).query::<i64>(&mut w)),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );

    for node in &cluster.nodes {
        let mut r = node.conn();
        let id = node.id;
        assert_eq!(
            get_bytes(&mut r, "mykey"),
            Some(b"\x00".to_vec()),
            "node {id}"
        );
        assert_eq!(get_bytes(&mut r, "grown"), Some(b"\x80\x00\x40".to_vec()));
        assert_eq!(int(&mut r, "GETBIT", &["bits", "0"]), 0);
        assert_eq!(int(&mut r, "GETBIT", &["bits", "7"]), 1);
        assert_eq!(int(&mut r, "GETBIT", &["bits", "100"]), 0);
        assert_eq!(int(&mut r, "GETBIT", &["nope", "0"]), 0);
        assert_eq!(int(&mut r, "STRLEN", &["grown"]), 3);

        // BITCOUNT (documentation examples).
        assert_eq!(int(&mut r, "BITCOUNT", &["str"]), 26);
        assert_eq!(int(&mut r, "BITCOUNT", &["str", "0", "0"]), 4);
        assert_eq!(int(&mut r, "BITCOUNT", &["str", "1", "1"]), 6);
        assert_eq!(int(&mut r, "BITCOUNT", &["str", "1", "1", "BYTE"]), 6);
        assert_eq!(int(&mut r, "BITCOUNT", &["str", "5", "30", "BIT"]), 17);
        assert_eq!(int(&mut r, "BITCOUNT", &["str", "-2", "-1"]), 7);
        assert_eq!(int(&mut r, "BITCOUNT", &["str", "-6", "-7"]), 0);
        assert_eq!(int(&mut r, "BITCOUNT", &["nope"]), 0);
        assert_eq!(int(&mut r, "BITCOUNT", &["nope", "0", "1000", "bit"]), 0);

        // BITPOS (documentation examples, then missing keys and the padding rule).
        assert_eq!(int(&mut r, "BITPOS", &["ones", "0"]), 12);
        assert_eq!(int(&mut r, "BITPOS", &["mid", "1", "0"]), 8);
        assert_eq!(int(&mut r, "BITPOS", &["mid", "1", "2"]), 16);
        assert_eq!(int(&mut r, "BITPOS", &["mid", "1", "2", "-1", "BYTE"]), 16);
        assert_eq!(int(&mut r, "BITPOS", &["mid", "1", "7", "15", "BIT"]), 8);
        assert_eq!(int(&mut r, "BITPOS", &["zeros", "1"]), -1);
        assert_eq!(int(&mut r, "BITPOS", &["zeros", "1", "7", "-3", "BIT"]), -1);
        assert_eq!(int(&mut r, "BITPOS", &["nope", "1"]), -1);
        assert_eq!(int(&mut r, "BITPOS", &["nope", "0"]), 0);
        assert_eq!(int(&mut r, "BITPOS", &["full", "0"]), 16);
        assert_eq!(int(&mut r, "BITPOS", &["full", "0", "1"]), 16);
        assert_eq!(int(&mut r, "BITPOS", &["full", "0", "0", "-1"]), -1);
        assert_eq!(int(&mut r, "BITPOS", &["full", "0", "0", "-1", "bit"]), -1);

        // BITOP results (the AND is the documentation's example).
        assert_eq!(
            get_bytes(&mut r, "dest"),
            Some(b"`bc`ab".to_vec()),
            "node {id}"
        );
        assert_eq!(get_bytes(&mut r, "padded"), Some(b"goobar".to_vec()));
        assert_eq!(get_bytes(&mut r, "self"), Some(vec![0; 6]));
        assert_eq!(
            get_bytes(&mut r, "inverted"),
            Some(b"\xff\x00\x0f".to_vec())
        );
        assert_eq!(get_bytes(&mut r, "zeroed"), Some(b"\x00".to_vec()));
        assert_eq!(get_bytes(&mut r, "gone"), None);
        assert_eq!(get_bytes(&mut r, "d"), None);

        // WRONGTYPE on reads of a list.
        assert_eq!(
            code(cmd("GETBIT", &["list", "0"]).query::<i64>(&mut r)),
            WRONGTYPE
        );
        assert_eq!(
            code(cmd("BITCOUNT", &["list"]).query::<i64>(&mut r)),
            WRONGTYPE
        );
        assert_eq!(
            code(cmd("BITPOS", &["list", "1"]).query::<i64>(&mut r)),
            WRONGTYPE
        );
        let kind: String = redis::cmd("TYPE").arg("list").query(&mut r).unwrap();
        assert_eq!(kind, "list");
    }
}
