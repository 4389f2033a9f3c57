//! Stream commands (t_stream.c): XADD, XLEN, XRANGE, XREVRANGE, XREAD, XDEL, XTRIM, XSETID,
//! XINFO, XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM.
//!
//! Arguments are checked in the order Redis checks them, but all before the key is looked
//! up (Redis looks up some keys first: XACK of a missing key answers 0 even with a bad ID).

use crate::errors::RedisError;
use bytes::Bytes;

use super::{int, is, Result};
use crate::command::stream::{
    GroupRead, GroupStart, PendingRange, ReadFrom, StreamId, Trim, TrimTo, XAddId, XAutoClaim,
    XClaim, XGroupOp, XInfo, XReadGroup,
};
use crate::command::{
    BlockingCommand, BlockingRead, Command, CommandError, ReadCommand, WriteCommand,
};

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

fn err(text: &str) -> CommandError {
    CommandError::Other(text.into())
}

/// `strtoull`-style digits only (Redis's `string2ull` on what clients send).
fn u64_arg(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() || !arg.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(arg).ok()?.parse().ok()
}

/// Redis's `streamGenericParseIDOrReply`: `-`, `+` (unless `strict`), `<ms>` (sequence
/// `missing_seq`) or `<ms>-<seq>`.
fn id_arg(arg: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId> {
    if arg.len() > 127 {
        return Err(err(INVALID_ID));
    }
    match arg {
        b"-" if !strict => return Ok(StreamId::MIN),
        b"+" if !strict => return Ok(StreamId::MAX),
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&b| b == b'-') {
        Some(dash) => (&arg[..dash], Some(&arg[dash + 1..])),
        None => (arg, None),
    };
    let ms = u64_arg(ms).ok_or_else(|| err(INVALID_ID))?;
    let seq = match seq {
        Some(seq) => u64_arg(seq).ok_or_else(|| err(INVALID_ID))?,
        None => missing_seq,
    };
    Ok(StreamId { ms, seq })
}

/// A strict ID (no `-` or `+`), as most commands take one.
pub(crate) fn strict_id(arg: &[u8]) -> Result<StreamId> {
    id_arg(arg, 0, true)
}

/// A range bound (XRANGE, XPENDING, XAUTOCLAIM): `(` makes it exclusive, moved here to the
/// next ID up (`start`) or down (end).
fn interval(arg: &[u8], start: bool) -> Result<StreamId> {
    let missing_seq = if start { 0 } else { u64::MAX };
    match arg.strip_prefix(b"(") {
        Some(rest) if !rest.is_empty() => {
            let id = id_arg(rest, missing_seq, true)?;
            let moved = if start { id.next() } else { id.prev() };
            moved.ok_or_else(|| {
                err(if start {
                    "ERR invalid start ID for the interval"
                } else {
                    "ERR invalid end ID for the interval"
                })
            })
        }
        _ => id_arg(arg, missing_seq, false),
    }
}

fn ll(arg: &[u8]) -> Result<i64> {
    int(arg)
}

/// BLOCK's timeout in milliseconds (`getTimeoutFromObjectOrReply` with UNIT_MILLISECONDS);
/// 0 blocks for ever.
fn block_ms(arg: &[u8]) -> Result<u64> {
    let ms = int(arg).map_err(|_| err(RedisError::TimeoutNotInteger.text()))?;
    u64::try_from(ms).map_err(|_| err(RedisError::TimeoutNegative.text()))
}

/// Parses the stream command `name` (lowercase, arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    use Command::{Read, Write};
    let key = || args[1].clone();
    Ok(match name {
        "xadd" => Write(xadd(args)?),
        "xlen" => Read(ReadCommand::XLen { key: key() }),
        "xrange" | "xrevrange" => Read(xrange(args, name == "xrevrange")?),
        "xdel" => Write(WriteCommand::XDel {
            key: key(),
            ids: args[2..]
                .iter()
                .map(|a| strict_id(a))
                .collect::<Result<_>>()?,
        }),
        "xtrim" => {
            let (trim, _, next) = trim_options(args, 2, false)?;
            match (trim, next < args.len()) {
                (Some(trim), false) => Write(WriteCommand::XTrim { key: key(), trim }),
                (None, _) => {
                    return Err(err(
                        "ERR syntax error, XTRIM must be called with a trimming strategy",
                    ))
                }
                (Some(_), true) => return Err(CommandError::Syntax),
            }
        }
        "xsetid" => Write(xsetid(args)?),
        "xack" => Write(WriteCommand::XAck {
            key: key(),
            group: args[2].clone(),
            ids: args[3..]
                .iter()
                .map(|a| strict_id(a))
                .collect::<Result<_>>()?,
        }),
        "xread" | "xreadgroup" => xread(args, name == "xreadgroup")?,
        "xpending" => Read(xpending(args)?),
        "xclaim" => Write(WriteCommand::XClaim(xclaim(args)?)),
        "xautoclaim" => Write(WriteCommand::XAutoClaim(xautoclaim(args)?)),
        "xinfo|stream" | "xinfo|groups" | "xinfo|consumers" => {
            Read(ReadCommand::XInfo(xinfo(args)?))
        }
        "xgroup|create"
        | "xgroup|setid"
        | "xgroup|destroy"
        | "xgroup|createconsumer"
        | "xgroup|delconsumer" => Write(WriteCommand::XGroup(xgroup(name, args)?)),
        "xinfo|help" | "xgroup|help" => Read(ReadCommand::XHelp {
            xgroup: name == "xgroup|help",
        }),
        _ => return Err(CommandError::Arity(name.into())),
    })
}

