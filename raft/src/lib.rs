//! # cairn-raft
//!
//! The replicated, deterministic state machine of cairn: the operation language, the keyspace
//! with Redis semantics, durable storage of the Raft log and state on sled, snapshots, and the
//! gRPC transport between peers. It knows nothing of client connections.
//!
//! # Layout
//! - [`types`]: the openraft type configuration, node addresses, [`WriteOp`] and its response.
//! - [`logged`]: raft's own copies of the command model's types, as the log, the reply records
//!   and peers hold them; converted at the boundary so protocol changes cannot change the log.
//! - [`keyspace`]: Redis values and the pure logic of every command: [`keyspace::apply`] for
//!   writes (deterministic: time comes from the op), [`keyspace::read`] for reads.
//! - [`store`]: the only module that names sled. Log store (crc32 per entry, group commit),
//!   state machine (atomic batches), snapshots (checksummed, streamed through files).
//! - [`election`]: when a node stands for election (a pre-vote first).
//! - [`lease`]: the leader lease that lets the leader read without a quorum round.
//! - [`network`]: tonic client and server for the peer protocol in `proto/peer.proto`.
//! - [`error`]: this crate's error type.

pub mod election;
pub mod error;
pub mod keyspace;
pub mod lease;
pub mod logged;
pub mod membership;
pub mod network;
pub mod proposer;
pub mod store;
pub mod transfer;
pub mod types;

pub use error::{Error, Result};
pub use types::{
    AclOp, ClientOrigin, ExecItem, NodeId, NodeInfo, OpKind, Raft, RequestId, Response, TypeConfig,
    Watched, WriteOp,
};

/// Generated peer protocol.
pub mod pb {
    tonic::include_proto!("cairn.peer.v1");
}
