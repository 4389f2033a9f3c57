use super::*;
use crate::command::{Expiry, GetExTtl, SetCondition, SetTtl};
use crate::long_double::LongDouble;

fn set(
    key: &str,
    value: &str,
    condition: Option<SetCondition>,
    get: bool,
    ttl: SetTtl,
) -> WriteCommand {
    WriteCommand::Set {
        key: b(key),
        value: b(value),
        condition,
        get,
        ttl,
    }
}

#[test]
fn get_and_friends() {
    assert_eq!(read("get k"), ReadCommand::Get { key: b("k") });
    assert_eq!(read("strlen k"), ReadCommand::StrLen { key: b("k") });
    assert_eq!(
        read("mget a b c"),
        ReadCommand::MGet {
            keys: vec![b("a"), b("b"), b("c")]
        }
    );
    assert_eq!(err("mget"), arity("mget"));
    assert_eq!(write("getdel k"), WriteCommand::GetDel { key: b("k") });
    assert_eq!(
        write("getset k v"),
        WriteCommand::GetSet {
            key: b("k"),
            value: b("v")
        }
    );
    assert_eq!(err("getset k"), arity("getset"));
}

#[test]
fn set_plain_and_conditions() {
    assert_eq!(write("set k v"), set("k", "v", None, false, SetTtl::Clear));
    assert_eq!(
        write("set k v nx"),
        set("k", "v", Some(SetCondition::Nx), false, SetTtl::Clear)
    );
    assert_eq!(
        write("SET k v XX"),
        set("k", "v", Some(SetCondition::Xx), false, SetTtl::Clear)
    );
    assert_eq!(
        write("set k v nx nx"),
        set("k", "v", Some(SetCondition::Nx), false, SetTtl::Clear)
    );
    // NX with GET is allowed since Redis 7.
    assert_eq!(
        write("set k v nx get"),
        set("k", "v", Some(SetCondition::Nx), true, SetTtl::Clear)
    );
    assert_eq!(
        write("set k v get"),
        set("k", "v", None, true, SetTtl::Clear)
    );
    assert_eq!(err("set k v nx xx"), SYNTAX);
    assert_eq!(err("set k v xx nx"), SYNTAX);
    assert_eq!(err("set k v foo"), SYNTAX);
    assert_eq!(err("set k v nxx"), SYNTAX);
}

#[test]
fn set_ttls() {
    let rel = |ms| SetTtl::Set(Expiry::RelativeMs(ms));
    let at = |ms| SetTtl::Set(Expiry::AtMs(ms));
    assert_eq!(
        write("set k v ex 10"),
        set("k", "v", None, false, rel(10_000))
    );
    assert_eq!(write("set k v PX 10"), set("k", "v", None, false, rel(10)));
    assert_eq!(
        write("set k v exat 10"),
        set("k", "v", None, false, at(10_000))
    );
    assert_eq!(write("set k v pxat 10"), set("k", "v", None, false, at(10)));
    assert_eq!(
        write("set k v keepttl"),
        set("k", "v", None, false, SetTtl::Keep)
    );
    assert_eq!(
        write("set k v get xx px 5"),
        set("k", "v", Some(SetCondition::Xx), true, rel(5))
    );
    // The same TTL option twice: the last value wins.
    assert_eq!(
        write("set k v ex 1 ex 2"),
        set("k", "v", None, false, rel(2000))
    );
    assert_eq!(err("set k v ex 1 px 2"), SYNTAX);
    assert_eq!(err("set k v ex 1 keepttl"), SYNTAX);
    assert_eq!(err("set k v keepttl ex 1"), SYNTAX);
    assert_eq!(err("set k v exat 1 pxat 1"), SYNTAX);
    assert_eq!(err("set k v ex"), SYNTAX);
    assert_eq!(err("set k v persist"), SYNTAX);
    // Syntax errors are found before the TTL value is looked at.
    assert_eq!(err("set k v ex x foo"), SYNTAX);
    assert_eq!(err("set k v ex x"), NOT_INTEGER);
    assert_eq!(err("set k v ex 01"), NOT_INTEGER);
    assert_eq!(err("set k v ex 1.5"), NOT_INTEGER);
    let invalid = "ERR invalid expire time in 'set' command";
    assert_eq!(err("set k v ex 0"), invalid);
    assert_eq!(err("set k v px -1"), invalid);
    assert_eq!(err("set k v exat 0"), invalid);
    assert_eq!(err("set k v ex 9223372036854776"), invalid);
    assert_eq!(err("set k v exat 9223372036854776"), invalid);
    assert_eq!(err("set k v px 9223372036854775807"), invalid);
    assert_eq!(
        write("set k v ex 9223372036854"),
        set("k", "v", None, false, rel(9_223_372_036_854_000))
    );
    assert_eq!(
        write("set k v pxat 9223372036854775807"),
        set("k", "v", None, false, at(i64::MAX))
    );
}

