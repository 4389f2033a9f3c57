//! Stream commands (Redis's t_stream.c) on [`StreamValue`]: this file holds the writes that
//! change entries (XADD, XDEL, XTRIM, XSETID) and the group administration (XGROUP);
//! `group.rs` the consumer-group deliveries (XREADGROUP, XACK, XCLAIM, XAUTOCLAIM) and
//! `read.rs` the reads.
//!
//! IDs come from the entry's stamp (`Ctx::now`), so every replica assigns the same ones; so
//! do delivery and seen times.

mod group;
pub mod read;

use bytes::Bytes;
use cairn_protocol::command::stream::{GroupStart, StreamId, Trim, XAddId, XGroupOp};
use cairn_protocol::errors::RedisError;
use cairn_protocol::Reply;

use super::value::stream::{AddError, NodeLimits, StreamValue};
use super::value::Data;
use super::{Ctx, Kind, StoredValue, WRONGTYPE};
use crate::error::Result;

/// `stream-node-max-entries` and `stream-node-max-bytes` (replicated settings: where the
/// nodes split decides what an approximate trim removes on every replica).
pub const NODE_ENTRIES_SETTING: &str = "stream-node-max-entries";
pub const NODE_BYTES_SETTING: &str = "stream-node-max-bytes";

/// A stream inside a value known to be one, mutable (copied first if a snapshot shares it).
pub(crate) fn stream_mut(v: &mut StoredValue) -> Option<&mut StreamValue> {
    match &mut v.data {
        Data::Stream(s) => Some(std::sync::Arc::make_mut(s)),
        _ => None,
    }
}

