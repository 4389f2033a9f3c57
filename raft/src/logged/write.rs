//! A write command as the log holds it: the mirror of the command model's `WriteCommand`.

use bytes::Bytes;
use cairn_protocol::command as pc;
use serde::{Deserialize, Serialize};

use super::{
    mirror, AccessHint, BitFieldOp, BitOp, ExpireCondition, Expiry, GeoQuery, GetExTtl, ListEnd,
    LongDouble, RestorePolicy, ScriptRef, SetCondition, SetOp, SetTtl, SortSpec, StreamId, Trim,
    XAddId, XAutoClaim, XClaim, XGroupOp, XReadGroup, ZAggregate, ZCompare, ZRange, ZRangeBy,
};

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum WriteCommand = pc::WriteCommand {
        Set {
            key: Bytes,
            value: Bytes,
            condition: Option<SetCondition>,
            get: bool,
            ttl: SetTtl,
        },
        SetNx {
            key: Bytes,
            value: Bytes,
        },
        GetSet {
            key: Bytes,
            value: Bytes,
        },
        GetDel {
            key: Bytes,
        },
        GetEx {
            key: Bytes,
            ttl: GetExTtl,
        },
        MSet {
            pairs: Vec<(Bytes, Bytes)>,
        },
        MSetNx {
            pairs: Vec<(Bytes, Bytes)>,
        },
        Append {
            key: Bytes,
            value: Bytes,
        },
        SetRange {
            key: Bytes,
            offset: u64,
            value: Bytes,
        },
        IncrBy {
            key: Bytes,
            delta: i64,
        },
        Del {
            keys: Vec<Bytes>,
        },
        FlushDb,
        FlushAll,
        Expire {
            key: Bytes,
            at: Expiry,
            condition: ExpireCondition,
        },
        Persist {
            key: Bytes,
        },
        Rename {
            key: Bytes,
            new_key: Bytes,
            nx: bool,
        },
        IncrByFloat {
            key: Bytes,
            delta: LongDouble,
        },
        HSet {
            key: Bytes,
            pairs: Vec<(Bytes, Bytes)>,
            hmset: bool,
        },
        HSetNx {
            key: Bytes,
            field: Bytes,
            value: Bytes,
        },
        HDel {
            key: Bytes,
            fields: Vec<Bytes>,
        },
        HIncrBy {
            key: Bytes,
            field: Bytes,
            delta: i64,
        },
        HIncrByFloat {
            key: Bytes,
            field: Bytes,
            delta: LongDouble,
        },
        SAdd {
            key: Bytes,
            members: Vec<Bytes>,
        },
        SRem {
            key: Bytes,
            members: Vec<Bytes>,
        },
        SPop {
            key: Bytes,
            count: Option<u64>,
        },
        SMove {
            source: Bytes,
            destination: Bytes,
            member: Bytes,
        },
        SStore {
            op: SetOp,
            destination: Bytes,
            keys: Vec<Bytes>,
        },
        LPush {
            key: Bytes,
            end: ListEnd,
            elements: Vec<Bytes>,
            existing: bool,
        },
        LPop {
            key: Bytes,
            end: ListEnd,
            count: Option<u64>,
        },
        LSet {
            key: Bytes,
            index: i64,
            element: Bytes,
        },
        LInsert {
            key: Bytes,
            before: bool,
            pivot: Bytes,
            element: Bytes,
        },
        LRem {
            key: Bytes,
            count: i64,
            element: Bytes,
        },
        LTrim {
            key: Bytes,
            start: i64,
            stop: i64,
        },
        LMove {
            source: Bytes,
            destination: Bytes,
            from: ListEnd,
            to: ListEnd,
        },
        ZAdd {
            key: Bytes,
            pairs: Vec<(f64, Bytes)>,
            condition: Option<SetCondition>,
            compare: Option<ZCompare>,
            ch: bool,
            incr: bool,
        },
        ZRem {
            key: Bytes,
            members: Vec<Bytes>,
        },
        ZIncrBy {
            key: Bytes,
            delta: f64,
            member: Bytes,
        },
        ZPop {
            key: Bytes,
            max: bool,
            count: Option<u64>,
        },
        ZRangeStore {
            destination: Bytes,
            key: Bytes,
            range: ZRange,
        },
        ZRemRange {
            key: Bytes,
            by: ZRangeBy,
        },
        ZStore {
            op: SetOp,
            destination: Bytes,
            keys: Vec<Bytes>,
            weights: Vec<f64>,
            aggregate: ZAggregate,
        },
        SetBit {
            key: Bytes,
            offset: u64,
            value: bool,
        },
        BitOp {
            op: BitOp,
            destination: Bytes,
            keys: Vec<Bytes>,
        },
        Copy {
            key: Bytes,
            destination: Bytes,
            db: Option<i32>,
            replace: bool,
        },
        Move {
            key: Bytes,
            db: i32,
        },
        LMPop {
            keys: Vec<Bytes>,
            end: ListEnd,
            count: Option<u64>,
        },
        ZMPop {
            keys: Vec<Bytes>,
            max: bool,
            count: Option<u64>,
        },
        Restore {
            key: Bytes,
            expiry: Option<Expiry>,
            payload: Bytes,
            replace: bool,
            hint: Option<AccessHint>,
        },
        SortStore {
            spec: SortSpec,
            destination: Bytes,
        },
        Eval {
            script: ScriptRef,
            keys: Vec<Bytes>,
            args: Vec<Bytes>,
            read_only: bool,
        },
        ScriptLoad {
            body: Bytes,
        },
        ScriptFlush,
        FunctionLoad {
            code: Bytes,
            replace: bool,
        },
        FunctionDelete {
            library: Bytes,
        },
        FunctionFlush,
        FunctionRestore {
            payload: Bytes,
            policy: RestorePolicy,
        },
        FCall {
            function: Bytes,
            keys: Vec<Bytes>,
            args: Vec<Bytes>,
            read_only: bool,
        },
        PfAdd {
            key: Bytes,
            elements: Vec<Bytes>,
        },
        PfMerge {
            destination: Bytes,
            sources: Vec<Bytes>,
        },
        PfDebugToDense {
            key: Bytes,
        },
        BitField {
            key: Bytes,
            ops: Vec<BitFieldOp>,
        },
        GeoAdd {
            key: Bytes,
            condition: Option<SetCondition>,
            ch: bool,
            points: Vec<(f64, f64, Bytes)>,
        },
        GeoSearchStore {
            destination: Bytes,
            key: Bytes,
            query: GeoQuery,
            store_dist: bool,
            georadius: bool,
        },
        SwapDb {
            a: u8,
            b: u8,
        },
        XAdd {
            key: Bytes,
            nomkstream: bool,
            trim: Option<Trim>,
            id: XAddId,
            fields: Vec<(Bytes, Bytes)>,
        },
        XDel {
            key: Bytes,
            ids: Vec<StreamId>,
        },
        XTrim {
            key: Bytes,
            trim: Trim,
        },
        XSetId {
            key: Bytes,
            last: StreamId,
            entries_added: Option<u64>,
            max_deleted: Option<StreamId>,
        },
        XGroup(XGroupOp),
        XReadGroup(XReadGroup),
        XAck {
            key: Bytes,
            group: Bytes,
            ids: Vec<StreamId>,
        },
        XClaim(XClaim),
        XAutoClaim(XAutoClaim),
    }
}
