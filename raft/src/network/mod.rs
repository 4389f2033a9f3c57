//! The peer transport over tonic (gRPC).
//!
//! Every message is an [`Envelope`](crate::pb::Envelope): bincode of the openraft or cairn value
//! plus its crc32, checked on receipt. Snapshot chunks therefore carry a checksum on the wire
//! too. The client side keeps one lazily connected channel per peer address (resolved by name
//! at connect time and again on reconnect) and puts a deadline on every call. Peers are
//! authenticated by a shared secret ([`PeerToken`]), by mutual TLS ([`PeerTls`]), or both.

mod auth;
mod client;
mod server;
mod status;
mod tls;

pub use auth::PeerToken;
pub use tls::PeerTls;

pub use crate::transfer::{HandoffVote, TimeoutNow};
pub use client::{CallError, PeerClients, PeerNetwork, APPEND_BYTES_MAX};
pub use server::{
    ForwardResult, PeerService, PublishSink, ReadIndexAtResult, ReadIndexResult, Sinks, TouchSink,
    Touched, FORWARD_BATCH_MAX, TOUCH_BATCH_MAX,
};
pub use status::{PeerStatus, DIGEST_SCHEME};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::pb::Envelope;

/// Version of the envelope payload encoding.
pub const ENVELOPE_VERSION: u32 = 1;

/// The largest peer message accepted (a log batch may carry values up to 512 MiB).
pub const MESSAGE_BYTES_MAX: usize = 1 << 30;

pub fn seal<T: Serialize>(value: &T) -> Result<Envelope> {
    let payload = bincode::serialize(value).map_err(|e| Error::BadMessage(e.to_string()))?;
    Ok(Envelope {
        crc32: crc32fast::hash(&payload),
        payload,
        version: ENVELOPE_VERSION,
    })
}

pub fn open<T: DeserializeOwned>(env: &Envelope) -> Result<T> {
    if env.version != ENVELOPE_VERSION {
        return Err(Error::BadMessage(format!(
            "envelope version {} (this node speaks {ENVELOPE_VERSION})",
            env.version
        )));
    }
    let actual = crc32fast::hash(&env.payload);
    if actual != env.crc32 {
        return Err(Error::BadMessage(format!(
            "crc32 mismatch: sent {:08x}, computed {actual:08x}",
            env.crc32
        )));
    }
    bincode::deserialize(&env.payload).map_err(|e| Error::BadMessage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trip_and_corruption() -> Result<()> {
        let env = seal(&(7u64, "x".to_string()))?;
        assert_eq!(open::<(u64, String)>(&env)?, (7, "x".to_string()));
        let mut bad = env.clone();
        if let Some(b) = bad.payload.first_mut() {
            *b ^= 1;
        }
        assert!(matches!(
            open::<(u64, String)>(&bad),
            Err(Error::BadMessage(_))
        ));
        let mut newer = env;
        newer.version = 99;
        assert!(open::<(u64, String)>(&newer).is_err());
        Ok(())
    }
}
