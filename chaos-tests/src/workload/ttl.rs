//! TTLs: `SET key value PX ttl` of keys written once each, and GETs (as the register
//! workload's) of the same client's recent keys, so that reads land before, around and after each key's deadline. What the
//! checker asks is when a key was visible, against real time (one clock for the harness and,
//! on these backends, for every node unless the clock-skew fault moves one).

use rand::rngs::StdRng;
use rand::Rng;
use redis::aio::MultiplexedConnection;

use super::{on_error, Res};
use crate::history::{Call, Ret};

/// TTLs drawn per SET, in milliseconds.
pub const TTL_MS: std::ops::RangeInclusive<u64> = 500..=3_000;
/// How far back (in this client's operations) a read looks for a key.
const LOOKBACK_OPS: u64 = 400;

fn key(client: usize, seq: u64) -> String {
    format!("ttl:{client}:{seq}")
}

/// One SET in four; the rest read one of the client's earlier keys (which may never have
/// been set: such reads carry no constraint).
pub fn next(rng: &mut StdRng, client: usize, seq: u64, unique: i64) -> (String, Call) {
    if seq == 0 || rng.gen_range(0..4) == 0 {
        let ttl_ms = rng.gen_range(TTL_MS);
        return (
            key(client, seq),
            Call::SetTtl {
                value: unique,
                ttl_ms,
            },
        );
    }
    let back = rng.gen_range(1..=LOOKBACK_OPS.min(seq));
    (key(client, seq - back), Call::Read)
}

pub async fn set(con: &mut MultiplexedConnection, key: &str, value: i64, ttl_ms: u64) -> Res {
    match redis::cmd("SET")
        .arg(key)
        .arg(value)
        .arg("PX")
        .arg(ttl_ms)
        .query_async::<String>(con)
        .await
    {
        Ok(_) => Res::Ok(None),
        Err(e) => on_error(true, &e),
    }
}

/// What a read returned, for the checker: `Some(v)` when the key was there.
pub fn seen(ret: &Option<Ret>) -> Option<Option<i64>> {
    match ret {
        Some(Ret::Value(v)) => Some(*v),
        _ => None,
    }
}
