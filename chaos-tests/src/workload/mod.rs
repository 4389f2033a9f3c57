//! The clients. Each client is pinned to one node (clients are spread over all of them:
//! cairn forwards writes from followers), draws its operations from its own seeded RNG, runs
//! them one at a time with a timeout, and records each with its outcome.
//!
//! Outcomes are conservative: a read that fails had no effect (`fail`); a write that fails
//! in any way after it may have been sent is `info` (unknown), because an error reply or a
//! timeout does not prove that the entry was not committed.

pub mod counter;
pub mod fenced;
pub mod list_append;
pub mod register;
pub mod set;
pub mod ttl;

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use redis::aio::MultiplexedConnection;
use tokio::sync::watch;

use crate::cli::Workload;
use crate::cluster::NodeSpec;
use crate::history::{Call, Op, Outcome, Recorder, Ret, FINAL_READ_CLIENT};

/// Keys of registers and lists change every this many seconds, so each key's history stays
/// short enough for the checkers (Jepsen's "independent keys").
pub const KEY_EPOCH_SECS: u64 = 10;

/// A hard cap on each client's operations, so no loop is unbounded even if time misbehaves.
const OPS_PER_CLIENT_MAX: u64 = 10_000_000;

/// The outcome of executing one call.
pub enum Res {
    Ok(Option<Ret>),
    /// Definitely no effect.
    Fail(String),
    /// Unknown effect; the connection is dropped after it.
    Info(String),
}

/// What every client needs.
#[derive(Clone)]
pub struct Ctx {
    pub recorder: Recorder,
    pub specs: Vec<NodeSpec>,
    pub op_timeout: Duration,
    pub deadline: Instant,
    pub stop: watch::Receiver<bool>,
    pub seed: u64,
    /// Register workload: include compare-and-set.
    pub cas: bool,
}

impl Ctx {
    /// Whether the run is over (deadline or stop).
    pub fn finished(&self) -> bool {
        Instant::now() >= self.deadline || *self.stop.borrow()
    }
}

/// The next operation of `client` for `workload`: (key, call).
fn next_op(
    workload: Workload,
    cas: bool,
    rng: &mut StdRng,
    client: usize,
    seq: u64,
    elapsed: Duration,
) -> (String, Call) {
    let epoch = elapsed.as_secs() / KEY_EPOCH_SECS;
    // Unique across the run: the client in the high bits, its sequence number below.
    let unique = ((client as i64 + 1) << 32) | (seq as i64 & 0xffff_ffff);
    match workload {
        Workload::Register => register::next(rng, epoch, cas),
        Workload::Counter => counter::next(rng),
        Workload::ListAppend => list_append::next(rng, epoch, unique),
        Workload::Set => set::next(rng, unique),
        Workload::Ttl => ttl::next(rng, client, seq, unique),
        // Stateful (a token carries over between calls): see `fenced::client`.
        Workload::Fenced => list_append::next(rng, epoch, unique),
    }
}

/// Runs `call` on `key`; the caller applies the timeout.
pub async fn exec(con: &mut MultiplexedConnection, key: &str, call: &Call) -> Res {
    match call {
        Call::Read => register::read(con, key).await,
        Call::Write { value } => register::write(con, key, *value).await,
        Call::Cas { from, to } => register::cas(con, key, *from, *to).await,
        Call::Incr => counter::incr(con, key).await,
        Call::Append { value } => list_append::append(con, key, *value).await,
        Call::ReadList => list_append::read(con, key).await,
        Call::Add { value } => set::add(con, key, *value).await,
        Call::ReadSet => set::read(con, key).await,
        Call::SetTtl { value, ttl_ms } => ttl::set(con, key, *value, *ttl_ms).await,
        Call::Acquire { holder } => fenced::acquire(con, key, *holder).await,
        Call::FencedAppend { token, value } => fenced::append(con, key, *token, *value).await,
    }
}

/// Maps a client error: a read had no effect; a write may have.
pub fn on_error(call_is_write: bool, e: &redis::RedisError) -> Res {
    let text = e.to_string();
    if call_is_write {
        Res::Info(text)
    } else {
        Res::Fail(text)
    }
}

/// A reply the workload cannot interpret (not an integer where one was written): recorded
/// as a failure with this prefix, which a check looks for.
pub const MALFORMED: &str = "malformed reply: ";

pub fn parse_int(s: &str) -> Result<i64, Res> {
    s.parse()
        .map_err(|_| Res::Fail(format!("{MALFORMED}{s:?} is not an integer")))
}

async fn connect(spec: &NodeSpec, timeout: Duration) -> Result<MultiplexedConnection, String> {
    let client = redis::Client::open(spec.url()).map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, client.get_multiplexed_tokio_connection()).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(format!("connect: {e}")),
        Err(_) => Err("connect: timed out".into()),
    }
}

