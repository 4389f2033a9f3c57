#![allow(clippy::unwrap_used)]

use super::*;

fn parser() -> RequestParser {
    RequestParser::new(Limits::default())
}

fn args(items: &[&str]) -> Vec<Bytes> {
    items
        .iter()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .collect()
}

/// Parses everything in `input` at once.
fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
    let mut p = parser();
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    while let Some(req) = p.parse(&mut buf)? {
        out.push(req);
    }
    Ok(out)
}

/// Feeds `input` in pieces cut at `cuts`, parsing after each piece.
fn parse_in_pieces(input: &[u8], cuts: &[usize]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
    let mut p = parser();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        buf.extend_from_slice(&input[start..cut]);
        start = cut;
        while let Some(req) = p.parse(&mut buf)? {
            out.push(req);
        }
    }
    Ok(out)
}

fn one(input: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    parser().parse(&mut BytesMut::from(input))
}

#[test]
fn multibulk() {
    let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nxy\r\n"[..]);
    let got = parser().parse(&mut buf).unwrap();
    assert_eq!(got, Some(args(&["SET", "k", "v\r\nxy"])));
    assert!(buf.is_empty());
}

#[test]
fn binary_and_empty_bulks() {
    let got = one(b"*2\r\n$0\r\n\r\n$3\r\n\x00\xff\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(got, vec![Bytes::new(), Bytes::from_static(b"\x00\xff\n")]);
}

#[test]
fn pipelined_requests_one_at_a_time() {
    let mut p = parser();
    let mut buf =
        BytesMut::from(&b"*1\r\n$4\r\nPING\r\nECHO hi\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1"[..]);
    assert_eq!(p.parse(&mut buf).unwrap(), Some(args(&["PING"])));
    assert_eq!(p.parse(&mut buf).unwrap(), Some(args(&["ECHO", "hi"])));
    assert_eq!(p.parse(&mut buf).unwrap(), Some(args(&["GET", "a"])));
    assert_eq!(p.parse(&mut buf).unwrap(), None);
    assert_eq!(&buf[..], b"*1");
}

#[test]
fn empty_requests_are_skipped() {
    let got = parse_all(b"*0\r\n*-1\r\n*-5\r\n\r\n\n   \r\n*1\r\n$1\r\nx\r\n").unwrap();
    assert_eq!(got, vec![args(&["x"])]);
    assert_eq!(parse_all(b"*0\r\n").unwrap(), Vec::<Vec<Bytes>>::new());
    let mut p = parser();
    let mut buf = BytesMut::from(&b"*0\r\n"[..]);
    assert_eq!(p.parse(&mut buf).unwrap(), None);
    assert!(buf.is_empty());
    assert!(p.is_idle());
}

const STREAM: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123\r\n6789\r\n\
*0\r\n\
PING\r\n\
set \"a b\" 'c d' \"\\x41\\n\"\n\
\r\n\
*2\r\n$4\r\nECHO\r\n$0\r\n\r\n\
*1\r\n$4\r\nQUIT\r\n";

fn stream_requests() -> Vec<Vec<Bytes>> {
    vec![
        args(&["SET", "key", "0123\r\n6789"]),
        args(&["PING"]),
        args(&["set", "a b", "c d", "A\n"]),
        args(&["ECHO", ""]),
        args(&["QUIT"]),
    ]
}

#[test]
fn whole_stream() {
    assert_eq!(parse_all(STREAM).unwrap(), stream_requests());
}

#[test]
fn split_at_every_position() {
    for cut in 0..=STREAM.len() {
        assert_eq!(
            parse_in_pieces(STREAM, &[cut]).unwrap(),
            stream_requests(),
            "cut at {cut}"
        );
    }
}

#[test]
fn split_at_every_pair_of_positions() {
    for a in 0..=STREAM.len() {
        for b in a..=STREAM.len() {
            assert_eq!(
                parse_in_pieces(STREAM, &[a, b]).unwrap(),
                stream_requests(),
                "cuts at {a}, {b}"
            );
        }
    }
}

#[test]
fn byte_by_byte() {
    let cuts: Vec<usize> = (0..STREAM.len()).collect();
    assert_eq!(parse_in_pieces(STREAM, &cuts).unwrap(), stream_requests());
}

/// Small arguments are copied out (a stored value must not pin its read buffer); large ones
/// are split off without a copy.
#[test]
fn small_bulks_are_copied_large_ones_split_off() {
    let big = vec![b'x'; ZERO_COPY_MIN];
    let mut wire = b"*2\r\n$3\r\nGET\r\n$".to_vec();
    wire.extend_from_slice(format!("{}\r\n", big.len()).as_bytes());
    let header = wire.len();
    wire.extend_from_slice(&big);
    wire.extend_from_slice(b"\r\n");
    let mut buf = BytesMut::from(&wire[..]);
    let base = buf.as_ptr() as usize;
    let got = parser().parse(&mut buf).unwrap().unwrap();
    assert_ne!(got[0].as_ptr() as usize, base + 8);
    assert_eq!(&got[0][..], b"GET");
    assert_eq!(got[1].as_ptr() as usize, base + header);
    assert_eq!(got[1].len(), ZERO_COPY_MIN);
}

#[test]
fn large_bulk_in_small_reads_is_not_rescanned() {
    let mut p = parser();
    let mut buf = BytesMut::new();
    buf.extend_from_slice(b"*2\r\n$3\r\nSET\r\n$100000\r\n");
    assert_eq!(p.parse(&mut buf).unwrap(), None);
    // The header and the first argument are already consumed.
    assert!(buf.is_empty());
    for _ in 0..1000 {
        buf.extend_from_slice(&[b'x'; 100]);
        assert_eq!(p.parse(&mut buf).unwrap(), None);
    }
    buf.extend_from_slice(b"\r\n");
    let got = p.parse(&mut buf).unwrap().unwrap();
    assert_eq!(got[1].len(), 100_000);
}

#[test]
fn header_search_resumes_where_it_stopped() {
    let mut p = parser();
    let mut buf = BytesMut::from(&b"*1\r\n$"[..]);
    assert_eq!(p.parse(&mut buf).unwrap(), None);
    assert_eq!(&buf[..], b"$");
    buf.extend_from_slice(b"12");
    assert_eq!(p.parse(&mut buf).unwrap(), None);
    assert_eq!(p.scanned, 3);
    buf.extend_from_slice(b"\r");
    assert_eq!(p.parse(&mut buf).unwrap(), None);
    buf.extend_from_slice(b"\nhello world!\r\n");
    assert_eq!(p.parse(&mut buf).unwrap(), Some(args(&["hello world!"])));
}

#[test]
fn declared_count_does_not_preallocate() {
    let mut p = parser();
    let mut buf = BytesMut::from(&b"*1000000\r\n"[..]);
    assert_eq!(p.parse(&mut buf).unwrap(), None);
    match &p.state {
        State::Multibulk {
            remaining, args, ..
        } => {
            assert_eq!(*remaining, 1_000_000);
            assert!(args.capacity() <= ARGS_PREALLOC_MAX);
        }
        State::Idle => panic!("expected a multibulk in progress"),
    }
    assert!(!p.is_idle());
}

#[test]
fn limits_are_checked_on_the_header_line() {
    assert_eq!(
        one(b"*9999999999\r\n"),
        Err(ProtocolError::InvalidMultibulkLength)
    );
    assert_eq!(
        one(b"*1\r\n$999999999999\r\n"),
        Err(ProtocolError::InvalidBulkLength)
    );
    let limits = Limits {
        bulk_len_max: 10,
        args_max: 2,
        inline_len_max: 64 * 1024,
    };
    let parse = |input: &[u8]| RequestParser::new(limits).parse(&mut BytesMut::from(input));
    assert_eq!(parse(b"*3\r\n"), Err(ProtocolError::InvalidMultibulkLength));
    assert_eq!(parse(b"*2\r\n"), Ok(None));
    assert_eq!(
        parse(b"*1\r\n$11\r\n"),
        Err(ProtocolError::InvalidBulkLength)
    );
    assert_eq!(parse(b"*1\r\n$10\r\n"), Ok(None));
    assert_eq!(
        parse(b"*1\r\n$10\r\n0123456789\r\n"),
        Ok(Some(args(&["0123456789"])))
    );
}

#[test]
fn invalid_lengths() {
    for bad in [
        &b"*x\r\n"[..],
        b"*\r\n",
        b"*+1\r\n",
        b"*01\r\n",
        b"* 1\r\n",
        b"*2147483648\r\n",
        b"*99999999999999999999999\r\n",
    ] {
        assert_eq!(
            one(bad),
            Err(ProtocolError::InvalidMultibulkLength),
            "{bad:?}"
        );
    }
    for bad in [
        &b"*1\r\n$x\r\n"[..],
        b"*1\r\n$\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$-0\r\n",
        b"*1\r\n$01\r\n",
        b"*1\r\n$536870913\r\n",
    ] {
        assert_eq!(one(bad), Err(ProtocolError::InvalidBulkLength), "{bad:?}");
    }
}

#[test]
fn expected_dollar() {
    let err = one(b"*1\r\n:1\r\n").unwrap_err();
    assert_eq!(err, ProtocolError::ExpectedDollar(b':'));
    assert_eq!(err.to_string(), "Protocol error: expected '$', got ':'");
    assert_eq!(
        err.resp_error(),
        "ERR Protocol error: expected '$', got ':'"
    );
    // Like Redis, the check waits for the whole line.
    assert_eq!(one(b"*1\r\nfoo"), Ok(None));
}

#[test]
fn bulk_must_end_with_crlf() {
    assert_eq!(
        one(b"*1\r\n$3\r\nabcd\r\n"),
        Err(ProtocolError::BulkNotTerminated)
    );
    assert_eq!(
        one(b"*1\r\n$3\r\nabc\n\n"),
        Err(ProtocolError::BulkNotTerminated)
    );
    assert_eq!(one(b"*1\r\n$3\r\nabc\r"), Ok(None));
}

#[test]
fn too_big_header_lines() {
    let mut long = b"*".to_vec();
    long.extend(std::iter::repeat_n(b'1', 64 * 1024 - 1));
    assert_eq!(one(&long), Ok(None));
    long.push(b'1');
    assert_eq!(one(&long), Err(ProtocolError::TooBigMbulkCount));
    long.extend_from_slice(b"\r\n");
    assert_eq!(one(&long), Err(ProtocolError::TooBigMbulkCount));

    let mut long = b"*1\r\n$".to_vec();
    long.extend(std::iter::repeat_n(b'1', 64 * 1024));
    assert_eq!(one(&long), Err(ProtocolError::TooBigBulkCount));
}

#[test]
fn too_big_inline() {
    let mut long = vec![b'a'; 64 * 1024];
    assert_eq!(one(&long), Ok(None));
    long.push(b'a');
    assert_eq!(one(&long), Err(ProtocolError::TooBigInline));
    // The limit does not depend on whether the newline came in the same read.
    long.push(b'\n');
    assert_eq!(one(&long), Err(ProtocolError::TooBigInline));
    // At most 64 KiB before the newline, the CR included.
    let mut ok = vec![b'a'; 64 * 1024 - 1];
    ok.extend_from_slice(b"\r\n");
    assert_eq!(one(&ok).unwrap().unwrap()[0].len(), 64 * 1024 - 1);
    let mut ok = vec![b'a'; 64 * 1024];
    ok.push(b'\n');
    assert_eq!(one(&ok).unwrap().unwrap()[0].len(), 64 * 1024);
    ok.insert(0, b'a');
    assert_eq!(one(&ok), Err(ProtocolError::TooBigInline));
}

#[test]
fn inline_splitting() {
    let cases: &[(&[u8], &[&str])] = &[
        (b"PING\n", &["PING"]),
        (b"PING\r\n", &["PING"]),
        (b"  set   a\tb  \r\n", &["set", "a", "b"]),
        (b"a \"b c\" d\n", &["a", "b c", "d"]),
        (
            b"\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n",
            &["\n\r\t\x08\x07\\\"q"],
        ),
        (b"\"\\x41\\x7a\\xZZ\\x4\"\n", &["AzxZZx4"]),
        (b"'it\\'s' 'a\\b'\n", &["it's", "a\\b"]),
        (b"a\"b c\"d\n", &[]),
        (b"x\"b c\" d\n", &["xb c", "d"]),
        (b"\"\"\n", &[""]),
        (b"''\n", &[""]),
        (b"a\x00b c\n", &["a"]),
        (b"a\x0bb\n", &["a\x0bb"]),
    ];
    for (line, want) in cases {
        let got = one(line);
        if want.is_empty() {
            assert_eq!(got, Err(ProtocolError::UnbalancedQuotes), "{line:?}");
        } else {
            assert_eq!(got.unwrap().unwrap(), args(want), "{line:?}");
        }
    }
}

#[test]
fn unbalanced_quotes() {
    for bad in [
        &b"\"abc\n"[..],
        b"'abc\n",
        b"\"abc\"def\n",
        b"'abc'def\n",
        b"\"abc\\\"\n",
        b"get \"a\n",
    ] {
        let err = one(bad).unwrap_err();
        assert_eq!(err, ProtocolError::UnbalancedQuotes, "{bad:?}");
        assert_eq!(
            err.resp_error(),
            "ERR Protocol error: unbalanced quotes in request"
        );
    }
    // A closing quote followed by a space, or by the line's end, is fine.
    assert_eq!(one(b"'a' \"b\"\r\n").unwrap().unwrap(), args(&["a", "b"]));
}

#[test]
fn error_texts() {
    let texts = [
        (
            ProtocolError::InvalidMultibulkLength,
            "Protocol error: invalid multibulk length",
        ),
        (
            ProtocolError::InvalidBulkLength,
            "Protocol error: invalid bulk length",
        ),
        (
            ProtocolError::TooBigInline,
            "Protocol error: too big inline request",
        ),
        (
            ProtocolError::TooBigMbulkCount,
            "Protocol error: too big mbulk count string",
        ),
        (
            ProtocolError::TooBigBulkCount,
            "Protocol error: too big bulk count string",
        ),
        (
            ProtocolError::UnbalancedQuotes,
            "Protocol error: unbalanced quotes in request",
        ),
    ];
    for (err, text) in texts {
        assert_eq!(err.to_string(), text);
        assert_eq!(err.resp_error(), format!("ERR {text}"));
    }
}

#[test]
fn errors_are_sticky() {
    let mut p = parser();
    let mut buf = BytesMut::from(&b"*x\r\n"[..]);
    assert!(p.parse(&mut buf).is_err());
    let mut good = BytesMut::from(&b"PING\r\n"[..]);
    assert_eq!(
        p.parse(&mut good),
        Err(ProtocolError::InvalidMultibulkLength)
    );
    assert!(!p.is_idle());
}

/// A small deterministic PRNG (xorshift64*), so the fuzz tests need no dependency and any
/// failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Feeds `input` in random pieces; must never panic, and every request returned is non-empty.
fn feed_randomly(rng: &mut Rng, input: &[u8], limits: Limits) {
    let mut p = RequestParser::new(limits);
    let mut buf = BytesMut::new();
    let mut pos = 0;
    while pos < input.len() {
        let n = 1 + rng.below(16);
        let end = (pos + n).min(input.len());
        buf.extend_from_slice(&input[pos..end]);
        pos = end;
        loop {
            match p.parse(&mut buf) {
                Ok(Some(req)) => assert!(!req.is_empty()),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let alphabet = b"*$\r\n0123456789-+ \"'\\x:ab\x00";
    let small = Limits {
        bulk_len_max: 64,
        args_max: 8,
        inline_len_max: 32,
    };
    for round in 0..20_000 {
        let len = rng.below(96);
        let input: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(4) == 0 {
                    rng.next() as u8
                } else {
                    alphabet[rng.below(alphabet.len())]
                }
            })
            .collect();
        let limits = if round % 2 == 0 {
            Limits::default()
        } else {
            small
        };
        feed_randomly(&mut rng, &input, limits);
    }
}

#[test]
fn mutated_requests_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let mut input = STREAM.to_vec();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(input.len());
            match rng.below(3) {
                0 => input[i] = rng.next() as u8,
                1 => {
                    input.remove(i);
                }
                _ => input.insert(i, b"*$\r\n0-9\""[rng.below(8)]),
            }
        }
        feed_randomly(&mut rng, &input, Limits::default());
    }
}
