//! The typed command model.
//!
//! A client request (a list of byte-string arguments) is parsed into a [`Command`], which is
//! one of four families, each handled by a different layer:
//!
//! - [`WriteCommand`]: changes the keyspace. Goes through the Raft log and is applied
//!   deterministically on every replica. Relative TTLs stay relative here; `apply`
//!   resolves them against the timestamp the leader stamped on the log entry.
//! - [`ReadCommand`]: reads the keyspace of one database; served after a read barrier.
//! - [`ConnCommand`]: connection state and server introspection, handled by the node.
//!
//! None of these types is what the log holds: raft keeps its own copy of each (`cairn_raft::
//! logged`) and converts at the boundary, so the model is free to change. These types have no
//! serde on purpose; a change here stops raft's conversion from compiling, and the log format
//! is decided there.

pub mod geo;
pub(crate) mod parse;
pub mod stream;
pub mod table;

use crate::errors::RedisError;
pub use parse::parse;
pub use parse::NOSCRIPT;

use bytes::Bytes;

use crate::long_double::LongDouble;

/// A parsed client request.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Read(ReadCommand),
    Write(WriteCommand),
    Conn(ConnCommand),
    Blocking(BlockingCommand),
    /// A read tried until it finds something or its timeout passes (XREAD ... BLOCK).
    BlockingRead(BlockingRead),
}

/// The number of logical databases, as in Redis (SELECT, MOVE, COPY ... DB, SWAPDB).
pub const DATABASES: u8 = 16;

/// When a key should expire, as the client said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Milliseconds from the time the write is stamped with (EX, PX, EXPIRE, PEXPIRE).
    RelativeMs(i64),
    /// Unix time in milliseconds (EXAT, PXAT, EXPIREAT, PEXPIREAT).
    AtMs(i64),
}

/// `NX` / `XX` on SET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetCondition {
    /// Only set if the key does not exist.
    Nx,
    /// Only set if the key already exists.
    Xx,
}

/// What SET does with an existing TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetTtl {
    /// No option: any existing TTL is discarded.
    Clear,
    /// `KEEPTTL`.
    Keep,
    /// `EX`/`PX`/`EXAT`/`PXAT`.
    Set(Expiry),
}

/// `NX`/`XX`/`GT`/`LT` on EXPIRE and friends (Redis 7).
///
/// Redis allows `XX` together with `GT` or `LT`. `XX GT` is parsed as [`ExpireCondition::Gt`]
/// (GT already fails on a key without a TTL); `XX LT` differs from `LT` (which succeeds on a
/// key without a TTL) and has its own variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireCondition {
    Always,
    /// Only if the key has no TTL.
    Nx,
    /// Only if the key has a TTL.
    Xx,
    /// Only if the new expiry is later than the current one; a key without a TTL never
    /// qualifies (no TTL counts as infinite).
    Gt,
    /// Only if the new expiry is earlier than the current one, or the key has no TTL.
    Lt,
    /// `XX LT`: only if the key has a TTL and the new expiry is earlier.
    XxLt,
}

/// The largest string Redis builds (`proto-max-bulk-len`, 512 MiB): SETRANGE's offset plus
/// length may not exceed it, and APPEND should not either.
pub const MAX_STRING_LEN: u64 = 512 * 1024 * 1024;

/// The latest wall-clock time, in unix milliseconds, that a relative TTL is assumed to be
/// resolved against (2^45 ms, in the year 3084). Redis rejects a relative TTL when adding the
/// current time would overflow; a pure parser has no clock, so it uses this bound instead.
pub const MAX_STAMP_MS: i64 = 1 << 45;

/// The largest [`Expiry::RelativeMs`] the parser produces: adding any stamp up to
/// [`MAX_STAMP_MS`] cannot overflow an `i64`. Relative TTLs can be negative (EXPIRE with a
/// negative time deletes the key), down to `i64::MIN`; adding a non-negative stamp to them
/// cannot overflow either.
pub const MAX_RELATIVE_EXPIRE_MS: i64 = i64::MAX - MAX_STAMP_MS;

/// GETEX's option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetExTtl {
    /// No option: GETEX behaves as GET.
    Unchanged,
    Persist,
    Set(Expiry),
}

