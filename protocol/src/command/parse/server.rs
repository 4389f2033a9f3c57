//! Connection, server and transaction commands (the "connection", "server" and
//! "transactions" groups), handled by the node itself.

use crate::errors::RedisError;
use bytes::Bytes;

use super::{int, is, pairs, text, Result};
use crate::command::{
    AclCommand, Command, CommandCommand, CommandError, ConfigCommand, ConnCommand, Hello,
    LatencyCommand, ListFilter, SlowLogCommand,
};
use crate::num::parse_i64;

/// Parses the connection/server command `name` (lowercase, `container|sub` for subcommands;
/// arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    use ConnCommand as C;
    if name == "memory|usage" {
        return memory_usage(args);
    }
    let conn = match (name, args) {
        ("ping", [_]) => C::Ping(None),
        ("ping", [_, message]) => C::Ping(Some(message.clone())),
        ("echo", [_, message]) => C::Echo(message.clone()),
        ("hello", [_, rest @ ..]) => C::Hello(hello(rest)?),
        ("select", [_, index]) => C::Select(select(index)?),
        ("quit", [_, ..]) => C::Quit,
        ("reset", [_]) => C::Reset,
        (name, [_, _, rest @ ..]) if name.starts_with("acl|") => C::Acl(acl(name, rest)?),
        ("monitor", [_]) => C::Monitor,
        ("debug", _) => C::Debug,
        ("slowlog|get", [_, _]) => C::SlowLog(SlowLogCommand::Get(None)),
        ("slowlog|get", [_, _, count]) => {
            let n = parse_i64(count).filter(|n| *n >= -1).ok_or_else(|| {
                CommandError::Other("ERR count should be greater than or equal to -1".into())
            })?;
            C::SlowLog(SlowLogCommand::Get(Some(n)))
        }
        ("slowlog|len", [_, _]) => C::SlowLog(SlowLogCommand::Len),
        ("slowlog|reset", [_, _]) => C::SlowLog(SlowLogCommand::Reset),
        ("latency|latest", [_, _]) => C::Latency(LatencyCommand::Latest),
        ("latency|history", [_, _, event]) => C::Latency(LatencyCommand::History(event.clone())),
        ("latency|reset", [_, _, events @ ..]) => {
            C::Latency(LatencyCommand::Reset(events.to_vec()))
        }
        ("latency|doctor", [_, _]) => C::Latency(LatencyCommand::Doctor),
        ("latency|histogram", [_, _, names @ ..]) => C::Latency(LatencyCommand::Histogram(
            names.iter().map(|n| text(n).to_ascii_lowercase()).collect(),
        )),
        ("role", [_]) => C::Role,
        ("time", [_]) => C::Time,
        ("save", [_]) => C::Save,
        ("bgsave", [_]) => C::BgSave,
        ("bgsave", [_, opt]) if opt.eq_ignore_ascii_case(b"schedule") => C::BgSave,
        ("bgsave", _) => return Err(CommandError::Syntax),
        ("lastsave", [_]) => C::LastSave,
        ("wait", [_, replicas, timeout]) => C::Wait {
            replicas: int(replicas)?,
            timeout_ms: wait_timeout(timeout)?,
        },
        ("shutdown", [_, options @ ..]) => shutdown(options)?,
        ("readonly", [_]) => C::ReadOnly,
        ("readwrite", [_]) => C::ReadWrite,
        ("multi", [_]) => C::Multi,
        ("exec", [_]) => C::Exec,
        ("discard", [_]) => C::Discard,
        ("watch", [_, keys @ ..]) => C::Watch(keys.to_vec()),
        ("unwatch", [_]) => C::Unwatch,
        ("info", [_, sections @ ..]) => C::Info(
            sections
                .iter()
                .map(|s| text(s).to_ascii_lowercase())
                .collect(),
        ),
        ("auth", [_, password]) => C::Auth {
            username: None,
            password: password.clone(),
        },
        ("auth", [_, username, password]) => C::Auth {
            username: Some(username.clone()),
            password: password.clone(),
        },
        ("auth", _) => return Err(CommandError::Syntax),
        ("command", [_]) => C::Command(CommandCommand::All),
        ("command|count", [_, _]) => C::Command(CommandCommand::Count),
        ("command|info", [_, _, names @ ..]) => C::Command(CommandCommand::Info(names.to_vec())),
        ("command|docs", [_, _, names @ ..]) => C::Command(CommandCommand::Docs(names.to_vec())),
        ("command|getkeys", [_, _, request @ ..]) => {
            C::Command(CommandCommand::GetKeys(request.to_vec()))
        }
        ("command|list", [_, _, filter @ ..]) => {
            C::Command(CommandCommand::List(command_list_filter(filter)?))
        }
        (name, [_, _, rest @ ..]) if name.starts_with("client|") => {
            C::Client(super::client::parse(name, rest)?)
        }
        ("config|get", [_, _, patterns @ ..]) => C::Config(ConfigCommand::Get(patterns.to_vec())),
        ("config|set", [_, _, rest @ ..]) => {
            C::Config(ConfigCommand::Set(pairs(rest).ok_or(CommandError::Syntax)?))
        }
        ("config|resetstat", [_, _]) => C::Config(ConfigCommand::ResetStat),
        ("config|rewrite", [_, _]) => C::Config(ConfigCommand::Rewrite),
        // PING takes at most one argument; anything else is an arity error too.
        _ => return Err(CommandError::Arity(name.into())),
    };
    Ok(Command::Conn(conn))
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]] (`helloCommand`).
fn hello(args: &[Bytes]) -> Result<Hello> {
    let mut hello = Hello {
        protover: None,
        auth: None,
        setname: None,
    };
    let Some((version, mut options)) = args.split_first() else {
        return Ok(hello);
    };
    let version = parse_i64(version).ok_or(CommandError::Redis(RedisError::ProtocolVersion))?;
    hello.protover = match version {
        2 => Some(2),
        3 => Some(3),
        _ => {
            return Err(CommandError::Other(
                "NOPROTO unsupported protocol version".into(),
            ))
        }
    };
    loop {
        options = match options {
            [] => return Ok(hello),
            [option, username, password, rest @ ..] if is(option, "auth") => {
                hello.auth = Some((username.clone(), password.clone()));
                rest
            }
            [option, client_name, rest @ ..] if is(option, "setname") => {
                if !super::client::valid_client_name(client_name) {
                    return Err(super::client::bad_client_name());
                }
                hello.setname = Some(client_name.clone());
                rest
            }
            [option, ..] => {
                return Err(CommandError::Other(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    text(option)
                )))
            }
        };
    }
}

