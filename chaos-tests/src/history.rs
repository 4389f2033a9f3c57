//! The operation record. One [`Op`] per client operation, written as one JSON line each to
//! `history.jsonl`, and the only input of the checkers, so a history can be checked again
//! offline.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The client number of the final reads, beyond any workload client (at most 1000).
pub const FINAL_READ_CLIENT: usize = 1_000_000;

/// What a client asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "kebab-case")]
pub enum Call {
    /// GET of a register or counter.
    Read,
    /// SET of a register.
    Write { value: i64 },
    /// WATCH/GET/MULTI/SET/EXEC: set `to` if the register holds `from`.
    Cas { from: i64, to: i64 },
    /// INCR of a counter.
    Incr,
    /// RPUSH of one unique element.
    Append { value: i64 },
    /// LRANGE 0 -1.
    ReadList,
    /// SADD of one unique element.
    Add { value: i64 },
    /// SMEMBERS.
    ReadSet,
    /// SET with PX: a key written once, with a TTL.
    SetTtl { value: i64, ttl_ms: u64 },
    /// Take a lock with a fencing token (docs/fencing/acquire.lua): the token, or nothing.
    Acquire { holder: i64 },
    /// RPUSH under a fencing token (docs/fencing/fenced_append.lua).
    FencedAppend { token: i64, value: i64 },
}

impl Call {
    /// True for calls that may change the keyspace: their failures are only definite when
    /// the request never reached a node.
    pub fn is_write(&self) -> bool {
        !matches!(self, Call::Read | Call::ReadList | Call::ReadSet)
    }
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Acknowledged: it took effect, with the recorded result.
    Ok,
    /// Definitely had no effect (refused, aborted, or never sent).
    Fail,
    /// Unknown: it may or may not have taken effect (timeout, connection lost after sending,
    /// or an error reply to a write).
    Info,
}

/// What an acknowledged operation returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ret {
    /// INCR's new value, RPUSH's new length, SADD's count.
    Int(i64),
    /// A register read: `None` for a missing key.
    Value(Option<i64>),
    /// A list or set read.
    List(Vec<i64>),
}

/// One operation, from invocation to completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Unique in the history, in invocation order per client.
    pub id: u64,
    /// The client that ran it; final reads carry [`FINAL_READ_CLIENT`].
    pub client: usize,
    /// The node the client was connected to.
    pub node: u64,
    pub key: String,
    #[serde(flatten)]
    pub call: Call,
    /// Microseconds since the run started.
    pub invoke_us: u64,
    pub complete_us: u64,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ret: Option<Ret>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// True for the reads made after the faults were healed, which the checkers compare the
    /// whole history against.
    #[serde(default)]
    pub final_read: bool,
}

/// Collects operations from all clients; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    start: Instant,
    ops: Arc<Mutex<Vec<Op>>>,
    next_id: Arc<AtomicU64>,
}

impl Recorder {
    pub fn new(start: Instant) -> Recorder {
        Recorder {
            start,
            ops: Arc::new(Mutex::new(Vec::new())),
            next_id: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A fresh operation id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Microseconds since the run started.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    pub fn push(&self, op: Op) {
        // A poisoned lock means a client panicked; its ops are still worth keeping.
        let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        ops.push(op);
    }

    /// Every recorded operation, sorted by invocation time.
    pub fn snapshot(&self) -> Vec<Op> {
        let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        let mut v = ops.clone();
        v.sort_by_key(|o| (o.invoke_us, o.id));
        v
    }
}

/// Writes `ops` as JSON lines.
pub fn write_jsonl(path: &Path, ops: &[Op]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for op in ops {
        serde_json::to_writer(&mut f, op)?;
        f.write_all(b"\n")?;
    }
    f.flush()
}

/// Reads a history written by [`write_jsonl`].
pub fn read_jsonl(path: &Path) -> std::io::Result<Vec<Op>> {
    let f = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut ops = Vec::new();
    for line in f.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        ops.push(serde_json::from_str(&line)?);
    }
    Ok(ops)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_round_trips() {
        let ops = vec![Op {
            id: 1,
            client: 0,
            node: 2,
            key: "k".into(),
            call: Call::Cas { from: 1, to: 2 },
            invoke_us: 10,
            complete_us: 20,
            outcome: Outcome::Info,
            ret: Some(Ret::List(vec![1, 2])),
            error: Some("timeout".into()),
            final_read: false,
        }];
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.jsonl");
        write_jsonl(&p, &ops).unwrap();
        assert_eq!(read_jsonl(&p).unwrap(), ops);
    }
}