/// Commands that change the keyspace of the database `db` they are issued in.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteCommand {
    /// SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT|KEEPTTL]; also SETEX, PSETEX.
    Set {
        key: Bytes,
        value: Bytes,
        condition: Option<SetCondition>,
        get: bool,
        ttl: SetTtl,
    },
    /// SETNX key value: integer reply 1/0.
    SetNx {
        key: Bytes,
        value: Bytes,
    },
    /// GETSET key value: old value, TTL discarded.
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
    /// INCR, DECR, INCRBY, DECRBY.
    IncrBy {
        key: Bytes,
        delta: i64,
    },
    /// DEL and UNLINK.
    Del {
        keys: Vec<Bytes>,
    },
    FlushDb,
    FlushAll,
    /// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT.
    Expire {
        key: Bytes,
        at: Expiry,
        condition: ExpireCondition,
    },
    Persist {
        key: Bytes,
    },
    /// RENAME (nx = false) and RENAMENX (nx = true).
    Rename {
        key: Bytes,
        new_key: Bytes,
        nx: bool,
    },
    /// INCRBYFLOAT, with the increment read as Redis reads it (an x87 `long double`, which
    /// holds more digits than an `f64`).
    IncrByFloat {
        key: Bytes,
        delta: LongDouble,
    },
    /// HSET (reply: the number of new fields) and HMSET (`hmset`: reply OK).
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
    /// HINCRBYFLOAT, in `long double` as INCRBYFLOAT.
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
    /// SPOP key [count]. The members are chosen by a PRNG seeded from the entry's timestamp,
    /// the key and the set's size, so every replica pops the same ones.
    SPop {
        key: Bytes,
        count: Option<u64>,
    },
    SMove {
        source: Bytes,
        destination: Bytes,
        member: Bytes,
    },
    /// SINTERSTORE, SUNIONSTORE, SDIFFSTORE.
    SStore {
        op: SetOp,
        destination: Bytes,
        keys: Vec<Bytes>,
    },
    /// LPUSH, RPUSH, LPUSHX (`existing`), RPUSHX (`existing`): reply the new length.
    LPush {
        key: Bytes,
        end: ListEnd,
        elements: Vec<Bytes>,
        existing: bool,
    },
    /// LPOP and RPOP key [count]. With a count the reply is an array (a null array for a
    /// missing key), without one a bulk string (nil for a missing key).
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
    /// LINSERT key BEFORE|AFTER pivot element.
    LInsert {
        key: Bytes,
        before: bool,
        pivot: Bytes,
        element: Bytes,
    },
    /// LREM key count element: from the head if count >= 0, from the tail if negative; 0
    /// removes every match.
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
    /// LMOVE source destination LEFT|RIGHT LEFT|RIGHT; RPOPLPUSH is `Right` → `Left`.
    LMove {
        source: Bytes,
        destination: Bytes,
        from: ListEnd,
        to: ListEnd,
    },
    /// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]. The option
    /// combinations Redis rejects are rejected by the parser; `incr` has one pair.
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
    /// ZPOPMIN (`max` false) and ZPOPMAX key [count]. Without a count the reply is flat.
    ZPop {
        key: Bytes,
        max: bool,
        count: Option<u64>,
    },
    /// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count].
    ZRangeStore {
        destination: Bytes,
        key: Bytes,
        range: ZRange,
    },
    /// ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX.
    ZRemRange {
        key: Bytes,
        by: ZRangeBy,
    },
    /// ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE. `weights` has one weight per key.
    ZStore {
        op: SetOp,
        destination: Bytes,
        keys: Vec<Bytes>,
        weights: Vec<f64>,
        aggregate: ZAggregate,
    },
    /// SETBIT key offset 0|1: reply the bit's previous value. `offset` is below
    /// [`MAX_BIT_OFFSET`]; the string grows with zero bytes to reach it.
    SetBit {
        key: Bytes,
        offset: u64,
        value: bool,
    },
    /// BITOP AND|OR|XOR|NOT destkey key [key ...]; NOT has exactly one source key.
    BitOp {
        op: BitOp,
        destination: Bytes,
        keys: Vec<Bytes>,
    },
    /// COPY source destination [DB db] [REPLACE]: `db` as given (range-checked when applied).
    Copy {
        key: Bytes,
        destination: Bytes,
        db: Option<i32>,
        replace: bool,
    },
    /// MOVE key db
    Move {
        key: Bytes,
        db: i32,
    },
    /// Pops from the first non-empty list of `keys`: LMPOP (`count` given: reply
    /// `[key, [element ...]]`) and the non-blocking step of BLPOP/BRPOP (no count: reply
    /// `[key, element]`). The null array when every list is empty.
    LMPop {
        keys: Vec<Bytes>,
        end: ListEnd,
        count: Option<u64>,
    },
    /// Pops from the first non-empty sorted set of `keys`: ZMPOP (`count` given: reply
    /// `[key, [[member, score] ...]]`) and the non-blocking step of BZPOPMIN/BZPOPMAX (no
    /// count: reply `[key, member, score]`). The null array when every set is empty.
    ZMPop {
        keys: Vec<Bytes>,
        max: bool,
        count: Option<u64>,
    },
    /// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]: `expiry`
    /// is `None` for a ttl of 0. `hint` (IDLETIME or FREQ) seeds the LRU/LFU facts of the
    /// node that takes the command; applying ignores it (access facts are not replicated).
    Restore {
        key: Bytes,
        expiry: Option<Expiry>,
        payload: Bytes,
        replace: bool,
        hint: Option<AccessHint>,
    },
    /// SORT key ... STORE destination: the result stored as a list (deleted when empty).
    SortStore {
        spec: SortSpec,
        destination: Bytes,
    },
    /// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO: a Lua script run where writes apply, on every
    /// replica alike. `read_only` (the `_RO` forms) refuses writes from inside the script.
    Eval {
        script: ScriptRef,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
        read_only: bool,
    },
    /// SCRIPT LOAD body: compiled, kept in the replicated script cache; replies its SHA-1.
    ScriptLoad {
        body: Bytes,
    },
    /// SCRIPT FLUSH [ASYNC|SYNC]: empties the replicated script cache.
    ScriptFlush,
    /// FUNCTION LOAD [REPLACE] code: a library of functions, kept as replicated state.
    FunctionLoad {
        code: Bytes,
        replace: bool,
    },
    /// FUNCTION DELETE library-name
    FunctionDelete {
        library: Bytes,
    },
    /// FUNCTION FLUSH [ASYNC|SYNC]: deletes every library.
    FunctionFlush,
    /// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: libraries from a FUNCTION DUMP.
    FunctionRestore {
        payload: Bytes,
        policy: RestorePolicy,
    },
    /// FCALL / FCALL_RO function numkeys [key ...] [arg ...]
    FCall {
        function: Bytes,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
        read_only: bool,
    },
    /// PFADD key [element ...]
    PfAdd {
        key: Bytes,
        elements: Vec<Bytes>,
    },
    /// PFMERGE destkey [sourcekey ...]
    PfMerge {
        destination: Bytes,
        sources: Vec<Bytes>,
    },
    /// PFDEBUG TODENSE key
    PfDebugToDense {
        key: Bytes,
    },
    /// BITFIELD key with at least one SET or INCRBY.
    BitField {
        key: Bytes,
        ops: Vec<BitFieldOp>,
    },
    /// GEOADD key [NX|XX] [CH] longitude latitude member ...: ZADD with each point's 52-bit
    /// geohash as its score. Coordinates are checked to be in range when parsed.
    GeoAdd {
        key: Bytes,
        condition: Option<SetCondition>,
        ch: bool,
        points: Vec<(f64, f64, Bytes)>,
    },
    /// GEOSEARCHSTORE, and GEORADIUS / GEORADIUSBYMEMBER with STORE or STOREDIST: the members
    /// found replace `destination` (scored by geohash, or by distance in the query's unit).
    GeoSearchStore {
        destination: Bytes,
        key: Bytes,
        query: geo::GeoQuery,
        store_dist: bool,
        /// Named GEORADIUS(BYMEMBER) ... STORE: its keyspace event is `georadiusstore`.
        georadius: bool,
    },
    /// SWAPDB index1 index2 (both below [`DATABASES`]).
    SwapDb {
        a: u8,
        b: u8,
    },
    /// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT n]] id field value ...
    XAdd {
        key: Bytes,
        nomkstream: bool,
        trim: Option<stream::Trim>,
        id: stream::XAddId,
        fields: Vec<(Bytes, Bytes)>,
    },
    /// XDEL key id ...
    XDel {
        key: Bytes,
        ids: Vec<stream::StreamId>,
    },
    /// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT n]
    XTrim {
        key: Bytes,
        trim: stream::Trim,
    },
    /// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]
    XSetId {
        key: Bytes,
        last: stream::StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<stream::StreamId>,
    },
    XGroup(stream::XGroupOp),
    /// XREADGROUP: a write (it moves the group and its pending entries).
    XReadGroup(stream::XReadGroup),
    /// XACK key group id ...
    XAck {
        key: Bytes,
        group: Bytes,
        ids: Vec<stream::StreamId>,
    },
    XClaim(stream::XClaim),
    XAutoClaim(stream::XAutoClaim),
}

