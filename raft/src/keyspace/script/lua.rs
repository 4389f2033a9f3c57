//! One script run: a fresh sandboxed Lua state, the redis API, and the budgets.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use cairn_protocol::Reply;
use mlua::{
    ChunkMode, Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState,
};

use super::super::Ctx;
use super::call::Caller;
use super::convert::{self, from_lua, number_arg};
use crate::error::Result;

/// Lua VM instructions a script may run. Counted, not timed, so a script over budget fails
/// at the same point on every replica. A script runs inside the apply of its entry on every
/// node at once, so the budget is kept well under the election timeout: 30M instructions
/// take about 90 ms on this project's 2-core machine (a loop of 7 million additions), where
/// 200M (0.6 s) made leaders lose their lease under Redis's scripting tests.
pub const INSTRUCTION_BUDGET: u64 = 30_000_000;
/// How often the budget is checked (instructions).
const HOOK_EVERY: u32 = 10_000;
/// Memory a script's Lua state may hold.
pub const MEMORY_MAX: usize = 256 << 20;
/// The chunk names of scripts and function libraries, as Redis names them in errors
/// (`@user_script:1`).
const SCRIPT_CHUNK: &str = "@user_script";
const FUNCTION_CHUNK: &str = "@user_function";
/// The Redis version scripts see in `redis.REDIS_VERSION`.
const REDIS_VERSION: (&str, u32) = ("7.0.15", 0x07_00_0f);

const PRELUDE: &str = include_str!("prelude.lua");
const FUNCTIONS: &str = include_str!("functions.lua");

/// What a run does with its code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(in crate::keyspace) enum Mode<'a> {
    /// EVAL: the code is the script; KEYS and ARGV are globals.
    Eval,
    /// FCALL: the code is a library; call its function `name` with (KEYS, ARGV).
    Call(&'a str),
    /// FUNCTION LOAD: run the library and reply `[[name, [flag, ...]], ...]`.
    Load,
}

impl Mode<'_> {
    fn chunk(self) -> &'static str {
        match self {
            Mode::Eval => SCRIPT_CHUNK,
            _ => FUNCTION_CHUNK,
        }
    }
}

pub(in crate::keyspace) struct Run<'a> {
    pub mode: Mode<'a>,
    /// How errors name the script: its SHA-1, or the function's name.
    pub sha: &'a str,
    pub source: &'a [u8],
    pub keys: &'a [Bytes],
    pub args: &'a [Bytes],
    pub read_only: bool,
    /// The entry's log index: seeds `math.random`, and is `cairn.log_index()`.
    pub seed: u64,
}

pub(in crate::keyspace) struct Outcome {
    pub reply: Reply,
    /// The script did not compile (EVAL does not cache it then).
    pub compile_failed: bool,
}

fn new_state() -> mlua::Result<Lua> {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::default(),
    )?;
    lua.set_memory_limit(MEMORY_MAX)?;
    Ok(lua)
}

fn compile(lua: &Lua, source: &[u8], chunk: &str) -> std::result::Result<Function, String> {
    lua.load(source)
        .set_name(chunk)
        .set_mode(ChunkMode::Text)
        .into_function()
        .map_err(|e| {
            let msg = match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            };
            // Redis words the two differently.
            let what = if chunk == FUNCTION_CHUNK {
                "function"
            } else {
                "script (new function)"
            };
            one_line(&format!("ERR Error compiling {what}: {msg}"))
        })
}

/// SCRIPT LOAD's check: whether `source` compiles; the error reply if not.
pub(super) fn compile_only(source: &[u8]) -> std::result::Result<(), String> {
    let lua = new_state().map_err(|e| format!("ERR {e}"))?;
    compile(&lua, source, SCRIPT_CHUNK).map(drop)
}

