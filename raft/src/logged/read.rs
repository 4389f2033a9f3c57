//! A read as a transaction carries it into the log: the mirror of `ReadCommand`.

use bytes::Bytes;
use cairn_protocol::command as pc;
use serde::{Deserialize, Serialize};

use super::{
    mirror, BitFieldOp, BitRange, BitUnit, CollectionKind, GeoQuery, GeoUnit, HashPart, LcsAnswer,
    ObjectQuery, PendingRange, ReadFrom, SetOp, SortSpec, StreamId, TtlQuery, XInfo, ZAggregate,
    ZRange, ZRangeBy,
};

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum ReadCommand = pc::ReadCommand {
        Get {
            key: Bytes,
        },
        MGet {
            keys: Vec<Bytes>,
        },
        StrLen {
            key: Bytes,
        },
        GetRange {
            key: Bytes,
            start: i64,
            end: i64,
        },
        Exists {
            keys: Vec<Bytes>,
        },
        Type {
            key: Bytes,
        },
        Keys {
            pattern: Bytes,
        },
        Scan {
            cursor: u64,
            pattern: Option<Bytes>,
            count: usize,
            type_name: Option<String>,
        },
        DbSize,
        Ttl {
            key: Bytes,
            query: TtlQuery,
        },
        HGet {
            key: Bytes,
            field: Bytes,
        },
        HMGet {
            key: Bytes,
            fields: Vec<Bytes>,
        },
        HGetAll {
            key: Bytes,
            part: HashPart,
        },
        HLen {
            key: Bytes,
        },
        HExists {
            key: Bytes,
            field: Bytes,
        },
        HStrLen {
            key: Bytes,
            field: Bytes,
        },
        HRandField {
            key: Bytes,
            count: Option<i64>,
            with_values: bool,
        },
        CollectionScan {
            key: Bytes,
            kind: CollectionKind,
            cursor: u64,
            pattern: Option<Bytes>,
            count: usize,
        },
        SMembers {
            key: Bytes,
        },
        SIsMember {
            key: Bytes,
            member: Bytes,
        },
        SMIsMember {
            key: Bytes,
            members: Vec<Bytes>,
        },
        SCard {
            key: Bytes,
        },
        SRandMember {
            key: Bytes,
            count: Option<i64>,
        },
        SetAlgebra {
            op: SetOp,
            keys: Vec<Bytes>,
        },
        SInterCard {
            keys: Vec<Bytes>,
            limit: u64,
        },
        LLen {
            key: Bytes,
        },
        LRange {
            key: Bytes,
            start: i64,
            stop: i64,
        },
        LIndex {
            key: Bytes,
            index: i64,
        },
        LPos {
            key: Bytes,
            element: Bytes,
            rank: i64,
            count: Option<u64>,
            maxlen: u64,
        },
        ZScore {
            key: Bytes,
            member: Bytes,
        },
        ZMScore {
            key: Bytes,
            members: Vec<Bytes>,
        },
        ZCard {
            key: Bytes,
        },
        ZCount {
            key: Bytes,
            by: ZRangeBy,
        },
        ZRange {
            key: Bytes,
            range: ZRange,
            with_scores: bool,
        },
        ZRank {
            key: Bytes,
            member: Bytes,
            rev: bool,
            with_score: bool,
        },
        MemoryUsage {
            key: Bytes,
        },
        GetBit {
            key: Bytes,
            offset: u64,
        },
        BitCount {
            key: Bytes,
            range: Option<BitRange>,
        },
        BitPos {
            key: Bytes,
            bit: bool,
            start: i64,
            end: Option<i64>,
            unit: BitUnit,
        },
        RandomKey,
        Object {
            what: ObjectQuery,
            key: Bytes,
        },
        ZCombine {
            op: SetOp,
            keys: Vec<Bytes>,
            weights: Vec<f64>,
            aggregate: ZAggregate,
            with_scores: bool,
        },
        ZInterCard {
            keys: Vec<Bytes>,
            limit: u64,
        },
        ZRandMember {
            key: Bytes,
            count: Option<i64>,
            with_scores: bool,
        },
        Dump {
            key: Bytes,
        },
        Lcs {
            a: Bytes,
            b: Bytes,
            answer: LcsAnswer,
        },
        Sort(SortSpec),
        ScriptExists {
            shas: Vec<Bytes>,
        },
        FunctionList {
            pattern: Option<Bytes>,
            with_code: bool,
        },
        FunctionStats,
        FunctionDump,
        PfCount {
            keys: Vec<Bytes>,
        },
        PfDebug {
            sub: String,
            key: Bytes,
        },
        BitField {
            key: Bytes,
            ops: Vec<BitFieldOp>,
        },
        GeoPos {
            key: Bytes,
            members: Vec<Bytes>,
        },
        GeoHash {
            key: Bytes,
            members: Vec<Bytes>,
        },
        GeoDist {
            key: Bytes,
            a: Bytes,
            b: Bytes,
            unit: GeoUnit,
        },
        GeoSearch {
            key: Bytes,
            query: GeoQuery,
        },
        XLen {
            key: Bytes,
        },
        XRange {
            key: Bytes,
            start: StreamId,
            end: StreamId,
            count: Option<u64>,
            rev: bool,
        },
        XRead {
            count: Option<u64>,
            streams: Vec<(Bytes, ReadFrom)>,
        },
        XInfo(XInfo),
        XHelp {
            xgroup: bool,
        },
        XPending {
            key: Bytes,
            group: Bytes,
            range: Option<PendingRange>,
        },
    }
}
