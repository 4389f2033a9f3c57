use super::*;
use crate::command::{ExpireCondition, Expiry, TtlQuery, MAX_RELATIVE_EXPIRE_MS};

#[test]
fn del_exists_type_keys() {
    let keys = vec![b("a"), b("b")];
    assert_eq!(write("del a b"), WriteCommand::Del { keys: keys.clone() });
    assert_eq!(
        write("unlink a b"),
        WriteCommand::Del { keys: keys.clone() }
    );
    assert_eq!(read("exists a b"), ReadCommand::Exists { keys });
    assert_eq!(read("type a"), ReadCommand::Type { key: b("a") });
    assert_eq!(read("keys h*"), ReadCommand::Keys { pattern: b("h*") });
    assert_eq!(read("dbsize"), ReadCommand::DbSize);
    assert_eq!(err("unlink"), arity("unlink"));
    assert_eq!(err("exists"), arity("exists"));
    assert_eq!(err("keys"), arity("keys"));
    assert_eq!(err("keys a b"), arity("keys"));
    assert_eq!(err("type a b"), arity("type"));
}

#[test]
fn scan() {
    let scan = |cursor, pattern: Option<&str>, count, type_name: Option<&str>| ReadCommand::Scan {
        cursor,
        pattern: pattern.map(b),
        count,
        type_name: type_name.map(String::from),
    };
    assert_eq!(read("scan 0"), scan(0, None, 10, None));
    assert_eq!(
        read("scan 17 MATCH a* count 100 TYPE String"),
        scan(17, Some("a*"), 100, Some("string"))
    );
    assert_eq!(read("scan 0 count 5 count 7"), scan(0, None, 7, None));
    assert_eq!(read("scan 007"), scan(7, None, 10, None));
    assert_eq!(
        read("scan 18446744073709551615"),
        scan(u64::MAX, None, 10, None)
    );
    let invalid = "ERR invalid cursor";
    assert_eq!(err("scan x"), invalid);
    assert_eq!(err("scan -1"), invalid);
    assert_eq!(err("scan 18446744073709551616"), invalid);
    assert_eq!(err("scan 0 count 0"), SYNTAX);
    assert_eq!(err("scan 0 count -1"), SYNTAX);
    assert_eq!(err("scan 0 count x"), NOT_INTEGER);
    assert_eq!(err("scan 0 count"), SYNTAX);
    assert_eq!(err("scan 0 match"), SYNTAX);
    assert_eq!(err("scan 0 foo bar"), SYNTAX);
    assert_eq!(err("scan 0 novalues"), SYNTAX);
    assert_eq!(err("scan 0 type blob"), "ERR unknown type name 'blob'");
    assert_eq!(err("scan"), arity("scan"));
    for t in ["string", "list", "set", "zset", "hash", "stream"] {
        assert_eq!(
            read(&format!("scan 0 type {}", t.to_uppercase())),
            scan(0, None, 10, Some(t))
        );
    }
}

#[test]
fn flush() {
    assert_eq!(write("flushdb"), WriteCommand::FlushDb);
    assert_eq!(write("flushdb async"), WriteCommand::FlushDb);
    assert_eq!(write("FLUSHDB SYNC"), WriteCommand::FlushDb);
    assert_eq!(write("flushall"), WriteCommand::FlushAll);
    assert_eq!(write("flushall async"), WriteCommand::FlushAll);
    assert_eq!(err("flushdb later"), SYNTAX);
    assert_eq!(err("flushall sync async"), SYNTAX);
}

