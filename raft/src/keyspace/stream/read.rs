//! Stream reads: XLEN, XRANGE, XREVRANGE, XREAD, XINFO, XPENDING; and what a blocked XREAD
//! or XREADGROUP needs to know (whether there is something for it yet).

use bytes::Bytes;
use cairn_protocol::command::stream::{
    GroupRead, PendingRange, ReadFrom, StreamId, XInfo, XReadGroup,
};
use cairn_protocol::errors::RedisError;
use cairn_protocol::{ReadCommand, Reply};

use super::{entry_reply, no_group, no_group_for_key};
use crate::keyspace::value::stream::StreamValue;
use crate::keyspace::{Data, State, StoredValue, WRONGTYPE};

/// How many entries a woken XREAD without COUNT gets (Redis's XREAD_BLOCKED_DEFAULT_COUNT).
pub const BLOCKED_DEFAULT_COUNT: u64 = 1000;

type Found<'a> = std::result::Result<Option<&'a StreamValue>, Reply>;

fn stream_of(v: Option<&StoredValue>) -> Found<'_> {
    match v {
        None => Ok(None),
        Some(StoredValue {
            data: Data::Stream(s),
            ..
        }) => Ok(Some(s)),
        Some(_) => Err(Reply::error(WRONGTYPE)),
    }
}

fn int(n: u64) -> Reply {
    Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn map(pairs: Vec<(&'static str, Reply)>) -> Reply {
    Reply::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Reply::bulk(k), v))
            .collect(),
    )
}

/// Answers a stream read; `live` finds a key's live value.
pub fn read<'s>(
    cmd: &ReadCommand,
    live: impl Fn(&[u8]) -> Option<&'s StoredValue>,
    now: u64,
) -> Reply {
    match cmd {
        ReadCommand::XLen { key } => match stream_of(live(key)) {
            Ok(s) => int(s.map_or(0, StreamValue::len)),
            Err(e) => e,
        },
        ReadCommand::XRange {
            key,
            start,
            end,
            count,
            rev,
        } => match stream_of(live(key)) {
            Err(e) => e,
            Ok(None) => Reply::Array(Vec::new()),
            Ok(Some(_)) if *count == Some(0) => Reply::NilArray,
            Ok(Some(s)) => Reply::Array(
                s.range(*start, *end, *rev)
                    .take(count.map_or(usize::MAX, |c| c as usize))
                    .map(|(id, f)| entry_reply(*id, f))
                    .collect(),
            ),
        },
        ReadCommand::XRead { count, streams } => xread(&live, *count, streams),
        ReadCommand::XInfo(info) => xinfo(&live, info, now),
        ReadCommand::XPending { key, group, range } => match stream_of(live(key)) {
            Err(e) => e,
            Ok(s) => match s.and_then(|s| s.group(group).map(|g| (s, g))) {
                None => no_group(key, group),
                Some((_, g)) => match range {
                    None => pending_summary(g),
                    Some(r) => pending_range(g, r, now),
                },
            },
        },
        ReadCommand::XHelp { xgroup } => help(*xgroup),
        _ => Reply::error("ERR not a stream command"),
    }
}

/// XREAD: entries after each stream's ID (`$`: none yet), the null array if none has any.
fn xread<'s>(
    live: &impl Fn(&[u8]) -> Option<&'s StoredValue>,
    count: Option<u64>,
    streams: &[(Bytes, ReadFrom)],
) -> Reply {
    let mut out = Vec::new();
    for (key, from) in streams {
        let s = match stream_of(live(key)) {
            Err(e) => return e,
            Ok(None) => continue,
            Ok(Some(s)) => s,
        };
        let ReadFrom::After(after) = from else {
            continue;
        };
        let Some(start) = after.next() else {
            continue;
        };
        let entries: Vec<Reply> = s
            .range(start, StreamId::MAX, false)
            .take(count.map_or(usize::MAX, |c| c as usize))
            .map(|(id, f)| entry_reply(*id, f))
            .collect();
        if !entries.is_empty() {
            out.push((Reply::Bulk(key.clone()), Reply::Array(entries)));
        }
    }
    if out.is_empty() {
        Reply::NilArray
    } else {
        Reply::KeyedArrays(out)
    }
}