/// Runs a script. `Err` only for a failure of the node itself inside a command.
pub(in crate::keyspace) fn run(ctx: &mut Ctx<'_>, run: Run<'_>) -> Result<Outcome> {
    let lua = match new_state() {
        Ok(lua) => lua,
        Err(e) => return Ok(failed(format!("ERR {e}"), false)),
    };
    let func = match compile(&lua, run.source, run.mode.chunk()) {
        Ok(f) => f,
        Err(e) => return Ok(failed(e, true)),
    };
    let db = ctx.db;
    let token = fencing_token(run.seed, ctx.state.scripts_in_entry);
    ctx.state.scripts_in_entry += 1;
    let over = Rc::new(Cell::new(false));
    let caller = RefCell::new(Caller {
        ctx,
        read_only: run.read_only,
        resp3: false,
        fatal: None,
    });
    let reply = execute(&lua, func, &run, token, &caller, &over)
        .unwrap_or_else(|e| Reply::Error(one_line(&format!("ERR {e}"))));
    let caller = caller.into_inner();
    // SELECT inside a script changes the script's database only.
    caller.ctx.db = db;
    if let Some(e) = caller.fatal {
        return Err(e);
    }
    let reply = if over.get() && run.mode == Mode::Load {
        Reply::error(format!(
            "ERR FUNCTION LOAD timeout: over the budget of {INSTRUCTION_BUDGET} Lua instructions"
        ))
    } else if over.get() {
        Reply::error(format!(
            "ERR Script exceeded its budget of {INSTRUCTION_BUDGET} Lua instructions \
             (it ran on every replica alike and was stopped at the same point)"
        ))
    } else {
        reply
    };
    Ok(Outcome {
        reply,
        compile_failed: false,
    })
}

fn failed(error: String, compile_failed: bool) -> Outcome {
    Outcome {
        reply: Reply::Error(error),
        compile_failed,
    }
}

fn execute(
    lua: &Lua,
    func: Function,
    run: &Run<'_>,
    token: Option<f64>,
    caller: &RefCell<Caller<'_, '_>>,
    over: &Rc<Cell<bool>>,
) -> mlua::Result<Reply> {
    let globals = lua.globals();
    let (keys, args) = (strings(lua, run.keys)?, strings(lua, run.args)?);
    if run.mode == Mode::Eval {
        globals.raw_set("KEYS", keys.clone())?;
        globals.raw_set("ARGV", args.clone())?;
    }
    let chunk = run.mode.chunk();
    let xpcall: Function = globals.raw_get("xpcall")?;
    let coroutine: Table = globals.raw_get("coroutine")?;
    let rand = Rc::new(Cell::new(0u64));
    srand48(&rand, seed32(run.seed));
    // A failed redis.call raises its error reply. A Rust function can only raise an
    // opaque error value, so the reply waits in `pending` for the error handler (or for
    // pcall) to pick it up. A Rust function, unlike a Lua wrapper, keeps the calling
    // frame even in `return redis.call(...)`, so errors name the script's line.
    let pending: RefCell<Option<String>> = RefCell::new(None);
    let command = |lua: &Lua, args: MultiValue, raise: bool| -> mlua::Result<Value> {
        pending.borrow_mut().take();
        let mut caller = caller.borrow_mut();
        let reply = match arguments(args) {
            Ok(argv) => caller.call(&argv),
            Err(e) => Reply::error(e),
        };
        match reply {
            Reply::Error(e) if raise => {
                *pending.borrow_mut() = Some(e.clone());
                Err(mlua::Error::runtime(e))
            }
            reply => convert::to_lua(lua, &reply, caller.resp3),
        }
    };
    lua.scope(|scope| {
        let call = scope.create_function(|lua, args: MultiValue| command(lua, args, true))?;
        let pcall = scope.create_function(|lua, args: MultiValue| command(lua, args, false))?;
        let take_pending = scope.create_function(|_, ()| Ok(pending.borrow_mut().take()))?;
        let over_check = over.clone();
        let over_budget = lua.create_function(move |_, ()| Ok(over_check.get()))?;
        let handler = scope.create_function(|lua, err: Value| {
            let err = match (&err, pending.borrow_mut().take()) {
                (Value::Error(_) | Value::UserData(_), Some(reply)) => {
                    let t = lua.create_table()?;
                    t.raw_set("err", reply)?;
                    Value::Table(t)
                }
                _ => err,
            };
            error_table(lua, err, chunk)
        })?;
        let set_resp = scope.create_function(|_, v: u8| {
            caller.borrow_mut().resp3 = v == 3;
            Ok(())
        })?;
        let sha1 = lua.create_function(|_, s: mlua::String| Ok(super::sha1_hex(&s.as_bytes())))?;
        let log = lua.create_function(|_, (level, msg): (u8, String)| {
            tracing::info!(target: "cairn::script", level, "{msg}");
            Ok(())
        })?;
        let r = rand.clone();
        let lrand = lua.create_function(move |_, ()| Ok(lrand48(&r)))?;
        let r = rand.clone();
        let srand = lua.create_function(move |_, seed: f64| {
            srand48(&r, seed as i64 as i32);
            Ok(())
        })?;
        // `cairn.log_index()` and `cairn.fencing_token()` (nil: none left).
        let entry = lua.create_table()?;
        entry.raw_set("log_index", run.seed as f64)?;
        entry.raw_set("fencing_token", token)?;
        let (redis, meta): (Table, Table) = lua
            .load(PRELUDE)
            .set_name("=cairn")
            .set_mode(ChunkMode::Text)
            .into_function()?
            .call((
                call,
                pcall,
                take_pending,
                over_budget,
                set_resp,
                sha1,
                log,
                lrand,
                srand,
                REDIS_VERSION.0,
                REDIS_VERSION.1,
                super::libs::bit(lua)?,
                super::libs::cjson(lua)?,
                super::msgpack::cmsgpack(lua)?,
                entry,
                super::structlib::structlib(lua)?,
            ))?;
        let spent = Rc::new(Cell::new(0u64));
        lua.set_hook(budget_hook(), budget(over, &spent));
        // Coroutines get the budget too (mlua's hook does not follow new threads).
        let over_co = over.clone();
        let create = lua.create_function(move |lua, f: Function| {
            let thread = lua.create_thread(f)?;
            thread.set_hook(budget_hook(), budget(&over_co, &spent));
            Ok(thread)
        })?;
        coroutine.raw_set("create", create)?;
        let entry = match run.mode {
            Mode::Eval => func,
            Mode::Call(name) => functions(lua)?.call((redis, meta, func, name, keys, args))?,
            Mode::Load => functions(lua)?.call((redis, meta, func, Value::Nil, keys, args))?,
        };
        let (ok, value): (bool, Value) = xpcall.call((entry, handler))?;
        lua.remove_hook();
        let resp3 = caller.borrow().resp3;
        Ok(if ok {
            from_lua(&value, resp3)
        } else {
            error_reply(&value, run.sha)
        })
    })
}

