//! Keyspace notifications (Redis's notify.c): the events a write raises, named and classed as
//! Redis names and classes them, collected while an entry applies and handed to the node,
//! which publishes them to its own subscribers on `__keyspace@<db>__:<key>` and
//! `__keyevent@<db>__:<event>`.
//!
//! `notify-keyspace-events` is a replicated setting, so every replica raises the same events
//! for the same entry: a subscriber on a follower hears what one on the leader hears. Events
//! are not state (not in snapshots or digests). With the setting empty, the only cost is a
//! branch per stored or deleted key.
//!
//! Most events follow from the command and which keys it changed ([`command_events`]): "new"
//! just before a created key's first event, "del" just after the last event on a collection
//! the command emptied, so the order is Redis's. "expired" (a key found expired or reaped) and
//! "evicted" are raised where they happen.

use bytes::Bytes;
use cairn_protocol::command::{GetExTtl, ListEnd, SetOp, SetTtl, ZRangeBy};
use cairn_protocol::WriteCommand;

/// The setting's name.
pub const SETTING: &str = "notify-keyspace-events";

pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
pub const GENERIC: u32 = 1 << 2;
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
pub const KEY_MISS: u32 = 1 << 11;
pub const MODULE: u32 = 1 << 12;
pub const NEW: u32 = 1 << 13;
/// `A`: every class but key misses and new keys.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The flags of a setting's text, or None for a character Redis does not know.
pub fn parse_flags(text: &str) -> Option<u32> {
    text.chars().try_fold(0, |flags, c| {
        Some(
            flags
                | match c {
                    'A' => ALL,
                    'g' => GENERIC,
                    '$' => STRING,
                    'l' => LIST,
                    's' => SET,
                    'h' => HASH,
                    'z' => ZSET,
                    'x' => EXPIRED,
                    'e' => EVICTED,
                    'K' => KEYSPACE,
                    'E' => KEYEVENT,
                    't' => STREAM,
                    'm' => KEY_MISS,
                    'd' => MODULE,
                    'n' => NEW,
                    _ => return None,
                },
        )
    })
}

/// The setting's text for `flags`, as CONFIG GET shows it (`A` for all classes).
pub fn flags_text(flags: u32) -> String {
    let mut out = String::new();
    if flags & ALL == ALL {
        out.push('A');
    } else {
        for (flag, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & flag != 0 {
                out.push(c);
            }
        }
    }
    for (flag, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & flag != 0 {
            out.push(c);
        }
    }
    out
}

/// One event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    pub db: u8,
    pub event: &'static str,
    pub key: Bytes,
    /// Publish on `__keyspace@<db>__:<key>`.
    pub keyspace: bool,
    /// Publish on `__keyevent@<db>__:<event>`.
    pub keyevent: bool,
}

impl KeyEvent {
    /// The (channel, message) pairs to publish, keyspace first as Redis sends them.
    pub fn messages(&self) -> Vec<(Bytes, Bytes)> {
        let mut out = Vec::with_capacity(2);
        if self.keyspace {
            let mut channel = format!("__keyspace@{}__:", self.db).into_bytes();
            channel.extend_from_slice(&self.key);
            out.push((
                Bytes::from(channel),
                Bytes::from_static(self.event.as_bytes()),
            ));
        }
        if self.keyevent {
            let channel = format!("__keyevent@{}__:{}", self.db, self.event);
            out.push((Bytes::from(channel), self.key.clone()));
        }
        out
    }
}

/// How a command changed a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Stored where there was no key: "new", raised just before the key's first event.
    Created,
    Written,
    Deleted,
    /// Deleted because the command left the collection empty.
    Emptied,
}

/// What applying raises: the flags in force for this entry, the events so far, and the
/// changes of the command running now.
#[derive(Debug, Clone, Default)]
pub struct Notifications {
    pub flags: u32,
    pub events: Vec<KeyEvent>,
    pub changes: Vec<(u8, Bytes, Change)>,
    /// The stream events of the running command, in order (they depend on what the command
    /// found, not only on which keys it changed).
    pub stream: Vec<(&'static str, u8, Bytes)>,
    /// Whether this node's clients track keys (client-side caching): then every changed key
    /// is recorded in `touched` for the node to invalidate. Node-local, set per batch.
    pub track: bool,
    /// Keys changed in this batch (written, deleted, expired, evicted), each with the client
    /// whose write changed it, when the write said (`OpKind::Tracked`).
    pub touched: Vec<(Bytes, Option<crate::types::ClientOrigin>)>,
    /// Whether a FLUSHDB, FLUSHALL or SWAPDB applied in this batch (invalidates everything).
    pub flushed: bool,
    /// The client whose write is applying now, if it said.
    pub origin: Option<crate::types::ClientOrigin>,
}

impl Notifications {
    /// Whether anything is published at all.
    pub fn on(&self) -> bool {
        self.flags & (KEYSPACE | KEYEVENT) != 0 && self.flags & !(KEYSPACE | KEYEVENT) != 0
    }