/// What FUNCTION RESTORE does with the libraries already loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Refuse if a restored library exists already (the default).
    Append,
    /// Restored libraries replace those of the same name.
    Replace,
    /// Delete every library first.
    Flush,
}

/// The script an EVAL runs: its source, or the SHA-1 (lowercase hex) of one in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptRef {
    Body(Bytes),
    Sha(String),
}

/// SORT / SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA].
#[derive(Debug, Clone, PartialEq)]
pub struct SortSpec {
    pub key: Bytes,
    /// BY: the weight of an element is the key (or `key->field`) named by the pattern with
    /// its first `*` replaced by the element.
    pub by: Option<Bytes>,
    /// LIMIT offset count, as given (Redis clamps them against the length).
    pub limit: Option<(i64, i64)>,
    /// GET patterns, in order (`#` is the element itself).
    pub get: Vec<Bytes>,
    pub desc: bool,
    pub alpha: bool,
}

/// XREAD ... BLOCK: the read, tried until it finds entries or the timeout passes (0 waits
/// for ever). Inside MULTI (and in a script) it reads once.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockingRead {
    pub read: ReadCommand,
    pub timeout_ms: u64,
}

/// A blocking command (BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN, BZPOPMAX, BZMPOP,
/// XREADGROUP ... BLOCK): the non-blocking write it is made of, tried until it pops something or the timeout
/// passes. Inside MULTI only `op` runs, once, as Redis does.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockingCommand {
    pub op: WriteCommand,
    /// How long to wait, in milliseconds; 0 waits for ever.
    pub timeout_ms: u64,
}

