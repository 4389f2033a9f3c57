//! Request arguments → [`Command`], with Redis 7's validation and error texts.
//!
//! The order of checks follows Redis's `processCommand`: the name is looked up (and, for a
//! container such as CONFIG, the subcommand), then the arity from the table is checked, then
//! the command's own option parsing runs, in the order Redis's implementation runs it, so the
//! first error reported is the one Redis would report.
//!
//! Some validation that Redis does at execution time is done here instead, because it depends
//! only on the arguments (integer syntax, TTL overflow, SETRANGE's size limit, bit offsets):
//! an invalid write never reaches the Raft log. The visible difference is small: Redis would
//! answer, say, WRONGTYPE first where cairn answers the argument error first.

mod bits;
mod blocking;
mod client;
mod geo;
mod hashes;
mod hll;
mod keys;
mod lists;
mod pubsub;
mod scripting;
pub use scripting::NOSCRIPT;
mod server;
mod sets;
mod streams;
mod strings;
mod zsets;

#[cfg(test)]
mod tests;

use bytes::Bytes;

use super::table::{self, CommandSpec};
use super::{CollectionKind, Command, CommandError, Expiry, ReadCommand, MAX_RELATIVE_EXPIRE_MS};
use crate::num::{parse_i64, parse_u64_cursor};

type Result<T> = std::result::Result<T, CommandError>;

/// Parses one request (`args[0]` is the command name) into a [`Command`].
pub fn parse(args: &[Bytes]) -> Result<Command> {
    let Some(name) = args.first() else {
        return Err(unknown_command(args));
    };
    // Containers answered wholly by the node, whose subcommands it parses itself.
    for (container, make) in [
        (
            "cairn",
            super::ConnCommand::Cairn as fn(Vec<Bytes>) -> super::ConnCommand,
        ),
        ("cluster", super::ConnCommand::Cluster),
    ] {
        if name.eq_ignore_ascii_case(container.as_bytes()) {
            if args.len() < 2 {
                return Err(CommandError::Arity(container.into()));
            }
            return Ok(Command::Conn(make(args[1..].to_vec())));
        }
    }
    let Some(mut spec) = table::lookup_command(name) else {
        return Err(unknown_command(args));
    };
    if let (false, Some(sub)) = (spec.subcommands.is_empty(), args.get(1)) {
        spec = spec
            .subcommand(sub)
            .ok_or_else(|| unknown_subcommand(spec, sub))?;
    }
    if !spec.arity_ok(args.len()) {
        return Err(CommandError::Arity(spec.name.into()));
    }
    match (spec.group, spec.name) {
        (
            _,
            name @ ("blpop" | "brpop" | "brpoplpush" | "blmove" | "lmpop" | "blmpop" | "bzpopmin"
            | "bzpopmax" | "zmpop" | "bzmpop"),
        ) => blocking::parse(name, args),
        ("string", name) => strings::parse(name, args),
        ("bitmap", name) => bits::parse(name, args),
        ("hyperloglog", name) => hll::parse(name, args),
        ("geo", name) => geo::parse(name, args),
        ("stream", name) => streams::parse(name, args),
        ("hash", name) => hashes::parse(name, args),
        ("set", name) => sets::parse(name, args),
        ("list", name) => lists::parse(name, args),
        ("sorted_set", name) => zsets::parse(name, args),
        ("pubsub", name) => pubsub::parse(name, args),
        ("scripting", name) => scripting::parse(name, args),
        // Redis files DBSIZE and the FLUSHes under "server"; they are keyspace commands here.
        // WAIT is filed under "generic" but is answered by the node.
        ("generic", "wait") => server::parse("wait", args),
        ("generic", name) | ("server", name @ ("dbsize" | "flushdb" | "flushall" | "swapdb")) => {
            keys::parse(name, args)
        }
        (_, name) => server::parse(name, args),
    }
}

/// Redis's text for an unknown command: the name, then the first arguments quoted, each
/// followed by a space, until 128 bytes of them have been written (each is cut to fit).
fn unknown_command(args: &[Bytes]) -> CommandError {
    const MAX: usize = 128;
    let name = args.first().map_or(&[][..], |n| c_prefix(n, MAX));
    let mut listed = Vec::new();
    for arg in args.iter().skip(1) {
        if listed.len() >= MAX {
            break;
        }
        let room = MAX - listed.len();
        listed.push(b'\'');
        listed.extend_from_slice(c_prefix(arg, room));
        listed.extend_from_slice(b"' ");
    }
    CommandError::Unknown {
        name: one_line(name),
        args: one_line(&listed),
    }
}

/// `unknown subcommand '<sub>'. Try <CONTAINER> HELP.`
fn unknown_subcommand(container: &CommandSpec, sub: &[u8]) -> CommandError {
    CommandError::UnknownSubcommand {
        command: container.name.to_ascii_uppercase(),
        sub: one_line(c_prefix(sub, 128)),
    }
}

