//! The RESP request decoder against arbitrary bytes, fed in arbitrary chunks.
//!
//! Properties: it never panics; every request it returns is non-empty; once it has failed
//! it keeps returning the same error; and chunking does not matter: feeding the input in
//! pieces gives the same requests and the same final error as feeding it whole (the parser
//! is incremental, so a bug in how it resumes shows up as a difference here).
#![no_main]

use bytes::{Bytes, BytesMut};
use cairn_protocol::{Limits, ProtocolError, RequestParser};
use libfuzzer_sys::fuzz_target;

/// Small limits, so the fuzzer reaches the limit checks with small inputs.
const LIMITS: Limits = Limits {
    bulk_len_max: 512,
    args_max: 64,
    inline_len_max: 256,
};

/// Requests parsed and the error that stopped parsing, if any. Bounded by the input: each
/// successful parse consumes at least one byte or the loop stops.
fn feed(
    parser: &mut RequestParser,
    buf: &mut BytesMut,
    out: &mut Vec<Vec<Bytes>>,
) -> Option<ProtocolError> {
    for _ in 0..=buf.len() + 1 {
        match parser.parse(buf) {
            Ok(Some(req)) => {
                assert!(!req.is_empty(), "an empty request was returned");
                out.push(req);
            }
            Ok(None) => return None,
            Err(e) => {
                assert_eq!(
                    parser.parse(buf).err(),
                    Some(e.clone()),
                    "the error is sticky"
                );
                return Some(e);
            }
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk % 16) + 1;

    let mut whole = RequestParser::new(LIMITS);
    let mut buf = BytesMut::from(input);
    let mut whole_reqs = Vec::new();
    let whole_err = feed(&mut whole, &mut buf, &mut whole_reqs);

    let mut pieces = RequestParser::new(LIMITS);
    let mut buf = BytesMut::new();
    let mut piece_reqs = Vec::new();
    let mut piece_err = None;
    for part in input.chunks(chunk) {
        buf.extend_from_slice(part);
        piece_err = feed(&mut pieces, &mut buf, &mut piece_reqs);
        if piece_err.is_some() {
            break;
        }
    }
    assert_eq!(whole_reqs, piece_reqs, "chunking changed the requests");
    assert_eq!(whole_err, piece_err, "chunking changed the error");
});
