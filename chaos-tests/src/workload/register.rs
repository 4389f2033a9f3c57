//! Registers: GET, SET and compare-and-set on a few keys, with values from a small domain
//! (0–4, as Jepsen does) so that compare-and-set succeeds often enough to matter.

use rand::rngs::StdRng;
use rand::Rng;
use redis::aio::MultiplexedConnection;

use super::{on_error, parse_int, Res};
use crate::history::{Call, Ret};

/// The error prefix of a compare-and-set that was answered but refused (the register held
/// another value, or EXEC aborted): a definite no-op, and an answer for availability.
pub const CAS_REFUSED: &str = "cas refused: ";

/// Registers live at once; with 10 clients about three share a key.
pub const KEYS: u64 = 3;
const VALUES: i64 = 5;

pub fn next(rng: &mut StdRng, epoch: u64, cas: bool) -> (String, Call) {
    let key = format!("reg:{epoch}:{}", rng.gen_range(0..KEYS));
    let call = match rng.gen_range(0..if cas { 10 } else { 8 }) {
        0..=3 => Call::Read,
        4..=7 => Call::Write {
            value: rng.gen_range(0..VALUES),
        },
        _ => Call::Cas {
            from: rng.gen_range(0..VALUES),
            to: rng.gen_range(0..VALUES),
        },
    };
    (key, call)
}

pub async fn read(con: &mut MultiplexedConnection, key: &str) -> Res {
    match redis::cmd("GET")
        .arg(key)
        .query_async::<Option<String>>(con)
        .await
    {
        Ok(None) => Res::Ok(Some(Ret::Value(None))),
        Ok(Some(s)) => match parse_int(&s) {
            Ok(v) => Res::Ok(Some(Ret::Value(Some(v)))),
            Err(r) => r,
        },
        Err(e) => on_error(false, &e),
    }
}

pub async fn write(con: &mut MultiplexedConnection, key: &str, value: i64) -> Res {
    match redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query_async::<()>(con)
        .await
    {
        Ok(()) => Res::Ok(None),
        Err(e) => on_error(true, &e),
    }
}

/// WATCH key; GET key; if it holds `from`: MULTI; SET key `to`; EXEC. A nil EXEC (the key
/// changed after WATCH) and a mismatch are definite failures; so is any error before EXEC
/// is sent, because nothing queued runs without it.
pub async fn cas(con: &mut MultiplexedConnection, key: &str, from: i64, to: i64) -> Res {
    if let Err(e) = redis::cmd("WATCH").arg(key).query_async::<()>(con).await {
        return Res::Fail(format!("WATCH: {e}"));
    }
    let current = match redis::cmd("GET")
        .arg(key)
        .query_async::<Option<String>>(con)
        .await
    {
        Ok(v) => v,
        Err(e) => return Res::Fail(format!("GET under WATCH: {e}")),
    };
    let current = match current.as_deref().map(parse_int).transpose() {
        Ok(v) => v,
        Err(r) => return r,
    };
    if current != Some(from) {
        if let Err(e) = redis::cmd("UNWATCH").query_async::<()>(con).await {
            return Res::Fail(format!("UNWATCH: {e}"));
        }
        return Res::Fail(format!("{CAS_REFUSED}register holds {current:?}"));
    }
    if let Err(e) = redis::cmd("MULTI").query_async::<()>(con).await {
        return Res::Fail(format!("MULTI: {e}"));
    }
    if let Err(e) = redis::cmd("SET")
        .arg(key)
        .arg(to)
        .query_async::<redis::Value>(con)
        .await
    {
        return Res::Fail(format!("queueing SET: {e}"));
    }
    match redis::cmd("EXEC").query_async::<redis::Value>(con).await {
        Ok(redis::Value::Nil) => Res::Fail(format!(
            "{CAS_REFUSED}EXEC aborted, key changed after WATCH"
        )),
        Ok(redis::Value::Array(_)) => Res::Ok(None),
        Ok(other) => Res::Info(format!("EXEC answered {other:?}")),
        Err(e) => Res::Info(format!("EXEC: {e}")),
    }
}