    /// Raises `event` of `class` on `key` if the setting asks for that class.
    pub fn raise(&mut self, class: u32, event: &'static str, db: u8, key: &[u8]) {
        if self.flags & class == 0 || !self.on() {
            return;
        }
        self.events.push(KeyEvent {
            db,
            event,
            key: Bytes::copy_from_slice(key),
            keyspace: self.flags & KEYSPACE != 0,
            keyevent: self.flags & KEYEVENT != 0,
        });
    }

    /// Records that `key` changed, for tracking clients.
    pub fn touch(&mut self, key: &[u8]) {
        if self.track {
            self.touched
                .push((Bytes::copy_from_slice(key), self.origin));
        }
    }

    /// Records a stream event of the running command (only while notifications are on).
    pub fn stream_event(&mut self, event: &'static str, db: u8, key: &[u8]) {
        if self.on() {
            self.stream.push((event, db, Bytes::copy_from_slice(key)));
        }
    }

    /// Records a change by the running command (only while notifications are on).
    pub fn changed(&mut self, db: u8, key: &[u8], change: Change) {
        if self.on() {
            self.changes.push((db, Bytes::copy_from_slice(key), change));
        }
    }
}

/// Raises the events of `cmd`, run in `db`, from the `changes` it made: the command's own
/// events, then "del" for each collection it emptied.
pub fn command_events(
    n: &mut Notifications,
    db: u8,
    cmd: &WriteCommand,
    changes: &[(u8, Bytes, Change)],
) {
    use WriteCommand as W;
    let mut r = Raiser {
        db,
        changes,
        events: Vec::new(),
    };
    match cmd {
        W::Set { key, ttl, .. } => {
            r.on(STRING, "set", key);
            if matches!(ttl, SetTtl::Set(_)) {
                r.on(GENERIC, "expire", key);
            }
        }
        W::SetNx { key, .. } | W::GetSet { key, .. } => r.on(STRING, "set", key),
        W::MSet { pairs } | W::MSetNx { pairs } => {
            for (key, _) in pairs {
                r.on(STRING, "set", key);
            }
        }
        W::GetDel { key } => r.on(GENERIC, "del", key),
        W::GetEx { key, ttl } => match (ttl, r.change(key)) {
            (_, Some(Change::Deleted)) => r.on(GENERIC, "del", key),
            (GetExTtl::Persist, _) => r.on(GENERIC, "persist", key),
            (GetExTtl::Set(_), _) => r.on(GENERIC, "expire", key),
            (GetExTtl::Unchanged, _) => {}
        },
        W::Append { key, .. } => r.on(STRING, "append", key),
        W::SetRange { key, .. } => r.on(STRING, "setrange", key),
        W::IncrBy { key, .. } => r.on(STRING, "incrby", key),
        W::IncrByFloat { key, .. } => r.on(STRING, "incrbyfloat", key),
        W::Del { keys } => {
            for key in keys {
                r.on(GENERIC, "del", key);
            }
        }
        W::Expire { key, .. } => match r.change(key) {
            Some(Change::Deleted) => r.on(GENERIC, "del", key),
            _ => r.on(GENERIC, "expire", key),
        },
        W::Persist { key } => r.on(GENERIC, "persist", key),
        W::Rename { key, new_key, .. } => {
            if r.change(new_key).is_some() {
                r.on(GENERIC, "rename_from", key);
                r.on(GENERIC, "rename_to", new_key);
            }
        }
        W::Copy {
            destination,
            db: to,
            ..
        } => {
            let to = to.map_or(Some(db), |d| u8::try_from(d).ok());
            if let Some(to) =
                to.filter(|to| changes.iter().any(|(d, k, _)| d == to && k == destination))
            {
                r.events.push((GENERIC, "copy_to", to, destination.clone()));
            }
        }
        W::Move { key, db: to } => {
            if let (Some(_), Ok(to)) = (r.change(key), u8::try_from(*to)) {
                r.events.push((GENERIC, "move_from", db, key.clone()));
                r.events.push((GENERIC, "move_to", to, key.clone()));
            }
        }
        W::Restore { key, .. } => r.on(GENERIC, "restore", key),
        W::SortStore { destination, .. } => r.store(LIST, "sortstore", destination),
        W::HSet { key, .. } | W::HSetNx { key, .. } => r.on(HASH, "hset", key),
        W::HDel { key, .. } => r.on(HASH, "hdel", key),
        W::HIncrBy { key, .. } => r.on(HASH, "hincrby", key),
        W::HIncrByFloat { key, .. } => r.on(HASH, "hincrbyfloat", key),
        W::SAdd { key, .. } => r.on(SET, "sadd", key),
        W::SRem { key, .. } => r.on(SET, "srem", key),
        W::SPop { key, .. } => r.on(SET, "spop", key),
        W::SMove {
            source,
            destination,
            ..
        } => {
            r.on(SET, "srem", source);
            r.on(SET, "sadd", destination);
        }
        W::SStore {
            op, destination, ..
        } => {
            let name = match op {
                SetOp::Inter => "sinterstore",
                SetOp::Union => "sunionstore",
                SetOp::Diff => "sdiffstore",
            };
            r.store(SET, name, destination);
        }
        W::LPush { key, end, .. } => r.on(LIST, push_event(*end), key),
        W::LPop { key, end, .. } => r.on(LIST, pop_event(*end), key),
        W::LSet { key, .. } => r.on(LIST, "lset", key),
        W::LInsert { key, .. } => r.on(LIST, "linsert", key),
        W::LRem { key, .. } => r.on(LIST, "lrem", key),
        W::LTrim { key, .. } => r.on(LIST, "ltrim", key),
        W::LMove {
            source,
            destination,
            from,
            to,
        } => {
            // Redis pushes (and tells) before it tells of the pop.
            r.on(LIST, push_event(*to), destination);
            r.on(LIST, pop_event(*from), source);
        }
        W::LMPop { keys, end, .. } => {
            for key in keys {
                r.on(LIST, pop_event(*end), key);
            }
        }
        W::ZAdd { key, incr, .. } => r.on(ZSET, if *incr { "zincr" } else { "zadd" }, key),
        W::ZIncrBy { key, .. } => r.on(ZSET, "zincr", key),
        W::ZRem { key, .. } => r.on(ZSET, "zrem", key),
        W::ZPop { key, max, .. } => r.on(ZSET, zpop_event(*max), key),
        W::ZMPop { keys, max, .. } => {
            for key in keys {
                r.on(ZSET, zpop_event(*max), key);
            }
        }
        W::ZRangeStore { destination, .. } => r.store(ZSET, "zrangestore", destination),
        W::ZRemRange { key, by } => {
            let name = match by {
                ZRangeBy::Rank { .. } => "zremrangebyrank",
                ZRangeBy::Score { .. } => "zremrangebyscore",
                ZRangeBy::Lex { .. } => "zremrangebylex",
            };
            r.on(ZSET, name, key);
        }
        W::ZStore {
            op, destination, ..
        } => {
            let name = match op {
                SetOp::Inter => "zinterstore",
                SetOp::Union => "zunionstore",
                SetOp::Diff => "zdiffstore",
            };
            r.store(ZSET, name, destination);
        }
        W::SetBit { key, .. } | W::BitField { key, .. } => r.on(STRING, "setbit", key),
        W::BitOp { destination, .. } => r.store(STRING, "set", destination),
        W::PfAdd { key, .. } => r.on(STRING, "pfadd", key),
        W::PfMerge { destination, .. } => r.on(STRING, "pfadd", destination),
        W::GeoAdd { key, .. } => r.on(ZSET, "zadd", key),
        W::GeoSearchStore {
            destination,
            georadius,
            ..
        } => {
            let name = if *georadius {
                "georadiusstore"
            } else {
                "geosearchstore"
            };
            r.store(ZSET, name, destination);
        }
        W::XAdd { .. }
        | W::XDel { .. }
        | W::XTrim { .. }
        | W::XSetId { .. }
        | W::XGroup(_)
        | W::XReadGroup(_)
        | W::XAck { .. }
        | W::XClaim(_)
        | W::XAutoClaim(_) => {
            for (event, d, key) in std::mem::take(&mut n.stream) {
                r.events.push((STREAM, event, d, key));
            }
        }
        // Scripts and transactions raise their commands' events; the rest change no key.
        W::FlushDb
        | W::FlushAll
        | W::SwapDb { .. }
        | W::PfDebugToDense { .. }
        | W::Eval { .. }
        | W::FCall { .. }
        | W::ScriptLoad { .. }
        | W::ScriptFlush
        | W::FunctionLoad { .. }
        | W::FunctionDelete { .. }
        | W::FunctionFlush
        | W::FunctionRestore { .. } => {}
    }
    let has = |kind: Change, d: u8, key: &Bytes| {
        changes
            .iter()
            .any(|(cd, ck, c)| *cd == d && ck == key && *c == kind)
    };
    // "new" once per created key, before its first event.
    let mut announced: Vec<(u8, Bytes)> = Vec::new();
    let mut announce = |n: &mut Notifications, d: u8, key: &Bytes| {
        if has(Change::Created, d, key) && !announced.iter().any(|(ad, ak)| *ad == d && ak == key) {
            n.raise(NEW, "new", d, key);
            announced.push((d, key.clone()));
        }
    };
    // RENAME and MOVE add the new key before they tell of either end.
    if matches!(cmd, W::Rename { .. } | W::Move { .. }) {
        for (d, key, _) in changes {
            announce(n, *d, key);
        }
    }
    // A collection the command emptied is deleted right after the command's last event on
    // it ("del" once: a store of nothing raised it already), or at the end.
    let mut deleted: Vec<(u8, Bytes)> = Vec::new();
    for (i, (class, event, d, key)) in r.events.iter().enumerate() {
        announce(n, *d, key);
        n.raise(*class, event, *d, key);
        let last = !r.events[i + 1..]
            .iter()
            .any(|(_, _, ld, lk)| ld == d && lk == key);
        if last && has(Change::Emptied, *d, key) {
            if *event != "del" {
                n.raise(GENERIC, "del", *d, key);
            }
            deleted.push((*d, key.clone()));
        }
    }
    for (d, key, c) in changes {
        announce(n, *d, key);
        if *c == Change::Emptied && !deleted.iter().any(|(dd, dk)| dd == d && dk == key) {
            n.raise(GENERIC, "del", *d, key);
            deleted.push((*d, key.clone()));
        }
    }
}

/// Collects one command's events: each only if the command changed its key.
struct Raiser<'a> {
    db: u8,
    changes: &'a [(u8, Bytes, Change)],
    events: Vec<(u32, &'static str, u8, Bytes)>,
}

impl Raiser<'_> {
    /// How the command last changed `key` in its database.
    fn change(&self, key: &[u8]) -> Option<Change> {
        self.changes
            .iter()
            .rev()
            .find(|(d, k, _)| *d == self.db && k.as_ref() == key)
            .map(|(_, _, c)| *c)
    }

