//! FUNCTION and FCALL: libraries of named Lua functions, kept as replicated state.
//!
//! A library is stored as its code and what its FUNCTION LOAD learned (function names and
//! flags). FCALL runs the library's code again in a fresh state and calls the function, so
//! a call depends on nothing but the stored code and its inputs, as EVAL does.

use cairn_protocol::errors::RedisError;
use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use cairn_protocol::command::RestorePolicy;
use cairn_protocol::Reply;

use super::super::Ctx;
use super::catalog::{undump, FunctionMeta, Libraries, Library};
use super::lua::{self, Mode};
use crate::error::Result;

const NAME_RULE: &str = "ERR Library names can only contain letters, numbers, or underscores(_) \
                         and must be at least one character long";

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The library's name from its `#!<engine> name=<name>` line, and that line's length.
fn metadata(code: &[u8]) -> std::result::Result<(String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(len) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let line = String::from_utf8_lossy(&code[2..len]);
    let (engine, rest) = line.split_once(' ').unwrap_or((&line, ""));
    let engine = engine.to_string();
    let parts = rest.split_whitespace();
    let mut name = None;
    for part in parts {
        match part.get(..5) {
            Some(p) if p.eq_ignore_ascii_case("name=") => {
                if name.is_some() {
                    return Err(
                        "ERR Invalid metadata value, name argument was given multiple times".into(),
                    );
                }
                // `name="x"`, quoted as Redis's argument splitter allows.
                let value = &part[5..];
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                name = Some(value.to_string());
            }
            _ => return Err(format!("ERR Invalid metadata value given: {part}")),
        }
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !valid_name(&name) {
        return Err(NAME_RULE.into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    Ok((name, len))
}

/// The library holding function `name`.
/// The library holding function `name` (names compare case-insensitively, as Redis's do),
/// and the function.
fn find<'l>(libraries: &'l Libraries, name: &str) -> Option<(&'l Library, &'l FunctionMeta)> {
    libraries.values().find_map(|lib| {
        lib.functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| (lib, f))
    })
}

impl Ctx<'_> {
    /// FUNCTION LOAD [REPLACE].
    pub(in crate::keyspace) fn function_load(
        &mut self,
        code: &Bytes,
        replace: bool,
    ) -> Result<Reply> {
        let (name, len) = match metadata(code) {
            Ok(m) => m,
            Err(e) => return Ok(Reply::Error(e)),
        };
        if !replace && self.state.libraries.contains_key(&name) {
            return Ok(Reply::Error(format!("ERR Library '{name}' already exists")));
        }
        let run = lua::Run {
            mode: Mode::Load,
            sha: &name,
            source: &code[len..],
            keys: &[],
            args: &[],
            read_only: true,
            seed: self.stamp,
        };
        let outcome = lua::run(self, run)?;
        let functions = match outcome.reply {
            Reply::Error(e) if outcome.compile_failed => return Ok(Reply::Error(e)),
            Reply::Error(e) => {
                let e = e.strip_prefix("ERR ").unwrap_or(&e);
                return Ok(Reply::Error(format!(
                    "ERR Error registering functions: {e}"
                )));
            }
            reply => registered(reply),
        };
        if functions.is_empty() {
            return Ok(Reply::from(RedisError::NoFunctions));
        }
        for f in &functions {
            let clash = self.state.libraries.iter().any(|(lib, l)| {
                *lib != name
                    && l.functions
                        .iter()
                        .any(|g| g.name.eq_ignore_ascii_case(&f.name))
            });
            if clash {
                return Ok(Reply::Error(format!(
                    "ERR Function {} already exists",
                    f.name
                )));
            }
        }
        let library = Library {
            code: code.clone(),
            functions,
        };
        Arc::make_mut(&mut self.state.libraries).insert(name.clone(), library);
        Ok(Reply::Bulk(Bytes::from(name)))
    }

    /// FUNCTION DELETE.
    pub(in crate::keyspace) fn function_delete(&mut self, library: &[u8]) -> Reply {
        let name = String::from_utf8_lossy(library).into_owned();
        match Arc::make_mut(&mut self.state.libraries).remove(&name) {
            Some(_) => Reply::ok(),
            None => Reply::error("ERR Library not found"),
        }
    }

    /// FUNCTION FLUSH.
    pub(in crate::keyspace) fn function_flush(&mut self) -> Reply {
        self.state.libraries = Libraries::default();
        Reply::ok()
    }

    /// FUNCTION RESTORE: the libraries of a [`dump`] payload, checked before anything changes.
    pub(in crate::keyspace) fn function_restore(
        &mut self,
        payload: &[u8],
        policy: RestorePolicy,
    ) -> Reply {
        let Some(restored) = undump(payload) else {
            return Reply::from(RedisError::DumpPayload);
        };
        let mut libraries = match policy {
            RestorePolicy::Flush => BTreeMap::new(),
            _ => (*self.state.libraries).clone(),
        };
        for (name, lib) in restored {
            if policy == RestorePolicy::Append && libraries.contains_key(&name) {
                return Reply::Error(format!("ERR Library {name} already exists"));
            }
            libraries.insert(name, lib);
        }
        // A function name may belong to one library only.
        let mut seen = std::collections::HashSet::new();
        for f in libraries.values().flat_map(|l| &l.functions) {
            if !seen.insert(f.name.to_ascii_lowercase()) {
                return Reply::Error(format!("ERR Function {} already exists", f.name));
            }
        }
        self.state.libraries = Arc::new(libraries);
        Reply::ok()
    }

    /// FCALL / FCALL_RO.
    pub(in crate::keyspace) fn fcall(
        &mut self,
        function: &[u8],
        keys: &[Bytes],
        args: &[Bytes],
        read_only: bool,
    ) -> Result<Reply> {
        let name = String::from_utf8_lossy(function).into_owned();
        let Some((library, meta)) = find(&self.state.libraries, &name) else {
            return Ok(Reply::from(RedisError::FunctionNotFound));
        };
        let no_writes = meta.flags.iter().any(|f| f == "no-writes");
        let name = meta.name.clone();
        if read_only && !no_writes {
            return Ok(Reply::error(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        let code = library.code.clone();
        let len = metadata(&code).map_or(0, |(_, len)| len);
        let run = lua::Run {
            mode: Mode::Call(&name),
            sha: &name,
            source: &code[len..],
            keys,
            args,
            read_only: read_only || no_writes,
            seed: self.stamp,
        };
        Ok(lua::run(self, run)?.reply)
    }
}

/// What FUNCTION LOAD's run of the library replied: `[[name, [flag, ...], description], ...]`.
fn registered(reply: Reply) -> Vec<FunctionMeta> {
    let text = |r: &Reply| match r {
        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    let Reply::Array(items) = reply else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Reply::Array(fields) => match fields.as_slice() {
                [name, Reply::Array(flags), rest @ ..] => Some(FunctionMeta {
                    name: text(name),
                    description: rest.first().map(text).filter(|d| !d.is_empty()),
                    flags: flags.iter().map(text).collect(),
                }),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