/// The driver of FUNCTION libraries, compiled.
fn functions(lua: &Lua) -> mlua::Result<Function> {
    lua.load(FUNCTIONS)
        .set_name("=cairn_functions")
        .set_mode(ChunkMode::Text)
        .into_function()
}

fn budget_hook() -> HookTriggers {
    HookTriggers::new().every_nth_instruction(HOOK_EVERY)
}

/// The budget check of a Lua thread: every thread of a run counts into one total, so
/// coroutines cannot multiply the budget.
fn budget(
    over: &Rc<Cell<bool>>,
    spent: &Rc<Cell<u64>>,
) -> impl Fn(&Lua, mlua::Debug) -> mlua::Result<VmState> {
    let (over, spent) = (over.clone(), spent.clone());
    move |_, _| {
        spent.set(spent.get() + u64::from(HOOK_EVERY));
        if over.get() || spent.get() > INSTRUCTION_BUDGET {
            over.set(true);
            return Err(mlua::Error::runtime("script over its instruction budget"));
        }
        Ok(VmState::Continue)
    }
}

/// KEYS or ARGV.
fn strings(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(t)
}

/// `redis.call`'s arguments as a request: strings as they are, numbers as `%.17g`.
fn arguments(args: MultiValue) -> std::result::Result<Vec<Bytes>, &'static str> {
    args.iter()
        .map(|v| match v {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(n) => Ok(Bytes::from(n.to_string())),
            Value::Number(n) => Ok(Bytes::from(number_arg(*n))),
            _ => Err("ERR Lua redis lib command arguments must be strings or integers"),
        })
        .collect()
}

