//! # cairn-protocol
//!
//! The wire formats of cairn, with no sockets and no state: everything here is a pure function
//! of its input, so it can be unit-tested and fuzzed alone.
//!
//! # Layout
//! - [`request`]: bytes ⇄ requests. An incremental RESP request parser (multibulk and inline
//!   commands) that enforces size limits before it buffers, with Redis's protocol errors.
//! - [`reply`]: the [`Reply`] value and its RESP2/RESP3 encoding (through `redis-protocol`).
//! - [`command`]: the command table (name, arity, flags, key positions) and the typed
//!   [`Command`] model that requests are parsed into.
//! - [`errors`]: Redis's error replies that several commands or layers send, typed, with
//!   their exact texts.
//! - [`glob`]: Redis's glob-style pattern matching (KEYS, SCAN MATCH, CONFIG GET).
//! - [`slot`]: Redis Cluster's key → hash slot mapping (CRC16, hash tags).
//! - [`long_double`]: INCRBYFLOAT's x87 `long double` arithmetic and formatting, emulated
//!   exactly so that every replica computes Redis's result.
//! - [`num`]: Redis's exact number syntax (strict integers, SCAN cursors, floats), shared with
//!   the keyspace layer, which must read stored values by the same rules.

pub mod acl;
pub mod command;
pub mod errors;
pub mod glob;
pub mod long_double;
pub mod num;
pub mod reply;
pub mod request;
pub mod slot;

pub use command::{Command, CommandError, ConnCommand, ReadCommand, WriteCommand};
pub use glob::glob_match;
pub use reply::{Protocol, Reply};
pub use request::{Limits, ProtocolError, RequestParser};
