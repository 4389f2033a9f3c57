//! Goal: what a write looks like in the log does not change by accident. Log entries are
//! bincode of `OpKind`, which holds protocol's `WriteCommand`: an edit to the command model
//! (a field added, a variant moved, a type changed) would change the bytes on disk, and an
//! entry written before an upgrade would no longer decode, or decode as another command.
//! Method: every write command the table lists is parsed from `fixtures/logged_commands.txt`
//! and encoded as a log entry; the bytes must equal `fixtures/logged_commands.golden`, written
//! when the format was last changed on purpose. Such a change needs a migration of old
//! entries; then regenerate the golden file with `CAIRN_BLESS=1 cargo test -p cairn-raft --test
//! log_encoding`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use bytes::Bytes;
use cairn_protocol::command::{self, table, Command};
use cairn_raft::{OpKind, WriteOp};

const COMMANDS: &str = "tests/fixtures/logged_commands.txt";
const GOLDEN: &str = "tests/fixtures/logged_commands.golden";

/// The log entry of one command line, as hex.
fn encoded(line: &str) -> String {
    let args: Vec<Bytes> = line
        .split_whitespace()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    let cmd = match command::parse(&args) {
        Ok(Command::Write(w)) => w,
        Ok(Command::Blocking(b)) => b.op,
        other => panic!("{line}: not a write: {other:?}"),
    };
    let entry = WriteOp {
        now_ms: 1_700_000_000_000,
        ops: vec![OpKind::Command { db: 3, cmd }],
    };
    hex(&bincode::serialize(&entry).unwrap())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn every_write_command_encodes_as_it_did() {
    let lines: Vec<String> = read(COMMANDS).lines().map(str::to_string).collect();
    let now: Vec<String> = lines.iter().map(|l| encoded(l)).collect();
    if std::env::var_os("CAIRN_BLESS").is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
        std::fs::write(path, now.join("\n") + "\n").unwrap();
        return;
    }
    let golden: Vec<String> = read(GOLDEN).lines().map(str::to_string).collect();
    assert_eq!(
        golden.len(),
        lines.len(),
        "one golden line per command line"
    );
    for ((line, now), was) in lines.iter().zip(&now).zip(&golden) {
        assert_eq!(now, was, "the log encoding of `{line}` changed");
    }
}

#[test]
fn the_fixture_covers_every_write_command() {
    let listed: BTreeSet<String> = read(COMMANDS)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_ascii_lowercase)
        .collect();
    // Writes the node answers itself or that never reach the log as a WriteCommand.
    let not_logged = ["pfdebug"];
    let missing: Vec<&str> = table::all()
        .iter()
        .filter(|spec| spec.flags.contains(&"write") && !not_logged.contains(&spec.name))
        .map(|spec| spec.name)
        .filter(|name| !listed.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "write commands without a fixture line: {missing:?}"
    );
}
