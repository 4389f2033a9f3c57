//! Test helpers: run commands, written as Redis command lines, against the in-memory keyspace.

use bytes::Bytes;
use cairn_protocol::{Command, Reply};

use super::tests::{run, MemTxn};
use super::{read, StoredValue, View};
use crate::error::Result;

impl View for MemTxn {
    fn delete_stamp(&self, _db: u8, _key: &[u8]) -> Result<u64> {
        Ok(self.4)
    }
    fn get(&self, db: u8, key: &[u8]) -> Result<Option<StoredValue>> {
        Ok(self.0.get(&(db, key.to_vec())).cloned())
    }
    fn scan(
        &self,
        db: u8,
        _cursor: u64,
        _count: usize,
    ) -> Result<(Vec<(Bytes, StoredValue)>, u64)> {
        Ok((self.all(db)?, 0))
    }
    fn all(&self, db: u8) -> Result<Vec<(Bytes, StoredValue)>> {
        Ok(self
            .0
            .iter()
            .filter(|((d, _), _)| *d == db)
            .map(|((_, k), v)| (Bytes::from(k.clone()), v.clone()))
            .collect())
    }
    fn len(&self, db: u8) -> Result<u64> {
        Ok(self.all(db)?.len() as u64)
    }
}

/// Runs one command line (words separated by single spaces) in db 0 at time 1000: a write
/// through `apply`, a read through `read`; a parse error becomes its error reply.
pub(crate) fn exec(txn: &mut MemTxn, line: &str) -> Reply {
    let args: Vec<Bytes> = line
        .split(' ')
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect();
    exec_args(txn, &args)
}

/// [`exec`] for arguments that are not all text.
pub(crate) fn exec_args(txn: &mut MemTxn, args: &[Bytes]) -> Reply {
    match cairn_protocol::command::parse(args) {
        Ok(Command::Write(cmd)) => run(txn, cmd),
        // The pop a blocking command is made of, tried once.
        Ok(Command::Blocking(b)) => run(txn, b.op),
        Ok(Command::Read(cmd)) => match read(txn, 0, &cmd, 1_000) {
            Ok(reply) => reply,
            Err(e) => Reply::error(format!("storage error: {e}")),
        },
        Ok(Command::Conn(c)) => Reply::error(format!("not a keyspace command: {c:?}")),
        Err(e) => Reply::error(e.resp_error()),
    }
}

/// Runs each line in order; the replies.
pub(crate) fn script(txn: &mut MemTxn, lines: &[&str]) -> Vec<Reply> {
    lines.iter().map(|l| exec(txn, l)).collect()
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
