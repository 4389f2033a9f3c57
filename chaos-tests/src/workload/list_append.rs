//! List-append (Elle-style): RPUSH of unique elements and LRANGE 0 -1 reads. Every read
//! must be a prefix of every later read of the same key.

use rand::rngs::StdRng;
use rand::Rng;
use redis::aio::MultiplexedConnection;

use super::{on_error, parse_int, Res};
use crate::history::{Call, Ret};

pub const KEYS: u64 = 3;

pub fn next(rng: &mut StdRng, epoch: u64, unique: i64) -> (String, Call) {
    let key = format!("list:{epoch}:{}", rng.gen_range(0..KEYS));
    let call = if rng.gen_range(0..10) < 7 {
        Call::Append { value: unique }
    } else {
        Call::ReadList
    };
    (key, call)
}

pub async fn append(con: &mut MultiplexedConnection, key: &str, value: i64) -> Res {
    match redis::cmd("RPUSH")
        .arg(key)
        .arg(value)
        .query_async::<i64>(con)
        .await
    {
        Ok(len) => Res::Ok(Some(Ret::Int(len))),
        Err(e) => on_error(true, &e),
    }
}

pub async fn read(con: &mut MultiplexedConnection, key: &str) -> Res {
    match redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query_async::<Vec<String>>(con)
        .await
    {
        Ok(items) => match items
            .iter()
            .map(|s| parse_int(s))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(v) => Res::Ok(Some(Ret::List(v))),
            Err(r) => r,
        },
        Err(e) => on_error(false, &e),
    }
}
