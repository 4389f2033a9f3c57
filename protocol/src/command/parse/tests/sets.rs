use super::*;
use crate::command::{CollectionKind, SetOp};

#[test]
fn set_writes() {
    let members = vec![b("a"), b("b")];
    assert_eq!(
        write("sadd s a b"),
        WriteCommand::SAdd {
            key: b("s"),
            members: members.clone()
        }
    );
    assert_eq!(
        write("srem s a b"),
        WriteCommand::SRem {
            key: b("s"),
            members
        }
    );
    assert_eq!(err("sadd s"), arity("sadd"));
    assert_eq!(err("srem s"), arity("srem"));
    assert_eq!(
        write("smove a b m"),
        WriteCommand::SMove {
            source: b("a"),
            destination: b("b"),
            member: b("m")
        }
    );
    assert_eq!(err("smove a b"), arity("smove"));
    assert_eq!(err("smove a b c d"), arity("smove"));
}

#[test]
fn spop_and_srandmember() {
    assert_eq!(
        write("spop s"),
        WriteCommand::SPop {
            key: b("s"),
            count: None
        }
    );
    assert_eq!(
        write("spop s 0"),
        WriteCommand::SPop {
            key: b("s"),
            count: Some(0)
        }
    );
    let positive = "ERR value is out of range, must be positive";
    assert_eq!(err("spop s -1"), positive);
    assert_eq!(err("spop s x"), positive);
    assert_eq!(err("spop s 1 2"), SYNTAX);
    assert_eq!(err("spop"), arity("spop"));
    let r = |count| ReadCommand::SRandMember { key: b("s"), count };
    assert_eq!(read("srandmember s"), r(None));
    assert_eq!(read("srandmember s -3"), r(Some(-3)));
    assert_eq!(err("srandmember s x"), NOT_INTEGER);
    assert_eq!(
        err("srandmember s -9223372036854775808"),
        "ERR value is out of range, value must between -9223372036854775807 and \
         9223372036854775807"
    );
    // More arguments are a syntax error before the count is looked at.
    assert_eq!(err("srandmember s x y"), SYNTAX);
    assert_eq!(err("srandmember"), arity("srandmember"));
}

#[test]
fn set_reads() {
    assert_eq!(read("smembers s"), ReadCommand::SMembers { key: b("s") });
    assert_eq!(read("scard s"), ReadCommand::SCard { key: b("s") });
    assert_eq!(
        read("sismember s m"),
        ReadCommand::SIsMember {
            key: b("s"),
            member: b("m")
        }
    );
    assert_eq!(
        read("smismember s m n"),
        ReadCommand::SMIsMember {
            key: b("s"),
            members: vec![b("m"), b("n")]
        }
    );
    assert_eq!(err("smembers"), arity("smembers"));
    assert_eq!(err("scard s t"), arity("scard"));
    assert_eq!(err("sismember s"), arity("sismember"));
    assert_eq!(err("smismember s"), arity("smismember"));
}

#[test]
fn set_algebra() {
    for (cmd, op) in [
        ("sinter", SetOp::Inter),
        ("sunion", SetOp::Union),
        ("sdiff", SetOp::Diff),
    ] {
        assert_eq!(
            read(&format!("{cmd} a b")),
            ReadCommand::SetAlgebra {
                op,
                keys: vec![b("a"), b("b")]
            }
        );
        assert_eq!(err(cmd), arity(cmd));
        let store = format!("{cmd}store");
        assert_eq!(
            write(&format!("{store} d a")),
            WriteCommand::SStore {
                op,
                destination: b("d"),
                keys: vec![b("a")]
            }
        );
        assert_eq!(err(&format!("{store} d")), arity(&store));
    }
}

#[test]
fn sintercard() {
    let card = |keys: &[&str], limit| ReadCommand::SInterCard {
        keys: keys.iter().map(|k| b(k)).collect(),
        limit,
    };
    assert_eq!(read("sintercard 2 a b"), card(&["a", "b"], 0));
    assert_eq!(read("sintercard 1 a LIMIT 5"), card(&["a"], 5));
    assert_eq!(read("sintercard 1 a limit 5 limit 0"), card(&["a"], 0));
    // The keys are counted, so a key may be named LIMIT.
    assert_eq!(read("sintercard 2 a limit"), card(&["a", "limit"], 0));
    let numkeys = "ERR numkeys should be greater than 0";
    assert_eq!(err("sintercard 0 a"), numkeys);
    assert_eq!(err("sintercard -1 a"), numkeys);
    assert_eq!(err("sintercard x a"), numkeys);
    assert_eq!(
        err("sintercard 3 a b"),
        "ERR Number of keys can't be greater than number of args"
    );
    let negative = "ERR LIMIT can't be negative";
    assert_eq!(err("sintercard 1 a limit -1"), negative);
    assert_eq!(err("sintercard 1 a limit x"), negative);
    assert_eq!(err("sintercard 1 a limit"), SYNTAX);
    assert_eq!(err("sintercard 1 a b"), SYNTAX);
    assert_eq!(err("sintercard 1"), arity("sintercard"));
}

#[test]
fn sscan() {
    assert_eq!(
        read("sscan s 5 match a* count 2"),
        ReadCommand::CollectionScan {
            key: b("s"),
            kind: CollectionKind::Set,
            cursor: 5,
            pattern: Some(b("a*")),
            count: 2
        }
    );
    assert_eq!(err("sscan s x"), "ERR invalid cursor");
    assert_eq!(err("sscan s 0 novalues"), SYNTAX);
    assert_eq!(err("sscan s"), arity("sscan"));
}