/// The trimming options of XADD and XTRIM from `args[from..]`: the trim (if any) and the
/// index of the first argument that is not one (XADD's ID). Redis's
/// `streamParseAddOrTrimArgsOrReply`.
fn trim_options(args: &[Bytes], from: usize, xadd: bool) -> Result<(Option<Trim>, bool, usize)> {
    let mut to = None;
    let mut approx = false;
    let mut limit = None;
    let mut nomk = false;
    let mut i = from;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i];
        let strategy = if is(opt, "maxlen") {
            Some(true)
        } else if is(opt, "minid") {
            Some(false)
        } else {
            None
        };
        if xadd && opt.as_ref() == b"*" {
            break;
        } else if let (Some(maxlen), true) = (strategy, more > 0) {
            if to.is_some() {
                return Err(err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"));
            }
            approx = false;
            let next = args[i + 1].as_ref();
            if more >= 2 && (next == b"~" || next == b"=") {
                approx = next == b"~";
                i += 1;
            }
            let value = &args[i + 1];
            to = Some(if maxlen {
                let n = ll(value)?;
                TrimTo::MaxLen(
                    u64::try_from(n).map_err(|_| err("ERR The MAXLEN argument must be >= 0."))?,
                )
            } else {
                TrimTo::MinId(strict_id(value)?)
            });
            i += 2;
        } else if is(opt, "limit") && more > 0 {
            let n = ll(&args[i + 1])?;
            limit =
                Some(u64::try_from(n).map_err(|_| err("ERR The LIMIT argument must be >= 0."))?);
            i += 2;
        } else if xadd && is(opt, "nomkstream") {
            nomk = true;
            i += 1;
        } else if xadd {
            break;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if limit.is_some_and(|l| l > 0) && to.is_none() {
        return Err(err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if limit.is_some() && !approx {
        return Err(err(
            "ERR syntax error, LIMIT cannot be used without the special ~ option",
        ));
    }
    Ok((to.map(|to| Trim { to, approx, limit }), nomk, i))
}

fn xadd(args: &[Bytes]) -> Result<WriteCommand> {
    let (trim, nomkstream, at) = trim_options(args, 2, true)?;
    let Some(id_arg_bytes) = args.get(at) else {
        return Err(CommandError::Arity("xadd".into()));
    };
    let id = if id_arg_bytes.as_ref() == b"*" {
        XAddId::Auto
    } else {
        match id_arg_bytes.strip_suffix(b"-*") {
            Some(ms) => XAddId::AutoSeq(u64_arg(ms).ok_or_else(|| err(INVALID_ID))?),
            None => XAddId::Explicit(strict_id(id_arg_bytes)?),
        }
    };
    let rest = &args[at + 1..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(CommandError::Arity("xadd".into()));
    }
    if id == XAddId::Explicit(StreamId::MIN) {
        return Err(err("ERR The ID specified in XADD must be greater than 0-0"));
    }
    Ok(WriteCommand::XAdd {
        key: args[1].clone(),
        nomkstream,
        trim,
        id,
        fields: super::pairs(rest).unwrap_or_default(),
    })
}

fn xrange(args: &[Bytes], rev: bool) -> Result<ReadCommand> {
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = interval(start_arg, true)?;
    let end = interval(end_arg, false)?;
    let mut count = None;
    let mut rest = &args[4..];
    while let Some((opt, tail)) = rest.split_first() {
        match tail.split_first() {
            Some((n, tail)) if is(opt, "count") => {
                count = Some(u64::try_from(ll(n)?).unwrap_or(0));
                rest = tail;
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    Ok(ReadCommand::XRange {
        key: args[1].clone(),
        start,
        end,
        count,
        rev,
    })
}

fn xsetid(args: &[Bytes]) -> Result<WriteCommand> {
    let last = strict_id(&args[2])?;
    let mut entries_added = None;
    let mut max_deleted = None;
    let mut rest = &args[3..];
    while let Some((opt, tail)) = rest.split_first() {
        let Some((value, tail)) = tail.split_first() else {
            return Err(CommandError::Syntax);
        };
        if is(opt, "entriesadded") {
            let n = ll(value)?;
            entries_added =
                Some(u64::try_from(n).map_err(|_| err("ERR entries_added must be positive"))?);
        } else if is(opt, "maxdeletedid") {
            let id = strict_id(value)?;
            if last < id {
                return Err(err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"));
            }
            max_deleted = Some(id);
        } else {
            return Err(CommandError::Syntax);
        }
        rest = tail;
    }
    Ok(WriteCommand::XSetId {
        key: args[1].clone(),
        last,
        entries_added,
        max_deleted,
    })
}

/// XREAD and XREADGROUP (Redis's `xreadCommand`).
fn xread(args: &[Bytes], group_form: bool) -> Result<Command> {
    let mut timeout = None;
    let mut count = None;
    let mut group = None;
    let mut noack = false;
    let mut streams_at = None;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let opt = &args[i];
        if is(opt, "block") && more > 0 {
            timeout = Some(block_ms(&args[i + 1])?);
            i += 2;
        } else if is(opt, "count") && more > 0 {
            count = Some(u64::try_from(ll(&args[i + 1])?).unwrap_or(0));
            i += 2;
        } else if is(opt, "streams") && more > 0 {
            streams_at = Some(i + 1);
            break;
        } else if is(opt, "group") && more >= 2 {
            if !group_form {
                return Err(err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 3;
        } else if is(opt, "noack") {
            if !group_form {
                return Err(err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            noack = true;
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let Some(at) = streams_at else {
        return Err(CommandError::Syntax);
    };
    let listed = &args[at..];
    if !listed.len().is_multiple_of(2) {
        return Err(err(if group_form {
            "ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified."
        } else {
            "ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified."
        }));
    }
    if group_form && group.is_none() {
        return Err(err("ERR Missing GROUP option for XREADGROUP"));
    }
    let (keys, ids) = listed.split_at(listed.len() / 2);
    // COUNT 0 is no limit.
    let count = count.filter(|&c| c > 0);
    let Some((group, consumer)) = group else {
        let streams = paired(keys, ids, |id| {
            match id {
            b"$" => Ok(ReadFrom::Last),
            b">" => Err(err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")),
            _ => Ok(ReadFrom::After(strict_id(id)?)),
        }
        })?;
        let read = ReadCommand::XRead { count, streams };
        return Ok(match timeout {
            Some(timeout_ms) => Command::BlockingRead(BlockingRead { read, timeout_ms }),
            None => Command::Read(read),
        });
    };
    let streams = paired(keys, ids, |id| {
        match id {
        b">" => Ok(GroupRead::New),
        b"$" => Err(err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")),
        _ => Ok(GroupRead::Pending(strict_id(id)?)),
    }
    })?;
    let op = WriteCommand::XReadGroup(XReadGroup {
        group,
        consumer,
        count,
        noack,
        streams,
    });
    Ok(match timeout {
        Some(timeout_ms) => Command::Blocking(BlockingCommand { op, timeout_ms }),
        None => Command::Write(op),
    })
}

/// Each key with what `parse` makes of its ID (the lists of XREAD and XREADGROUP).
fn paired<T>(
    keys: &[Bytes],
    ids: &[Bytes],
    parse: impl Fn(&[u8]) -> Result<T>,
) -> Result<Vec<(Bytes, T)>> {
    keys.iter()
        .zip(ids)
        .map(|(key, id)| Ok((key.clone(), parse(id)?)))
        .collect()
}

fn xpending(args: &[Bytes]) -> Result<ReadCommand> {
    let (key, group) = (args[1].clone(), args[2].clone());
    if args.len() == 3 {
        return Ok(ReadCommand::XPending {
            key,
            group,
            range: None,
        });
    }
    if args.len() < 6 || args.len() > 9 {
        return Err(CommandError::Syntax);
    }
    let mut at = 3;
    let mut min_idle_ms = 0;
    if is(&args[3], "idle") {
        min_idle_ms = u64::try_from(ll(&args[4])?).unwrap_or(0);
        if args.len() < 8 {
            return Err(CommandError::Syntax);
        }
        at += 2;
    }
    let count = u64::try_from(ll(&args[at + 2])?).unwrap_or(0);
    let start = interval(&args[at], true)?;
    let end = interval(&args[at + 1], false)?;
    let consumer = args.get(at + 3).cloned();
    if args.len() > at + 4 {
        return Err(CommandError::Syntax);
    }
    Ok(ReadCommand::XPending {
        key,
        group,
        range: Some(PendingRange {
            min_idle_ms,
            start,
            end,
            count,
            consumer,
        }),
    })
}

fn xclaim(args: &[Bytes]) -> Result<XClaim> {
    let min_idle = int(&args[4])
        .map_err(|_| err("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let ids: Vec<StreamId> = args[5..].iter().map_while(|a| strict_id(a).ok()).collect();
    let mut claim = XClaim {
        key: args[1].clone(),
        group: args[2].clone(),
        consumer: args[3].clone(),
        min_idle_ms: min_idle as u64,
        ids,
        idle_ms: None,
        time_ms: None,
        retry_count: None,
        force: false,
        justid: false,
        last_id: None,
    };
    let mut j = 5 + claim.ids.len();
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        let value = |what: &str| {
            int(&args[j + 1])
                .map_err(|_| err(&format!("ERR Invalid {what} option argument for XCLAIM")))
        };
        if is(opt, "force") {
            claim.force = true;
        } else if is(opt, "justid") {
            claim.justid = true;
        } else if is(opt, "idle") && more > 0 {
            claim.idle_ms = Some(value("IDLE")?);
            claim.time_ms = None;
            j += 1;
        } else if is(opt, "time") && more > 0 {
            claim.time_ms = Some(value("TIME")?);
            claim.idle_ms = None;
            j += 1;
        } else if is(opt, "retrycount") && more > 0 {
            claim.retry_count = u64::try_from(value("RETRYCOUNT")?).ok();
            j += 1;
        } else if is(opt, "lastid") && more > 0 {
            claim.last_id = Some(strict_id(&args[j + 1])?);
            j += 1;
        } else {
            return Err(CommandError::Other(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    Ok(claim)
}

fn xautoclaim(args: &[Bytes]) -> Result<XAutoClaim> {
    let min_idle = int(&args[4])
        .map_err(|_| err("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = interval(&args[5], true)?;
    let mut count = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "count") && more > 0 {
            let n = int(&args[j + 1]).map_err(|_| err(RedisError::CountNotPositive.text()))?;
            if !(1..=i64::MAX / 16).contains(&n) {
                return Err(err(RedisError::CountNotPositive.text()));
            }
            count = n as u64;
            j += 1;
        } else if is(&args[j], "justid") {
            justid = true;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    Ok(XAutoClaim {
        key: args[1].clone(),
        group: args[2].clone(),
        consumer: args[3].clone(),
        min_idle_ms: min_idle as u64,
        start,
        count,
        justid,
    })
}

fn xinfo(args: &[Bytes]) -> Result<XInfo> {
    let key = args[2].clone();
    if is(&args[1], "consumers") {
        if args.len() != 4 {
            return Err(CommandError::subcommand_syntax("xinfo", &args[1]));
        }
        return Ok(XInfo::Consumers {
            key,
            group: args[3].clone(),
        });
    }
    if is(&args[1], "groups") {
        if args.len() != 3 {
            return Err(CommandError::subcommand_syntax("xinfo", &args[1]));
        }
        return Ok(XInfo::Groups { key });
    }
    // XINFO STREAM key [FULL [COUNT n]]
    let full = match &args[3..] {
        [] => None,
        [f] if is(f, "full") => Some(10),
        [f, c, n] if is(f, "full") && is(c, "count") => Some(u64::try_from(int(n)?).unwrap_or(10)),
        _ => return Err(CommandError::subcommand_syntax("xinfo", &args[1])),
    };
    Ok(XInfo::Stream { key, full })
}

fn xgroup(name: &str, args: &[Bytes]) -> Result<XGroupOp> {
    let sub = name.trim_start_matches("xgroup|");
    let (key, group) = (args[2].clone(), args[3].clone());
    let start = |arg: &Bytes, strict: bool| -> Result<GroupStart> {
        Ok(match arg.as_ref() {
            b"$" => GroupStart::Last,
            _ if strict => GroupStart::Id(strict_id(arg)?),
            _ => GroupStart::Id(id_arg(arg, 0, false)?),
        })
    };
    Ok(match sub {
        "create" | "setid" => {
            let mut mkstream = false;
            let mut entries_read = None;
            let mut i = 5;
            while i < args.len() {
                if sub == "create" && is(&args[i], "mkstream") {
                    mkstream = true;
                    i += 1;
                } else if is(&args[i], "entriesread") && i + 1 < args.len() {
                    let n = int(&args[i + 1])?;
                    if n < -1 {
                        return Err(err("ERR value for ENTRIESREAD must be positive or -1"));
                    }
                    entries_read = (n >= 0).then_some(n);
                    i += 2;
                } else {
                    return Err(CommandError::subcommand_syntax("xgroup", &args[1]));
                }
            }
            if sub == "create" {
                XGroupOp::Create {
                    key,
                    group,
                    start: start(&args[4], true)?,
                    mkstream,
                    entries_read,
                }
            } else {
                if args.len() != 5 && args.len() != 7 {
                    return Err(CommandError::subcommand_syntax("xgroup", &args[1]));
                }
                XGroupOp::SetId {
                    key,
                    group,
                    start: start(&args[4], false)?,
                    entries_read,
                }
            }
        }
        "destroy" => XGroupOp::Destroy { key, group },
        "createconsumer" => XGroupOp::CreateConsumer {
            key,
            group,
            consumer: args[4].clone(),
        },
        _ => XGroupOp::DelConsumer {
            key,
            group,
            consumer: args[4].clone(),
        },
    })
}
