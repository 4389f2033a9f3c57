//! Test helpers: run commands, written as Redis command lines, against the in-memory keyspace.

use bytes::Bytes;
use cairn_protocol::{Command, Reply};

use super::tests::run;
use super::{read, State};

/// Runs one command line (words separated by single spaces) in db 0 at time 1000: a write
/// through `apply`, a read through `read`; a parse error becomes its error reply.
pub(crate) fn exec(state: &mut State, line: &str) -> Reply {
    let args: Vec<Bytes> = line
        .split(' ')
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect();
    exec_args(state, &args)
}

/// [`exec`] for arguments that are not all text.
pub(crate) fn exec_args(state: &mut State, args: &[Bytes]) -> Reply {
    match cairn_protocol::command::parse(args) {
        Ok(Command::Write(cmd)) => run(state, cmd),
        // The pop a blocking command is made of, tried once.
        Ok(Command::Blocking(b)) => run(state, b.op),
        Ok(
            Command::Read(cmd)
            | Command::BlockingRead(cairn_protocol::command::BlockingRead { read: cmd, .. }),
        ) => match read(state, 0, &cmd, 1_000) {
            Ok(reply) => reply,
            Err(e) => Reply::error(format!("storage error: {e}")),
        },
        Ok(Command::Conn(c)) => Reply::error(format!("not a keyspace command: {c:?}")),
        Err(e) => Reply::error(e.resp_error()),
    }
}

/// Runs each line in order; the replies.
pub(crate) fn script(state: &mut State, lines: &[&str]) -> Vec<Reply> {
    lines.iter().map(|l| exec(state, l)).collect()
}

/// The keys of database 0, as (key, value) pairs.
pub(crate) fn keys(state: &State) -> Vec<(Bytes, super::StoredValue)> {
    state
        .db(0)
        .into_iter()
        .flat_map(|d| d.keys.iter())
        .map(|(k, v)| (Bytes::copy_from_slice(k), v.clone()))
        .collect()
}

pub(crate) fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

pub(crate) fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

pub(crate) fn bulks(items: &[&str]) -> Vec<Reply> {
    items.iter().map(|s| bulk(s)).collect()
}

pub(crate) fn wrongtype() -> Reply {
    Reply::error(super::WRONGTYPE)
}
