//! EVAL, EVALSHA, their `_RO` forms and SCRIPT (the "scripting" group).

use bytes::Bytes;

use super::{int, is, Result};
use crate::command::{Command, CommandError, ConnCommand, ReadCommand, ScriptRef, WriteCommand};

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
        ("script|flush", [_, _]) => Ok(Command::Write(WriteCommand::ScriptFlush)),
        ("script|flush", [_, _, mode]) if is(mode, "async") || is(mode, "sync") => {
            Ok(Command::Write(WriteCommand::ScriptFlush))
        }
        ("script|flush", _) => Err(CommandError::Other(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option".into(),
        )),
        ("script|kill", _) => Ok(Command::Conn(ConnCommand::ScriptKill)),
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
    let numkeys = int(numkeys)?;
    if numkeys > rest.len() as i64 {
        return Err(CommandError::Other(
            "ERR Number of keys can't be greater than number of args".into(),
        ));
    }
    let Ok(numkeys) = usize::try_from(numkeys) else {
        return Err(CommandError::Other(
            "ERR Number of keys can't be negative".into(),
        ));
    };
    let (keys, args) = rest.split_at(numkeys);
    let script = if sha {
        ScriptRef::Sha(String::from_utf8_lossy(script).to_ascii_lowercase())
    } else {
        ScriptRef::Body(script.clone())
    };
    Ok(Command::Write(WriteCommand::Eval {
        script,
        keys: keys.to_vec(),
        args: args.to_vec(),
        read_only: name.ends_with("_ro"),
    }))
}