impl BlockingCommand {
    /// The keys whose change may let `op` pop something.
    pub fn keys(&self) -> &[Bytes] {
        match &self.op {
            WriteCommand::LMPop { keys, .. } | WriteCommand::ZMPop { keys, .. } => keys,
            WriteCommand::LMove { source, .. } => std::slice::from_ref(source),
            _ => &[],
        }
    }

    /// Whether a reply of `op` means there was nothing to pop yet.
    pub fn is_empty_reply(reply: &crate::Reply) -> bool {
        matches!(reply, crate::Reply::Nil | crate::Reply::NilArray)
    }
}

/// The largest string Redis builds is [`MAX_STRING_LEN`] bytes, so a bit offset (SETBIT,
/// GETBIT) must be below this many bits (2^32).
pub const MAX_BIT_OFFSET: u64 = MAX_STRING_LEN * 8;

/// One operation of BITFIELD: GET, SET or INCRBY of a `bits`-wide integer at bit `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitFieldOp {
    pub kind: BitFieldKind,
    pub signed: bool,
    /// 1 to 64 signed, 1 to 63 unsigned.
    pub bits: u8,
    pub offset: u64,
    /// SET's value or INCRBY's increment (0 for GET).
    pub value: i64,
    /// The OVERFLOW in force for this operation.
    pub overflow: Overflow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitFieldKind {
    Get,
    Set,
    IncrBy,
}

/// BITFIELD's OVERFLOW behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// BITOP's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// Whether BITCOUNT's and BITPOS's range counts bytes (the default) or bits (Redis 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitUnit {
    Byte,
    Bit,
}

/// BITCOUNT's `start end [BYTE|BIT]`: inclusive, negative indexes count from the end as in
/// GETRANGE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    pub start: i64,
    pub end: i64,
    pub unit: BitUnit,
}

/// ZADD's GT / LT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZCompare {
    Gt,
    Lt,
}

/// ZUNIONSTORE's and ZINTERSTORE's AGGREGATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZAggregate {
    Sum,
    Min,
    Max,
}

/// One end of a score range: `value` or `(value`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    pub exclusive: bool,
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    Min,
    Max,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

/// Which elements of a sorted set a range selects. Score and lex ranges are stored as
/// (min, max) whatever the order the command took them in.
#[derive(Debug, Clone, PartialEq)]
pub enum ZRangeBy {
    /// Ranks, with Redis's negative-index rules.
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

/// ZRANGE's selection: the range, the direction and LIMIT (`offset`, `count`; a negative
/// count means all, a negative offset selects nothing; only for score and lex ranges).
#[derive(Debug, Clone, PartialEq)]
pub struct ZRange {
    pub by: ZRangeBy,
    pub rev: bool,
    pub offset: i64,
    pub count: i64,
}

/// The end of a list a command pushes to or pops from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListEnd {
    /// The head (LEFT).
    Left,
    /// The tail (RIGHT).
    Right,
}

/// The algebra of SINTER, SUNION, SDIFF and their STORE forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    Inter,
    Union,
    Diff,
}