/// Runs one call with a timeout and records it; drops the connection when its state is
/// no longer known.
pub(crate) async fn run_one(
    ctx: &Ctx,
    con: &mut Option<MultiplexedConnection>,
    spec: &NodeSpec,
    client: usize,
    key: String,
    call: Call,
    final_read: bool,
) -> (Outcome, Option<Ret>) {
    let invoke_us = ctx.recorder.now_us();
    let id = ctx.recorder.next_id();
    if con.is_none() {
        match connect(spec, ctx.op_timeout.min(Duration::from_secs(1))).await {
            Ok(c) => *con = Some(c),
            Err(e) => {
                // Nothing was sent: a definite failure.
                record(
                    ctx,
                    id,
                    client,
                    spec.id,
                    key,
                    call,
                    invoke_us,
                    Res::Fail(e),
                    final_read,
                );
                return (Outcome::Fail, None);
            }
        }
    }
    let Some(c) = con.as_mut() else {
        return (Outcome::Fail, None);
    };
    let res = match tokio::time::timeout(ctx.op_timeout, exec(c, &key, &call)).await {
        Ok(r) => r,
        Err(_) if call.is_write() => Res::Info("timed out".into()),
        Err(_) => Res::Fail("timed out".into()),
    };
    let (outcome, ret) = match &res {
        Res::Ok(r) => (Outcome::Ok, r.clone()),
        Res::Fail(_) => (Outcome::Fail, None),
        Res::Info(_) => (Outcome::Info, None),
    };
    let drop_con = match &res {
        Res::Ok(_) => false,
        Res::Fail(e) | Res::Info(e) => is_connection_error(e),
    };
    // A compare-and-set that did not complete may leave WATCH or MULTI open on the
    // connection, which would turn the next command into a queued one: start afresh.
    let cas_unfinished = matches!(call, Call::Cas { .. }) && outcome != Outcome::Ok;
    if drop_con || cas_unfinished || outcome == Outcome::Info {
        *con = None;
    }
    record(
        ctx, id, client, spec.id, key, call, invoke_us, res, final_read,
    );
    (outcome, ret)
}

/// Errors after which the connection's state is unknown (and so must not be reused).
fn is_connection_error(e: &str) -> bool {
    let e = e.to_ascii_lowercase();
    [
        "timed out",
        "broken pipe",
        "connection",
        "io error",
        "eof",
        "reset",
    ]
    .iter()
    .any(|w| e.contains(w))
}

#[allow(clippy::too_many_arguments)]
fn record(
    ctx: &Ctx,
    id: u64,
    client: usize,
    node: u64,
    key: String,
    call: Call,
    invoke_us: u64,
    res: Res,
    final_read: bool,
) {
    let (outcome, ret, error) = match res {
        Res::Ok(r) => (Outcome::Ok, r, None),
        Res::Fail(e) => (Outcome::Fail, None, Some(e)),
        Res::Info(e) => (Outcome::Info, None, Some(e)),
    };
    ctx.recorder.push(Op {
        id,
        client,
        node,
        key,
        call,
        invoke_us,
        complete_us: ctx.recorder.now_us(),
        outcome,
        ret,
        error,
        final_read,
    });
}

/// One client's loop, until the deadline or stop.
pub async fn client(ctx: Ctx, workload: Workload, client: usize) {
    let spec = ctx.specs[client % ctx.specs.len()].clone();
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ (client as u64 + 1).wrapping_mul(0x9e37_79b9));
    if workload == Workload::Fenced {
        fenced::client(&ctx, &mut rng, client, OPS_PER_CLIENT_MAX).await;
        return;
    }
    let mut con = None;
    for seq in 0..OPS_PER_CLIENT_MAX {
        if ctx.finished() {
            break;
        }
        let elapsed = ctx.recorder.start().elapsed();
        let (key, call) = next_op(workload, ctx.cas, &mut rng, client, seq, elapsed);
        let (outcome, _) = run_one(&ctx, &mut con, &spec, client, key, call, false).await;
        if outcome != Outcome::Ok {
            // Back off a little so a dead node is not hammered with reconnects.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// After the faults are healed: reads every key in `keys` once successfully, trying each
/// node in turn, with at most `attempts` tries per key. Recorded as final reads.
pub async fn final_reads(ctx: &Ctx, workload: Workload, keys: &[String], attempts: usize) {
    let call = match workload {
        Workload::Register | Workload::Ttl => return,
        Workload::Counter => Call::Read,
        Workload::ListAppend | Workload::Fenced => Call::ReadList,
        Workload::Set => Call::ReadSet,
    };
    let client = FINAL_READ_CLIENT;
    // The fenced workload's locks are strings: only its lists are read.
    let lists = |k: &&String| workload != Workload::Fenced || k.starts_with("fenced:");
    for key in keys.iter().filter(lists) {
        for attempt in 0..attempts {
            let spec = &ctx.specs[attempt % ctx.specs.len()];
            let mut con = None;
            let (outcome, _) =
                run_one(ctx, &mut con, spec, client, key.clone(), call.clone(), true).await;
            if outcome == Outcome::Ok {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