#[test]
fn expire_family() {
    let expire = |at, condition| WriteCommand::Expire {
        key: b("k"),
        at,
        condition,
    };
    use ExpireCondition as C;
    assert_eq!(
        write("expire k 10"),
        expire(Expiry::RelativeMs(10_000), C::Always)
    );
    assert_eq!(
        write("pexpire k 10"),
        expire(Expiry::RelativeMs(10), C::Always)
    );
    assert_eq!(
        write("expireat k 10"),
        expire(Expiry::AtMs(10_000), C::Always)
    );
    assert_eq!(write("pexpireat k 10"), expire(Expiry::AtMs(10), C::Always));
    // Negative and zero times are valid: the key is deleted.
    assert_eq!(
        write("expire k -10"),
        expire(Expiry::RelativeMs(-10_000), C::Always)
    );
    assert_eq!(write("pexpireat k 0"), expire(Expiry::AtMs(0), C::Always));
    assert_eq!(
        write("pexpire k -9223372036854775808"),
        expire(Expiry::RelativeMs(i64::MIN), C::Always)
    );
    assert_eq!(
        write("expire k 1 nx"),
        expire(Expiry::RelativeMs(1000), C::Nx)
    );
    assert_eq!(
        write("expire k 1 XX"),
        expire(Expiry::RelativeMs(1000), C::Xx)
    );
    assert_eq!(
        write("expire k 1 gt"),
        expire(Expiry::RelativeMs(1000), C::Gt)
    );
    assert_eq!(
        write("expire k 1 lt"),
        expire(Expiry::RelativeMs(1000), C::Lt)
    );
    assert_eq!(
        write("expire k 1 xx gt"),
        expire(Expiry::RelativeMs(1000), C::Gt)
    );
    assert_eq!(
        write("expire k 1 lt xx"),
        expire(Expiry::RelativeMs(1000), C::XxLt)
    );
    assert_eq!(
        write("expire k 1 nx nx"),
        expire(Expiry::RelativeMs(1000), C::Nx)
    );
    let nx_conflict = "ERR NX and XX, GT or LT options at the same time are not compatible";
    assert_eq!(err("expire k 1 nx xx"), nx_conflict);
    assert_eq!(err("pexpire k 1 gt nx"), nx_conflict);
    assert_eq!(err("expireat k 1 nx lt"), nx_conflict);
    assert_eq!(
        err("expire k 1 gt lt"),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(err("expire k 1 foo"), "ERR Unsupported option foo");
    // Options are checked before the time.
    assert_eq!(err("expire k x foo"), "ERR Unsupported option foo");
    assert_eq!(err("expire k x"), NOT_INTEGER);
    assert_eq!(err("expire k"), arity("expire"));
    assert_eq!(
        err("expire k 9223372036854776"),
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        err("expire k -9223372036854776"),
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        err("expireat k 9223372036854776"),
        "ERR invalid expire time in 'expireat' command"
    );
    assert_eq!(
        err("pexpire k 9223372036854775807"),
        "ERR invalid expire time in 'pexpire' command"
    );
    assert_eq!(
        write(&format!("pexpire k {MAX_RELATIVE_EXPIRE_MS}")),
        expire(Expiry::RelativeMs(MAX_RELATIVE_EXPIRE_MS), C::Always)
    );
    assert_eq!(
        write("pexpireat k 9223372036854775807"),
        expire(Expiry::AtMs(i64::MAX), C::Always)
    );
}

#[test]
fn ttl_queries_persist_rename() {
    let ttl = |query| ReadCommand::Ttl { key: b("k"), query };
    assert_eq!(read("ttl k"), ttl(TtlQuery::TtlSecs));
    assert_eq!(read("pttl k"), ttl(TtlQuery::TtlMs));
    assert_eq!(read("expiretime k"), ttl(TtlQuery::AtSecs));
    assert_eq!(read("pexpiretime k"), ttl(TtlQuery::AtMs));
    assert_eq!(err("pttl"), arity("pttl"));
    assert_eq!(write("persist k"), WriteCommand::Persist { key: b("k") });
    assert_eq!(
        write("rename a b"),
        WriteCommand::Rename {
            key: b("a"),
            new_key: b("b"),
            nx: false
        }
    );
    assert_eq!(
        write("renamenx a b"),
        WriteCommand::Rename {
            key: b("a"),
            new_key: b("b"),
            nx: true
        }
    );
    assert_eq!(err("rename a"), arity("rename"));
    assert_eq!(err("renamenx a b c"), arity("renamenx"));
}

#[test]
fn randomkey_and_touch() {
    assert_eq!(read("randomkey"), ReadCommand::RandomKey);
    assert_eq!(err("randomkey x"), arity("randomkey"));
    assert_eq!(
        read("touch a b"),
        ReadCommand::Exists {
            keys: vec![b("a"), b("b")]
        }
    );
    assert_eq!(err("touch"), arity("touch"));
}

#[test]
fn copy_and_move() {
    assert_eq!(
        write("copy a b DB 3 replace"),
        WriteCommand::Copy {
            key: b("a"),
            destination: b("b"),
            db: Some(3),
            replace: true
        }
    );
    assert_eq!(
        write("copy a b"),
        WriteCommand::Copy {
            key: b("a"),
            destination: b("b"),
            db: None,
            replace: false
        }
    );
    assert_eq!(err("copy a b db"), "ERR syntax error");
    assert_eq!(
        err("copy a b db x"),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(err("copy a b nope"), "ERR syntax error");
    assert_eq!(err("copy a"), arity("copy"));
    assert_eq!(write("move k 2"), WriteCommand::Move { key: b("k"), db: 2 });
    assert_eq!(
        err("move k x"),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err("move k 99999999999"),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(err("move k"), arity("move"));
}

#[test]
fn object() {
    use crate::command::ObjectQuery;
    assert_eq!(
        read("object encoding k"),
        ReadCommand::Object {
            what: ObjectQuery::Encoding,
            key: b("k")
        }
    );
    assert_eq!(
        read("OBJECT FREQ k"),
        ReadCommand::Object {
            what: ObjectQuery::Freq,
            key: b("k")
        }
    );
    assert_eq!(err("object encoding"), arity("object|encoding"));
    assert_eq!(
        err("object nope k"),
        "ERR unknown subcommand 'nope'. Try OBJECT HELP."
    );
}

#[test]
fn dump_and_restore_options() {
    use crate::command::AccessHint;
    assert_eq!(read("dump k"), ReadCommand::Dump { key: b("k") });
    let restore = |expiry, replace, hint| WriteCommand::Restore {
        key: b("k"),
        expiry,
        payload: b("p"),
        replace,
        hint,
    };
    assert_eq!(write("restore k 0 p"), restore(None, false, None));
    assert_eq!(
        write("RESTORE k 5000 p REPLACE"),
        restore(Some(Expiry::RelativeMs(5000)), true, None)
    );
    assert_eq!(
        write("restore k 1700000000000 p absttl idletime 10 idletime 20"),
        restore(
            Some(Expiry::AtMs(1_700_000_000_000)),
            false,
            Some(AccessHint::IdleSecs(20))
        )
    );
    assert_eq!(
        write("restore k 0 p freq 255"),
        restore(None, false, Some(AccessHint::Freq(255)))
    );
    assert_eq!(err("restore k 0 p idletime 1 freq 1"), "ERR syntax error");
    assert_eq!(err("restore k 0 p freq 1 idletime 1"), "ERR syntax error");
    assert_eq!(err("restore k 0 p bogus"), "ERR syntax error");
    assert_eq!(err("restore k 0 p idletime"), "ERR syntax error");
    assert_eq!(
        err("restore k 0 p idletime -1"),
        "ERR Invalid IDLETIME value, must be >= 0"
    );
    assert_eq!(
        err("restore k 0 p freq 256"),
        "ERR Invalid FREQ value, must be >= 0 and <= 255"
    );
    assert_eq!(err("restore k -1 p"), "ERR Invalid TTL value, must be >= 0");
    assert_eq!(
        err("restore k x p"),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(err("restore k 0"), arity("restore"));
}

#[test]
fn sort_options() {
    use crate::command::SortSpec;
    let spec = |by: Option<&str>, limit, get: &[&str], desc, alpha| SortSpec {
        key: b("k"),
        by: by.map(b),
        limit,
        get: get.iter().map(|g| b(g)).collect(),
        desc,
        alpha,
    };
    assert_eq!(
        read("sort k"),
        ReadCommand::Sort(spec(None, None, &[], false, false))
    );
    assert_eq!(
        read("SORT k BY w_* LIMIT 0 10 GET # GET n_* DESC ALPHA"),
        ReadCommand::Sort(spec(Some("w_*"), Some((0, 10)), &["#", "n_*"], true, true))
    );
    assert_eq!(
        read("sort_ro k desc asc"),
        ReadCommand::Sort(spec(None, None, &[], false, false))
    );
    assert_eq!(
        write("sort k alpha store d"),
        WriteCommand::SortStore {
            spec: spec(None, None, &[], false, true),
            destination: b("d"),
        }
    );
    assert_eq!(err("sort_ro k store d"), "ERR syntax error");
    assert_eq!(err("sort k limit 1"), "ERR syntax error");
    assert_eq!(err("sort k by"), "ERR syntax error");
    assert_eq!(
        err("sort k limit x 1"),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(err("sort"), arity("sort"));
}
