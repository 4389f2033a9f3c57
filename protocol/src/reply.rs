//! Replies and their encoding in RESP2 or RESP3.
//!
//! A [`Reply`] is protocol-neutral: it says what Redis would answer (a map, a double, a null)
//! and [`Reply::encode`] lowers it to the connection's protocol the way Redis does (RESP2 sends
//! a map as a flat array, a double as a bulk string, a boolean as an integer). Replies are also
//! what a Raft log entry's application returns; where one is stored or sent to a peer, raft
//! holds its own copy of the type (`cairn_raft::logged::Reply`).
//!
//! Frames are built with `redis-protocol` and encoded by it.

use bytes::{Bytes, BytesMut};
use redis_protocol::resp2::types::BytesFrame as Frame2;
use redis_protocol::resp3::types::BytesFrame as Frame3;

/// The protocol a connection speaks (chosen with `HELLO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// A reply to one command.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`: the full text after `-`, prefix included.
    Error(String),
    Integer(i64),
    Bulk(Bytes),
    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// The null array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    Array(Vec<Reply>),
    /// A map in RESP3, a flat array of key, value, ... in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set in RESP3, an array in RESP2.
    Set(Vec<Reply>),
    /// A double in RESP3, a bulk string in RESP2.
    Double(f64),
    /// A double written as Redis's `addReplyHumanLongDouble` writes it (`%.17Lf` without
    /// trailing zeros, see [`human_double`]): a double in RESP3, a bulk string in RESP2. The
    /// geo commands' coordinates.
    HumanDouble(f64),
    /// A boolean in RESP3, the integer 1 or 0 in RESP2.
    Bool(bool),
    /// A verbatim string (`=txt:`) in RESP3, a bulk string in RESP2.
    Verbatim(String),
    /// An out-of-band push in RESP3 (pub/sub), an array in RESP2.
    Push(Vec<Reply>),
    /// Pairs as Redis sends HRANDFIELD ... WITHVALUES: in RESP3 an array of two-element
    /// arrays, in RESP2 a flat array of key, value, ...
    Pairs(Vec<(Reply, Reply)>),
    /// Keyed replies as XREAD sends them: a map in RESP3, in RESP2 an array of two-element
    /// arrays.
    KeyedArrays(Vec<(Reply, Reply)>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    /// An error reply; `text` carries its prefix (`ERR`, `WRONGTYPE`, ...).
    pub fn error(text: impl Into<String>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    /// A bulk string from text.
    pub fn text(s: impl Into<String>) -> Reply {
        Reply::Bulk(Bytes::from(s.into()))
    }

    /// Bulk string or nil.
    pub fn opt_bulk(data: Option<impl Into<Bytes>>) -> Reply {
        data.map_or(Reply::Nil, |d| Reply::Bulk(d.into()))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends this reply, encoded for `protocol`, to `out`.
    pub fn encode(&self, protocol: Protocol, out: &mut BytesMut) {
        match protocol {
            Protocol::Resp2 if self.contains_nil_array() => {
                // RESP2's null array `*-1` has no frame in redis-protocol; aggregates that hold
                // one get their headers written here, everything else goes through the library.
                self.encode_resp2_by_hand(out);
            }
            Protocol::Resp2 => {
                let result =
                    redis_protocol::resp2::encode::extend_encode(out, &self.to_resp2(), false);
                debug_assert!(result.is_ok(), "encoding a reply failed: {result:?}");
            }
            // RESP3 aggregates are always written here: redis-protocol keeps a set's members
            // and a map's keys in hash collections, so it would drop duplicates, and it
            // panics hashing a member that is itself an aggregate (COMMAND's key specs are
            // maps inside sets). Leaves go through the library.
            Protocol::Resp3 => self.encode_resp3_by_hand(out),
        }
    }

    /// A leaf (no aggregate) in RESP3, through the library. Encoding a frame we built
    /// ourselves into a growable buffer cannot fail: the library's only errors are "buffer
    /// too small" (it extends first) and decoding errors.
    fn encode_resp3_leaf(&self, out: &mut BytesMut) {
        let result =
            redis_protocol::resp3::encode::complete::extend_encode(out, &self.to_resp3(), false);
        debug_assert!(result.is_ok(), "encoding a reply failed: {result:?}");
    }

    fn contains_nil_array(&self) -> bool {
        match self {
            Reply::NilArray => true,
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                items.iter().any(Reply::contains_nil_array)
            }
            Reply::Map(pairs) | Reply::Pairs(pairs) | Reply::KeyedArrays(pairs) => pairs
                .iter()
                .any(|(k, v)| k.contains_nil_array() || v.contains_nil_array()),
            _ => false,
        }
    }

    fn encode_resp3_by_hand(&self, out: &mut BytesMut) {
        let items = |out: &mut BytesMut, kind: char, items: &[Reply]| {
            out.extend_from_slice(format!("{kind}{}\r\n", items.len()).as_bytes());
            items.iter().for_each(|r| r.encode_resp3_by_hand(out));
        };
        match self {
            Reply::Double(d) => {
                out.extend_from_slice(format!(",{}\r\n", format_double(*d)).as_bytes())
            }
            Reply::HumanDouble(d) => {
                out.extend_from_slice(format!(",{}\r\n", human_double(*d)).as_bytes())
            }
            Reply::Array(list) => items(out, '*', list),
            Reply::Set(list) => items(out, '~', list),
            Reply::Push(list) => items(out, '>', list),
            Reply::Map(pairs) | Reply::KeyedArrays(pairs) => {
                out.extend_from_slice(format!("%{}\r\n", pairs.len()).as_bytes());
                for (k, v) in pairs {
                    k.encode_resp3_by_hand(out);
                    v.encode_resp3_by_hand(out);
                }
            }
            Reply::Pairs(pairs) => {
                out.extend_from_slice(format!("*{}\r\n", pairs.len()).as_bytes());
                for (k, v) in pairs {
                    out.extend_from_slice(b"*2\r\n");
                    k.encode_resp3_by_hand(out);
                    v.encode_resp3_by_hand(out);
                }
            }
            leaf => leaf.encode_resp3_leaf(out),
        }
    }

    fn encode_resp2_by_hand(&self, out: &mut BytesMut) {
        match self {
            Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
                items.iter().for_each(|r| r.encode_resp2_by_hand(out));
            }
            Reply::Map(pairs) | Reply::Pairs(pairs) => {
                out.extend_from_slice(format!("*{}\r\n", pairs.len() * 2).as_bytes());
                for (k, v) in pairs {
                    k.encode_resp2_by_hand(out);
                    v.encode_resp2_by_hand(out);
                }
            }
            Reply::KeyedArrays(pairs) => {
                out.extend_from_slice(format!("*{}\r\n", pairs.len()).as_bytes());
                for (k, v) in pairs {
                    out.extend_from_slice(b"*2\r\n");
                    k.encode_resp2_by_hand(out);
                    v.encode_resp2_by_hand(out);
                }
            }
            leaf => leaf.encode(Protocol::Resp2, out),
        }
    }

    /// The encoded bytes (tests and small replies).
    pub fn to_bytes(&self, protocol: Protocol) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(protocol, &mut out);
        out.freeze()
    }

    fn to_resp2(&self) -> Frame2 {
        match self {
            Reply::Simple(s) => Frame2::SimpleString(Bytes::from(s.clone())),
            Reply::Error(e) => Frame2::Error(sanitize_line(e).into()),
            Reply::Integer(i) => Frame2::Integer(*i),
            Reply::Bulk(b) => Frame2::BulkString(b.clone()),
            Reply::Nil => Frame2::Null,
            Reply::NilArray => Frame2::Null,
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                Frame2::Array(items.iter().map(Reply::to_resp2).collect())
            }
            Reply::Map(pairs) | Reply::Pairs(pairs) => Frame2::Array(
                pairs
                    .iter()
                    .flat_map(|(k, v)| [k.to_resp2(), v.to_resp2()])
                    .collect(),
            ),
            Reply::KeyedArrays(pairs) => Frame2::Array(
                pairs
                    .iter()
                    .map(|(k, v)| Frame2::Array(vec![k.to_resp2(), v.to_resp2()]))
                    .collect(),
            ),
            Reply::Double(d) => Frame2::BulkString(Bytes::from(format_double(*d))),
            Reply::HumanDouble(d) => Frame2::BulkString(Bytes::from(human_double(*d))),
            Reply::Bool(b) => Frame2::Integer(i64::from(*b)),
            Reply::Verbatim(s) => Frame2::BulkString(Bytes::from(s.clone())),
        }
    }

    /// The frame of a leaf reply; aggregates are written by [`Self::encode_resp3_by_hand`].
    fn to_resp3(&self) -> Frame3 {
        match self {
            Reply::Simple(s) => Frame3::SimpleString {
                data: Bytes::from(s.clone()),
                attributes: None,
            },
            Reply::Error(e) => Frame3::SimpleError {
                data: sanitize_line(e).into(),
                attributes: None,
            },
            Reply::Integer(i) => Frame3::Number {
                data: *i,
                attributes: None,
            },
            Reply::Bulk(b) => Frame3::BlobString {
                data: b.clone(),
                attributes: None,
            },
            Reply::Bool(b) => Frame3::Boolean {
                data: *b,
                attributes: None,
            },
            Reply::Verbatim(s) => Frame3::VerbatimString {
                data: Bytes::from(s.clone()),
                format: redis_protocol::resp3::types::VerbatimStringFormat::Text,
                attributes: None,
            },
            // Doubles and aggregates never get here (written by hand); null is the
            // answer that cannot be wrong.
            Reply::Nil
            | Reply::NilArray
            | Reply::Double(_)
            | Reply::HumanDouble(_)
            | Reply::Array(_)
            | Reply::Set(_)
            | Reply::Push(_)
            | Reply::Map(_)
            | Reply::Pairs(_)
            | Reply::KeyedArrays(_) => Frame3::Null,
        }
    }
}

