//! A string value.
//!
//! Most strings are short: up to [`INLINE_MAX`] bytes a string lives in its key's entry
//! itself (24 bytes there, no allocation: a GET follows no pointer to it), up to [`SMALL_MAX`]
//! bytes it is its bytes alone, in one allocation of their size, and either's digest is
//! computed when asked (a few dozen multiplications). A longer one keeps shareable bytes (`Bytes`: a reply
//! or a snapshot takes it without a copy) and their polynomial (see [`super::digest`]),
//! which APPEND, SETRANGE and SETBIT update in proportion to the bytes they change, with
//! amortized O(1) growth when nothing else holds the bytes.

use bytes::{Bytes, BytesMut};

use super::digest;

/// The longest string kept as a plain allocation.
pub const SMALL_MAX: usize = 256;
/// The longest string kept inline, in the 24 bytes a boxed string takes anyway.
pub const INLINE_MAX: usize = 22;

#[derive(Clone, Debug)]
pub enum Str {
    Inline(u8, [u8; INLINE_MAX]),
    Small(Box<[u8]>),
    Large(Box<Large>),
}

#[derive(Clone, Debug)]
pub struct Large {
    bytes: Bytes,
    poly: u64,
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Str {
    pub fn new(bytes: Bytes) -> Str {
        if bytes.len() <= SMALL_MAX {
            Str::short(&bytes)
        } else {
            let poly = digest::string_poly(&bytes);
            Str::Large(Box::new(Large { bytes, poly }))
        }
    }

    /// A string of at most [`SMALL_MAX`] bytes, inline when it fits.
    fn short(bytes: &[u8]) -> Str {
        match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= INLINE_MAX => {
                let mut buf = [0u8; INLINE_MAX];
                buf[..bytes.len()].copy_from_slice(bytes);
                Str::Inline(len, buf)
            }
            _ => Str::Small(Box::from(bytes)),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Str::Inline(len, buf) => &buf[..usize::from(*len).min(INLINE_MAX)],
            Str::Small(b) => b,
            Str::Large(l) => &l.bytes,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }

    /// The content digest.
    pub fn digest(&self) -> u64 {
        let poly = match self {
            Str::Large(l) => l.poly,
            short => digest::string_poly(short.bytes()),
        };
        digest::string_digest(poly, self.len())
    }

    /// The bytes as a `Bytes`: a copy of a short string (cheaper than sharing, which would
    /// allocate a shared header once per value), the value itself otherwise.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Str::Large(l) if l.bytes.len() > 4096 => l.bytes.clone(),
            other => Bytes::copy_from_slice(other.bytes()),
        }
    }

    /// The bytes for a reply (see [`Str::to_bytes`]).
    pub fn reply_bytes(&self) -> Bytes {
        self.to_bytes()
    }

    /// Converts a short string into the large form.
    fn make_large(&mut self) {
        if !matches!(self, Str::Large(_)) {
            let bytes = Bytes::copy_from_slice(self.bytes());
            let poly = digest::string_poly(&bytes);
            *self = Str::Large(Box::new(Large { bytes, poly }));
        }
    }

    /// Writes `data` at `offset`, padding with zeros past the end (SETRANGE, APPEND).
    pub fn write_at(&mut self, offset: usize, data: &[u8]) {
        let end = offset + data.len();
        if !matches!(self, Str::Large(_)) && end.max(self.len()) <= SMALL_MAX {
            let mut v = self.bytes().to_vec();
            if v.len() < end {
                v.resize(end, 0);
            }
            v[offset..end].copy_from_slice(data);
            *self = Str::short(&v);
            return;
        }
        self.make_large();
        let Str::Large(large) = self else {
            return;
        };
        let (before, after) = digest::string_poly_delta(&large.bytes, offset, data);
        let mut buf = take_mut(&mut large.bytes);
        if buf.len() < end {
            buf.resize(end, 0);
        }
        buf[offset..end].copy_from_slice(data);
        large.bytes = buf.freeze();
        large.poly = digest::add(digest::sub(large.poly, before), after);
    }

    /// Pads with zeros to at least `len` bytes (SETBIT past the end); the polynomial of
    /// zeros is zero.
    pub fn pad_to(&mut self, len: usize) {
        if self.len() < len {
            let at = self.len();
            self.write_at(at, &vec![0u8; len - at]);
        }
    }
}

/// The bytes, mutable: in place when nothing else holds them, else a copy.
fn take_mut(bytes: &mut Bytes) -> BytesMut {
    std::mem::take(bytes)
        .try_into_mut()
        .unwrap_or_else(|shared| BytesMut::from(&shared[..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_the_digest_of_the_bytes_whatever_the_form() {
        let mut s = Str::new(Bytes::from_static(b"hello"));
        s.write_at(5, b", world");
        assert_eq!(s.bytes(), b"hello, world");
        assert_eq!(
            s.digest(),
            Str::new(Bytes::from_static(b"hello, world")).digest()
        );
        // Growing past the short form converts it; the digest does not depend on the form.
        let long = vec![b'x'; SMALL_MAX + 10];
        s.write_at(s.len(), &long);
        assert!(matches!(s, Str::Large(_)));
        let same = Str::new(Bytes::copy_from_slice(s.bytes()));
        assert_eq!(s.digest(), same.digest());
        s.pad_to(1000);
        s.write_at(900, b"abc");
        assert_eq!(s.len(), 1000);
        assert_eq!(
            s.digest(),
            Str::new(Bytes::copy_from_slice(s.bytes())).digest()
        );
        let short = Str::new(Bytes::from_static(b"abc"));
        assert!(matches!(short, Str::Inline(..)));
        let mut grown = short.clone();
        grown.pad_to(SMALL_MAX + 1);
        grown.write_at(0, b"abc");
        let mut small_padded = short.clone();
        small_padded.pad_to(100);
        assert!(matches!(small_padded, Str::Small(_)));
        assert_eq!(
            small_padded.digest(),
            Str::new(Bytes::copy_from_slice(small_padded.bytes())).digest()
        );
        assert_eq!(grown.bytes()[..3], *b"abc");
    }

    #[test]
    fn the_inline_form_fits_where_a_boxed_string_did() {
        assert_eq!(std::mem::size_of::<Str>(), 24);
        assert_eq!(std::mem::size_of::<super::super::Data>(), 24);
        let mut s = Str::new(Bytes::from_static(b""));
        for i in 0..=INLINE_MAX + 1 {
            assert_eq!(s.len(), i);
            assert_eq!(matches!(s, Str::Inline(..)), i <= INLINE_MAX);
            assert_eq!(s.digest(), Str::Small(Box::from(s.bytes())).digest());
            s.write_at(i, b"x");
        }
    }
}
