//! EVAL, EVALSHA, their `_RO` forms and SCRIPT (the "scripting" group).

use crate::errors::RedisError;
use bytes::Bytes;

use super::{int, is, Result};
use crate::command::{
    Command, CommandError, ConnCommand, ReadCommand, RestorePolicy, ScriptRef, WriteCommand,
};

/// Redis's reply to an EVALSHA of a script the cache does not hold.
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// Parses the scripting command `name` (lowercase, `script|sub` for subcommands; arity
/// already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    match (name, args) {
        ("eval" | "eval_ro" | "evalsha" | "evalsha_ro", [_, script, numkeys, rest @ ..]) => {
            eval(name, script, numkeys, rest)
        }
        ("script|load", [_, _, body]) => Ok(Command::Write(WriteCommand::ScriptLoad {
            body: body.clone(),
        })),
        ("script|exists", [_, _, shas @ ..]) => Ok(Command::Read(ReadCommand::ScriptExists {
            shas: shas.to_vec(),
        })),
        // SCRIPT FLUSH with more than one option is refused by its own check, below.
        ("function|flush", [_, _, _, _, ..]) => {
            Err(CommandError::subcommand_syntax("function", b"flush"))
        }
        ("script|flush", [_, _]) => Ok(Command::Write(WriteCommand::ScriptFlush)),
        ("script|flush", [_, _, mode]) if is(mode, "async") || is(mode, "sync") => {
            Ok(Command::Write(WriteCommand::ScriptFlush))
        }
        ("script|flush", _) => Err(CommandError::Other(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option".into(),
        )),
        ("script|kill" | "function|kill", _) => Ok(Command::Conn(ConnCommand::ScriptKill)),
        ("fcall" | "fcall_ro", [_, function, numkeys, rest @ ..]) => {
            if crate::num::parse_i64(numkeys).is_none() {
                return Err(CommandError::Other(
                    "ERR Bad number of keys provided".into(),
                ));
            }
            let (keys, args) = split_keys(numkeys, rest)?;
            Ok(Command::Write(WriteCommand::FCall {
                function: function.clone(),
                keys,
                args,
                read_only: name == "fcall_ro",
            }))
        }
        ("function|load", [_, _, rest @ ..]) => function_load(rest),
        ("function|delete", [_, _, library]) => Ok(Command::Write(WriteCommand::FunctionDelete {
            library: library.clone(),
        })),
        ("function|flush", [_, _]) => Ok(Command::Write(WriteCommand::FunctionFlush)),
        ("function|flush", [_, _, mode]) if is(mode, "async") || is(mode, "sync") => {
            Ok(Command::Write(WriteCommand::FunctionFlush))
        }
        ("function|flush", _) => Err(CommandError::Other(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into(),
        )),
        ("function|list", [_, _, rest @ ..]) => function_list(rest),
        ("function|stats", _) => Ok(Command::Read(ReadCommand::FunctionStats)),
        ("function|dump", _) => Ok(Command::Read(ReadCommand::FunctionDump)),
        ("function|restore", [_, _, payload, policy @ ..]) => {
            let policy = match policy {
                [] => RestorePolicy::Append,
                [p] if is(p, "append") => RestorePolicy::Append,
                [p] if is(p, "replace") => RestorePolicy::Replace,
                [p] if is(p, "flush") => RestorePolicy::Flush,
                [_] => {
                    return Err(CommandError::Other(
                        "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
                            .into(),
                    ))
                }
                _ => {
                    return Err(CommandError::subcommand_syntax("function", b"restore"))
                }
            };
            Ok(Command::Write(WriteCommand::FunctionRestore {
                payload: payload.clone(),
                policy,
            }))
        }
        _ => Err(CommandError::Syntax),
    }
}

/// `EVAL script numkeys [key ...] [arg ...]`, checked in the order of Redis's
/// `evalGenericCommand`; an EVALSHA whose digest cannot match (not 40 characters) is refused
/// at once, as Redis does, without a trip through the log.
fn eval(name: &str, script: &Bytes, numkeys: &[u8], rest: &[Bytes]) -> Result<Command> {
    let sha = name.starts_with("evalsha");
    if sha && script.len() != 40 {
        return Err(CommandError::Other(NOSCRIPT.into()));
    }
    let (keys, args) = split_keys(numkeys, rest)?;
    let script = if sha {
        ScriptRef::Sha(String::from_utf8_lossy(script).to_ascii_lowercase())
    } else {
        ScriptRef::Body(script.clone())
    };
    Ok(Command::Write(WriteCommand::Eval {
        script,
        keys,
        args,
        read_only: name.ends_with("_ro"),
    }))
}

/// `numkeys [key ...] [arg ...]` split into keys and arguments, with Redis's errors.
fn split_keys(numkeys: &[u8], rest: &[Bytes]) -> Result<(Vec<Bytes>, Vec<Bytes>)> {
    let numkeys = int(numkeys)?;
    if numkeys > rest.len() as i64 {
        return Err(CommandError::Redis(RedisError::NumkeysTooMany));
    }
    let Ok(numkeys) = usize::try_from(numkeys) else {
        return Err(CommandError::Other(
            "ERR Number of keys can't be negative".into(),
        ));
    };
    let (keys, args) = rest.split_at(numkeys);
    Ok((keys.to_vec(), args.to_vec()))
}

/// `FUNCTION LOAD [REPLACE] code`.
fn function_load(rest: &[Bytes]) -> Result<Command> {
    let (replace, rest) = match rest {
        [first, tail @ ..] if is(first, "replace") => (true, tail),
        _ => (false, rest),
    };
    match rest {
        [code] => Ok(Command::Write(WriteCommand::FunctionLoad {
            code: code.clone(),
            replace,
        })),
        [] => Err(CommandError::Other("ERR Function code is missing".into())),
        [option, ..] => Err(CommandError::Other(format!(
            "ERR Unknown option given: {}",
            String::from_utf8_lossy(option)
        ))),
    }
}

/// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`.
fn function_list(mut rest: &[Bytes]) -> Result<Command> {
    let (mut pattern, mut with_code) = (None, false);
    while let Some((option, tail)) = rest.split_first() {
        let again = || CommandError::UnknownArgument(String::from_utf8_lossy(option).into());
        if is(option, "withcode") {
            if with_code {
                return Err(again());
            }
            with_code = true;
            rest = tail;
        } else if is(option, "libraryname") {
            if pattern.is_some() {
                return Err(again());
            }
            let Some((p, tail)) = tail.split_first() else {
                return Err(CommandError::Other(
                    "ERR library name argument was not given".into(),
                ));
            };
            pattern = Some(p.clone());
            rest = tail;
        } else {
            return Err(again());
        }
    }
    Ok(Command::Read(ReadCommand::FunctionList {
        pattern,
        with_code,
    }))
}
