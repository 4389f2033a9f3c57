//! MULTI/EXEC: a transaction's commands applied as one unit inside one log entry, so every
//! replica applies all of them or, when a watched key changed, none.

use std::cell::RefCell;

use bytes::Bytes;
use cairn_protocol::{ReadCommand, Reply};

use super::{entry_digest, read, Ctx, StoredValue, Txn, View};
use crate::error::Result;
use crate::types::{ExecItem, Watched};

/// What WATCH records of a key, and EXEC compares: any write since changes it. A stored
/// value is digested with its write version (so writing the same value back still counts),
/// marked when it has expired by `now_ms`; a missing key is digested with the database's
/// latest delete, so a key created and deleted again in between counts as changed too.
pub fn watch_digest(
    db: u8,
    key: &[u8],
    value: Option<StoredValue>,
    delete_stamp: u64,
    now_ms: u64,
) -> Result<Option<u64>> {
    /// Flips the digest of a value that is stored but expired.
    const EXPIRED: u64 = 0x9e37_79b9_7f4a_7c15;
    Ok(Some(match value {
        Some(v) if v.is_expired(now_ms) => entry_digest(db, key, &v.encode()?) ^ EXPIRED,
        Some(v) => entry_digest(db, key, &v.encode()?),
        None => {
            let mut absent = b"absent".to_vec();
            absent.extend_from_slice(&delete_stamp.to_le_bytes());
            entry_digest(db, key, &absent)
        }
    }))
}

/// Whether a read needs more than single-key lookups, or randomness (it cannot run inside a
/// transaction, which `apply` runs: RANDOMKEY there would make replicas answer differently).
pub fn needs_whole_db(cmd: &ReadCommand) -> bool {
    matches!(
        cmd,
        ReadCommand::Keys { .. }
            | ReadCommand::Scan { .. }
            | ReadCommand::DbSize
            | ReadCommand::RandomKey
    )
}

pub(super) fn apply(
    txn: &mut dyn Txn,
    db: u8,
    items: &[ExecItem],
    watched: &[Watched],
    now: u64,
) -> Result<Reply> {
    for w in watched {
        let current = txn.get(w.db, &w.key)?;
        let stamp = txn.delete_stamp(w.db, &w.key)?;
        if watch_digest(w.db, &w.key, current, stamp, now)? != w.digest {
            return Ok(Reply::NilArray);
        }
    }
    let mut replies = Vec::with_capacity(items.len());
    for item in items {
        replies.push(match item {
            ExecItem::Write(cmd) => {
                let mut ctx = Ctx {
                    txn: &mut *txn,
                    db,
                    now,
                };
                ctx.command(cmd)?
            }
            ExecItem::Read(cmd) if needs_whole_db(cmd) => {
                Reply::error("ERR Command not allowed inside a transaction")
            }
            ExecItem::Read(cmd) => read(&TxnView(RefCell::new(&mut *txn)), db, cmd, now)?,
            ExecItem::Const(reply) => reply.clone(),
        });
    }
    Ok(Reply::Array(replies))
}

/// Single-key reads over the transaction's own writes.
struct TxnView<'a, 'b>(RefCell<&'a mut (dyn Txn + 'b)>);

impl View for TxnView<'_, '_> {
    fn delete_stamp(&self, db: u8, key: &[u8]) -> Result<u64> {
        self.0.borrow_mut().delete_stamp(db, key)
    }

    fn get(&self, db: u8, key: &[u8]) -> Result<Option<StoredValue>> {
        self.0.borrow_mut().get(db, key)
    }

    // Never reached: `needs_whole_db` reads are answered with an error before `read`.
    fn scan(&self, _: u8, _: u64, _: usize) -> Result<(Vec<(Bytes, StoredValue)>, u64)> {
        Ok((Vec::new(), 0))
    }

    fn all(&self, _: u8) -> Result<Vec<(Bytes, StoredValue)>> {
        Ok(Vec::new())
    }

    fn len(&self, _: u8) -> Result<u64> {
        Ok(0)
    }
}
