//! MULTI/EXEC: a transaction's commands applied as one unit inside one log entry, so every
//! replica applies all of them or, when a watched key changed, none.

use cairn_protocol::errors::RedisError;
use cairn_protocol::{ReadCommand, Reply};

use super::value::digest::{hash, mix};
use super::{key_digest, read, Ctx, StoredValue};
use crate::error::Result;
use crate::types::{ExecItem, Watched};

/// What WATCH records of a key, and EXEC compares: any write since changes it. A stored
/// value counts with its write version (so writing the same value back still counts),
/// marked when it has expired by `now_ms`; a missing key counts with the latest delete in
/// its bucket, so a key created and deleted again in between counts as changed too.
pub fn watch_digest(
    db: u8,
    key: &[u8],
    value: Option<&StoredValue>,
    delete_stamp: u64,
    now_ms: u64,
) -> Option<u64> {
    /// Flips the digest of a value that is stored but expired.
    const EXPIRED: u64 = 0x9e37_79b9_7f4a_7c15;
    Some(match value {
        Some(v) => {
            let d = mix(key_digest(db, key, v) ^ mix(v.version));
            if v.is_expired(now_ms) {
                d ^ EXPIRED
            } else {
                d
            }
        }
        None => mix(hash(u64::from(db), key) ^ mix(delete_stamp ^ 0x6162_7365_6e74)),
    })
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

pub(super) fn apply(ctx: &mut Ctx<'_>, items: Vec<ExecItem>, watched: &[Watched]) -> Result<Reply> {
    for w in watched {
        let current = ctx.state.get(w.db, &w.key);
        let stamp = ctx.state.delete_stamp(w.db, &w.key);
        if watch_digest(w.db, &w.key, current, stamp, ctx.now) != w.digest {
            return Ok(Reply::NilArray);
        }
    }
    let mut replies = Vec::with_capacity(items.len());
    for item in items {
        replies.push(match item {
            ExecItem::Write(cmd) => ctx.command(&cmd.into())?,
            ExecItem::Read(cmd) => {
                let cmd = ReadCommand::from(cmd);
                if needs_whole_db(&cmd) {
                    Reply::from(RedisError::NotInTransaction)
                } else {
                    // The transaction's own writes so far are in the state already.
                    read(ctx.state, ctx.db, &cmd, ctx.now)?
                }
            }
            ExecItem::Const(reply) => reply.into(),
        });
    }
    Ok(Reply::Array(replies))
}