/// XREAD's `$` made concrete for a blocked read: each stream's last ID now (0-0 if missing),
/// or the WRONGTYPE reply.
pub fn resolve_last(
    state: &State,
    db: u8,
    read: &ReadCommand,
    now: u64,
) -> Result<ReadCommand, Reply> {
    let ReadCommand::XRead { count, streams } = read else {
        return Ok(read.clone());
    };
    let mut resolved = Vec::with_capacity(streams.len());
    for (key, from) in streams {
        let s = stream_of(state.get_live(db, key, now))?;
        let from = match from {
            ReadFrom::Last => ReadFrom::After(s.map_or(StreamId::MIN, StreamValue::last_id)),
            other => *other,
        };
        resolved.push((key.clone(), from));
    }
    Ok(ReadCommand::XRead {
        count: *count,
        streams: resolved,
    })
}

/// Whether a blocked XREADGROUP should try now: some stream has entries its group has not
/// delivered, reads history, or is gone (the write reports the error).
pub fn group_ready(state: &State, db: u8, r: &XReadGroup, now: u64) -> bool {
    r.streams.iter().any(
        |(key, from)| match (from, stream_of(state.get_live(db, key, now))) {
            (GroupRead::Pending(_), _) => true,
            (GroupRead::New, Ok(Some(s))) => match s.group(&r.group) {
                Some(g) => !s.is_empty() && s.last_live_id() > g.last_id,
                None => true,
            },
            _ => true,
        },
    )
}

fn pending_summary(g: &crate::keyspace::value::stream::Group) -> Reply {
    let (Some(first), Some(last)) = (g.pel.keys().next(), g.pel.keys().next_back()) else {
        return Reply::Array(vec![
            Reply::Integer(0),
            Reply::Nil,
            Reply::Nil,
            Reply::NilArray,
        ]);
    };
    let consumers = g
        .consumers
        .iter()
        .filter(|(_, c)| !c.pel.is_empty())
        .map(|(name, c)| {
            Reply::Array(vec![
                Reply::Bulk(name.clone()),
                Reply::Bulk(Bytes::from(c.pel.len().to_string())),
            ])
        })
        .collect();
    Reply::Array(vec![
        int(g.pel.len() as u64),
        first.reply(),
        last.reply(),
        Reply::Array(consumers),
    ])
}

fn pending_range(g: &crate::keyspace::value::stream::Group, r: &PendingRange, now: u64) -> Reply {
    if r.start > r.end || r.count == 0 {
        return Reply::Array(Vec::new());
    }
    let ids: Box<dyn Iterator<Item = StreamId>> = match &r.consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => Box::new(c.pel.range(r.start..=r.end).copied()),
            None => return Reply::Array(Vec::new()),
        },
        None => Box::new(g.pel.range(r.start..=r.end).map(|(id, _)| *id)),
    };
    let mut out = Vec::new();
    for id in ids {
        if out.len() as u64 >= r.count {
            break;
        }
        let Some(n) = g.pel.get(&id) else { continue };
        let idle = now.saturating_sub(n.delivery_time);
        if r.min_idle_ms > 0 && idle < r.min_idle_ms {
            continue;
        }
        out.push(Reply::Array(vec![
            id.reply(),
            Reply::Bulk(n.consumer.clone()),
            int(idle),
            int(n.delivery_count),
        ]));
    }
    Reply::Array(out)
}

fn lag_reply(s: &StreamValue, g: &crate::keyspace::value::stream::Group) -> Reply {
    s.lag(g).map_or(Reply::Nil, int)
}

fn entries_read_reply(g: &crate::keyspace::value::stream::Group) -> Reply {
    g.entries_read.map_or(Reply::Nil, int)
}

fn xinfo<'s>(live: &impl Fn(&[u8]) -> Option<&'s StoredValue>, info: &XInfo, now: u64) -> Reply {
    let key = match info {
        XInfo::Stream { key, .. } | XInfo::Groups { key } | XInfo::Consumers { key, .. } => key,
    };
    let s = match stream_of(live(key)) {
        Err(e) => return e,
        Ok(None) => return Reply::from(RedisError::NoSuchKey),
        Ok(Some(s)) => s,
    };
    match info {
        XInfo::Consumers { group, .. } => match s.group(group) {
            None => no_group_for_key(key, group),
            Some(g) => Reply::Array(
                g.consumers
                    .iter()
                    .map(|(name, c)| {
                        map(vec![
                            ("name", Reply::Bulk(name.clone())),
                            ("pending", int(c.pel.len() as u64)),
                            ("idle", int(now.saturating_sub(c.seen_time))),
                        ])
                    })
                    .collect(),
            ),
        },
        XInfo::Groups { .. } => Reply::Array(
            s.groups()
                .iter()
                .map(|(name, g)| {
                    map(vec![
                        ("name", Reply::Bulk(name.clone())),
                        ("consumers", int(g.consumers.len() as u64)),
                        ("pending", int(g.pel.len() as u64)),
                        ("last-delivered-id", g.last_id.reply()),
                        ("entries-read", entries_read_reply(g)),
                        ("lag", lag_reply(s, g)),
                    ])
                })
                .collect(),
        ),
        XInfo::Stream { full, .. } => stream_info(s, *full),
    }
}

