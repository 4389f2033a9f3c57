use super::*;
use crate::command::ListEnd;

const OUT_OF_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

#[test]
fn pushes() {
    for (cmd, end, existing) in [
        ("lpush", ListEnd::Left, false),
        ("rpush", ListEnd::Right, false),
        ("LPUSHX", ListEnd::Left, true),
        ("rpushx", ListEnd::Right, true),
    ] {
        assert_eq!(
            write(&format!("{cmd} l a b")),
            WriteCommand::LPush {
                key: b("l"),
                end,
                elements: vec![b("a"), b("b")],
                existing
            }
        );
        assert_eq!(err(&format!("{cmd} l")), arity(&cmd.to_ascii_lowercase()));
    }
}

#[test]
fn pops() {
    assert_eq!(
        write("lpop l"),
        WriteCommand::LPop {
            key: b("l"),
            end: ListEnd::Left,
            count: None
        }
    );
    assert_eq!(
        write("rpop l 0"),
        WriteCommand::LPop {
            key: b("l"),
            end: ListEnd::Right,
            count: Some(0)
        }
    );
    assert_eq!(
        write("lpop l 9223372036854775807"),
        WriteCommand::LPop {
            key: b("l"),
            end: ListEnd::Left,
            count: Some(i64::MAX as u64)
        }
    );
    for bad in ["-1", "x", "1.5", "9223372036854775808"] {
        assert_eq!(
            err(&format!("lpop l {bad}")),
            "ERR value is out of range, must be positive"
        );
    }
    assert_eq!(err("lpop"), arity("lpop"));
    assert_eq!(err("rpop l 1 2"), arity("rpop"));
}

#[test]
fn list_reads() {
    assert_eq!(read("llen l"), ReadCommand::LLen { key: b("l") });
    assert_eq!(err("llen l x"), arity("llen"));
    assert_eq!(
        read("lrange l 0 -1"),
        ReadCommand::LRange {
            key: b("l"),
            start: 0,
            stop: -1
        }
    );
    assert_eq!(err("lrange l a 1"), NOT_INTEGER);
    assert_eq!(err("lrange l 0 1.0"), NOT_INTEGER);
    assert_eq!(err("lrange l 0"), arity("lrange"));
    assert_eq!(
        read("lindex l -2"),
        ReadCommand::LIndex {
            key: b("l"),
            index: -2
        }
    );
    assert_eq!(err("lindex l x"), NOT_INTEGER);
}

#[test]
fn list_edits() {
    assert_eq!(
        write("lset l -1 v"),
        WriteCommand::LSet {
            key: b("l"),
            index: -1,
            element: b("v")
        }
    );
    assert_eq!(err("lset l x v"), NOT_INTEGER);
    assert_eq!(err("lset l 0"), arity("lset"));
    assert_eq!(
        write("linsert l BEFORE p e"),
        WriteCommand::LInsert {
            key: b("l"),
            before: true,
            pivot: b("p"),
            element: b("e")
        }
    );
    assert_eq!(
        write("linsert l after p e"),
        WriteCommand::LInsert {
            key: b("l"),
            before: false,
            pivot: b("p"),
            element: b("e")
        }
    );
    assert_eq!(err("linsert l middle p e"), SYNTAX);
    assert_eq!(err("linsert l before p"), arity("linsert"));
    assert_eq!(
        write("lrem l -2 e"),
        WriteCommand::LRem {
            key: b("l"),
            count: -2,
            element: b("e")
        }
    );
    assert_eq!(err("lrem l x e"), NOT_INTEGER);
    assert_eq!(
        write("ltrim l 1 -1"),
        WriteCommand::LTrim {
            key: b("l"),
            start: 1,
            stop: -1
        }
    );
    assert_eq!(err("ltrim l 1 z"), NOT_INTEGER);
}

#[test]
fn moves() {
    assert_eq!(
        write("lmove a b left RIGHT"),
        WriteCommand::LMove {
            source: b("a"),
            destination: b("b"),
            from: ListEnd::Left,
            to: ListEnd::Right
        }
    );
    assert_eq!(err("lmove a b up left"), SYNTAX);
    assert_eq!(err("lmove a b left down"), SYNTAX);
    assert_eq!(err("lmove a b left"), arity("lmove"));
    assert_eq!(
        write("rpoplpush a b"),
        WriteCommand::LMove {
            source: b("a"),
            destination: b("b"),
            from: ListEnd::Right,
            to: ListEnd::Left
        }
    );
    assert_eq!(err("rpoplpush a"), arity("rpoplpush"));
    assert_eq!(write("lmove a b left right").first_key(), Some(&b("a")));
    assert_eq!(write("rpush x a").first_key(), Some(&b("x")));
}

#[test]
fn lpos_options() {
    assert_eq!(
        read("lpos l e"),
        ReadCommand::LPos {
            key: b("l"),
            element: b("e"),
            rank: 1,
            count: None,
            maxlen: 0
        }
    );
    assert_eq!(
        read("lpos l e rank -2 COUNT 0 maxlen 10 rank 3"),
        ReadCommand::LPos {
            key: b("l"),
            element: b("e"),
            rank: 3,
            count: Some(0),
            maxlen: 10
        }
    );
    assert_eq!(
        err("lpos l e rank 0"),
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
         or use negative to start from the end of the list"
    );
    assert_eq!(err("lpos l e rank x"), NOT_INTEGER);
    assert_eq!(err("lpos l e rank -9223372036854775808"), OUT_OF_RANGE);
    assert_eq!(err("lpos l e count -1"), "ERR COUNT can't be negative");
    assert_eq!(err("lpos l e count x"), "ERR COUNT can't be negative");
    assert_eq!(err("lpos l e maxlen -1"), "ERR MAXLEN can't be negative");
    assert_eq!(err("lpos l e rank"), SYNTAX);
    assert_eq!(err("lpos l e foo 1"), SYNTAX);
    assert_eq!(err("lpos l"), arity("lpos"));
}
