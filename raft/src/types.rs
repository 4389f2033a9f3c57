//! The openraft type configuration and the values that travel through the log.

use std::fmt;
use std::io::Cursor;

use crate::logged;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub type NodeId = u64;

/// How a node is reached: its RESP address (for clients and redirects) and its peer address.
/// Addresses are names (`host:port`), resolved at connect time, never pinned to an IP, so a
/// node that comes back with a new IP keeps its identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub resp_addr: String,
    pub raft_addr: String,
}

impl fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Redis Cluster's `ip:port@cport` notation.
        let raft_port = self.raft_addr.rsplit(':').next().unwrap_or("");
        write!(f, "{}@{}", self.resp_addr, raft_port)
    }
}

/// The payload of one log entry: a batch of operations, applied in order. The leader stamps
/// the batch with its wall clock (`now_ms`, unix ms); `apply` uses that stamp, never the
/// replica's clock, so every replica computes the same state. Concurrent client writes share
/// one entry (see [`crate::proposer`]), so they share one append and one flush.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteOp {
    pub now_ms: u64,
    pub ops: Vec<OpKind>,
}

/// One operation of a [`WriteOp`]. New variants go at the end: this is the log's on-disk format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OpKind {
    /// A client's write command in database `db`.
    Command { db: u8, cmd: logged::WriteCommand },
    /// Active expiry, decided by the leader: delete each key that is expired at `now_ms`.
    /// A key whose TTL was changed since the leader looked is left alone.
    ExpireKeys { db: u8, keys: Vec<Bytes> },
    /// Consistency check: every replica records the digest of its whole keyspace at exactly
    /// this entry's log index (DESIGN.md invariant 4). Replies `[index, digest]`.
    Check,
    /// MULTI/EXEC: the queued commands of one transaction, applied atomically in database
    /// `db` unless a watched key changed since WATCH. Replies an array of the commands'
    /// replies, or the null array when a watched key changed.
    Exec {
        db: u8,
        items: Vec<ExecItem>,
        watched: Vec<Watched>,
    },
    /// A client's write tagged with a request id, applied at most once: a node that does not
    /// know whether a forwarded write was applied (the leader died mid-call) sends it again
    /// with the same id, and a replica that has applied the id already answers the recorded
    /// reply instead of applying it twice (see [`crate::keyspace::once`]).
    Once { id: RequestId, op: Box<OpKind> },
    /// ACL SETUSER / DELUSER: users are replicated state, so every node enforces the same
    /// ones. Rules carry password hashes only (the node hashes `>password` first).
    Acl(AclOp),
    /// CONFIG SET of replicated settings (maxmemory and the eviction policy's): the pairs
    /// are merged into the settings every replica keeps, so whichever node leads (and so
    /// decides evictions) and every node refusing writes with OOM use the same values.
    Config(Vec<(String, String)>),
    /// Eviction, decided by the leader under its maxmemory policy: delete each key that
    /// exists. Replies how many were deleted.
    Evict { db: u8, keys: Vec<Bytes> },
    /// A client's write that says whose it is, so the client's node can leave the keys it
    /// changes out of the client's own invalidations (CLIENT TRACKING ... NOLOOP). Applies
    /// as `op`.
    Tracked {
        origin: ClientOrigin,
        op: Box<OpKind>,
    },
}

/// A client of a node: the node's request-id origin (random per process) and the client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientOrigin {
    pub node: u64,
    pub client: u64,
}

/// Settings replicated through the log: name → value, as CONFIG SET validated them.
pub type ReplicatedSettings = std::collections::BTreeMap<String, String>;

/// A change to the ACL users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AclOp {
    /// Creates the user if needed (from Redis's default user for `default`, else from an
    /// empty one) and applies the rules in order, all or nothing. Replies OK or the error.
    SetUser { name: String, rules: Vec<Bytes> },
    /// Deletes the users; replies how many existed. `default` cannot be deleted.
    DelUser { names: Vec<String> },
}

impl OpKind {
    /// A client's write command in database `db`, as the log holds it.
    pub fn command(db: u8, cmd: cairn_protocol::WriteCommand) -> OpKind {
        OpKind::Command {
            db,
            cmd: cmd.into(),
        }
    }

    /// Whether applying this op may change the ACL users.
    pub fn changes_acl(&self) -> bool {
        match self {
            OpKind::Acl(_) => true,
            OpKind::Once { op, .. } | OpKind::Tracked { op, .. } => op.changes_acl(),
            _ => false,
        }
    }

    /// Whether applying this op may change the replicated settings.
    pub fn changes_settings(&self) -> bool {
        match self {
            OpKind::Config(_) => true,
            OpKind::Once { op, .. } | OpKind::Tracked { op, .. } => op.changes_settings(),
            _ => false,
        }
    }

