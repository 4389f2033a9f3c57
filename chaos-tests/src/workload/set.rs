//! Sets: SADD of unique elements, and one final SMEMBERS per key after the faults.

use rand::rngs::StdRng;
use rand::Rng;
use redis::aio::MultiplexedConnection;

use super::{on_error, parse_int, Res};
use crate::history::{Call, Ret};

pub const KEYS: u64 = 2;

pub fn next(rng: &mut StdRng, unique: i64) -> (String, Call) {
    let key = format!("set:{}", rng.gen_range(0..KEYS));
    (key, Call::Add { value: unique })
}

pub async fn add(con: &mut MultiplexedConnection, key: &str, value: i64) -> Res {
    match redis::cmd("SADD")
        .arg(key)
        .arg(value)
        .query_async::<i64>(con)
        .await
    {
        Ok(n) => Res::Ok(Some(Ret::Int(n))),
        Err(e) => on_error(true, &e),
    }
}

/// SMEMBERS, sorted (set order carries no meaning).
pub async fn read(con: &mut MultiplexedConnection, key: &str) -> Res {
    match redis::cmd("SMEMBERS")
        .arg(key)
        .query_async::<Vec<String>>(con)
        .await
    {
        Ok(items) => match items
            .iter()
            .map(|s| parse_int(s))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(mut v) => {
                v.sort_unstable();
                Res::Ok(Some(Ret::List(v)))
            }
            Err(r) => r,
        },
        Err(e) => on_error(false, &e),
    }
}