/// The error handler: the error as Redis's table `{err=..., source=..., line=...}`, with
/// the script line that raised it.
fn error_table(lua: &Lua, err: Value, chunk: &'static str) -> mlua::Result<Table> {
    let mut line = None;
    for level in 0..64 {
        let Some(frame) = lua.inspect_stack(level) else {
            break;
        };
        let l = frame.curr_line();
        if l > 0 && frame.source().source.as_deref() == Some(chunk) {
            line = Some(l);
            break;
        }
    }
    let table = match err {
        Value::Table(t) => t,
        Value::String(s) => {
            let t = lua.create_table()?;
            let mut text = b"ERR ".to_vec();
            text.extend_from_slice(&s.as_bytes());
            t.raw_set("err", lua.create_string(&text)?)?;
            t
        }
        other => {
            let t = lua.create_table()?;
            let text = match &other {
                // A library function written in Rust failed: its message, placed as Lua
                // places a C function's error (`user_script:<line>: ...`), without mlua's
                // wrapping and traceback.
                Value::Error(e) => {
                    let msg = root_message(e);
                    match line {
                        Some(l) => format!("user_script:{l}: {msg}"),
                        None => msg,
                    }
                }
                v => v.to_string().unwrap_or_else(|_| "execution failure".into()),
            };
            t.raw_set("err", format!("ERR {text}"))?;
            t
        }
    };
    if let Some(l) = line {
        table.raw_set("source", chunk)?;
        table.raw_set("line", l)?;
    }
    Ok(table)
}

/// The message of the innermost cause of an mlua error.
fn root_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => root_message(cause),
        mlua::Error::RuntimeError(msg) => msg.clone(),
        other => other.to_string(),
    }
}

/// The reply to a script that raised an error: Redis 7's `<error> script: <sha>, on
/// @user_script:<line>.`
fn error_reply(value: &Value, sha: &str) -> Reply {
    let Value::Table(t) = value else {
        return Reply::error(format!("ERR Error running script {sha}, execution failure"));
    };
    let field = |name: &str| -> Option<String> {
        match t.raw_get::<Value>(name).ok()? {
            Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
            Value::Integer(n) => Some(n.to_string()),
            Value::Number(n) => Some(format!("{}", n as i64)),
            _ => None,
        }
    };
    let mut text = field("err").unwrap_or_else(|| "ERR unknown error".into());
    if let (Some(source), Some(line)) = (field("source"), field("line")) {
        text.push_str(&format!(" script: {sha}, on {source}:{line}."));
    }
    Reply::Error(one_line(&text))
}

fn one_line(s: &str) -> String {
    s.trim_end_matches(['\r', '\n']).replace(['\r', '\n'], " ")
}

/// Bits of a fencing token below the log index: how many scripts one entry may run and still
/// give each its own token.
const TOKEN_RUN_BITS: u32 = 20;

/// `cairn.fencing_token()` of the `nth` script run in the entry at `index`: unique to the
/// run and larger than every earlier run's, on any node, ever. One entry holds many writes
/// (the proposer batches them), so the log index alone is shared. `None` (the function raises
/// an error) once the entry has run more scripts than the low bits count, or once the token
/// no longer fits a Lua number exactly (2^53: an index past 2^33).
fn fencing_token(index: u64, nth: u64) -> Option<f64> {
    let token = index.checked_mul(1 << TOKEN_RUN_BITS)?;
    (nth < 1 << TOKEN_RUN_BITS && token < 1 << 53).then(|| (token + nth) as f64)
}

/// The 32-bit seed of an entry: its log index, mixed (consecutive entries draw differently).
fn seed32(index: u64) -> i32 {
    let mixed = super::super::value::digest::mix(index);
    (mixed >> 32) as i32
}

// rand48 (`redisLrand48`): X' = (0x5DEECE66D X + 0xB) mod 2^48, answering X' >> 17.
const RAND48_MASK: u64 = (1 << 48) - 1;

fn srand48(state: &Cell<u64>, seed: i32) {
    state.set((u64::from(seed as u32) << 16) | 0x330E);
}

fn lrand48(state: &Cell<u64>) -> f64 {
    let x = state.get().wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB) & RAND48_MASK;
    state.set(x);
    (x >> 17) as f64
}
