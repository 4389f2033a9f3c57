//! Goal: what the log and the reply records look like on disk does not change by accident. Log
//! entries are bincode of `OpKind`, whose commands, transaction reads and constant replies are
//! raft's own copies of the command model; an edit to one of them (a field added, a variant
//! moved, a type changed) would change the bytes on disk, and an entry written before an
//! upgrade would no longer decode, or decode as another command.
//! Method: every write command the table lists is parsed from `fixtures/logged_commands.txt`
//! and encoded as a log entry, every read command of `fixtures/logged_reads.txt` as a
//! transaction's read, and every kind of reply as a constant of a transaction and as an
//! at-most-once reply record; the bytes must equal the `.golden` files, written when the
//! format was last changed on purpose. Such a change needs a migration of old entries; then
//! regenerate the golden files with `CAIRN_BLESS=1 cargo test -p cairn-raft --test
//! log_encoding`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use bytes::Bytes;
use cairn_protocol::command::{self, table, Command, ReadCommand, WriteCommand};
use cairn_protocol::Reply;
use cairn_raft::keyspace::state::replies::Group;
use cairn_raft::types::{ExecItem, RequestId};
use cairn_raft::{OpKind, WriteOp};

const NOW_MS: u64 = 1_700_000_000_000;

fn args(line: &str) -> Vec<Bytes> {
    line.split_whitespace()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect()
}

fn write_of(line: &str) -> WriteCommand {
    match command::parse(&args(line)) {
        Ok(Command::Write(w)) => w,
        Ok(Command::Blocking(b)) => b.op,
        other => panic!("{line}: not a write: {other:?}"),
    }
}

fn read_of(line: &str) -> ReadCommand {
    match command::parse(&args(line)) {
        Ok(Command::Read(r)) => r,
        Ok(Command::BlockingRead(b)) => b.read,
        other => panic!("{line}: not a read: {other:?}"),
    }
}

/// One log entry of database 3 holding `ops`, as hex.
fn entry(ops: Vec<OpKind>) -> String {
    hex(&bincode::serialize(&WriteOp {
        now_ms: NOW_MS,
        ops,
    })
    .unwrap())
}

fn exec(item: ExecItem) -> OpKind {
    OpKind::Exec {
        db: 3,
        items: vec![item],
        watched: Vec::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// Compares the encodings `now` of the cases named `names` with the golden file, or rewrites
/// it under `CAIRN_BLESS`.
fn check(golden: &str, names: &[String], now: &[String]) {
    if std::env::var_os("CAIRN_BLESS").is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(golden);
        std::fs::write(path, now.join("\n") + "\n").unwrap();
        return;
    }
    let was: Vec<String> = read(golden).lines().map(str::to_string).collect();
    assert_eq!(
        was.len(),
        names.len(),
        "one golden line per case in {golden}"
    );
    for ((name, now), was) in names.iter().zip(now).zip(&was) {
        assert_eq!(now, was, "the encoding of `{name}` changed");
    }
}

fn fixture(path: &str) -> Vec<String> {
    read(path).lines().map(str::to_string).collect()
}

#[test]
fn every_write_command_encodes_as_it_did() {
    let lines = fixture("tests/fixtures/logged_commands.txt");
    let now: Vec<String> = lines
        .iter()
        .map(|l| entry(vec![OpKind::command(3, write_of(l))]))
        .collect();
    check("tests/fixtures/logged_commands.golden", &lines, &now);
}

#[test]
fn every_read_of_a_transaction_encodes_as_it_did() {
    let lines = fixture("tests/fixtures/logged_reads.txt");
    let now: Vec<String> = lines
        .iter()
        .map(|l| entry(vec![exec(ExecItem::read(read_of(l)))]))
        .collect();
    check("tests/fixtures/logged_reads.golden", &lines, &now);
}

/// One reply of every kind, nested where a kind holds others.
fn every_reply() -> Vec<Reply> {
    let bulk = || Reply::Bulk(Bytes::from_static(b"v"));
    vec![
        Reply::Simple("PONG".into()),
        Reply::Error("ERR no".into()),
        Reply::Integer(-7),
        bulk(),
        Reply::Nil,
        Reply::NilArray,
        Reply::Array(vec![Reply::Integer(1), bulk()]),
        Reply::Map(vec![(bulk(), Reply::Integer(2))]),
        Reply::Set(vec![bulk()]),
        Reply::Double(1.5),
        Reply::HumanDouble(-0.25),
        Reply::Bool(true),
        Reply::Verbatim("txt:hello".into()),
        Reply::Push(vec![bulk()]),
        Reply::Pairs(vec![(bulk(), Reply::Double(3.0))]),
        Reply::KeyedArrays(vec![(bulk(), Reply::Array(vec![bulk()]))]),
    ]
}

#[test]
fn every_reply_encodes_as_it_did_as_a_constant_and_a_record() {
    let replies = every_reply();
    let names: Vec<String> = replies.iter().map(|r| format!("{r:?}")).collect();
    let constants: Vec<String> = replies
        .iter()
        .map(|r| entry(vec![exec(ExecItem::constant(r.clone()))]))
        .collect();
    check("tests/fixtures/logged_replies.golden", &names, &constants);
    let id = RequestId { origin: 9, seq: 4 };
    let records: Vec<String> = replies
        .into_iter()
        .map(|r| {
            let group: Group = vec![(id, Some(r.into()))];
            hex(&bincode::serialize(&group).unwrap())
        })
        .collect();
    check("tests/fixtures/reply_records.golden", &names, &records);
}

#[test]
fn the_fixtures_cover_every_command_that_is_logged() {
    let listed = |path: &str| -> BTreeSet<String> {
        read(path)
            .lines()
            .flat_map(|l| {
                let mut words = l.split_whitespace().map(str::to_ascii_lowercase);
                let first = words.next().unwrap_or_default();
                let sub = words.next().map(|w| format!("{first}|{w}"));
                std::iter::once(first).chain(sub)
            })
            .collect()
    };
    let writes = listed("tests/fixtures/logged_commands.txt");
    let reads = listed("tests/fixtures/logged_reads.txt");
    // Writes the node answers itself or that never reach the log as a write command; reads
    // that run as scripts (writes that refuse to write) or that the node answers itself.
    let not_logged = ["pfdebug", "eval_ro", "evalsha_ro", "fcall_ro"];
    let missing: Vec<String> = table::all()
        .iter()
        .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
        .filter(|spec| !not_logged.contains(&spec.name))
        .filter_map(|spec| {
            let wanted = if spec.flags.contains(&"write") {
                &writes
            } else if spec.flags.contains(&"readonly") {
                &reads
            } else {
                return None;
            };
            (!wanted.contains(spec.name)).then(|| spec.name.to_string())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "logged commands without a fixture line: {missing:?}"
    );
}

/// The way back: what apply gets from the log is the command that was proposed.
#[test]
fn every_command_and_reply_comes_back_from_the_log_as_it_went_in() {
    use cairn_raft::logged;
    for line in fixture("tests/fixtures/logged_commands.txt") {
        let cmd = write_of(&line);
        let back = WriteCommand::from(logged::WriteCommand::from(cmd.clone()));
        assert_eq!(back, cmd, "{line}");
    }
    for line in fixture("tests/fixtures/logged_reads.txt") {
        let cmd = read_of(&line);
        let back = ReadCommand::from(logged::ReadCommand::from(cmd.clone()));
        assert_eq!(back, cmd, "{line}");
    }
    for reply in every_reply() {
        let back = Reply::from(logged::Reply::from(reply.clone()));
        assert_eq!(back, reply);
    }
}
