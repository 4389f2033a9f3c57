//! A string value: its bytes and their polynomial (see [`super::digest`]), kept up to date by
//! the in-place changes (APPEND, SETRANGE, SETBIT) in proportion to the bytes they change.

use bytes::{Bytes, BytesMut};

use super::digest;

#[derive(Clone, Debug)]
pub struct Str {
    bytes: Bytes,
    poly: u64,
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        self.bytes == other.bytes
    }
}

impl Str {
    pub fn new(bytes: Bytes) -> Str {
        let poly = digest::string_poly(&bytes);
        Str { bytes, poly }
    }

    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The content digest.
    pub fn digest(&self) -> u64 {
        digest::string_digest(self.poly, self.bytes.len())
    }

    /// The bytes as a reply: a copy for a short string (cheaper than sharing, which would
    /// allocate a shared header once per value), the value itself otherwise.
    pub fn reply_bytes(&self) -> Bytes {
        if self.bytes.len() <= 4096 {
            Bytes::copy_from_slice(&self.bytes)
        } else {
            self.bytes.clone()
        }
    }

    /// The bytes, mutable: in place when nothing else holds them (amortized O(1) growth),
    /// else a copy.
    fn buffer(&mut self) -> BytesMut {
        let bytes = std::mem::take(&mut self.bytes);
        bytes
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]))
    }

    /// Writes `data` at `offset`, padding with zeros past the end (SETRANGE, APPEND).
    pub fn write_at(&mut self, offset: usize, data: &[u8]) {
        let (before, after) = digest::string_poly_delta(&self.bytes, offset, data);
        let mut buf = self.buffer();
        let end = offset + data.len();
        if buf.len() < end {
            buf.resize(end, 0);
        }
        buf[offset..end].copy_from_slice(data);
        self.bytes = buf.freeze();
        self.poly = digest::add(digest::sub(self.poly, before), after);
    }

    /// Pads with zeros to at least `len` bytes (SETBIT past the end); the polynomial of
    /// zeros is zero.
    pub fn pad_to(&mut self, len: usize) {
        if self.bytes.len() < len {
            let mut buf = self.buffer();
            buf.resize(len, 0);
            self.bytes = buf.freeze();
        }
    }
}
