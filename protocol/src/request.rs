//! Bytes → requests: an incremental parser for the Redis request protocol.
//!
//! Clients send either a RESP multibulk (`*<n>\r\n` then `n` times `$<len>\r\n<bytes>\r\n`) or
//! an inline command (a text line, split like a shell would). This mirrors Redis's
//! `processMultibulkBuffer` and `processInlineBuffer` (networking.c), including their error
//! texts, so that clients that probe edge cases see what they would see from Redis.
//!
//! Two properties matter more than the rest, because the input is untrusted:
//! - **Bounded work.** A request arriving in many small reads is not rescanned from its start:
//!   completed arguments are split off the buffer as soon as they are whole, and the search for
//!   a line terminator resumes where the previous call stopped. Parsing is O(bytes received).
//! - **Bounded memory.** Declared counts and lengths are checked against [`Limits`] as soon as
//!   their header line arrives, and nothing is allocated from a client-supplied size beyond a
//!   small cap: a `*1000000\r\n` costs a 1024-entry vector until the arguments really arrive.
//!
//! The parser never panics, whatever the bytes.

use bytes::{Buf, Bytes, BytesMut};

use crate::num::{is_c_space, parse_i64};

/// Size limits on requests, checked before anything is buffered for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk argument (Redis's `proto-max-bulk-len`, 512 MiB).
    pub bulk_len_max: usize,
    /// Most arguments in one multibulk request.
    pub args_max: usize,
    /// Longest inline request line, and longest `*`/`$` header line (Redis's
    /// `PROTO_INLINE_MAX_SIZE`, 64 KiB).
    pub inline_len_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bulk_len_max: 512 * 1024 * 1024,
            args_max: 1024 * 1024,
            inline_len_max: 64 * 1024,
        }
    }
}

/// A malformed request. The server answers with [`ProtocolError::resp_error`] and closes the
/// connection, as Redis does: after a framing error the rest of the stream cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// `*<n>` is not an integer, or exceeds [`Limits::args_max`].
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// `$<len>` is not an integer, is negative, or exceeds [`Limits::bulk_len_max`].
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An argument header inside a multibulk does not start with `$`.
    #[error("Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    /// An inline request line longer than [`Limits::inline_len_max`].
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    /// A `*<n>` line longer than [`Limits::inline_len_max`].
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCount,
    /// A `$<len>` line longer than [`Limits::inline_len_max`].
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// An inline request with an unterminated quote, or a closing quote not followed by a
    /// space.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// The two bytes after a bulk argument are not CRLF: its declared length was wrong.
    /// (Redis skips these two bytes unchecked; cairn refuses to guess where the next
    /// argument starts.)
    #[error("Protocol error: bulk argument not followed by CRLF")]
    BulkNotTerminated,
}

impl ProtocolError {
    /// The error line sent to the client before closing, without the leading `-` and CRLF.
    pub fn resp_error(&self) -> String {
        format!("ERR {self}")
    }
}

/// Where the parser is inside the request at the front of the buffer.
#[derive(Debug)]
enum State {
    /// At the start of a request.
    Idle,
    /// Inside a multibulk: `remaining` arguments still to come, those already read in `args`,
    /// and the length of the next one once its `$` line has been read.
    Multibulk {
        remaining: usize,
        args: Vec<Bytes>,
        bulk_len: Option<usize>,
    },
}

/// Argument vectors are preallocated up to this many entries, whatever the client declares
/// (Redis uses the same cap); beyond it they grow as arguments actually arrive.
const ARGS_PREALLOC_MAX: usize = 1024;
/// Arguments at least this long are taken from the read buffer without a copy.
const ZERO_COPY_MIN: usize = 32 * 1024;