impl WriteCommand {
    /// The first key the command writes, if any (for cluster redirects).
    pub fn first_key(&self) -> Option<&Bytes> {
        use WriteCommand as W;
        match self {
            W::Set { key, .. }
            | W::SetNx { key, .. }
            | W::GetSet { key, .. }
            | W::GetDel { key }
            | W::GetEx { key, .. }
            | W::Append { key, .. }
            | W::SetRange { key, .. }
            | W::IncrBy { key, .. }
            | W::IncrByFloat { key, .. }
            | W::Expire { key, .. }
            | W::Persist { key }
            | W::Rename { key, .. }
            | W::Copy { key, .. }
            | W::Move { key, .. }
            | W::Restore { key, .. }
            | W::SortStore {
                destination: key, ..
            }
            | W::HSet { key, .. }
            | W::HSetNx { key, .. }
            | W::HDel { key, .. }
            | W::HIncrBy { key, .. }
            | W::HIncrByFloat { key, .. }
            | W::SAdd { key, .. }
            | W::SRem { key, .. }
            | W::SPop { key, .. }
            | W::LPush { key, .. }
            | W::LPop { key, .. }
            | W::LSet { key, .. }
            | W::LInsert { key, .. }
            | W::LRem { key, .. }
            | W::LTrim { key, .. }
            | W::ZAdd { key, .. }
            | W::ZRem { key, .. }
            | W::ZIncrBy { key, .. }
            | W::ZPop { key, .. }
            | W::ZRemRange { key, .. }
            | W::SetBit { key, .. }
            | W::PfAdd { key, .. }
            | W::PfDebugToDense { key }
            | W::BitField { key, .. } => Some(key),
            W::PfMerge { destination, .. } | W::GeoSearchStore { destination, .. } => {
                Some(destination)
            }
            W::GeoAdd { key, .. }
            | W::XAdd { key, .. }
            | W::XDel { key, .. }
            | W::XTrim { key, .. }
            | W::XSetId { key, .. }
            | W::XAck { key, .. }
            | W::XClaim(stream::XClaim { key, .. })
            | W::XAutoClaim(stream::XAutoClaim { key, .. }) => Some(key),
            W::XGroup(op) => Some(op.key()),
            W::XReadGroup(r) => r.streams.first().map(|(k, _)| k),
            W::ZRangeStore { destination, .. } | W::ZStore { destination, .. } => Some(destination),
            W::SMove { source, .. } | W::LMove { source, .. } => Some(source),
            W::SStore { destination, .. } | W::BitOp { destination, .. } => Some(destination),
            W::MSet { pairs } | W::MSetNx { pairs } => pairs.first().map(|(k, _)| k),
            W::Del { keys }
            | W::LMPop { keys, .. }
            | W::ZMPop { keys, .. }
            | W::Eval { keys, .. }
            | W::FCall { keys, .. } => keys.first(),
            W::FlushDb
            | W::FlushAll
            | W::SwapDb { .. }
            | W::ScriptLoad { .. }
            | W::ScriptFlush
            | W::FunctionLoad { .. }
            | W::FunctionDelete { .. }
            | W::FunctionRestore { .. }
            | W::FunctionFlush => None,
        }
    }
}

/// Which unit and base a TTL query answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlQuery {
    /// TTL: seconds remaining.
    TtlSecs,
    /// PTTL: milliseconds remaining.
    TtlMs,
    /// EXPIRETIME: unix seconds.
    AtSecs,
    /// PEXPIRETIME: unix milliseconds.
    AtMs,
}

