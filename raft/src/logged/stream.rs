//! The stream options of logged commands (XADD, XTRIM, XGROUP, XREADGROUP, XCLAIM, XINFO...).

use bytes::Bytes;
use cairn_protocol::command::stream as ps;
use serde::{Deserialize, Serialize};

use super::mirror;

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum GroupRead = ps::GroupRead {
        New,
        Pending(StreamId),
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum GroupStart = ps::GroupStart {
        Id(StreamId),
        Last,
    }
}

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct PendingRange = ps::PendingRange {
        pub min_idle_ms: u64,
        pub start: StreamId,
        pub end: StreamId,
        pub count: u64,
        pub consumer: Option<Bytes>,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum ReadFrom = ps::ReadFrom {
        After(StreamId),
        Last,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub struct StreamId = ps::StreamId {
        pub ms: u64,
        pub seq: u64,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Trim = ps::Trim {
        pub to: TrimTo,
        pub approx: bool,
        pub limit: Option<u64>,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum TrimTo = ps::TrimTo {
        MaxLen(u64),
        MinId(StreamId),
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum XAddId = ps::XAddId {
        Auto,
        AutoSeq(u64),
        Explicit(StreamId),
    }
}

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct XAutoClaim = ps::XAutoClaim {
        pub key: Bytes,
        pub group: Bytes,
        pub consumer: Bytes,
        pub min_idle_ms: u64,
        pub start: StreamId,
        pub count: u64,
        pub justid: bool,
    }
}

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct XClaim = ps::XClaim {
        pub key: Bytes,
        pub group: Bytes,
        pub consumer: Bytes,
        pub min_idle_ms: u64,
        pub ids: Vec<StreamId>,
        pub idle_ms: Option<i64>,
        pub time_ms: Option<i64>,
        pub retry_count: Option<u64>,
        pub force: bool,
        pub justid: bool,
        pub last_id: Option<StreamId>,
    }
}

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum XGroupOp = ps::XGroupOp {
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
}

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum XInfo = ps::XInfo {
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
}

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct XReadGroup = ps::XReadGroup {
        pub group: Bytes,
        pub consumer: Bytes,
        pub count: Option<u64>,
        pub noack: bool,
        pub streams: Vec<(Bytes, GroupRead)>,
    }
}
