//! Locks with fencing tokens (docs/fencing): each client takes the epoch's lock with
//! `acquire.lua` (a short lease; the token is `cairn.fencing_token()`, unique to the
//! acquiring write), then appends a few elements to the epoch's list with `fenced_append.lua` under that token,
//! sometimes after sleeping past its lease, and now and then reads the list. An element
//! carries its token (`token * 16 + n`), so the checker can see whose writes are where: a
//! holder whose lease ran out while it slept (or was paused by the nemesis), and whose lock
//! was taken since, must be refused, so tokens in the list never go down.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use redis::aio::MultiplexedConnection;

use super::{on_error, run_one, Ctx, Res, KEY_EPOCH_SECS};
use crate::history::{Call, Outcome, Ret};

const ACQUIRE: &str = include_str!("../../../docs/fencing/acquire.lua");
const APPEND: &str = include_str!("../../../docs/fencing/fenced_append.lua");
/// The lock's lease: short, so that holders often outlive it.
pub const LEASE_MS: u64 = 150;
/// Elements one holder appends per acquisition, at most (its index fits in 4 bits).
const APPENDS_PER_HOLD: u64 = 3;

/// The lock of an epoch's list, and the list.
pub fn keys(epoch: u64) -> (String, String) {
    (format!("lock:{epoch}"), format!("fenced:{epoch}"))
}

/// The token an element was appended under.
pub fn token_of(element: i64) -> i64 {
    element / 16
}

/// One client's loop: acquire, append under the token, now and then read, until the end.
pub async fn client(ctx: &Ctx, rng: &mut StdRng, client: usize, max_ops: u64) {
    let spec = ctx.specs[client % ctx.specs.len()].clone();
    let mut con = None;
    let mut ops = 0;
    while ops < max_ops && !ctx.finished() {
        let epoch = ctx.recorder.start().elapsed().as_secs() / KEY_EPOCH_SECS;
        let (lock, list) = keys(epoch);
        if rng.gen_range(0..10) == 0 {
            run_one(ctx, &mut con, &spec, client, list, Call::ReadList, false).await;
            ops += 1;
            continue;
        }
        let holder = client as i64;
        let (outcome, ret) = run_one(
            ctx,
            &mut con,
            &spec,
            client,
            lock.clone(),
            Call::Acquire { holder },
            false,
        )
        .await;
        ops += 1;
        let token = match (outcome, ret) {
            (Outcome::Ok, Some(Ret::Value(Some(t)))) => t,
            _ => {
                tokio::time::sleep(Duration::from_millis(rng.gen_range(5..40))).await;
                continue;
            }
        };
        for n in 0..rng.gen_range(1..=APPENDS_PER_HOLD) {
            if rng.gen_range(0..4) == 0 {
                // Outlive the lease now and then: a later append must then be fenced off
                // if someone else took the lock meanwhile.
                tokio::time::sleep(Duration::from_millis(LEASE_MS + rng.gen_range(0..100))).await;
            }
            let call = Call::FencedAppend {
                token,
                value: token * 16 + n as i64,
            };
            run_one(ctx, &mut con, &spec, client, list.clone(), call, false).await;
            ops += 1;
        }
    }
}

/// EVAL of acquire.lua: the token, or `None` while another holder's lease runs.
pub async fn acquire(con: &mut MultiplexedConnection, lock: &str, holder: i64) -> Res {
    match redis::cmd("EVAL")
        .arg(ACQUIRE)
        .arg(1)
        .arg(lock)
        .arg(holder)
        .arg(LEASE_MS)
        .query_async::<Option<i64>>(con)
        .await
    {
        Ok(token) => Res::Ok(Some(Ret::Value(token))),
        Err(e) => on_error(true, &e),
    }
}

/// EVAL of fenced_append.lua: the list's new length; a FENCED refusal wrote nothing.
pub async fn append(con: &mut MultiplexedConnection, list: &str, token: i64, value: i64) -> Res {
    let lock = list.replacen("fenced:", "lock:", 1);
    match redis::cmd("EVAL")
        .arg(APPEND)
        .arg(2)
        .arg(&lock)
        .arg(list)
        .arg(token)
        .arg(value)
        .query_async::<i64>(con)
        .await
    {
        Ok(len) => Res::Ok(Some(Ret::Int(len))),
        Err(e) if e.to_string().contains("FENCED") => Res::Fail(e.to_string()),
        Err(e) => on_error(true, &e),
    }
}