/// Commands that only read the keyspace of the current database. A transaction (MULTI/EXEC)
/// carries its reads into the log (as raft's copy of this type), to run them atomically with
/// its writes.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadCommand {
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
    /// EXISTS, and TOUCH: one read that counts keys; both count as accesses for LRU/LFU (in
    /// Redis EXISTS does not touch).
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
    /// HGETALL, HKEYS, HVALS.
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
    /// HRANDFIELD key [count [WITHVALUES]]. A negative count allows repeats.
    HRandField {
        key: Bytes,
        count: Option<i64>,
        with_values: bool,
    },
    /// HSCAN and SSCAN.
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
    /// SRANDMEMBER key [count]. A negative count allows repeats.
    SRandMember {
        key: Bytes,
        count: Option<i64>,
    },
    /// SINTER, SUNION, SDIFF.
    SetAlgebra {
        op: SetOp,
        keys: Vec<Bytes>,
    },
    /// SINTERCARD numkeys key [key ...] [LIMIT limit]; limit 0 means none.
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
    /// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]. `rank` is never 0
    /// (negative: search from the tail); `count` 0 means every match, `None` a single
    /// integer reply; `maxlen` 0 means no limit.
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
    /// ZCOUNT (a score range) and ZLEXCOUNT (a lex range).
    ZCount {
        key: Bytes,
        by: ZRangeBy,
    },
    /// ZRANGE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX.
    ZRange {
        key: Bytes,
        range: ZRange,
        with_scores: bool,
    },
    /// ZRANK and ZREVRANK (`rev`) key member [WITHSCORE].
    ZRank {
        key: Bytes,
        member: Bytes,
        rev: bool,
        with_score: bool,
    },
    /// MEMORY USAGE key [SAMPLES n]: the bytes the key takes, approximately.
    MemoryUsage {
        key: Bytes,
    },
    /// GETBIT key offset, with `offset` below [`MAX_BIT_OFFSET`].
    GetBit {
        key: Bytes,
        offset: u64,
    },
    /// BITCOUNT key [start end [BYTE|BIT]]; no range counts the whole string.
    BitCount {
        key: Bytes,
        range: Option<BitRange>,
    },
    /// BITPOS key bit [start [end [BYTE|BIT]]]. Without an `end` the string is searched to
    /// its end and, looking for a clear bit, counts as followed by zeros (so an all-ones
    /// string answers the bit just past it); with an `end` only the range counts.
    BitPos {
        key: Bytes,
        bit: bool,
        start: i64,
        end: Option<i64>,
        unit: BitUnit,
    },
    /// RANDOMKEY: a live key of the database, or nil.
    RandomKey,
    /// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key
    Object {
        what: ObjectQuery,
        key: Bytes,
    },
    /// ZUNION, ZINTER, ZDIFF numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE how]
    /// [WITHSCORES]: `weights` has one weight per key (ZDIFF takes none).
    ZCombine {
        op: SetOp,
        keys: Vec<Bytes>,
        weights: Vec<f64>,
        aggregate: ZAggregate,
        with_scores: bool,
    },
    /// ZINTERCARD numkeys key [key ...] [LIMIT limit]; limit 0 means none.
    ZInterCard {
        keys: Vec<Bytes>,
        limit: u64,
    },
    /// ZRANDMEMBER key [count [WITHSCORES]]. A negative count allows repeats.
    ZRandMember {
        key: Bytes,
        count: Option<i64>,
        with_scores: bool,
    },
    /// DUMP key: the value in cairn's serialization (see `keyspace::dump`).
    Dump {
        key: Bytes,
    },
    /// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
    Lcs {
        a: Bytes,
        b: Bytes,
        answer: LcsAnswer,
    },
    /// SORT without STORE, and SORT_RO.
    Sort(SortSpec),
    /// SCRIPT EXISTS sha [sha ...]: 1 or 0 per SHA-1, from the replicated script cache.
    ScriptExists {
        shas: Vec<Bytes>,
    },
    /// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
    FunctionList {
        pattern: Option<Bytes>,
        with_code: bool,
    },
    /// FUNCTION STATS
    FunctionStats,
    /// FUNCTION DUMP: every library, as a payload FUNCTION RESTORE takes.
    FunctionDump,
    /// PFCOUNT key [key ...]
    PfCount {
        keys: Vec<Bytes>,
    },
    /// PFDEBUG GETREG|ENCODING|DECODE key (`sub` lowercase).
    PfDebug {
        sub: String,
        key: Bytes,
    },
    /// BITFIELD (only GETs) and BITFIELD_RO.
    BitField {
        key: Bytes,
        ops: Vec<BitFieldOp>,
    },
    /// GEOPOS key member ...
    GeoPos {
        key: Bytes,
        members: Vec<Bytes>,
    },
    /// GEOHASH key member ...
    GeoHash {
        key: Bytes,
        members: Vec<Bytes>,
    },
    /// GEODIST key member1 member2 [unit]
    GeoDist {
        key: Bytes,
        a: Bytes,
        b: Bytes,
        unit: geo::GeoUnit,
    },
    /// GEOSEARCH, and GEORADIUS / GEORADIUSBYMEMBER (and their _RO forms) without STORE.
    GeoSearch {
        key: Bytes,
        query: geo::GeoQuery,
    },
    /// XLEN key
    XLen {
        key: Bytes,
    },
    /// XRANGE / XREVRANGE key start end [COUNT n]: `start` and `end` inclusive, already
    /// moved past an exclusive `(` bound; `rev` lists from `end` down.
    XRange {
        key: Bytes,
        start: stream::StreamId,
        end: stream::StreamId,
        count: Option<u64>,
        rev: bool,
    },
    /// XREAD [COUNT n] STREAMS key ... id ...
    XRead {
        count: Option<u64>,
        streams: Vec<(Bytes, stream::ReadFrom)>,
    },
    XInfo(stream::XInfo),
    /// XINFO HELP or (`xgroup`) XGROUP HELP.
    XHelp {
        xgroup: bool,
    },
    /// XPENDING key group [[IDLE min-idle] start end count [consumer]]
    XPending {
        key: Bytes,
        group: Bytes,
        range: Option<stream::PendingRange>,
    },
}

/// RESTORE's IDLETIME or FREQ: what the restored key's access facts start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessHint {
    /// Seconds since the last access (LRU).
    IdleSecs(u64),
    /// The LFU counter.
    Freq(u8),
}

/// What LCS answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LcsAnswer {
    /// The common subsequence itself.
    Text,
    /// LEN: its length.
    Len,
    /// IDX: the matching ranges of at least `min_match_len` bytes, last first, and the length.
    Ranges {
        min_match_len: u64,
        with_match_len: bool,
    },
}

/// What HGETALL, HKEYS and HVALS return of a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashPart {
    /// HGETALL: fields and values (a map in RESP3).
    All,
    Keys,
    Values,
}

/// The collection HSCAN or SSCAN iterates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionKind {
    Hash,
    Set,
    ZSet,
}

/// CLIENT subcommands.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientCommand {
    Id,
    SetName(Bytes),
    GetName,
    SetInfo {
        attr: String,
        value: Bytes,
    },
    /// CLIENT LIST [TYPE type] [ID id ...]
    List(ClientFilter),
    Info,
    /// CLIENT REPLY ON|OFF|SKIP: whether the server answers this connection's commands.
    Reply(ReplyMode),
    /// CLIENT KILL addr:port (the old form, which may kill the caller; replies OK), or
    /// CLIENT KILL with filters (replies the number killed).
    Kill {
        filter: ClientFilter,
        old_form: bool,
    },
    /// CLIENT UNBLOCK id [TIMEOUT|ERROR]: `error` answers the blocked command with an error
    /// instead of its timeout reply.
    Unblock {
        id: u64,
        error: bool,
    },
    /// CLIENT PAUSE timeout [WRITE|ALL]
    Pause {
        timeout_ms: u64,
        all: bool,
    },
    Unpause,
    NoEvict(bool),
    NoTouch(bool),
    /// CLIENT TRACKING ON|OFF with its options.
    Tracking {
        on: bool,
        options: TrackingOptions,
    },
    /// CLIENT CACHING YES|NO: whether the next command's keys are tracked (OPTIN, OPTOUT).
    Caching(bool),
    GetRedir,
    TrackingInfo,
}

