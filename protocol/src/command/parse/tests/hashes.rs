use super::*;
use crate::command::{CollectionKind, HashPart};

const OUT_OF_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

#[test]
fn hset_and_hmset() {
    let pairs = vec![(b("f"), b("v")), (b("g"), b("w"))];
    assert_eq!(
        write("hset h f v g w"),
        WriteCommand::HSet {
            key: b("h"),
            pairs: pairs.clone(),
            hmset: false
        }
    );
    assert_eq!(
        write("HMSET h f v g w"),
        WriteCommand::HSet {
            key: b("h"),
            pairs,
            hmset: true
        }
    );
    assert_eq!(err("hset h f"), arity("hset"));
    assert_eq!(err("hset h f v g"), arity("hset"));
    assert_eq!(err("hmset h f v g"), arity("hmset"));
    assert_eq!(err("hmset h"), arity("hmset"));
    assert_eq!(
        write("hsetnx h f v"),
        WriteCommand::HSetNx {
            key: b("h"),
            field: b("f"),
            value: b("v")
        }
    );
    assert_eq!(err("hsetnx h f"), arity("hsetnx"));
    assert_eq!(err("hsetnx h f v x"), arity("hsetnx"));
}

#[test]
fn hash_reads() {
    assert_eq!(
        read("hget h f"),
        ReadCommand::HGet {
            key: b("h"),
            field: b("f")
        }
    );
    assert_eq!(
        read("hmget h f g"),
        ReadCommand::HMGet {
            key: b("h"),
            fields: vec![b("f"), b("g")]
        }
    );
    for (cmd, part) in [
        ("hgetall", HashPart::All),
        ("hkeys", HashPart::Keys),
        ("hvals", HashPart::Values),
    ] {
        assert_eq!(
            read(&format!("{cmd} h")),
            ReadCommand::HGetAll { key: b("h"), part }
        );
        assert_eq!(err(&format!("{cmd} h x")), arity(cmd));
    }
    assert_eq!(read("hlen h"), ReadCommand::HLen { key: b("h") });
    assert_eq!(
        read("hexists h f"),
        ReadCommand::HExists {
            key: b("h"),
            field: b("f")
        }
    );
    assert_eq!(
        read("hstrlen h f"),
        ReadCommand::HStrLen {
            key: b("h"),
            field: b("f")
        }
    );
    assert_eq!(err("hget h"), arity("hget"));
    assert_eq!(err("hmget h"), arity("hmget"));
    assert_eq!(err("hlen"), arity("hlen"));
    assert_eq!(err("hexists h"), arity("hexists"));
    assert_eq!(err("hstrlen h f g"), arity("hstrlen"));
}

#[test]
fn hdel_and_counters() {
    assert_eq!(
        write("hdel h f g"),
        WriteCommand::HDel {
            key: b("h"),
            fields: vec![b("f"), b("g")]
        }
    );
    assert_eq!(err("hdel h"), arity("hdel"));
    assert_eq!(
        write("hincrby h f -3"),
        WriteCommand::HIncrBy {
            key: b("h"),
            field: b("f"),
            delta: -3
        }
    );
    assert_eq!(err("hincrby h f x"), NOT_INTEGER);
    assert_eq!(err("hincrby h f 1.5"), NOT_INTEGER);
    assert_eq!(err("hincrby h f 9223372036854775808"), NOT_INTEGER);
    assert_eq!(err("hincrby h f"), arity("hincrby"));
    assert!(matches!(
        write("hincrbyfloat h f 1.5"),
        WriteCommand::HIncrByFloat { .. }
    ));
    assert_eq!(err("hincrbyfloat h f x"), "ERR value is not a valid float");
    assert_eq!(
        err("hincrbyfloat h f nan"),
        "ERR value is not a valid float"
    );
    assert_eq!(err("hincrbyfloat h f inf"), "ERR value is NaN or Infinity");
    assert_eq!(err("hincrbyfloat h f -inf"), "ERR value is NaN or Infinity");
    assert_eq!(err("hincrbyfloat h f"), arity("hincrbyfloat"));
}

#[test]
fn hrandfield() {
    let r = |count, with_values| ReadCommand::HRandField {
        key: b("h"),
        count,
        with_values,
    };
    assert_eq!(read("hrandfield h"), r(None, false));
    assert_eq!(read("hrandfield h -5"), r(Some(-5), false));
    assert_eq!(read("hrandfield h 3 WithValues"), r(Some(3), true));
    assert_eq!(
        read("hrandfield h -9223372036854775807"),
        r(Some(-i64::MAX), false)
    );
    assert_eq!(err("hrandfield h x"), NOT_INTEGER);
    assert_eq!(err("hrandfield h -9223372036854775808"), OUT_OF_RANGE);
    assert_eq!(err("hrandfield h 1 foo"), SYNTAX);
    assert_eq!(err("hrandfield h 1 withvalues x"), SYNTAX);
    // The count is checked before the options.
    assert_eq!(err("hrandfield h x foo"), NOT_INTEGER);
    assert_eq!(
        err("hrandfield h 4611686018427387904 withvalues"),
        "ERR value is out of range"
    );
    assert_eq!(
        read("hrandfield h -4611686018427387903 withvalues"),
        r(Some(-4_611_686_018_427_387_903), true)
    );
    assert_eq!(
        err("hrandfield h -4611686018427387904 withvalues"),
        "ERR value is out of range"
    );
    assert_eq!(err("hrandfield"), arity("hrandfield"));
}

#[test]
fn hscan() {
    let scan = |cursor, pattern: Option<&str>, count| ReadCommand::CollectionScan {
        key: b("h"),
        kind: CollectionKind::Hash,
        cursor,
        pattern: pattern.map(b),
        count,
    };
    assert_eq!(read("hscan h 0"), scan(0, None, 10));
    assert_eq!(read("hscan h 12 MATCH f* COUNT 3"), scan(12, Some("f*"), 3));
    assert_eq!(read("hscan h 0 match *"), scan(0, None, 10));
    assert_eq!(err("hscan h x"), "ERR invalid cursor");
    assert_eq!(err("hscan h -1"), "ERR invalid cursor");
    assert_eq!(err("hscan h 0 count 0"), SYNTAX);
    assert_eq!(err("hscan h 0 count x"), NOT_INTEGER);
    assert_eq!(err("hscan h 0 count"), SYNTAX);
    // TYPE is SCAN's alone.
    assert_eq!(err("hscan h 0 type string"), SYNTAX);
    assert_eq!(err("hscan h"), arity("hscan"));
}