/// An incremental request parser for one connection.
///
/// Feed it the connection's read buffer after every read; it consumes complete requests from
/// the front. Between calls, the caller may only append to the buffer: the parser remembers
/// how far it has looked into it.
#[derive(Debug)]
pub struct RequestParser {
    limits: Limits,
    state: State,
    /// How many bytes at the front of the buffer are known not to contain the terminator of
    /// the line being looked for (`\r` for headers, `\n` for inline requests).
    scanned: usize,
    /// Once a protocol error has been returned, the stream is desynchronized: every later call
    /// returns the same error.
    failed: Option<ProtocolError>,
}

impl RequestParser {
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            state: State::Idle,
            scanned: 0,
            failed: None,
        }
    }

    /// Consumes one complete request from the front of `buf` and returns its arguments (never
    /// empty), or `Ok(None)` if `buf` does not hold a whole request yet; the bytes of a
    /// partial request may already have been consumed into the parser's state.
    ///
    /// Empty requests (`*0\r\n`, `*-1\r\n`, blank inline lines) are skipped, as in Redis.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.parse_inner(buf);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// True when the parser holds no part of a multibulk request and has not failed. With an
    /// empty buffer this means the connection is between requests: an EOF now is clean.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle) && self.failed.is_none()
    }

    fn parse_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if let State::Multibulk { .. } = self.state {
                return self.parse_bulks(buf);
            }
            let Some(&first) = buf.first() else {
                return Ok(None);
            };
            if first == b'*' {
                let Some(line) = self.header_line(buf, ProtocolError::TooBigMbulkCount)? else {
                    return Ok(None);
                };
                let count = buf
                    .get(1..line)
                    .and_then(parse_i64)
                    .ok_or(ProtocolError::InvalidMultibulkLength)?;
                let max = i64::try_from(self.limits.args_max)
                    .unwrap_or(i64::MAX)
                    .min(i64::from(i32::MAX));
                if count > max {
                    return Err(ProtocolError::InvalidMultibulkLength);
                }
                self.consume_line(buf, line);
                // `*0` and negative counts are empty requests: skip to the next one.
                if let Ok(remaining @ 1..) = usize::try_from(count) {
                    self.state = State::Multibulk {
                        remaining,
                        args: Vec::with_capacity(remaining.min(ARGS_PREALLOC_MAX)),
                        bulk_len: None,
                    };
                }
            } else {
                let Some(args) = self.parse_inline(buf)? else {
                    return Ok(None);
                };
                if !args.is_empty() {
                    return Ok(Some(args));
                }
            }
        }
    }

    /// Reads as many arguments of the current multibulk as `buf` holds.
    fn parse_bulks(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            let State::Multibulk {
                remaining,
                bulk_len,
                ..
            } = &self.state
            else {
                return Ok(None);
            };
            if *remaining == 0 {
                let State::Multibulk { args, .. } = std::mem::replace(&mut self.state, State::Idle)
                else {
                    return Ok(None);
                };
                return Ok(Some(args));
            }
            let len = match *bulk_len {
                Some(len) => len,
                None => {
                    let Some(line) = self.header_line(buf, ProtocolError::TooBigBulkCount)? else {
                        return Ok(None);
                    };
                    match buf.first() {
                        Some(b'$') => {}
                        Some(&other) => return Err(ProtocolError::ExpectedDollar(other)),
                        None => return Ok(None),
                    }
                    let len = buf
                        .get(1..line)
                        .and_then(parse_i64)
                        .and_then(|n| usize::try_from(n).ok())
                        .filter(|&n| n <= self.limits.bulk_len_max)
                        .ok_or(ProtocolError::InvalidBulkLength)?;
                    self.consume_line(buf, line);
                    if let State::Multibulk { bulk_len, .. } = &mut self.state {
                        *bulk_len = Some(len);
                    }
                    len
                }
            };
            let Some(end) = len.checked_add(2) else {
                return Err(ProtocolError::InvalidBulkLength);
            };
            if buf.len() < end {
                return Ok(None);
            }
            if buf.get(len..end) != Some(&b"\r\n"[..]) {
                return Err(ProtocolError::BulkNotTerminated);
            }
            // A small argument is copied out, so that what a write stores (kept for as long
            // as the key lives) does not pin the whole read buffer it arrived in, and the
            // buffer stays unshared and is reused. A large one is taken without a copy: it
            // fills most of its buffer anyway.
            let arg = if len < ZERO_COPY_MIN {
                let arg = Bytes::copy_from_slice(&buf[..len]);
                buf.advance(len);
                arg
            } else {
                buf.split_to(len).freeze()
            };
            buf.advance(2);
            if let State::Multibulk {
                remaining,
                args,
                bulk_len,
            } = &mut self.state
            {
                args.push(arg);
                *remaining = remaining.saturating_sub(1);
                *bulk_len = None;
            }
        }
    }

    /// Finds the `\r` ending the `*`/`$` header line at the front of `buf`, and returns its
    /// position once the byte after it has arrived too (Redis skips that byte unchecked).
    /// A line that exceeds the limit is `too_big`, whether or not its end has arrived, so the
    /// outcome does not depend on how the stream was split into reads.
    fn header_line(
        &mut self,
        buf: &BytesMut,
        too_big: ProtocolError,
    ) -> Result<Option<usize>, ProtocolError> {
        match self.find(buf, b'\r') {
            Some(pos) if pos > self.limits.inline_len_max => Err(too_big),
            Some(pos) if pos + 2 <= buf.len() => Ok(Some(pos)),
            Some(_) => Ok(None),
            None if buf.len() > self.limits.inline_len_max => Err(too_big),
            None => Ok(None),
        }
    }

    /// Drops a header line ending at `line` (the `\r`) and the byte after it.
    fn consume_line(&mut self, buf: &mut BytesMut, line: usize) {
        buf.advance((line + 2).min(buf.len()));
        self.scanned = 0;
    }

    /// Parses one inline request if its line is complete. Returns an empty vector for a blank
    /// line.
    fn parse_inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let newline = match self.find(buf, b'\n') {
            Some(pos) if pos > self.limits.inline_len_max => {
                return Err(ProtocolError::TooBigInline)
            }
            Some(pos) => pos,
            None if buf.len() > self.limits.inline_len_max => {
                return Err(ProtocolError::TooBigInline)
            }
            None => return Ok(None),
        };
        let line = buf.get(..newline).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let args = split_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
        buf.advance((newline + 1).min(buf.len()));
        self.scanned = 0;
        Ok(Some(args))
    }

    /// Position of the first `byte` in `buf`, resuming after the bytes already searched.
    fn find(&mut self, buf: &BytesMut, byte: u8) -> Option<usize> {
        let from = self.scanned.min(buf.len());
        match buf.get(from..)?.iter().position(|&b| b == byte) {
            Some(i) => {
                self.scanned = from + i;
                Some(from + i)
            }
            None => {
                self.scanned = buf.len();
                None
            }
        }
    }
}

/// Redis's `sdssplitargs`: splits an inline request line into arguments.
///
/// Arguments are separated by whitespace. `"double quotes"` allow the escapes `\n \r \t \b \a
/// \\ \"` and `\xHH`; `'single quotes'` allow `\'`. A closing quote must be followed by
/// whitespace or the end of the line; an unterminated quote is an error (`None`). As in C, the
/// line ends at its first NUL byte.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => line.get(..nul).unwrap_or_default(),
        None => line,
    };
    // C-string access: past the end reads as the terminating NUL.
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while at(p) != 0 && is_c_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Some(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        let mut done = false;
        while !done {
            let c = at(p);
            if in_double {
                let hex_escape = if c == b'\\' && at(p + 1) == b'x' {
                    hex(at(p + 2)).zip(hex(at(p + 3)))
                } else {
                    None
                };
                if let Some((hi, lo)) = hex_escape {
                    current.push(hi * 16 + lo);
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => current.push(c),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        args.push(Bytes::from(current));
    }
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