/// CLIENT TRACKING's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackingOptions {
    /// REDIRECT: the client that gets the invalidations.
    pub redirect: Option<i64>,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    pub prefixes: Vec<Bytes>,
}

/// The connection kinds CLIENT LIST and CLIENT KILL filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    /// `master`, `replica`/`slave`: cairn has no replication clients, so none match.
    Replication,
    PubSub,
}

/// Which connections CLIENT LIST or CLIENT KILL select: all given conditions must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientFilter {
    pub ids: Option<Vec<u64>>,
    pub kind: Option<ClientType>,
    pub user: Option<Bytes>,
    pub addr: Option<Bytes>,
    pub laddr: Option<Bytes>,
    /// Leave out the calling connection (CLIENT KILL's SKIPME, yes by default).
    pub skip_me: bool,
    /// Only connections older than this many seconds.
    pub max_age_secs: Option<u64>,
}

/// ACL's subcommands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclCommand {
    /// Rules as given: the node hashes clear-text passwords before they go anywhere.
    SetUser {
        name: Bytes,
        rules: Vec<Bytes>,
    },
    DelUser(Vec<Bytes>),
    GetUser(Bytes),
    List,
    Users,
    WhoAmI,
    /// ACL CAT [category]
    Cat(Option<Bytes>),
    /// ACL GENPASS [bits]: `bits` checked to be 1..=4096.
    GenPass(u64),
    /// ACL LOAD / ACL SAVE: cairn has no ACL file.
    File,
}

/// What OBJECT asks about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectQuery {
    Encoding,
    RefCount,
    IdleTime,
    Freq,
}

/// CLIENT REPLY's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    /// No replies until ON (pub/sub pushes still arrive).
    Off,
    /// No reply to the next command.
    Skip,
}

/// CONFIG subcommands.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigCommand {
    /// CONFIG GET pattern [pattern ...]
    Get(Vec<Bytes>),
    /// CONFIG SET name value [name value ...]
    Set(Vec<(Bytes, Bytes)>),
    ResetStat,
    Rewrite,
}

/// COMMAND subcommands.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandCommand {
    /// COMMAND with no subcommand: the whole table.
    All,
    Count,
    Info(Vec<Bytes>),
    Docs(Vec<Bytes>),
    /// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
    List(Option<ListFilter>),
    /// COMMAND GETKEYS command [arg ...]: the keys the request names.
    GetKeys(Vec<Bytes>),
}

/// COMMAND LIST's filter.
#[derive(Debug, Clone, PartialEq)]
pub enum ListFilter {
    /// Commands a module added: cairn has no modules, so none.
    Module(Bytes),
    /// Commands in an ACL category, named without its `@`, any case.
    AclCat(Bytes),
    /// Commands and subcommands whose full name (`config|get`) matches a glob, any case.
    Pattern(Bytes),
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
#[derive(Debug, Clone, PartialEq)]
pub struct Hello {
    pub protover: Option<u8>,
    pub auth: Option<(Bytes, Bytes)>,
    pub setname: Option<Bytes>,
}

/// Connection state, introspection and cluster commands handled by the node itself.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnCommand {
    Ping(Option<Bytes>),
    Echo(Bytes),
    Hello(Hello),
    Select(u32),
    Quit,
    Reset,
    Command(CommandCommand),
    Client(ClientCommand),
    Config(ConfigCommand),
    /// INFO [section ...]
    Info(Vec<String>),
    Role,
    /// TIME: this node's wall clock (node-local, as in Redis).
    Time,
    /// SAVE: build a snapshot of this node's state now and wait for it.
    Save,
    /// BGSAVE [SCHEDULE]: build a snapshot in the background.
    BgSave,
    /// LASTSAVE: when this node's current snapshot was made (unix seconds).
    LastSave,
    /// WAIT numreplicas timeout (milliseconds, 0: no limit).
    Wait {
        replicas: i64,
        timeout_ms: u64,
    },
    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: stop this node as SIGTERM does (a
    /// leader hands off first). `save`: SAVE builds a snapshot first; NOW and FORCE change
    /// nothing here (there is no save to wait for or skip).
    Shutdown {
        save: bool,
        abort: bool,
    },
    ReadOnly,
    ReadWrite,
    /// AUTH [username] password
    Auth {
        username: Option<Bytes>,
        password: Bytes,
    },
    /// MULTI: start queueing commands for EXEC.
    Multi,
    /// EXEC: run the queued commands as one atomic log entry.
    Exec,
    Discard,
    /// WATCH key [key ...]: EXEC aborts if any of them is written after this.
    Watch(Vec<Bytes>),
    Unwatch,
    /// `CLUSTER <subcommand> [args...]`: the Redis Cluster view of cairn (one shard that owns
    /// every slot), answered by the node.
    Cluster(Vec<Bytes>),
    /// `CAIRN <subcommand> [args...]`: cairn's own admin commands (the arguments after
    /// `CAIRN`), parsed by the node that owns them. Not a Redis command, so not in the table.
    Cairn(Vec<Bytes>),
    /// Publish/subscribe: messages are not data, so they never enter the Raft log.
    PubSub(PubSubCommand),
    /// SCRIPT KILL and FUNCTION KILL: scripts run inside one log entry's apply and end within their
    /// instruction budget, so there is never one to kill (`NOTBUSY`).
    ScriptKill,
    Acl(AclCommand),
    /// MONITOR: stream every command the node runs to this connection.
    Monitor,
    /// DEBUG <anything>: refused with an explanation (it pokes at one Redis process's
    /// internals, which cairn does not have).
    Debug,
    SlowLog(SlowLogCommand),
    Latency(LatencyCommand),
}

/// SLOWLOG's subcommands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlowLogCommand {
    /// SLOWLOG GET [count]: `None` is Redis's default (10), -1 all.
    Get(Option<i64>),
    Len,
    Reset,
}