    /// Raises `event` on `key` if the command changed it.
    fn on(&mut self, class: u32, event: &'static str, key: &Bytes) {
        if self.change(key).is_some() {
            self.events.push((class, event, self.db, key.clone()));
        }
    }

    /// A store's event: its own when it stored something, "del" when an empty result
    /// deleted the destination.
    fn store(&mut self, class: u32, event: &'static str, key: &Bytes) {
        match self.change(key) {
            Some(Change::Written) => self.on(class, event, key),
            Some(_) => self.on(GENERIC, "del", key),
            None => {}
        }
    }
}

fn push_event(end: ListEnd) -> &'static str {
    match end {
        ListEnd::Left => "lpush",
        ListEnd::Right => "rpush",
    }
}

fn pop_event(end: ListEnd) -> &'static str {
    match end {
        ListEnd::Left => "lpop",
        ListEnd::Right => "rpop",
    }
}

fn zpop_event(max: bool) -> &'static str {
    if max {
        "zpopmax"
    } else {
        "zpopmin"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_and_print_as_redis_does() {
        for (text, shown) in [
            ("gKE", "gKE"),
            ("$lshzxeKE", "$lshzxeKE"),
            ("KA", "AK"),
            ("EA", "AE"),
            ("", ""),
            ("Ag$", "A"),
            ("nEm", "nEm"),
        ] {
            assert_eq!(
                parse_flags(text).map(flags_text).as_deref(),
                Some(shown),
                "{text}"
            );
        }
        assert_eq!(parse_flags("KEq"), None);
    }

    #[test]
    fn events_publish_on_both_channels() {
        let e = KeyEvent {
            db: 3,
            event: "set",
            key: Bytes::from_static(b"foo"),
            keyspace: true,
            keyevent: true,
        };
        assert_eq!(
            e.messages(),
            vec![
                (Bytes::from("__keyspace@3__:foo"), Bytes::from("set")),
                (Bytes::from("__keyevent@3__:set"), Bytes::from("foo")),
            ]
        );
    }
}
