//! EVAL and SCRIPT: Lua scripts run inside the apply of their log entry, on every replica.
//!
//! A script is not replicated by its effects (as Redis 7 does to replicas) but run again on
//! each replica from the same inputs, so it must compute the same thing everywhere:
//! - a fresh Lua state per run, so nothing one script leaves behind reaches the next (and a
//!   replica restored from a snapshot runs scripts exactly as one that applied the log);
//! - `math.random` is Redis's rand48, seeded from the entry's log index;
//! - time is the entry's stamp (TIME, and TTLs through the commands);
//! - no library that reads the host (`os`, `io`, `debug`, `package`, `loadfile`, `print`);
//! - commands whose answer is random on the serving node (SRANDMEMBER, HRANDFIELD,
//!   ZRANDMEMBER) are refused in scripts that may write;
//! - a budget of Lua VM instructions and of memory, counted, not timed: a script that exceeds
//!   it fails at the same instruction on every replica.
//!
//! Loaded scripts are replicated state ([`Scripts`], in snapshots), so EVALSHA finds the
//! same scripts on every node.

mod call;
pub mod catalog;
mod convert;
mod functions;
mod libs;
mod lua;
mod msgpack;
mod structlib;

use catalog::{Libraries, Scripts};

use std::sync::Arc;

use bytes::Bytes;
use cairn_protocol::command::{ScriptRef, NOSCRIPT};
use cairn_protocol::Reply;
use sha1::{Digest, Sha1};

use super::Ctx;
use crate::error::Result;

/// Where the commands scripts run are reported (MONITOR): set once by the node.
type Observer = Box<dyn Fn(u8, &[Bytes]) + Send + Sync>;
static MONITOR: std::sync::OnceLock<Observer> = std::sync::OnceLock::new();

/// Reports every command a script runs on this node to `observer` (db, arguments). The first
/// call wins: a process runs one node.
pub fn set_monitor(observer: impl Fn(u8, &[Bytes]) + Send + Sync + 'static) {
    let _ = MONITOR.set(Box::new(observer));
}

fn monitor(db: u8, args: &[Bytes]) {
    if let Some(observer) = MONITOR.get() {
        observer(db, args);
    }
}

/// The most scripts EVAL adds to the cache; past it EVAL still runs scripts but caches no more
/// (SCRIPT LOAD always caches). Every replica counts the same, so they agree on what is cached.
const EVAL_CACHE_MAX: usize = 10_000;

/// The SHA-1 of `body` in lowercase hex, as Redis names scripts.
pub fn sha1_hex(body: &[u8]) -> String {
    let digest = Sha1::digest(body);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a script's first line (`#!lua flags=...`) declares.
#[derive(Debug, Default, Clone, Copy)]
struct Shebang {
    /// `no-writes`: the script may only read.
    no_writes: bool,
    /// `allow-oom`: the script may run while the dataset is over maxmemory.
    allow_oom: bool,
    /// Bytes of the shebang line (its line feed stays, so line numbers are kept).
    len: usize,
}

/// Parses the shebang line of `body`, if it has one, with Redis's error texts.
fn shebang(body: &[u8]) -> std::result::Result<Shebang, String> {
    if !body.starts_with(b"#!") {
        return Ok(Shebang::default());
    }
    let len = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[2..len]);
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut out = Shebang {
        no_writes: false,
        allow_oom: false,
        len,
    };
    for part in parts {
        let Some(flags) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for flag in flags.split(',').filter(|f| !f.is_empty()) {
            match flag {
                "no-writes" => out.no_writes = true,
                "allow-oom" => out.allow_oom = true,
                "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => return Err(format!("ERR Unexpected flag in script shebang: {other}")),
            }
        }
    }
    Ok(out)
}

/// Whether a script is refused while the dataset is over maxmemory, as Redis refuses a
/// script that declares its flags (`#!lua`) without `allow-oom` or `no-writes`. A script
/// without a shebang runs (Redis then checks each command inside; cairn does not).
pub fn denied_when_oom(body: &[u8]) -> bool {
    body.starts_with(b"#!") && shebang(body).is_ok_and(|f| !f.no_writes && !f.allow_oom)
}

/// [`denied_when_oom`] for a function's flags.
pub fn function_denied_when_oom(libraries: &Libraries, name: &[u8]) -> bool {
    let name = String::from_utf8_lossy(name);
    libraries.values().any(|lib| {
        lib.functions.iter().any(|f| {
            f.name.eq_ignore_ascii_case(&name)
                && !f.flags.iter().any(|x| x == "no-writes" || x == "allow-oom")
        })
    })
}

impl Ctx<'_> {
    /// EVAL / EVALSHA (and `_RO`): runs the script against this entry's state.
    pub(super) fn eval(
        &mut self,
        script: &ScriptRef,
        keys: &[Bytes],
        args: &[Bytes],
        read_only: bool,
    ) -> Result<Reply> {
        let (sha, body) = match script {
            ScriptRef::Body(body) => (sha1_hex(body), body.clone()),
            ScriptRef::Sha(sha) => match self.state.scripts.get(sha) {
                Some(body) => (sha.clone(), body.clone()),
                None => return Ok(Reply::error(NOSCRIPT)),
            },
        };
        let flags = match shebang(&body) {
            Ok(flags) => flags,
            Err(e) => return Ok(Reply::error(e)),
        };
        let run = lua::Run {
            mode: lua::Mode::Eval,
            sha: &sha,
            source: &body[flags.len..],
            keys,
            args,
            read_only: read_only || flags.no_writes,
            seed: self.stamp,
        };
        let outcome = lua::run(self, run)?;
        if matches!(script, ScriptRef::Body(_))
            && !outcome.compile_failed
            && !self.state.scripts.contains_key(&sha)
            && self.state.scripts.len() < EVAL_CACHE_MAX
        {
            Arc::make_mut(&mut self.state.scripts).insert(sha, body);
        }
        Ok(outcome.reply)
    }

    /// SCRIPT LOAD: compiles the script (refusing one that does not compile) and caches it.
    pub(super) fn script_load(&mut self, body: &Bytes) -> Result<Reply> {
        let flags = match shebang(body) {
            Ok(flags) => flags,
            Err(e) => return Ok(Reply::error(e)),
        };
        if let Err(e) = lua::compile_only(&body[flags.len..]) {
            return Ok(Reply::error(e));
        }
        let sha = sha1_hex(body);
        if !self.state.scripts.contains_key(&sha) {
            Arc::make_mut(&mut self.state.scripts).insert(sha.clone(), body.clone());
        }
        Ok(Reply::Bulk(Bytes::from(sha)))
    }

    /// SCRIPT FLUSH.
    pub(super) fn script_flush(&mut self) -> Reply {
        self.state.scripts = Scripts::default();
        Reply::ok()
    }
}

#[cfg(test)]
mod tests;
