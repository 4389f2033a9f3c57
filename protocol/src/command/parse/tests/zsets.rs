use super::*;
use crate::command::{
    CollectionKind, LexBound, ScoreBound, SetCondition, SetOp, ZAggregate, ZCompare, ZRange,
    ZRangeBy,
};

const NOT_FLOAT: &str = "ERR value is not a valid float";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const BAD_LEX: &str = "ERR min or max not valid string range item";

fn incl(value: f64) -> ScoreBound {
    ScoreBound {
        value,
        exclusive: false,
    }
}

fn excl(value: f64) -> ScoreBound {
    ScoreBound {
        value,
        exclusive: true,
    }
}

fn zrange(line: &str) -> (ZRange, bool) {
    match read(line) {
        ReadCommand::ZRange {
            range, with_scores, ..
        } => (range, with_scores),
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn zadd_options_and_errors() {
    assert_eq!(
        write("zadd z 1 a 2.5 b"),
        WriteCommand::ZAdd {
            key: b("z"),
            pairs: vec![(1.0, b("a")), (2.5, b("b"))],
            condition: None,
            compare: None,
            ch: false,
            incr: false,
        }
    );
    assert_eq!(
        write("zadd z XX gt ch INCR -inf a"),
        WriteCommand::ZAdd {
            key: b("z"),
            pairs: vec![(f64::NEG_INFINITY, b("a"))],
            condition: Some(SetCondition::Xx),
            compare: Some(ZCompare::Gt),
            ch: true,
            incr: true,
        }
    );
    assert_eq!(
        write("zadd z nx 0x10 a"),
        WriteCommand::ZAdd {
            key: b("z"),
            pairs: vec![(16.0, b("a"))],
            condition: Some(SetCondition::Nx),
            compare: None,
            ch: false,
            incr: false,
        }
    );
    assert_eq!(err("zadd z"), arity("zadd"));
    assert_eq!(err("zadd z 1"), arity("zadd"));
    assert_eq!(err("zadd z 1 a 2"), SYNTAX);
    assert_eq!(err("zadd z nx"), arity("zadd"));
    assert_eq!(err("zadd z nx xx"), SYNTAX);
    assert_eq!(
        err("zadd z nx xx 1 a"),
        "ERR XX and NX options at the same time are not compatible"
    );
    for opts in ["gt lt", "nx gt", "lt nx"] {
        assert_eq!(
            err(&format!("zadd z {opts} 1 a")),
            "ERR GT, LT, and/or NX options at the same time are not compatible"
        );
    }
    assert_eq!(
        err("zadd z incr 1 a 2 b"),
        "ERR INCR option supports a single increment-element pair"
    );
    for bad in ["x", "nan", "1e400", "1.5x", ""] {
        assert_eq!(err(&format!("zadd z {bad} a")), NOT_FLOAT, "{bad:?}");
    }
    assert_eq!(err("zincrby z nan a"), NOT_FLOAT);
    assert_eq!(
        write("zincrby z +inf a"),
        WriteCommand::ZIncrBy {
            key: b("z"),
            delta: f64::INFINITY,
            member: b("a")
        }
    );
}

#[test]
fn ranges() {
    assert_eq!(
        zrange("zrange z 0 -1"),
        (
            ZRange {
                by: ZRangeBy::Rank { start: 0, stop: -1 },
                rev: false,
                offset: 0,
                count: -1
            },
            false
        )
    );
    assert_eq!(
        zrange("zrange z (1 +inf byscore REV limit 1 2 withscores"),
        (
            ZRange {
                by: ZRangeBy::Score {
                    min: incl(f64::INFINITY),
                    max: excl(1.0)
                },
                rev: true,
                offset: 1,
                count: 2
            },
            true
        )
    );
    assert_eq!(
        zrange("zrevrangebyscore z 5 (1"),
        (
            ZRange {
                by: ZRangeBy::Score {
                    min: excl(1.0),
                    max: incl(5.0)
                },
                rev: true,
                offset: 0,
                count: -1
            },
            false
        )
    );
    assert_eq!(
        zrange("zrangebylex z - (c").0.by,
        ZRangeBy::Lex {
            min: LexBound::Min,
            max: LexBound::Exclusive(b("c"))
        }
    );
    assert_eq!(
        zrange("zrevrangebylex z [c +").0.by,
        ZRangeBy::Lex {
            min: LexBound::Max,
            max: LexBound::Inclusive(b("c"))
        }
    );
    assert!(zrange("zrevrange z 0 1 withscores").1);
    assert_eq!(err("zrange z a 1"), NOT_INTEGER);
    assert_eq!(err("zrange z 0 1 byscore bylex"), SYNTAX);
    assert_eq!(err("zrange z 0 1 rev rev"), SYNTAX);
    assert_eq!(err("zrange z 0 1 limit 1"), SYNTAX);
    assert_eq!(err("zrange z 0 1 limit x 1 byscore"), NOT_INTEGER);
    assert_eq!(
        err("zrange z 0 1 limit 0 1"),
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    );
    assert_eq!(
        err("zrange z - + bylex withscores"),
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
    );
    assert_eq!(err("zrangebyscore z 0 1 byscore"), SYNTAX);
    assert_eq!(err("zrangebyscore z 0 1 rev"), SYNTAX);
    assert_eq!(err("zrangebyscore z a 1"), RANGE_NOT_FLOAT);
    assert_eq!(err("zrangebyscore z (nan 1"), RANGE_NOT_FLOAT);
    assert_eq!(err("zcount z 1 x"), RANGE_NOT_FLOAT);
    assert_eq!(err("zrangebylex z a +"), BAD_LEX);
    assert_eq!(err("zlexcount z - +x"), BAD_LEX);
    assert_eq!(err("zremrangebylex z [a b"), BAD_LEX);
    assert_eq!(err("zremrangebyrank z 0 x"), NOT_INTEGER);
    assert_eq!(err("zrangestore d z 0 1 withscores"), SYNTAX);
    assert_eq!(
        write("zrangestore d z [a [b bylex"),
        WriteCommand::ZRangeStore {
            destination: b("d"),
            key: b("z"),
            range: ZRange {
                by: ZRangeBy::Lex {
                    min: LexBound::Inclusive(b("a")),
                    max: LexBound::Inclusive(b("b"))
                },
                rev: false,
                offset: 0,
                count: -1
            }
        }
    );
}

#[test]
fn ranks_pops_and_scan() {
    assert_eq!(
        read("zrevrank z m WITHSCORE"),
        ReadCommand::ZRank {
            key: b("z"),
            member: b("m"),
            rev: true,
            with_score: true
        }
    );
    assert_eq!(err("zrank z m x"), SYNTAX);
    assert_eq!(err("zrank z m withscore x"), arity("zrank"));
    assert_eq!(
        write("zpopmax z 3"),
        WriteCommand::ZPop {
            key: b("z"),
            max: true,
            count: Some(3)
        }
    );
    assert_eq!(
        err("zpopmin z -1"),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(err("zpopmin z 1 2"), SYNTAX);
    assert_eq!(
        read("zscan z 0 count 5"),
        ReadCommand::CollectionScan {
            key: b("z"),
            kind: CollectionKind::ZSet,
            cursor: 0,
            pattern: None,
            count: 5
        }
    );
}

#[test]
fn stores() {
    assert_eq!(
        write("zunionstore d 2 a b weights 2 0.5 aggregate MAX"),
        WriteCommand::ZStore {
            op: SetOp::Union,
            destination: b("d"),
            keys: vec![b("a"), b("b")],
            weights: vec![2.0, 0.5],
            aggregate: ZAggregate::Max
        }
    );
    assert_eq!(
        err("zinterstore d 0 a"),
        "ERR at least 1 input key is needed for 'zinterstore' command"
    );
    assert_eq!(err("zinterstore d 3 a b"), SYNTAX);
    assert_eq!(err("zinterstore d x a"), NOT_INTEGER);
    assert_eq!(
        err("zunionstore d 1 a weights x"),
        "ERR weight value is not a float"
    );
    assert_eq!(err("zunionstore d 1 a weights"), SYNTAX);
    assert_eq!(err("zunionstore d 1 a aggregate avg"), SYNTAX);
    assert_eq!(err("zdiffstore d 1 a weights 1"), SYNTAX);
}

#[test]
fn first_keys() {
    assert_eq!(write("zrangestore d s 0 1").first_key(), Some(&b("d")));
    assert_eq!(write("zrem z a").first_key(), Some(&b("z")));
}
