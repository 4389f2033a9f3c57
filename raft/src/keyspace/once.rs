//! At-most-once application of client writes (the Raft dissertation's client sessions, §6.3).
//!
//! A node that forwarded a write to a leader that died mid-call cannot know whether the write
//! reached the log. It sends the write again, under the same [`RequestId`], to the next
//! leader. Every replica records the reply of each id it applies for [`REPLY_KEPT_MS`] of log
//! time, and answers a repeated id with the recorded reply instead of applying it again. The
//! record is part of the replicated state (and of snapshots), and is forgotten by log time
//! only, so every replica makes the same decision for the same entry.

use cairn_protocol::Reply;

use super::{apply_one, State};
use crate::error::Result;
use crate::logged;
use crate::types::{OpKind, RequestId};

/// How long (in the leader's log time) a reply is kept for a retry. A node retries a write
/// for far less than this (see the node's router), so a retry always finds its record.
pub const REPLY_KEPT_MS: u64 = 60_000;

/// Larger replies are not kept; a retry of such a write learns that it was applied, but not
/// its reply.
pub const REPLY_BYTES_MAX: u64 = 1 << 20;

/// The reply of a repeated write whose reply was too large to keep.
pub fn reply_not_kept() -> Reply {
    Reply::error("ERR this write was applied, but its reply was too large to keep for a retry")
}

/// Applies `op` unless `id` was applied already; the reply either way.
pub(super) fn apply(
    state: &mut State,
    index: u64,
    id: &RequestId,
    op: OpKind,
    now: u64,
) -> Result<Reply> {
    if let Some(recorded) = state.replies.get(id) {
        return Ok(recorded.unwrap_or_else(reply_not_kept));
    }
    // Measured in the form it is kept in; a reply too large to keep is moved back, not copied.
    let stored = logged::Reply::from(apply_one(state, index, op, now)?);
    let fits = bincode::serialized_size(&stored).is_ok_and(|size| size <= REPLY_BYTES_MAX);
    let (reply, kept) = if fits {
        (Reply::from(stored.clone()), Some(stored))
    } else {
        (Reply::from(stored), None)
    };
    state.replies.insert(*id, now, kept);
    Ok(reply)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::Bytes;
    use cairn_protocol::WriteCommand;

    use super::*;
    use crate::keyspace::apply as apply_entry;
    use crate::types::WriteOp;

    fn incr(id: u64) -> OpKind {
        OpKind::Once {
            id: RequestId { origin: 7, seq: id },
            op: Box::new(OpKind::command(
                0,
                WriteCommand::IncrBy {
                    key: Bytes::from_static(b"n"),
                    delta: 1,
                },
            )),
        }
    }

    fn entry(now_ms: u64, ops: Vec<OpKind>) -> WriteOp {
        WriteOp { now_ms, ops }
    }

    #[test]
    fn a_repeated_id_answers_the_first_reply_without_applying_again() {
        let mut txn = State::default();
        let first = apply_entry(&mut txn, 1, entry(1_000, vec![incr(1), incr(2)])).unwrap();
        assert_eq!(first, vec![Reply::Integer(1), Reply::Integer(2)]);
        // Both retried, one of them twice in the same entry, plus a new write.
        let again = apply_entry(
            &mut txn,
            2,
            entry(2_000, vec![incr(1), incr(2), incr(1), incr(3)]),
        );
        assert_eq!(
            again.unwrap(),
            vec![
                Reply::Integer(1),
                Reply::Integer(2),
                Reply::Integer(1),
                Reply::Integer(3)
            ]
        );
    }

    #[test]
    fn records_are_forgotten_by_log_time_only() {
        let mut txn = State::default();
        apply_entry(&mut txn, 1, entry(1_000, vec![incr(1)])).unwrap();
        // Still within the window: a retry is answered from the record.
        let within = apply_entry(&mut txn, 1, entry(1_000 + REPLY_KEPT_MS - 1, vec![incr(1)]));
        assert_eq!(within.unwrap(), vec![Reply::Integer(1)]);
        // Past the window the record is gone: the same id applies again (a node never
        // retries that late).
        let past = apply_entry(&mut txn, 1, entry(1_001 + REPLY_KEPT_MS, vec![incr(1)]));
        assert_eq!(past.unwrap(), vec![Reply::Integer(2)]);
    }

    /// A reply over [`REPLY_BYTES_MAX`] reaches the client whole, but is not kept: a retry
    /// learns only that the write was applied.
    #[test]
    fn a_reply_too_large_to_keep_is_answered_once_then_only_acknowledged() {
        let mut txn = State::default();
        let big = Bytes::from(vec![b'x'; (REPLY_BYTES_MAX + 1) as usize]);
        let set = |value: Bytes| {
            OpKind::command(
                0,
                WriteCommand::GetSet {
                    key: Bytes::from_static(b"k"),
                    value,
                },
            )
        };
        apply_entry(&mut txn, 1, entry(1_000, vec![set(big.clone())])).unwrap();
        let tagged = || OpKind::Once {
            id: RequestId { origin: 7, seq: 1 },
            op: Box::new(set(Bytes::from_static(b"small"))),
        };
        let first = apply_entry(&mut txn, 2, entry(1_001, vec![tagged()])).unwrap();
        assert_eq!(first, vec![Reply::Bulk(big)]);
        let retry = apply_entry(&mut txn, 3, entry(1_002, vec![tagged()])).unwrap();
        assert_eq!(retry, vec![reply_not_kept()]);
    }
}