    /// The bytes this op takes in a log entry (bincode), saturating on an encoding error.
    pub fn encoded_len(&self) -> u64 {
        bincode::serialized_size(self).unwrap_or(u64::MAX)
    }
}

/// Names one client write across retries: `origin` is chosen at random by the node that
/// took the write when it started, `seq` counts that node's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestId {
    pub origin: u64,
    pub seq: u64,
}

/// One queued command of a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ExecItem {
    Write(logged::WriteCommand),
    Read(logged::ReadCommand),
    /// A command whose reply does not depend on the data (PING, ECHO), answered in its place.
    Const(logged::Reply),
}

impl ExecItem {
    pub fn write(cmd: cairn_protocol::WriteCommand) -> ExecItem {
        ExecItem::Write(cmd.into())
    }

    pub fn read(cmd: cairn_protocol::ReadCommand) -> ExecItem {
        ExecItem::Read(cmd.into())
    }

    /// A command answered with `reply` in its place.
    pub fn constant(reply: cairn_protocol::Reply) -> ExecItem {
        ExecItem::Const(reply.into())
    }
}

/// A key as WATCH saw it: the digest of its live value then (`None`: absent). EXEC aborts when
/// the key's live value differs at apply time. (Redis aborts on any write to the key, even one
/// that leaves the same value; cairn compares values, so such a write does not abort.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watched {
    pub db: u8,
    pub key: Bytes,
    pub digest: Option<u64>,
}

/// The result of applying one log entry: one reply per operation, in order. Never stored or
/// sent; openraft asks that it could be, and then it would go as raft's own replies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(from = "Vec<logged::Reply>", into = "Vec<logged::Reply>")]
pub struct Response(pub Vec<cairn_protocol::Reply>);

impl From<Vec<logged::Reply>> for Response {
    fn from(replies: Vec<logged::Reply>) -> Response {
        Response(logged::Mirror::mirror(replies))
    }
}

impl From<Response> for Vec<logged::Reply> {
    fn from(response: Response) -> Vec<logged::Reply> {
        logged::Mirror::mirror(response.0)
    }
}

openraft::declare_raft_types!(
    /// cairn's openraft types. Snapshots are files, streamed in chunks, never whole in memory.
    pub TypeConfig:
        D = WriteOp,
        R = Response,
        NodeId = NodeId,
        Node = NodeInfo,
        SnapshotData = tokio::fs::File,
);

// The macro's default types name `Cursor`; keep the import used for it.
#[allow(dead_code)]
type DefaultCursor = Cursor<Vec<u8>>;

pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type StorageError = openraft::StorageError<NodeId>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, NodeInfo>;
pub type StoredMembership = openraft::StoredMembership<NodeId, NodeInfo>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;

/// This node's wall clock, unix milliseconds: the time the leader stamps on a write.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::Bytes;

    use crate::logged::{BitOp, ReadCommand, WriteCommand};

    use super::*;

    /// bincode writes an enum's variant index first (u32, little-endian).
    fn tag<T: Serialize>(value: &T) -> u32 {
        let bytes = bincode::serialize(value).unwrap();
        u32::from_le_bytes(bytes[..4].try_into().unwrap())
    }

    /// The log holds bincode of these enums: a variant inserted in the middle renumbers the
    /// ones after it, and old entries would decode as other commands. New variants go last.
    #[test]
    fn logged_variants_keep_their_numbers() {
        let k = || Bytes::from_static(b"k");
        assert_eq!(tag(&WriteCommand::Persist { key: k() }), 14);
        assert_eq!(
            tag(&WriteCommand::Rename {
                key: k(),
                new_key: k(),
                nx: false
            }),
            15
        );
        assert_eq!(
            tag(&WriteCommand::BitOp {
                op: BitOp::Not,
                destination: k(),
                keys: vec![k()]
            }),
            42
        );
        assert_eq!(tag(&WriteCommand::Move { key: k(), db: 1 }), 44);
        assert_eq!(
            tag(&WriteCommand::ZMPop {
                keys: vec![k()],
                max: true,
                count: None
            }),
            46
        );
        assert_eq!(tag(&ReadCommand::Type { key: k() }), 5);
        assert_eq!(
            tag(&ReadCommand::BitCount {
                key: k(),
                range: None
            }),
            37
        );
        assert_eq!(tag(&ReadCommand::RandomKey), 39);
        assert_eq!(tag(&OpKind::Check), 2);
        assert_eq!(tag(&OpKind::Acl(AclOp::DelUser { names: Vec::new() })), 5);
        assert_eq!(tag(&OpKind::Config(Vec::new())), 6);
        assert_eq!(
            tag(&OpKind::Evict {
                db: 0,
                keys: Vec::new()
            }),
            7
        );
    }
}
