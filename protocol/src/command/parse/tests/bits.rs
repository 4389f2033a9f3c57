use super::*;
use crate::command::{BitOp, BitRange, BitUnit, MAX_BIT_OFFSET};

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";

#[test]
fn setbit_and_getbit() {
    assert_eq!(
        write("setbit k 7 1"),
        WriteCommand::SetBit {
            key: b("k"),
            offset: 7,
            value: true
        }
    );
    assert_eq!(
        write("SETBIT k 4294967295 0"),
        WriteCommand::SetBit {
            key: b("k"),
            offset: MAX_BIT_OFFSET - 1,
            value: false
        }
    );
    assert_eq!(
        read("getbit k 100"),
        ReadCommand::GetBit {
            key: b("k"),
            offset: 100
        }
    );
    for line in [
        "setbit k 4294967296 1",
        "setbit k -1 1",
        "setbit k x 1",
        "setbit k 9223372036854775808 1",
        "getbit k 4294967296",
        "getbit k -1",
        "getbit k 1.5",
    ] {
        assert_eq!(err(line), BAD_OFFSET, "{line}");
    }
    // The offset is checked first, as in Redis.
    assert_eq!(err("setbit k x 2"), BAD_OFFSET);
    for line in [
        "setbit k 0 2",
        "setbit k 0 -1",
        "setbit k 0 x",
        "setbit k 0 10",
    ] {
        assert_eq!(err(line), BAD_BIT, "{line}");
    }
    assert_eq!(err("setbit k 0"), arity("setbit"));
    assert_eq!(err("getbit k"), arity("getbit"));
    assert_eq!(err("getbit k 0 1"), arity("getbit"));
}

#[test]
fn bitcount_ranges() {
    assert_eq!(
        read("bitcount k"),
        ReadCommand::BitCount {
            key: b("k"),
            range: None
        }
    );
    let range = |start, end, unit| ReadCommand::BitCount {
        key: b("k"),
        range: Some(BitRange { start, end, unit }),
    };
    assert_eq!(read("bitcount k 1 -2"), range(1, -2, BitUnit::Byte));
    assert_eq!(read("bitcount k 1 -2 BYTE"), range(1, -2, BitUnit::Byte));
    assert_eq!(read("bitcount k 3 29 bit"), range(3, 29, BitUnit::Bit));
    assert_eq!(err("bitcount k 0"), SYNTAX);
    assert_eq!(err("bitcount k 0 1 hello"), SYNTAX);
    assert_eq!(err("bitcount k 0 1 bit x"), SYNTAX);
    assert_eq!(err("bitcount k a 1"), NOT_INTEGER);
    assert_eq!(err("bitcount k 0 a"), NOT_INTEGER);
    // The integers are read before the unit.
    assert_eq!(err("bitcount k a 1 hello"), NOT_INTEGER);
    assert_eq!(err("bitcount"), arity("bitcount"));
}

#[test]
fn bitpos_arguments() {
    let pos = |bit, start, end, unit| ReadCommand::BitPos {
        key: b("k"),
        bit,
        start,
        end,
        unit,
    };
    assert_eq!(read("bitpos k 1"), pos(true, 0, None, BitUnit::Byte));
    assert_eq!(read("bitpos k 0 2"), pos(false, 2, None, BitUnit::Byte));
    assert_eq!(
        read("bitpos k 0 2 -1"),
        pos(false, 2, Some(-1), BitUnit::Byte)
    );
    assert_eq!(
        read("bitpos k 1 8 8 BIT"),
        pos(true, 8, Some(8), BitUnit::Bit)
    );
    assert_eq!(
        read("bitpos k 1 0 -1 byte"),
        pos(true, 0, Some(-1), BitUnit::Byte)
    );
    let must = "ERR The bit argument must be 1 or 0.";
    assert_eq!(err("bitpos k 2"), must);
    assert_eq!(err("bitpos k -1"), must);
    assert_eq!(err("bitpos k x"), NOT_INTEGER);
    assert_eq!(err("bitpos k 1 a"), NOT_INTEGER);
    assert_eq!(err("bitpos k 1 0 a"), NOT_INTEGER);
    assert_eq!(err("bitpos k 1 0 1 bits"), SYNTAX);
    // The unit is read before the end, as in Redis.
    assert_eq!(err("bitpos k 1 0 a bits"), SYNTAX);
    assert_eq!(err("bitpos k 1 0 1 bit x"), SYNTAX);
    assert_eq!(err("bitpos k"), arity("bitpos"));
}

#[test]
fn bitop_operations() {
    let op = |op, keys: &[&str]| WriteCommand::BitOp {
        op,
        destination: b("d"),
        keys: keys.iter().map(|k| b(k)).collect(),
    };
    assert_eq!(write("bitop and d a b c"), op(BitOp::And, &["a", "b", "c"]));
    assert_eq!(write("BITOP Or d a"), op(BitOp::Or, &["a"]));
    assert_eq!(write("bitop xor d a b"), op(BitOp::Xor, &["a", "b"]));
    assert_eq!(write("bitop NOT d a"), op(BitOp::Not, &["a"]));
    assert_eq!(
        err("bitop not d a b"),
        "ERR BITOP NOT must be called with a single source key."
    );
    assert_eq!(err("bitop nand d a b"), SYNTAX);
    assert_eq!(err("bitop and d"), arity("bitop"));
    assert_eq!(write("bitop and d a b").first_key(), Some(&b("d")));
    assert_eq!(write("setbit k 0 1").first_key(), Some(&b("k")));
}