fn stream_info(s: &StreamValue, full: Option<u64>) -> Reply {
    let mut fields = vec![
        ("length", int(s.len())),
        ("radix-tree-keys", int(s.nodes() as u64)),
        // Redis counts its radix tree's inner nodes; one per key and the root is close.
        ("radix-tree-nodes", int(s.nodes() as u64 + 1)),
        ("last-generated-id", s.last_id().reply()),
        ("max-deleted-entry-id", s.max_deleted().reply()),
        ("entries-added", int(s.entries_added())),
        ("recorded-first-entry-id", s.first_id().reply()),
    ];
    let Some(count) = full else {
        let edge = |rev: bool| {
            s.range(StreamId::MIN, StreamId::MAX, rev)
                .next()
                .map_or(Reply::Nil, |(id, f)| entry_reply(*id, f))
        };
        fields.push(("groups", int(s.groups().len() as u64)));
        fields.push(("first-entry", edge(false)));
        fields.push(("last-entry", edge(true)));
        return map(fields);
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    fields.push((
        "entries",
        Reply::Array(
            s.range(StreamId::MIN, StreamId::MAX, false)
                .take(limit)
                .map(|(id, f)| entry_reply(*id, f))
                .collect(),
        ),
    ));
    let groups = s
        .groups()
        .iter()
        .map(|(name, g)| {
            let pending = g
                .pel
                .iter()
                .take(limit)
                .map(|(id, n)| {
                    Reply::Array(vec![
                        id.reply(),
                        Reply::Bulk(n.consumer.clone()),
                        int(n.delivery_time),
                        int(n.delivery_count),
                    ])
                })
                .collect();
            let consumers = g
                .consumers
                .iter()
                .map(|(cname, c)| {
                    let pending = c
                        .pel
                        .iter()
                        .take(limit)
                        .filter_map(|id| g.pel.get(id).map(|n| (id, n)))
                        .map(|(id, n)| {
                            Reply::Array(vec![
                                id.reply(),
                                int(n.delivery_time),
                                int(n.delivery_count),
                            ])
                        })
                        .collect();
                    map(vec![
                        ("name", Reply::Bulk(cname.clone())),
                        ("seen-time", int(c.seen_time)),
                        ("pel-count", int(c.pel.len() as u64)),
                        ("pending", Reply::Array(pending)),
                    ])
                })
                .collect();
            map(vec![
                ("name", Reply::Bulk(name.clone())),
                ("last-delivered-id", g.last_id.reply()),
                ("entries-read", entries_read_reply(g)),
                ("lag", lag_reply(s, g)),
                ("pel-count", int(g.pel.len() as u64)),
                ("pending", Reply::Array(pending)),
                ("consumers", Reply::Array(consumers)),
            ])
        })
        .collect();
    fields.push(("groups", Reply::Array(groups)));
    map(fields)
}

/// XINFO HELP and XGROUP HELP, as Redis words them.
fn help(xgroup: bool) -> Reply {
    let (name, lines): (&str, &[&str]) = if xgroup {
        (
            "XGROUP",
            &[
                "CREATE <key> <groupname> <id|$> [option]",
                "    Create a new consumer group. Options are:",
                "    * MKSTREAM",
                "      Create the empty stream if it does not exist.",
                "    * ENTRIESREAD entries_read",
                "      Set the group's entries_read counter (internal use).",
                "CREATECONSUMER <key> <groupname> <consumer>",
                "    Create a new consumer in the specified group.",
                "DELCONSUMER <key> <groupname> <consumer>",
                "    Remove the specified consumer.",
                "DESTROY <key> <groupname>",
                "    Remove the specified group.",
                "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                "    Set the current group ID and entries_read counter.",
            ],
        )
    } else {
        (
            "XINFO",
            &[
                "CONSUMERS <key> <groupname>",
                "    Show consumers of <groupname>.",
                "GROUPS <key>",
                "    Show the stream consumer groups.",
                "STREAM <key> [FULL [COUNT <count>]",
                "    Show information about the stream.",
            ],
        )
    };
    let mut out = vec![Reply::Simple(format!(
        "{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ))];
    out.extend(lines.iter().map(|l| Reply::Simple((*l).to_string())));
    out.push(Reply::Simple("HELP".into()));
    out.push(Reply::Simple("    Print this help.".into()));
    Reply::Array(out)
}