/// What C's `%.<max>s` prints of `bytes`: up to the first NUL, at most `max` bytes.
fn c_prefix(bytes: &[u8], max: usize) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(bytes.len())
        .min(max);
    bytes.get(..end).unwrap_or_default()
}

/// Client bytes as error text: lossy UTF-8, with CR and LF turned into spaces as Redis does
/// (an error reply is one line).
fn one_line(bytes: &[u8]) -> String {
    text(bytes).replace(['\r', '\n'], " ")
}

/// Client bytes as text (lossy UTF-8).
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Case-insensitive comparison with an option keyword.
pub(crate) fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// An integer argument, with Redis's strict syntax.
fn int(arg: &[u8]) -> Result<i64> {
    parse_i64(arg).ok_or(CommandError::NotInteger)
}

/// HRANDFIELD's and SRANDMEMBER's count and LPOS's RANK (`getRangeLongFromObjectOrReply`
/// from -LONG_MAX to LONG_MAX): any integer but `i64::MIN`, whose negation would overflow.
fn random_count(arg: &[u8]) -> Result<i64> {
    match int(arg)? {
        i64::MIN => Err(CommandError::OutOfRangeBetween {
            min: -i64::MAX,
            max: i64::MAX,
        }),
        n => Ok(n),
    }
}

/// Redis's `getPositiveLongFromObjectOrReply` with a message: a non-negative integer, else
/// `msg`, which a non-integer gets too.
fn positive(arg: &[u8], msg: &str) -> Result<u64> {
    parse_i64(arg)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| CommandError::Other(msg.into()))
}

/// HSCAN and SSCAN: `key cursor [MATCH pattern] [COUNT count]` (Redis's
/// `scanGenericCommand` with an object: TYPE is a syntax error there). The cursor is parsed
/// leniently (`strtoul`); options may repeat, the last wins. A `*` pattern matches everything
/// and is dropped.
fn collection_scan(
    key: &Bytes,
    kind: CollectionKind,
    cursor: &[u8],
    options: &[Bytes],
) -> Result<ReadCommand> {
    let cursor =
        parse_u64_cursor(cursor).ok_or_else(|| CommandError::Other("ERR invalid cursor".into()))?;
    let mut pattern = None;
    let mut count = 10;
    let mut rest = options;
    while let Some((option, tail)) = rest.split_first() {
        let Some((value, tail)) = tail.split_first() else {
            return Err(CommandError::Syntax);
        };
        if is(option, "count") {
            let n = int(value)?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(option, "match") {
            pattern = (value.as_ref() != b"*").then(|| value.clone());
        } else {
            return Err(CommandError::Syntax);
        }
        rest = tail;
    }
    Ok(ReadCommand::CollectionScan {
        key: key.clone(),
        kind,
        cursor,
        pattern,
        count,
    })
}

/// `items` as (name, value) pairs, or `None` if their number is odd.
fn pairs(items: &[Bytes]) -> Option<Vec<(Bytes, Bytes)>> {
    let chunks = items.chunks_exact(2);
    if !chunks.remainder().is_empty() {
        return None;
    }
    Some(
        chunks
            .filter_map(|pair| match pair {
                [name, value] => Some((name.clone(), value.clone())),
                _ => None,
            })
            .collect(),
    )
}

/// The TTL options of SET and GETEX, and the commands SETEX and PSETEX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TtlOption {
    /// `EX seconds`
    Ex,
    /// `PX milliseconds`
    Px,
    /// `EXAT unix-seconds`
    ExAt,
    /// `PXAT unix-milliseconds`
    PxAt,
}

impl TtlOption {
    fn from_keyword(arg: &[u8]) -> Option<TtlOption> {
        [
            ("ex", TtlOption::Ex),
            ("px", TtlOption::Px),
            ("exat", TtlOption::ExAt),
            ("pxat", TtlOption::PxAt),
        ]
        .into_iter()
        .find(|(word, _)| is(arg, word))
        .map(|(_, option)| option)
    }

    /// Redis's `getExpireMillisecondsOrReply`: the value must be a positive integer, and
    /// converting it to milliseconds (and, for relative TTLs, adding the current time) must
    /// not overflow. `command` names the command in the error.
    fn expiry(self, value: &[u8], command: &str) -> Result<Expiry> {
        let invalid = || CommandError::InvalidExpire(command.into());
        let v = int(value)?;
        if v <= 0 {
            return Err(invalid());
        }
        match self {
            TtlOption::Ex | TtlOption::Px => {
                let ms = if self == TtlOption::Ex {
                    v.checked_mul(1000).ok_or_else(invalid)?
                } else {
                    v
                };
                if ms > MAX_RELATIVE_EXPIRE_MS {
                    return Err(invalid());
                }
                Ok(Expiry::RelativeMs(ms))
            }
            TtlOption::ExAt => Ok(Expiry::AtMs(v.checked_mul(1000).ok_or_else(invalid)?)),
            TtlOption::PxAt => Ok(Expiry::AtMs(v)),
        }
    }
}
