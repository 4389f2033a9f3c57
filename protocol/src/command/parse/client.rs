//! CLIENT's subcommands (`clientCommand`), with Redis's checks and error texts.

use crate::errors::RedisError;
use bytes::Bytes;

use super::{int, is, text, Result};
use crate::command::{ClientCommand, ClientFilter, ClientType, CommandError, TrackingOptions};
use crate::num::parse_i64;

/// Parses `CLIENT <sub> args...` (`name` is `client|<sub>`, arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<ClientCommand> {
    Ok(match (name, args) {
        ("client|id", []) => ClientCommand::Id,
        ("client|setname", [client_name]) => {
            if !valid_client_name(client_name) {
                return Err(bad_client_name());
            }
            ClientCommand::SetName(client_name.clone())
        }
        ("client|getname", []) => ClientCommand::GetName,
        ("client|setinfo", [attr, value]) => client_setinfo(attr, value)?,
        ("client|list", filter) => ClientCommand::List(list_filter(filter)?),
        ("client|info", []) => ClientCommand::Info,
        ("client|reply", [mode]) => ClientCommand::Reply(reply_mode(mode)?),
        ("client|kill", [addr]) => ClientCommand::Kill {
            filter: ClientFilter {
                addr: Some(addr.clone()),
                ..ClientFilter::default()
            },
            old_form: true,
        },
        ("client|kill", options) => ClientCommand::Kill {
            filter: kill_filter(options)?,
            old_form: false,
        },
        ("client|unblock", [id, rest @ ..]) if rest.len() <= 1 => {
            let id = u64::try_from(int(id)?).unwrap_or(0);
            let error = match rest {
                [] => false,
                [r] if is(r, "timeout") => false,
                [r] if is(r, "error") => true,
                _ => {
                    return Err(CommandError::Other(
                        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into(),
                    ))
                }
            };
            ClientCommand::Unblock { id, error }
        }
        ("client|pause", [timeout, rest @ ..]) if rest.len() <= 1 => {
            let timeout_ms =
                parse_i64(timeout).ok_or(CommandError::Redis(RedisError::TimeoutNotInteger))?;
            let timeout_ms = u64::try_from(timeout_ms)
                .map_err(|_| CommandError::Redis(RedisError::TimeoutNegative))?;
            let all = match rest {
                [] => true,
                [m] if is(m, "all") => true,
                [m] if is(m, "write") => false,
                _ => {
                    return Err(CommandError::Other(
                        "ERR CLIENT PAUSE mode must be WRITE or ALL".into(),
                    ))
                }
            };
            ClientCommand::Pause { timeout_ms, all }
        }
        ("client|unpause", []) => ClientCommand::Unpause,
        ("client|no-evict", [on]) => ClientCommand::NoEvict(switch(on, "on", "off")?),
        ("client|no-touch", [on]) => ClientCommand::NoTouch(switch(on, "on", "off")?),
        ("client|tracking", [on, options @ ..]) => tracking(on, options)?,
        ("client|caching", [yes]) => ClientCommand::Caching(switch(yes, "yes", "no")?),
        ("client|getredir", []) => ClientCommand::GetRedir,
        ("client|trackinginfo", []) => ClientCommand::TrackingInfo,
        _ => return Err(CommandError::Arity(name.into())),
    })
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX prefix ...] [BCAST] [OPTIN] [OPTOUT]
/// [NOLOOP]: the options in Redis's order of checks (those that need the client's state are
/// the node's).
fn tracking(on: &[u8], options: &[Bytes]) -> Result<ClientCommand> {
    let mut t = TrackingOptions::default();
    let mut i = 0;
    while i < options.len() {
        let more = options.len() - 1 - i;
        let opt = &options[i];
        if is(opt, "redirect") && more > 0 {
            if t.redirect.is_some() {
                return Err(CommandError::Other(
                    "ERR A client can only redirect to a single other client".into(),
                ));
            }
            t.redirect = Some(super::int(&options[i + 1])?);
            i += 1;
        } else if is(opt, "bcast") {
            t.bcast = true;
        } else if is(opt, "optin") {
            t.optin = true;
        } else if is(opt, "optout") {
            t.optout = true;
        } else if is(opt, "noloop") {
            t.noloop = true;
        } else if is(opt, "prefix") && more > 0 {
            t.prefixes.push(options[i + 1].clone());
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Ok(ClientCommand::Tracking {
        on: switch(on, "on", "off")?,
        options: t,
    })
}

/// `yes`/`no` style switches: `on` for true, `off` for false, else a syntax error.
fn switch(arg: &[u8], on: &str, off: &str) -> Result<bool> {
    if is(arg, on) {
        Ok(true)
    } else if is(arg, off) {
        Ok(false)
    } else {
        Err(CommandError::Syntax)
    }
}

fn client_type(arg: &[u8]) -> Result<ClientType> {
    if is(arg, "normal") {
        Ok(ClientType::Normal)
    } else if is(arg, "pubsub") {
        Ok(ClientType::PubSub)
    } else if ["master", "replica", "slave"].iter().any(|k| is(arg, k)) {
        Ok(ClientType::Replication)
    } else {
        Err(CommandError::Other(format!(
            "ERR Unknown client type '{}'",
            text(arg)
        )))
    }
}

/// CLIENT LIST's optional `TYPE type` or `ID id [id ...]`.
fn list_filter(filter: &[Bytes]) -> Result<ClientFilter> {
    let mut f = ClientFilter::default();
    match filter {
        [] => {}
        [option, kind] if is(option, "type") => f.kind = Some(client_type(kind)?),
        [option, ids @ ..] if is(option, "id") && !ids.is_empty() => {
            let ids: Option<Vec<u64>> = ids
                .iter()
                .map(|id| {
                    parse_i64(id)
                        .and_then(|n| u64::try_from(n).ok())
                        .filter(|n| *n > 0)
                })
                .collect();
            f.ids = Some(ids.ok_or_else(|| CommandError::Other("ERR Invalid client ID".into()))?);
        }
        _ => return Err(CommandError::Syntax),
    }
    Ok(f)
}

/// CLIENT KILL's `<option> <value>` pairs (`clientKillCommand`), checked in order.
fn kill_filter(options: &[Bytes]) -> Result<ClientFilter> {
    let mut f = ClientFilter {
        skip_me: true,
        ..ClientFilter::default()
    };
    if options.is_empty() {
        return Err(CommandError::Syntax);
    }
    let mut rest = options;
    while let Some((option, tail)) = rest.split_first() {
        let Some((value, tail)) = tail.split_first() else {
            return Err(CommandError::Syntax);
        };
        if is(option, "id") {
            let id = parse_i64(value).filter(|n| *n > 0).ok_or_else(|| {
                CommandError::Other("ERR client-id should be greater than 0".into())
            })?;
            f.ids = Some(vec![id.unsigned_abs()]);
        } else if is(option, "type") {
            f.kind = Some(client_type(value)?);
        } else if is(option, "addr") {
            f.addr = Some(value.clone());
        } else if is(option, "laddr") {
            f.laddr = Some(value.clone());
        } else if is(option, "user") {
            f.user = Some(value.clone());
        } else if is(option, "skipme") {
            f.skip_me = switch(value, "yes", "no")?;
        } else if is(option, "maxage") {
            let age = parse_i64(value).ok_or(CommandError::NotInteger)?;
            f.max_age_secs = Some(u64::try_from(age).unwrap_or(0));
        } else {
            return Err(CommandError::Syntax);
        }
        rest = tail;
    }
    Ok(f)
}

/// Redis's `validateClientAttr`: printable ASCII without spaces (so that CLIENT LIST stays
/// splittable on spaces). An empty name is allowed: it clears the name.
fn valid_client_attr(value: &[u8]) -> bool {
    value.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

pub(super) fn valid_client_name(name: &[u8]) -> bool {
    valid_client_attr(name)
}

pub(super) fn bad_client_name() -> CommandError {
    CommandError::Redis(RedisError::ClientName)
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value. The attribute is returned lowercase.
fn client_setinfo(attr: &[u8], value: &Bytes) -> Result<ClientCommand> {
    let name = ["lib-name", "lib-ver"]
        .into_iter()
        .find(|a| is(attr, a))
        .ok_or_else(|| CommandError::Other(format!("ERR Unrecognized option '{}'", text(attr))))?;
    if !valid_client_attr(value) {
        return Err(CommandError::Other(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            text(attr)
        )));
    }
    Ok(ClientCommand::SetInfo {
        attr: name.to_string(),
        value: value.clone(),
    })
}

/// CLIENT REPLY's argument.
fn reply_mode(mode: &Bytes) -> Result<crate::command::ReplyMode> {
    use crate::command::ReplyMode;
    if mode.eq_ignore_ascii_case(b"on") {
        Ok(ReplyMode::On)
    } else if mode.eq_ignore_ascii_case(b"off") {
        Ok(ReplyMode::Off)
    } else if mode.eq_ignore_ascii_case(b"skip") {
        Ok(ReplyMode::Skip)
    } else {
        Err(CommandError::Syntax)
    }
}
