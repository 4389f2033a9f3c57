//! Errors of the raft layer.

use crate::types::NodeId;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A stored value failed its checksum or could not be decoded: the data dir is corrupt.
    #[error("corrupt data in {path}: {what}")]
    Corrupt { path: String, what: String },
    #[error("storage error: {0}")]
    Storage(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A peer's message failed its checksum or could not be decoded.
    #[error("bad message from peer: {0}")]
    BadMessage(String),
    #[error("peer {node} unreachable: {reason}")]
    Unreachable { node: NodeId, reason: String },
    #[error("raft: {0}")]
    Raft(String),
}
