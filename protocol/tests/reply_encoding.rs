//! Every reply the command table can produce (COMMAND, COMMAND INFO, COMMAND DOCS) encodes
//! in both protocols without panicking, as one well-formed RESP value. RESP3 sets of maps
//! once panicked inside redis-protocol's frame hashing and closed the client's connection.

use cairn_protocol::command::table;
use cairn_protocol::{Protocol, Reply};

/// Skips one RESP2/RESP3 value at the start of `buf`; the rest, or `None` if malformed.
fn skip_value(buf: &[u8]) -> Option<&[u8]> {
    let (&kind, rest) = buf.split_first()?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&rest[..end]).ok()?;
    let mut rest = &rest[end + 2..];
    match kind {
        b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => Some(rest),
        b'$' | b'=' | b'!' => {
            let len: i64 = line.parse().ok()?;
            if len < 0 {
                return Some(rest);
            }
            let len = usize::try_from(len).ok()?;
            if rest.get(len..len + 2)? != b"\r\n" {
                return None;
            }
            Some(&rest[len + 2..])
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n: i64 = line.parse().ok()?;
            let items = if kind == b'%' { n * 2 } else { n };
            for _ in 0..items.max(0) {
                rest = skip_value(rest)?;
            }
            Some(rest)
        }
        _ => None,
    }
}

fn assert_one_value(reply: &Reply, protocol: Protocol, what: &str) {
    let bytes = reply.to_bytes(protocol);
    assert_eq!(
        skip_value(&bytes),
        Some(&b""[..]),
        "{what} in {protocol:?} is not one well-formed value"
    );
}

#[test]
fn every_command_reply_encodes_in_both_protocols() {
    let all = table::all();
    assert!(
        all.len() > 150,
        "the table holds every command: {}",
        all.len()
    );
    let info = Reply::Array(all.iter().map(table::command_info_reply).collect());
    let docs = Reply::Map(all.iter().map(table::command_docs_reply).collect());
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        assert_one_value(&info, protocol, "COMMAND");
        assert_one_value(&docs, protocol, "COMMAND DOCS");
        for spec in all {
            assert_one_value(&table::command_info_reply(spec), protocol, spec.name);
        }
    }
}

#[test]
fn resp3_aggregates_keep_duplicates_and_nesting() {
    // A set holding maps, and a map whose keys repeat: written as given, nothing dropped.
    let map = || Reply::Map(vec![(Reply::text("k"), Reply::Integer(1))]);
    let set = Reply::Set(vec![map(), map()]);
    assert_eq!(
        set.to_bytes(Protocol::Resp3),
        &b"~2\r\n%1\r\n$1\r\nk\r\n:1\r\n%1\r\n$1\r\nk\r\n:1\r\n"[..]
    );
    let pairs = Reply::Map(vec![
        (Reply::text("a"), Reply::Nil),
        (Reply::text("a"), Reply::Double(1.5)),
    ]);
    assert_eq!(
        pairs.to_bytes(Protocol::Resp3),
        &b"%2\r\n$1\r\na\r\n_\r\n$1\r\na\r\n,1.5\r\n"[..]
    );
}
