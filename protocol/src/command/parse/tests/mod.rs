#![allow(clippy::unwrap_used)]

mod bits;
mod hashes;
mod keys;
mod lists;
mod server;
mod sets;
mod strings;
mod zsets;

use bytes::Bytes;

use super::parse;
use crate::command::{Command, CommandError, ConnCommand, ReadCommand, WriteCommand};

/// Parses a request written as space-separated words.
fn p(line: &str) -> Result<Command, CommandError> {
    parse(&words(line))
}

fn words(line: &str) -> Vec<Bytes> {
    line.split(' ')
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn read(line: &str) -> ReadCommand {
    match p(line) {
        Ok(Command::Read(r)) => r,
        other => panic!("{line}: expected a read, got {other:?}"),
    }
}

fn write(line: &str) -> WriteCommand {
    match p(line) {
        Ok(Command::Write(w)) => w,
        other => panic!("{line}: expected a write, got {other:?}"),
    }
}

fn conn(line: &str) -> ConnCommand {
    match p(line) {
        Ok(Command::Conn(c)) => c,
        other => panic!("{line}: expected a connection command, got {other:?}"),
    }
}

/// The error text a request gets.
fn err(line: &str) -> String {
    match p(line) {
        Err(e) => e.resp_error(),
        Ok(c) => panic!("{line}: expected an error, got {c:?}"),
    }
}

fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

const SYNTAX: &str = "ERR syntax error";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";

#[test]
fn unknown_commands() {
    assert_eq!(
        err("foo a b"),
        "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
    );
    assert_eq!(
        err("foo"),
        "ERR unknown command 'foo', with args beginning with: "
    );
    assert_eq!(
        p("FOO x"),
        Err(CommandError::Unknown {
            name: "FOO".into(),
            args: "'x' ".into()
        })
    );
    // `config|get` is not a command name in a request.
    assert_eq!(
        err("config|get x"),
        "ERR unknown command 'config|get', with args beginning with: 'x' "
    );
    assert_eq!(
        parse(&[]),
        Err(CommandError::Unknown {
            name: String::new(),
            args: String::new()
        })
    );
}

#[test]
fn unknown_command_args_are_cut_at_128_bytes() {
    let long = "x".repeat(200);
    let mut args = vec![b("nope"), b("a"), b(&long), b("never")];
    let e = parse(&args).unwrap_err().resp_error();
    let expected = format!(
        "ERR unknown command 'nope', with args beginning with: 'a' '{}' ",
        "x".repeat(124)
    );
    assert_eq!(e, expected);
    // The name is cut at 128 bytes too, at a NUL like C, and CR/LF become spaces.
    args = vec![
        b(&"n".repeat(130)),
        b("a\r\nb"),
        Bytes::from_static(b"c\0d"),
    ];
    let e = parse(&args).unwrap_err().resp_error();
    assert_eq!(
        e,
        format!(
            "ERR unknown command '{}', with args beginning with: 'a  b' 'c' ",
            "n".repeat(128)
        )
    );
    // Many short args: the list stops once 128 bytes are written.
    let mut many = vec![b("nope")];
    many.extend((0..100).map(|_| b("ab")));
    let Err(CommandError::Unknown { args, .. }) = parse(&many) else {
        panic!("expected unknown");
    };
    assert_eq!(args, "'ab' ".repeat(26));
}

#[test]
fn names_are_case_insensitive() {
    assert_eq!(read("GeT k"), read("get k"));
    assert_eq!(conn("CONFIG GET x"), conn("config get x"));
    assert_eq!(conn("Client SetName n"), conn("client setname n"));
}

#[test]
fn arity_is_checked_from_the_table() {
    assert_eq!(err("get"), arity("get"));
    assert_eq!(err("GET a b"), arity("get"));
    assert_eq!(err("set k"), arity("set"));
    assert_eq!(err("del"), arity("del"));
    assert_eq!(err("ttl"), arity("ttl"));
    assert_eq!(err("dbsize x"), arity("dbsize"));
    assert_eq!(err("echo"), arity("echo"));
    assert_eq!(err("select"), arity("select"));
    assert_eq!(err("config"), arity("config"));
    assert_eq!(err("client"), arity("client"));
    assert_eq!(err("role x"), arity("role"));
}

#[test]
fn every_table_command_parses_something() {
    // Each command in the table is dispatched (no "unknown" for a known name).
    for spec in crate::command::table::all() {
        match parse(&[b(spec.name)]) {
            Err(CommandError::Unknown { .. }) => panic!("{} is not dispatched", spec.name),
            Err(CommandError::UnknownSubcommand { .. }) => panic!("{}", spec.name),
            _ => {}
        }
        for sub in spec.subcommands {
            let (container, name) = sub.name.split_once('|').unwrap();
            let mut args = vec![b(container), b(name)];
            // Pad to the minimum arity with plausible arguments.
            let min = usize::try_from(sub.arity.unsigned_abs()).unwrap();
            while args.len() < min {
                args.push(b("lib-name"));
            }
            match parse(&args) {
                Ok(_) => {}
                Err(CommandError::Arity(n)) => panic!("{n}: arity"),
                Err(CommandError::Unknown { .. } | CommandError::UnknownSubcommand { .. }) => {
                    panic!("{} is not dispatched", sub.name)
                }
                Err(_) => {}
            }
        }
    }
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn arbitrary_arguments_never_panic() {
    let mut rng = Rng(7);
    let mut names: Vec<&str> = crate::command::table::all()
        .iter()
        .map(|s| s.name)
        .collect();
    names.push("nope");
    let vocab = [
        "nx",
        "xx",
        "gt",
        "lt",
        "get",
        "ex",
        "px",
        "exat",
        "pxat",
        "keepttl",
        "persist",
        "count",
        "match",
        "type",
        "string",
        "0",
        "1",
        "-1",
        "10",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "1.5",
        "inf",
        "nan",
        "",
        "auth",
        "setname",
        "2",
        "3",
        "lib-name",
        "lib-ver",
        "a b",
        "x\r\n",
        "\0",
        "filterby",
        "pattern",
        "id",
        "async",
        "sync",
        "get",
        "set",
        "info",
        "docs",
        "list",
        "resetstat",
        "rewrite",
    ];
    for _ in 0..50_000 {
        let len = (rng.next() % 7) as usize;
        let mut args = vec![b(rng.pick(&names))];
        for _ in 0..len {
            args.push(b(rng.pick(&vocab)));
        }
        let _ = parse(&args);
    }
}