/// LATENCY's subcommands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LatencyCommand {
    Latest,
    History(Bytes),
    Reset(Vec<Bytes>),
    Doctor,
    /// LATENCY HISTOGRAM [command ...], names lowercase.
    Histogram(Vec<String>),
}

/// The pub/sub commands.
#[derive(Debug, Clone, PartialEq)]
pub enum PubSubCommand {
    /// SUBSCRIBE channel [channel ...]
    Subscribe(Vec<Bytes>),
    /// UNSUBSCRIBE [channel ...]: none means every channel.
    Unsubscribe(Vec<Bytes>),
    /// PSUBSCRIBE pattern [pattern ...]
    PSubscribe(Vec<Bytes>),
    /// PUNSUBSCRIBE [pattern ...]: none means every pattern.
    PUnsubscribe(Vec<Bytes>),
    /// PUBLISH channel message
    Publish { channel: Bytes, message: Bytes },
    /// PUBSUB CHANNELS [pattern]
    Channels(Option<Bytes>),
    /// PUBSUB NUMSUB [channel ...]
    NumSub(Vec<Bytes>),
    /// PUBSUB NUMPAT
    NumPat,
}

/// Why a request could not be turned into a [`Command`]. Each maps to one Redis error reply.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// `ERR unknown command '<name>', with args beginning with: '<a>' '<b>' `
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    Unknown { name: String, args: String },
    /// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
    #[error("ERR unknown subcommand '{sub}'. Try {command} HELP.")]
    UnknownSubcommand { command: String, sub: String },
    /// `ERR wrong number of arguments for '<name>' command`
    #[error("ERR wrong number of arguments for '{0}' command")]
    Arity(String),
    #[error("{}", RedisError::Syntax)]
    Syntax,
    #[error("{}", RedisError::NotInteger)]
    NotInteger,
    #[error("{}", RedisError::NotFloat)]
    NotFloat,
    /// `ERR invalid expire time in '<name>' command`
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpire(String),
    /// Redis's `addReplySubcommandSyntaxError`: a known subcommand with the wrong number of
    /// arguments, or an unknown one, of a container that checks its own arity.
    #[error(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {command} HELP."
    )]
    SubcommandSyntax { command: String, sub: String },
    /// Redis's `getRangeLongFromObjectOrReply` (and SELECT's `int` check): an integer outside
    /// the range the argument takes.
    #[error("ERR value is out of range, value must between {min} and {max}")]
    OutOfRangeBetween { min: i64, max: i64 },
    /// An option given twice, or not one the command takes (FUNCTION LIST).
    #[error("ERR Unknown argument {0}")]
    UnknownArgument(String),
    /// One of Redis's errors that several places send (see [`crate::errors`]).
    #[error("{0}")]
    Redis(crate::errors::RedisError),
    /// An error only this command's parser sends, with its full Redis text (code included).
    #[error("{0}")]
    Other(String),
}

impl CommandError {
    /// [`CommandError::SubcommandSyntax`] for subcommand `sub` of `container` (any case).
    pub fn subcommand_syntax(container: &str, sub: &[u8]) -> CommandError {
        CommandError::SubcommandSyntax {
            command: container.to_ascii_uppercase(),
            sub: String::from_utf8_lossy(sub).replace(['\r', '\n'], " "),
        }
    }

    /// The error line as sent to the client, without the leading `-` and trailing CRLF.
    pub fn resp_error(&self) -> String {
        self.to_string()
    }
}