/// The reply when a command found no group (or no key) for XREADGROUP and the claims.
pub(crate) fn no_group(key: &[u8], group: &[u8]) -> Reply {
    Reply::error(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// The reply XGROUP and XINFO CONSUMERS give for a missing group.
pub(crate) fn no_group_for_key(key: &[u8], group: &[u8]) -> Reply {
    Reply::error(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

/// An entry as replies list it: `[id, [field, value, ...]]`.
pub(crate) fn entry_reply(id: StreamId, fields: &[(Bytes, Bytes)]) -> Reply {
    Reply::Array(vec![
        id.reply(),
        Reply::Array(
            fields
                .iter()
                .flat_map(|(f, v)| [Reply::Bulk(f.clone()), Reply::Bulk(v.clone())])
                .collect(),
        ),
    ])
}

impl Ctx<'_> {
    fn setting_u64(&self, name: &str, default: u64) -> u64 {
        self.state
            .settings
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    fn node_limits(&self) -> NodeLimits {
        NodeLimits {
            entries: self.setting_u64(NODE_ENTRIES_SETTING, 100),
            bytes: self.setting_u64(NODE_BYTES_SETTING, 4096),
        }
    }

    /// The live stream at `key`: `Ok(None)` when missing, WRONGTYPE for another type.
    fn stream_ref(&mut self, key: &[u8]) -> std::result::Result<Option<&StreamValue>, Reply> {
        match self.live_ref(key) {
            None => Ok(None),
            Some(StoredValue {
                data: Data::Stream(s),
                ..
            }) => Ok(Some(s)),
            Some(_) => Err(Reply::error(WRONGTYPE)),
        }
    }

    /// Changes the stream at `key` in place (creating it if `create`): `f`'s reply, or
    /// `None` when the key is missing and not created.
    fn with_stream(
        &mut self,
        key: &[u8],
        create: bool,
        f: impl FnOnce(&mut StreamValue) -> Reply,
    ) -> Reply {
        match self.modify(key, Kind::Stream, create, |v| stream_mut(v).map(f)) {
            Ok(Some(Some(reply))) => reply,
            Ok(_) => Reply::Nil,
            Err(e) => e,
        }
    }

    fn stream_event(&mut self, event: &'static str, key: &[u8]) {
        let db = self.db;
        self.state.notify.stream_event(event, db, key);
    }

    pub(crate) fn xadd(
        &mut self,
        key: &Bytes,
        nomkstream: bool,
        trim: Option<&Trim>,
        id: XAddId,
        fields: &[(Bytes, Bytes)],
    ) -> Result<Reply> {
        // Checked before the key is made, so a refused XADD creates nothing.
        let now = self.now;
        let next = match self.stream_ref(key) {
            Err(e) => return Ok(e),
            Ok(None) if nomkstream => return Ok(Reply::Nil),
            Ok(None) => StreamValue::default().next_id(id, now),
            Ok(Some(s)) => s.next_id(id, now),
        };
        let id = match next {
            Ok(id) => id,
            Err(AddError::Exhausted) => {
                return Ok(Reply::error(
                    "ERR The stream has exhausted the last possible ID, unable to add more items",
                ))
            }
            Err(AddError::NotGreater) => return Ok(Reply::error(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            )),
        };
        let limits = self.node_limits();
        let mut trimmed = 0;
        let reply = self.with_stream(key, true, |s| {
            s.append(id, fields.to_vec(), limits);
            if let Some(t) = trim {
                trimmed = s.trim(t.to, t.approx, trim_limit(t, limits));
            }
            id.reply()
        });
        self.stream_event("xadd", key);
        if trimmed > 0 {
            self.stream_event("xtrim", key);
        }
        Ok(reply)
    }

    pub(crate) fn xdel(&mut self, key: &Bytes, ids: &[StreamId]) -> Result<Reply> {
        let any = match self.stream_ref(key) {
            Err(e) => return Ok(e),
            Ok(None) => false,
            Ok(Some(s)) => ids.iter().any(|id| s.get(*id).is_some()),
        };
        if !any {
            return Ok(Reply::Integer(0));
        }
        let reply = self.with_stream(key, false, |s| {
            Reply::Integer(ids.iter().filter(|id| s.delete(**id)).count() as i64)
        });
        self.stream_event("xdel", key);
        Ok(reply)
    }

    pub(crate) fn xtrim(&mut self, key: &Bytes, trim: &Trim) -> Result<Reply> {
        match self.stream_ref(key) {
            Err(e) => return Ok(e),
            Ok(None) => return Ok(Reply::Integer(0)),
            Ok(Some(_)) => {}
        }
        let limit = trim_limit(trim, self.node_limits());
        let reply = self.with_stream(key, false, |s| {
            Reply::Integer(s.trim(trim.to, trim.approx, limit) as i64)
        });
        if matches!(reply, Reply::Integer(n) if n > 0) {
            self.stream_event("xtrim", key);
        }
        Ok(reply)
    }

    pub(crate) fn xsetid(
        &mut self,
        key: &Bytes,
        last: StreamId,
        added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) -> Result<Reply> {
        match self.stream_ref(key) {
            Err(e) => return Ok(e),
            Ok(None) => return Ok(Reply::from(RedisError::NoSuchKey)),
            Ok(Some(s)) if !s.is_empty() && last < s.last_live_id() => {
                return Ok(Reply::error(
                    "ERR The ID specified in XSETID is smaller than the target stream top item",
                ))
            }
            Ok(Some(s)) if !s.is_empty() && added.is_some_and(|n| n < s.len()) => {
                return Ok(Reply::error(
                    "ERR The entries_added specified in XSETID is smaller than the target stream length",
                ))
            }
            Ok(Some(_)) => {}
        }
        let reply = self.with_stream(key, false, |s| {
            s.set_id(last, added, max_deleted);
            Reply::ok()
        });
        self.stream_event("xsetid", key);
        Ok(reply)
    }

    pub(crate) fn xgroup(&mut self, op: &XGroupOp) -> Result<Reply> {
        let key = op.key();
        let mkstream = matches!(op, XGroupOp::Create { mkstream: true, .. });
        let group = match op {
            XGroupOp::Create { group, .. }
            | XGroupOp::SetId { group, .. }
            | XGroupOp::Destroy { group, .. }
            | XGroupOp::CreateConsumer { group, .. }
            | XGroupOp::DelConsumer { group, .. } => group,
        };
        let consumer = match op {
            XGroupOp::CreateConsumer { consumer, .. } | XGroupOp::DelConsumer { consumer, .. } => {
                Some(consumer)
            }
            _ => None,
        };
        let (last_id, has_group, has_consumer) = match self.stream_ref(key) {
            Err(e) => return Ok(e),
            Ok(None) if mkstream => (StreamId::MIN, false, false),
            Ok(None) => {
                return Ok(Reply::error(
                    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
                ))
            }
            Ok(Some(s)) => {
                let g = s.group(group);
                let has_consumer = g.zip(consumer).is_some_and(|(g, c)| g.consumers.contains_key(c));
                (s.last_id(), g.is_some(), has_consumer)
            }
        };
        let needs_group = matches!(
            op,
            XGroupOp::SetId { .. } | XGroupOp::CreateConsumer { .. } | XGroupOp::DelConsumer { .. }
        );
        if needs_group && !has_group {
            return Ok(no_group_for_key(key, group));
        }
        let at = |start: &GroupStart| match start {
            GroupStart::Last => last_id,
            GroupStart::Id(id) => *id,
        };
        let now = self.now;
        Ok(match op {
            XGroupOp::Create {
                start,
                entries_read,
                ..
            } => {
                if has_group {
                    return Ok(Reply::error("BUSYGROUP Consumer Group name already exists"));
                }
                let read = entries_read.map(|n| n as u64);
                let reply = self.with_stream(key, true, |s| {
                    s.create_group(group, at(start), read);
                    Reply::ok()
                });
                self.stream_event("xgroup-create", key);
                reply
            }
            XGroupOp::SetId {
                start,
                entries_read,
                ..
            } => {
                let read = entries_read.map(|n| n as u64);
                let reply = self.with_stream(key, false, |s| {
                    s.set_group_position(group, at(start), read);
                    Reply::ok()
                });
                self.stream_event("xgroup-setid", key);
                reply
            }
            XGroupOp::Destroy { .. } => {
                if !has_group {
                    return Ok(Reply::Integer(0));
                }
                let reply = self.with_stream(key, false, |s| {
                    Reply::Integer(i64::from(s.destroy_group(group)))
                });
                self.stream_event("xgroup-destroy", key);
                reply
            }
            XGroupOp::CreateConsumer { consumer, .. } => {
                if has_consumer {
                    return Ok(Reply::Integer(0));
                }
                let reply = self.with_stream(key, false, |s| {
                    Reply::Integer(i64::from(s.touch_consumer(group, consumer, now, false)))
                });
                self.stream_event("xgroup-createconsumer", key);
                reply
            }
            XGroupOp::DelConsumer { consumer, .. } => {
                if !has_consumer {
                    return Ok(Reply::Integer(0));
                }
                let reply = self.with_stream(key, false, |s| {
                    Reply::Integer(s.delete_consumer(group, consumer).unwrap_or(0) as i64)
                });
                self.stream_event("xgroup-delconsumer", key);
                reply
            }
        })
    }
}

/// The most entries one trim removes (0: no limit): LIMIT, or for `~` without one Redis's
/// default of 100 nodes' worth.
fn trim_limit(trim: &Trim, limits: NodeLimits) -> u64 {
    match (trim.approx, trim.limit) {
        (false, _) => 0,
        (true, Some(n)) => n,
        (true, None) => match limits.entries.saturating_mul(100) {
            0 => 1_000_000,
            n => n.min(1_000_000),
        },
    }
}