/// SELECT index: an `int` (Redis's `getIntFromObjectOrReply`, whose error for a valid integer
/// outside `int` is its own); a negative index is out of range here, too large ones are for
/// the node to refuse (it knows how many databases there are).
fn select(index: &[u8]) -> Result<u32> {
    let index = i32::try_from(int(index)?).map_err(|_| CommandError::OutOfRangeBetween {
        min: i32::MIN.into(),
        max: i32::MAX.into(),
    })?;
    u32::try_from(index).map_err(|_| CommandError::Redis(RedisError::DbIndexOutOfRange))
}

/// COMMAND LIST's optional `FILTERBY MODULE|ACLCAT|PATTERN arg`.
fn command_list_filter(filter: &[Bytes]) -> Result<Option<ListFilter>> {
    match filter {
        [] => Ok(None),
        [option, kind, arg] if is(option, "filterby") => {
            let arg = arg.clone();
            if is(kind, "module") {
                Ok(Some(ListFilter::Module(arg)))
            } else if is(kind, "aclcat") {
                Ok(Some(ListFilter::AclCat(arg)))
            } else if is(kind, "pattern") {
                Ok(Some(ListFilter::Pattern(arg)))
            } else {
                Err(CommandError::Syntax)
            }
        }
        _ => Err(CommandError::Syntax),
    }
}

/// MEMORY USAGE key [SAMPLES count]: a read of one key (SAMPLES is accepted and has no effect:
/// the size is computed from the whole stored value).
fn memory_usage(args: &[Bytes]) -> Result<Command> {
    let [_, _, key, rest @ ..] = args else {
        return Err(CommandError::Arity("memory|usage".into()));
    };
    match rest {
        [] => {}
        [option, count] if is(option, "samples") => {
            if int(count)? < 0 {
                return Err(CommandError::Syntax);
            }
        }
        _ => return Err(CommandError::Syntax),
    }
    Ok(Command::Read(crate::command::ReadCommand::MemoryUsage {
        key: key.clone(),
    }))
}

/// ACL's subcommands (`aclCommand`): the arguments after the subcommand's name.
fn acl(name: &str, args: &[Bytes]) -> Result<AclCommand> {
    Ok(match (name, args) {
        ("acl|setuser", [user, rules @ ..]) => {
            if !crate::acl::valid_name(user) {
                return Err(CommandError::Other(
                    "ERR Usernames can't contain spaces or null characters".into(),
                ));
            }
            AclCommand::SetUser {
                name: user.clone(),
                rules: rules.to_vec(),
            }
        }
        ("acl|deluser", users) if !users.is_empty() => AclCommand::DelUser(users.to_vec()),
        ("acl|getuser", [user]) => AclCommand::GetUser(user.clone()),
        ("acl|list", []) => AclCommand::List,
        ("acl|users", []) => AclCommand::Users,
        ("acl|whoami", []) => AclCommand::WhoAmI,
        ("acl|cat", []) => AclCommand::Cat(None),
        ("acl|cat", [category]) => AclCommand::Cat(Some(category.clone())),
        ("acl|genpass", []) => AclCommand::GenPass(256),
        ("acl|genpass", [bits]) => {
            let bits = int(bits)?;
            if !(1..=4096).contains(&bits) {
                return Err(CommandError::Other("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096".into()));
            }
            AclCommand::GenPass(bits.unsigned_abs())
        }
        ("acl|load" | "acl|save", []) => AclCommand::File,
        _ => return Err(CommandError::Arity(name.into())),
    })
}

/// SHUTDOWN's options as Redis reads them: any order; ABORT alone; not both SAVE and NOSAVE.
fn shutdown(options: &[Bytes]) -> Result<ConnCommand> {
    let (mut save, mut nosave, mut other, mut abort) = (false, false, false, false);
    for opt in options {
        if is(opt, "save") {
            save = true;
        } else if is(opt, "nosave") {
            nosave = true;
        } else if is(opt, "now") || is(opt, "force") {
            other = true;
        } else if is(opt, "abort") {
            abort = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if (abort && (save || nosave || other)) || (save && nosave) {
        return Err(CommandError::Syntax);
    }
    Ok(ConnCommand::Shutdown { save, abort })
}

/// WAIT's timeout in milliseconds, with Redis's errors (`getTimeoutFromObjectOrReply`).
fn wait_timeout(arg: &[u8]) -> Result<u64> {
    let ms = parse_i64(arg).ok_or(CommandError::Redis(RedisError::TimeoutNotInteger))?;
    u64::try_from(ms).map_err(|_| CommandError::Redis(RedisError::TimeoutNegative))
}