#[test]
fn setnx_setex_psetex() {
    assert_eq!(
        write("setnx k v"),
        WriteCommand::SetNx {
            key: b("k"),
            value: b("v")
        }
    );
    assert_eq!(
        write("setex k 10 v"),
        set(
            "k",
            "v",
            None,
            false,
            SetTtl::Set(Expiry::RelativeMs(10_000))
        )
    );
    assert_eq!(
        write("psetex k 10 v"),
        set("k", "v", None, false, SetTtl::Set(Expiry::RelativeMs(10)))
    );
    assert_eq!(
        err("setex k 0 v"),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        err("setex k 9223372036854776 v"),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        err("psetex k -5 v"),
        "ERR invalid expire time in 'psetex' command"
    );
    assert_eq!(err("setex k x v"), NOT_INTEGER);
    assert_eq!(err("setex k 1"), arity("setex"));
}

#[test]
fn getex() {
    let getex = |ttl| WriteCommand::GetEx { key: b("k"), ttl };
    assert_eq!(write("getex k"), getex(GetExTtl::Unchanged));
    assert_eq!(write("getex k persist"), getex(GetExTtl::Persist));
    assert_eq!(
        write("getex k EX 2"),
        getex(GetExTtl::Set(Expiry::RelativeMs(2000)))
    );
    assert_eq!(
        write("getex k px 2"),
        getex(GetExTtl::Set(Expiry::RelativeMs(2)))
    );
    assert_eq!(
        write("getex k exat 2"),
        getex(GetExTtl::Set(Expiry::AtMs(2000)))
    );
    assert_eq!(
        write("getex k pxat 2"),
        getex(GetExTtl::Set(Expiry::AtMs(2)))
    );
    assert_eq!(err("getex k persist ex 1"), SYNTAX);
    assert_eq!(err("getex k ex 1 persist"), SYNTAX);
    assert_eq!(err("getex k ex 1 px 1"), SYNTAX);
    assert_eq!(err("getex k nx"), SYNTAX);
    assert_eq!(err("getex k get"), SYNTAX);
    assert_eq!(err("getex k keepttl"), SYNTAX);
    assert_eq!(err("getex k ex"), SYNTAX);
    assert_eq!(err("getex k ex a"), NOT_INTEGER);
    assert_eq!(
        err("getex k ex 0"),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(err("getex"), arity("getex"));
}

#[test]
fn mset_and_msetnx() {
    assert_eq!(
        write("mset a 1 b 2"),
        WriteCommand::MSet {
            pairs: vec![(b("a"), b("1")), (b("b"), b("2"))]
        }
    );
    assert_eq!(
        write("msetnx a 1"),
        WriteCommand::MSetNx {
            pairs: vec![(b("a"), b("1"))]
        }
    );
    assert_eq!(err("mset a 1 b"), arity("mset"));
    assert_eq!(err("mset a"), arity("mset"));
    assert_eq!(err("msetnx a 1 b"), arity("msetnx"));
}

#[test]
fn append_getrange_setrange() {
    assert_eq!(
        write("append k v"),
        WriteCommand::Append {
            key: b("k"),
            value: b("v")
        }
    );
    assert_eq!(
        read("getrange k -5 10"),
        ReadCommand::GetRange {
            key: b("k"),
            start: -5,
            end: 10
        }
    );
    assert_eq!(err("getrange k a 1"), NOT_INTEGER);
    assert_eq!(err("getrange k 1 a"), NOT_INTEGER);
    assert_eq!(err("getrange k 1"), arity("getrange"));
    assert_eq!(
        write("setrange k 5 abc"),
        WriteCommand::SetRange {
            key: b("k"),
            offset: 5,
            value: b("abc")
        }
    );
    assert_eq!(err("setrange k -1 abc"), "ERR offset is out of range");
    assert_eq!(err("setrange k x abc"), NOT_INTEGER);
    let too_big = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(err("setrange k 536870912 a"), too_big);
    assert_eq!(err("setrange k 9223372036854775807 a"), too_big);
    assert_eq!(
        write("setrange k 536870911 a"),
        WriteCommand::SetRange {
            key: b("k"),
            offset: 536_870_911,
            value: b("a")
        }
    );
    // Writing nothing never grows the string, so any offset is fine.
    assert_eq!(
        parse(&[b("setrange"), b("k"), b("9999999999"), Bytes::new()]).unwrap(),
        Command::Write(WriteCommand::SetRange {
            key: b("k"),
            offset: 9_999_999_999,
            value: Bytes::new()
        })
    );
}

#[test]
fn counters() {
    let incr = |delta| WriteCommand::IncrBy { key: b("k"), delta };
    assert_eq!(write("incr k"), incr(1));
    assert_eq!(write("decr k"), incr(-1));
    assert_eq!(write("incrby k -7"), incr(-7));
    assert_eq!(write("decrby k 7"), incr(-7));
    assert_eq!(write("decrby k -9223372036854775807"), incr(i64::MAX));
    assert_eq!(
        err("decrby k -9223372036854775808"),
        "ERR decrement would overflow"
    );
    assert_eq!(write("incrby k -9223372036854775808"), incr(i64::MIN));
    assert_eq!(err("incrby k 1.5"), NOT_INTEGER);
    assert_eq!(err("incrby k +1"), NOT_INTEGER);
    assert_eq!(err("incrby k 9223372036854775808"), NOT_INTEGER);
    assert_eq!(err("incr k 1"), arity("incr"));
    assert_eq!(err("incrby k"), arity("incrby"));
}

#[test]
fn incrbyfloat() {
    let f = |delta: f64| WriteCommand::IncrByFloat {
        key: b("k"),
        delta: LongDouble::from_f64(delta),
    };
    assert_eq!(write("incrbyfloat k 1.5"), f(1.5));
    assert_eq!(write("incrbyfloat k -2"), f(-2.0));
    assert_eq!(write("incrbyfloat k 5e-1"), f(0.5));
    assert_eq!(write("incrbyfloat k 0x10"), f(16.0));
    // The increment keeps the digits a `long double` holds and an `f64` does not.
    let exact = |text: &str| WriteCommand::IncrByFloat {
        key: b("k"),
        delta: LongDouble::parse(text.as_bytes()).unwrap_or(LongDouble::ZERO),
    };
    assert_eq!(
        write("incrbyfloat k 1740816960299813499"),
        exact("1740816960299813499")
    );
    assert_ne!(
        write("incrbyfloat k 1740816960299813499"),
        f(1740816960299813499.0)
    );
    assert_ne!(write("incrbyfloat k 0.1"), f(0.1));
    // Within long double's range, as in Redis; past it, not a float (strtold's ERANGE).
    assert_eq!(write("incrbyfloat k 1e400"), exact("1e400"));
    let not_float = "ERR value is not a valid float";
    for bad in [
        "abc", "nan", "-nan", "1.5x", "", "1,5", "--1", "1e5000", "1e-5000",
    ] {
        assert_eq!(err(&format!("incrbyfloat k {bad}")), not_float, "{bad}");
    }
    assert_eq!(
        parse(&[b("incrbyfloat"), b("k"), b(" 1")]).unwrap_err(),
        CommandError::NotFloat
    );
    let infinite = "ERR increment would produce NaN or Infinity";
    assert_eq!(err("incrbyfloat k inf"), infinite);
    assert_eq!(err("incrbyfloat k -Infinity"), infinite);
}

#[test]
fn lcs_options() {
    use crate::command::LcsAnswer;
    let lcs = |answer| ReadCommand::Lcs {
        a: b("a"),
        b: b("b"),
        answer,
    };
    assert_eq!(read("lcs a b"), lcs(LcsAnswer::Text));
    assert_eq!(read("LCS a b len"), lcs(LcsAnswer::Len));
    let ranges = |min_match_len, with_match_len| {
        lcs(LcsAnswer::Ranges {
            min_match_len,
            with_match_len,
        })
    };
    assert_eq!(read("lcs a b idx"), ranges(0, false));
    assert_eq!(
        read("lcs a b withmatchlen MINMATCHLEN 5 idx"),
        ranges(5, true)
    );
    assert_eq!(read("lcs a b idx minmatchlen -3"), ranges(0, false));
    assert_eq!(
        err("lcs a b len idx"),
        "ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(err("lcs a b minmatchlen"), "ERR syntax error");
    assert_eq!(
        err("lcs a b idx minmatchlen x"),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(err("lcs a b foo"), "ERR syntax error");
    assert_eq!(err("lcs a"), arity("lcs"));
}