/// A simple string or error must be one line: CR and LF would break the framing.
fn sanitize_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// A double as Redis's `addReplyHumanLongDouble` writes it: the value widened to `long
/// double` and printed with `%.17Lf`, trailing zeros removed (`13.36138933897018433`).
pub fn human_double(d: f64) -> String {
    crate::long_double::LongDouble::from_f64(d).to_human_string()
}

/// Formats a double as Redis 7.2 does in replies (`d2string`): `inf`, `-inf`, `nan`, `0` and
/// `-0`; an integral value within ±2^62 as an integer; otherwise the shortest digits that read
/// back as the same value, written plainly when the exponent is small (`0.001`, `1.5`,
/// `123000`) and as `d.ddde±x` otherwise (`1e+20`, `1.5e-7`).
pub fn format_double(d: f64) -> String {
    const INT_LIMIT: f64 = (i64::MAX / 2) as f64;
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if (-INT_LIMIT..=INT_LIMIT).contains(&d) && d == d.trunc() {
        return format!("{}", d as i64);
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-1.2345e-7`.
    let sci = format!("{:e}", d.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp10: i64 = exp.parse().unwrap_or(0);
    let n = digits.len() as i64;
    // The value is `digits` × 10^k.
    let k = exp10 - (n - 1);
    let abs_exp = exp10.abs();
    let sign = if d < 0.0 { "-" } else { "" };
    let body = if k >= 0 && abs_exp < n + 7 {
        format!("{digits}{}", "0".repeat(k as usize))
    } else if k < 0 && (k > -7 || abs_exp < 4) {
        let point = n + k;
        if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let esign = if exp10 < 0 { '-' } else { '+' };
        format!("{first}{dot}{rest}e{esign}{abs_exp}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc2(r: Reply) -> Vec<u8> {
        r.to_bytes(Protocol::Resp2).to_vec()
    }

    fn enc3(r: Reply) -> Vec<u8> {
        r.to_bytes(Protocol::Resp3).to_vec()
    }

    #[test]
    fn resp2_encodings() {
        assert_eq!(enc2(Reply::ok()), b"+OK\r\n");
        assert_eq!(enc2(Reply::error("ERR x")), b"-ERR x\r\n");
        assert_eq!(enc2(Reply::Integer(-3)), b":-3\r\n");
        assert_eq!(enc2(Reply::bulk("ab")), b"$2\r\nab\r\n");
        assert_eq!(enc2(Reply::Nil), b"$-1\r\n");
        assert_eq!(
            enc2(Reply::Map(vec![(Reply::text("a"), Reply::Integer(1))])),
            b"*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(enc2(Reply::Double(1.5)), b"$3\r\n1.5\r\n");
        assert_eq!(enc2(Reply::Double(1e20)), b"$5\r\n1e+20\r\n");
        assert_eq!(enc3(Reply::Double(1e20)), b",1e+20\r\n");
        assert_eq!(enc3(Reply::Double(f64::NEG_INFINITY)), b",-inf\r\n");
        assert_eq!(
            enc3(Reply::Pairs(vec![(Reply::bulk("a"), Reply::Double(3.0))])),
            b"*1\r\n*2\r\n$1\r\na\r\n,3\r\n"
        );
        assert_eq!(
            enc3(Reply::Array(vec![Reply::Nil, Reply::Double(0.5)])),
            b"*2\r\n_\r\n,0.5\r\n"
        );
        assert_eq!(enc2(Reply::Bool(true)), b":1\r\n");
        assert_eq!(enc2(Reply::NilArray), b"*-1\r\n");
        assert_eq!(
            enc2(Reply::Array(vec![Reply::NilArray, Reply::Integer(1)])),
            b"*2\r\n*-1\r\n:1\r\n"
        );
    }

    #[test]
    fn resp3_encodings() {
        assert_eq!(enc3(Reply::Nil), b"_\r\n");
        assert_eq!(enc3(Reply::Bool(false)), b"#f\r\n");
        assert_eq!(
            enc3(Reply::Map(vec![(Reply::text("a"), Reply::Integer(1))])),
            b"%1\r\n$1\r\na\r\n:1\r\n"
        );
    }

    #[test]
    fn pairs_nest_in_resp3_only() {
        let pairs = || Reply::Pairs(vec![(Reply::text("f"), Reply::text("v"))]);
        assert_eq!(enc2(pairs()), b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
        assert_eq!(enc3(pairs()), b"*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    }

    #[test]
    fn errors_stay_on_one_line() {
        assert_eq!(enc2(Reply::error("ERR a\r\nb")), b"-ERR a  b\r\n");
    }

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(-1e20), "-1e+20");
        assert_eq!(format_double(1e17), "100000000000000000");
        assert_eq!(format_double(4e18), "4000000000000000000");
        assert_eq!(format_double(1e19), "1e+19");
        assert_eq!(format_double(1.5e19), "1.5e+19");
        assert_eq!(format_double(1e-7), "1e-7");
        assert_eq!(format_double(1.5e-7), "1.5e-7");
        assert_eq!(format_double(0.000001), "0.000001");
        assert_eq!(format_double(0.001234), "0.001234");
        assert_eq!(format_double(123.456), "123.456");
        assert_eq!(
            format_double(1.7976931348623157e308),
            "1.7976931348623157e+308"
        );
        assert_eq!(format_double(5e-324), "5e-324");
        assert_eq!(format_double(-0.0), "-0");
        assert_eq!(format_double(0.30000000000000004), "0.30000000000000004");
    }
}
