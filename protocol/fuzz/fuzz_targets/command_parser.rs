//! The command parser (request arguments → typed `Command`) against arbitrary arguments.
//!
//! The first byte picks a real command name from the table (so the fuzzer spends its time
//! inside each command's option parsing rather than on unknown names); the rest is split on
//! NUL bytes into arguments. Properties: it never panics, and every error, encoded as the
//! server sends it, is one RESP error line (a CR or LF inside would break the framing).
#![no_main]

use bytes::{Bytes, BytesMut};
use cairn_protocol::command::{parse, table};
use cairn_protocol::{Protocol, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let commands = table::all();
    let mut args: Vec<Bytes> = Vec::new();
    // Values 0..len pick a command; the rest leave the name to the input (unknown names).
    if let Some(spec) = commands.get(usize::from(pick) % (commands.len() + 8)) {
        args.push(Bytes::from_static(spec.name.as_bytes()));
    }
    args.extend(rest.split(|&b| b == 0).take(64).map(Bytes::copy_from_slice));
    if args.is_empty() {
        return;
    }
    if let Err(e) = parse(&args) {
        for protocol in [Protocol::Resp2, Protocol::Resp3] {
            let mut out = BytesMut::new();
            Reply::error(e.resp_error()).encode(protocol, &mut out);
            let body = out
                .strip_prefix(b"-")
                .and_then(|b| b.strip_suffix(b"\r\n"))
                .unwrap_or_else(|| panic!("not an error line: {out:?}"));
            assert!(
                !body.contains(&b'\r') && !body.contains(&b'\n'),
                "error line breaks RESP framing: {out:?}"
            );
        }
    }
});
