//! The stream commands' model (t_stream.c): entry IDs, trimming, consumer-group operations.

use std::fmt;

use bytes::Bytes;

/// A stream entry ID: milliseconds and a sequence number, ordered as a pair. The one command
/// type with serde: raft's stream values key their entries by it in snapshots, so its two
/// fields and their order are part of the snapshot format.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID up, or `None` after the largest.
    pub fn next(self) -> Option<StreamId> {
        match (self.seq.checked_add(1), self.ms.checked_add(1)) {
            (Some(seq), _) => Some(StreamId { seq, ..self }),
            (None, Some(ms)) => Some(StreamId { ms, seq: 0 }),
            (None, None) => None,
        }
    }

    /// The next ID down, or `None` before 0-0.
    pub fn prev(self) -> Option<StreamId> {
        match (self.seq.checked_sub(1), self.ms.checked_sub(1)) {
            (Some(seq), _) => Some(StreamId { seq, ..self }),
            (None, Some(ms)) => Some(StreamId { ms, seq: u64::MAX }),
            (None, None) => None,
        }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The ID as a bulk-string reply (`<ms>-<seq>`).
    pub fn reply(self) -> crate::Reply {
        crate::Reply::Bulk(Bytes::from(self.to_string()))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The ID XADD gives the new entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAddId {
    /// `*`: the entry's time (or the last ID's, if later) and the next sequence.
    Auto,
    /// `<ms>-*`: this time and the next sequence in it.
    AutoSeq(u64),
    /// `<ms>-<seq>` (or `<ms>`, sequence 0).
    Explicit(StreamId),
}

/// What XADD and XTRIM trim to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimTo {
    /// MAXLEN: at most this many entries.
    MaxLen(u64),
    /// MINID: no entry below this ID.
    MinId(StreamId),
}

/// A trim: its threshold, whether it is approximate (`~`: whole nodes only) and its LIMIT
/// (the most entries one trim removes; 0 is no limit; `None` is the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    pub to: TrimTo,
    pub approx: bool,
    pub limit: Option<u64>,
}

/// Where XGROUP CREATE / SETID puts a group: an ID or `$` (the stream's last ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStart {
    Id(StreamId),
    Last,
}

/// XGROUP's write subcommands.
#[derive(Debug, Clone, PartialEq)]
pub enum XGroupOp {
    Create {
        key: Bytes,
        group: Bytes,
        start: GroupStart,
        mkstream: bool,
        entries_read: Option<i64>,
    },
    SetId {
        key: Bytes,
        group: Bytes,
        start: GroupStart,
        entries_read: Option<i64>,
    },
    Destroy {
        key: Bytes,
        group: Bytes,
    },
    CreateConsumer {
        key: Bytes,
        group: Bytes,
        consumer: Bytes,
    },
    DelConsumer {
        key: Bytes,
        group: Bytes,
        consumer: Bytes,
    },
}

impl XGroupOp {
    pub fn key(&self) -> &Bytes {
        match self {
            XGroupOp::Create { key, .. }
            | XGroupOp::SetId { key, .. }
            | XGroupOp::Destroy { key, .. }
            | XGroupOp::CreateConsumer { key, .. }
            | XGroupOp::DelConsumer { key, .. } => key,
        }
    }
}

/// Where XREADGROUP reads a stream from: `>` (entries never delivered to the group) or the
/// consumer's own pending entries after an ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupRead {
    New,
    Pending(StreamId),
}

/// XREADGROUP GROUP group consumer [COUNT n] [NOACK] STREAMS key ... id ...
#[derive(Debug, Clone, PartialEq)]
pub struct XReadGroup {
    pub group: Bytes,
    pub consumer: Bytes,
    /// At most this many entries per stream; `None`: all.
    pub count: Option<u64>,
    pub noack: bool,
    pub streams: Vec<(Bytes, GroupRead)>,
}

/// XCLAIM key group consumer min-idle-time id ... [IDLE ms] [TIME ms] [RETRYCOUNT n] [FORCE]
/// [JUSTID] [LASTID id]
#[derive(Debug, Clone, PartialEq)]
pub struct XClaim {
    pub key: Bytes,
    pub group: Bytes,
    pub consumer: Bytes,
    pub min_idle_ms: u64,
    pub ids: Vec<StreamId>,
    /// The claimed entries' last delivery: IDLE (milliseconds ago) or TIME (unix ms).
    pub idle_ms: Option<i64>,
    pub time_ms: Option<i64>,
    pub retry_count: Option<u64>,
    pub force: bool,
    pub justid: bool,
    pub last_id: Option<StreamId>,
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
#[derive(Debug, Clone, PartialEq)]
pub struct XAutoClaim {
    pub key: Bytes,
    pub group: Bytes,
    pub consumer: Bytes,
    pub min_idle_ms: u64,
    pub start: StreamId,
    pub count: u64,
    pub justid: bool,
}

/// Where XREAD reads a stream from: after an ID, or `$` (only entries added from now on: for
/// a non-blocking XREAD, nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    After(StreamId),
    Last,
}

/// XINFO's subcommands.
#[derive(Debug, Clone, PartialEq)]
pub enum XInfo {
    /// XINFO STREAM key [FULL [COUNT n]]: `full` is FULL's COUNT (0: all).
    Stream {
        key: Bytes,
        full: Option<u64>,
    },
    Groups {
        key: Bytes,
    },
    Consumers {
        key: Bytes,
        group: Bytes,
    },
}

/// XPENDING's extended form: `[IDLE min-idle] start end count [consumer]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRange {
    pub min_idle_ms: u64,
    pub start: StreamId,
    pub end: StreamId,
    pub count: u64,
    pub consumer: Option<Bytes>,
}
