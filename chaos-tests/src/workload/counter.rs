//! Counters: INCR (each acknowledged increment must be counted exactly once) and GET.

use rand::rngs::StdRng;
use rand::Rng;
use redis::aio::MultiplexedConnection;

use super::{on_error, Res};
use crate::history::{Call, Ret};

pub const KEYS: u64 = 2;

pub fn next(rng: &mut StdRng) -> (String, Call) {
    let key = format!("ctr:{}", rng.gen_range(0..KEYS));
    let call = if rng.gen_range(0..10) < 8 {
        Call::Incr
    } else {
        Call::Read
    };
    (key, call)
}

pub async fn incr(con: &mut MultiplexedConnection, key: &str) -> Res {
    match redis::cmd("INCR").arg(key).query_async::<i64>(con).await {
        Ok(v) => Res::Ok(Some(Ret::Int(v))),
        Err(e) => on_error(true, &e),
    }
}
