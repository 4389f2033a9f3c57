//! The options and small values that logged commands are made of (TTLs, conditions, ranges...).

use bytes::Bytes;
use cairn_protocol::command as pc;
use cairn_protocol::long_double as pl;
use serde::{Deserialize, Serialize};

use super::mirror;

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum AccessHint = pc::AccessHint {
        IdleSecs(u64),
        Freq(u8),
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum BitFieldKind = pc::BitFieldKind {
        Get,
        Set,
        IncrBy,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub struct BitFieldOp = pc::BitFieldOp {
        pub kind: BitFieldKind,
        pub signed: bool,
        pub bits: u8,
        pub offset: u64,
        pub value: i64,
        pub overflow: Overflow,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum BitOp = pc::BitOp {
        And,
        Or,
        Xor,
        Not,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub struct BitRange = pc::BitRange {
        pub start: i64,
        pub end: i64,
        pub unit: BitUnit,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum BitUnit = pc::BitUnit {
        Byte,
        Bit,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum CollectionKind = pc::CollectionKind {
        Hash,
        Set,
        ZSet,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum ExpireCondition = pc::ExpireCondition {
        Always,
        Nx,
        Xx,
        Gt,
        Lt,
        XxLt,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Expiry = pc::Expiry {
        RelativeMs(i64),
        AtMs(i64),
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum GetExTtl = pc::GetExTtl {
        Unchanged,
        Persist,
        Set(Expiry),
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum HashPart = pc::HashPart {
        All,
        Keys,
        Values,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum LcsAnswer = pc::LcsAnswer {
        Text,
        Len,
        Ranges {
            min_match_len: u64,
            with_match_len: bool,
        },
    }
}

mirror! {
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum LexBound = pc::LexBound {
        Min,
        Max,
        Inclusive(Bytes),
        Exclusive(Bytes),
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum ListEnd = pc::ListEnd {
        Left,
        Right,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum LongDouble = pl::LongDouble {
        Finite {
            neg: bool,
            mant: u64,
            exp: i32,
        },
        Infinite {
            neg: bool,
        },
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum ObjectQuery = pc::ObjectQuery {
        Encoding,
        RefCount,
        IdleTime,
        Freq,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Overflow = pc::Overflow {
        Wrap,
        Sat,
        Fail,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum RestorePolicy = pc::RestorePolicy {
        Append,
        Replace,
        Flush,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    pub struct ScoreBound = pc::ScoreBound {
        pub value: f64,
        pub exclusive: bool,
    }
}

mirror! {
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum ScriptRef = pc::ScriptRef {
        Body(Bytes),
        Sha(String),
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum SetCondition = pc::SetCondition {
        Nx,
        Xx,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum SetOp = pc::SetOp {
        Inter,
        Union,
        Diff,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum SetTtl = pc::SetTtl {
        Clear,
        Keep,
        Set(Expiry),
    }
}

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct SortSpec = pc::SortSpec {
        pub key: Bytes,
        pub by: Option<Bytes>,
        pub limit: Option<(i64, i64)>,
        pub get: Vec<Bytes>,
        pub desc: bool,
        pub alpha: bool,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum TtlQuery = pc::TtlQuery {
        TtlSecs,
        TtlMs,
        AtSecs,
        AtMs,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum ZAggregate = pc::ZAggregate {
        Sum,
        Min,
        Max,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum ZCompare = pc::ZCompare {
        Gt,
        Lt,
    }
}

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ZRange = pc::ZRange {
        pub by: ZRangeBy,
        pub rev: bool,
        pub offset: i64,
        pub count: i64,
    }
}

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum ZRangeBy = pc::ZRangeBy {
        Rank {
            start: i64,
            stop: i64,
        },
        Score {
            min: ScoreBound,
            max: ScoreBound,
        },
        Lex {
            min: LexBound,
            max: LexBound,
        },
    }
}
