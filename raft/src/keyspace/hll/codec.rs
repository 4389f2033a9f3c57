//! Redis's HyperLogLog representation, as a plain string value, so that GET, DUMP, APPEND
//! and SETRANGE see the same bytes redis-server stores and counts agree with it:
//!
//! ```text
//! "HYLL" | encoding (0 dense, 1 sparse) | 3 unused | cached cardinality (u64 LE; top bit
//! set: stale) | registers
//! ```
//!
//! 16,384 registers of 6 bits. Dense: packed little-endian, register i at bit 6i. Sparse: a
//! run-length code: `00xxxxxx` (1 to 64 zero registers), `01xxxxxx yyyyyyyy` (1 to 16,384
//! zero registers), `1vvvvvxx` (1 to 4 registers of value 1 to 32). An element goes to the
//! register its MurmurHash64A (seed 0xadc83b19) names in the low 14 bits, with the count of
//! trailing zeros (plus one) of the other 50 bits; the estimate is Ertl's, as Redis 7's.
//!
//! Sparse values are re-encoded whole after each change, always in the shortest form; Redis
//! edits them in place and may leave a few adjacent runs unmerged, so a sparse string can be
//! a few bytes shorter than Redis's (its registers, and so every count, are the same).

pub const REGISTERS: usize = 1 << P;
const P: u32 = 14;
/// Hash bits left after the register index.
const Q: u32 = 64 - P;
pub const HEADER: usize = 16;
pub const DENSE_SIZE: usize = HEADER + (REGISTERS * 6).div_ceil(8);
const SPARSE_VAL_MAX: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16_384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Dense,
    Sparse,
}

/// Why a string is not a usable HLL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// Not an HLL at all (magic, encoding byte, dense length): WRONGTYPE.
    NotHll,
    /// An HLL whose sparse runs do not add up: INVALIDOBJ.
    Corrupt,
}

/// Checks what Redis checks before it reads a string as an HLL.
pub fn encoding(bytes: &[u8]) -> Result<Encoding, Bad> {
    if bytes.len() < HEADER || &bytes[..4] != b"HYLL" {
        return Err(Bad::NotHll);
    }
    match bytes[4] {
        0 if bytes.len() == DENSE_SIZE => Ok(Encoding::Dense),
        1 => Ok(Encoding::Sparse),
        _ => Err(Bad::NotHll),
    }
}

/// The cached cardinality, if the cache is valid.
pub fn cached(bytes: &[u8]) -> Option<u64> {
    let card: [u8; 8] = bytes.get(8..16)?.try_into().ok()?;
    (card[7] & 0x80 == 0).then(|| u64::from_le_bytes(card))
}

/// A new, empty HLL as Redis creates it: sparse, all zero registers, cache valid at 0.
pub fn empty() -> Vec<u8> {
    let mut out = header(Encoding::Sparse, [0; 8]);
    encode_sparse_into(&[0; REGISTERS], &mut out);
    out
}

fn header(enc: Encoding, card: [u8; 8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(DENSE_SIZE);
    h.extend_from_slice(b"HYLL");
    h.push(match enc {
        Encoding::Dense => 0,
        Encoding::Sparse => 1,
    });
    h.extend_from_slice(&[0, 0, 0]);
    h.extend_from_slice(&card);
    h
}

/// The registers of a checked HLL string.
pub fn registers(bytes: &[u8]) -> Result<Box<[u8; REGISTERS]>, Bad> {
    let mut regs = Box::new([0u8; REGISTERS]);
    let body = &bytes[HEADER..];
    match encoding(bytes)? {
        Encoding::Dense => {
            for (i, r) in regs.iter_mut().enumerate() {
                *r = dense_get(body, i);
            }
        }
        Encoding::Sparse => {
            let mut at = 0usize;
            let mut i = 0usize;
            while i < body.len() {
                let op = body[i];
                let (len, value) = if op & 0xc0 == 0 {
                    i += 1;
                    ((op & 0x3f) as usize + 1, 0)
                } else if op & 0xc0 == 0x40 {
                    let low = *body.get(i + 1).ok_or(Bad::Corrupt)?;
                    i += 2;
                    (((((op & 0x3f) as usize) << 8) | low as usize) + 1, 0)
                } else {
                    i += 1;
                    ((op & 0x3) as usize + 1, ((op >> 2) & 0x1f) + 1)
                };
                let end = at + len;
                if end > REGISTERS {
                    return Err(Bad::Corrupt);
                }
                regs[at..end].fill(value);
                at = end;
            }
            if at != REGISTERS {
                return Err(Bad::Corrupt);
            }
        }
    }
    Ok(regs)
}

/// PFADD on a dense HLL as Redis does it, as the byte writes it takes: each element's
/// register raised if its count is higher, O(1) per element, and the cached cardinality
/// marked stale if any changed. `(offset, bytes)` to write in order; none when nothing
/// changes. `bytes` must be a checked dense HLL.
pub fn dense_changes(bytes: &[u8], elements: &[bytes::Bytes]) -> Vec<(usize, Vec<u8>)> {
    let body = &bytes[HEADER..];
    // The bytes written so far, over the string's: a register spans at most two bytes.
    let mut written: std::collections::BTreeMap<usize, u8> = Default::default();
    let mut writes = Vec::new();
    for e in elements {
        let (i, count) = position(e);
        let (bytes, shift) = dense_window(body.len(), i);
        let at = bytes.start;
        let mut window: Vec<u8> = bytes
            .map(|b| written.get(&b).copied().unwrap_or(body[b]))
            .collect();
        if dense_get_at(&window, shift) < count {
            dense_set_at(&mut window, shift, count);
            for (k, b) in window.iter().enumerate() {
                written.insert(at + k, *b);
            }
            writes.push((HEADER + at, window));
        }
    }
    if !writes.is_empty() && bytes[15] & 0x80 == 0 {
        writes.push((15, vec![bytes[15] | 0x80]));
    }
    writes
}

/// The 6-bit register at bit `shift` (below 8) of a one- or two-byte window.
fn dense_get_at(window: &[u8], shift: usize) -> u8 {
    let lo = window.first().copied().unwrap_or(0) as u16;
    let hi = window.get(1).copied().unwrap_or(0) as u16;
    (((lo | (hi << 8)) >> shift) & 0x3f) as u8
}

fn dense_set_at(window: &mut [u8], shift: usize, value: u8) {
    let mut word = window.first().copied().unwrap_or(0) as u16
        | (window.get(1).copied().unwrap_or(0) as u16) << 8;
    word &= !(0x3f << shift);
    word |= (value as u16 & 0x3f) << shift;
    if let Some(b) = window.get_mut(0) {
        *b = word as u8;
    }
    if let Some(b) = window.get_mut(1) {
        *b = (word >> 8) as u8;
    }
}

/// The one or two bytes of dense registers `body` that register `i` spans, and the bit it
/// starts at within them.
fn dense_window(body_len: usize, i: usize) -> (std::ops::Range<usize>, usize) {
    let byte = i * 6 / 8;
    (byte..(byte + 2).min(body_len), i * 6 % 8)
}

/// Register `i` of dense registers `body`.
fn dense_get(body: &[u8], i: usize) -> u8 {
    let (bytes, shift) = dense_window(body.len(), i);
    dense_get_at(&body[bytes], shift)
}

fn dense_set(body: &mut [u8], i: usize, value: u8) {
    let (bytes, shift) = dense_window(body.len(), i);
    dense_set_at(&mut body[bytes], shift, value);
}

/// Encodes `regs` with the header of `old` (its cached cardinality, marked stale when
/// `stale`): sparse if `sparse` is asked, every register fits and the string stays within
/// `sparse_max` bytes; dense otherwise.
pub fn encode(
    regs: &[u8; REGISTERS],
    old: Option<&[u8]>,
    sparse: bool,
    sparse_max: usize,
    stale: bool,
) -> Vec<u8> {
    let mut card: [u8; 8] = old
        .and_then(|o| o.get(8..16))
        .and_then(|c| c.try_into().ok())
        .unwrap_or([0; 8]);
    if stale {
        card[7] |= 0x80;
    }
    if sparse && regs.iter().all(|&r| r <= SPARSE_VAL_MAX) {
        let mut out = header(Encoding::Sparse, card);
        encode_sparse_into(regs, &mut out);
        if out.len() <= sparse_max {
            return out;
        }
    }
    let mut out = header(Encoding::Dense, card);
    out.resize(DENSE_SIZE, 0);
    for (i, &r) in regs.iter().enumerate() {
        if r != 0 {
            dense_set(&mut out[HEADER..], i, r);
        }
    }
    out
}

fn encode_sparse_into(regs: &[u8; REGISTERS], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < REGISTERS {
        let value = regs[i];
        let run = regs[i..].iter().take_while(|&&r| r == value).count();
        if value == 0 {
            let mut left = run;
            while left > 0 {
                let len = left.min(SPARSE_XZERO_MAX_LEN);
                if len <= SPARSE_ZERO_MAX_LEN {
                    out.push((len - 1) as u8);
                } else {
                    let l = len - 1;
                    out.push(0x40 | (l >> 8) as u8);
                    out.push(l as u8);
                }
                left -= len;
            }
        } else {
            let mut left = run;
            while left > 0 {
                let len = left.min(SPARSE_VAL_MAX_LEN);
                out.push(0x80 | ((value - 1) << 2) | (len - 1) as u8);
                left -= len;
            }
        }
        i += run;
    }
}

/// The register an element goes to and the value it proposes.
pub fn position(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// MurmurHash64A (Austin Appleby), little-endian blocks, as Redis uses it.
fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The cardinality estimate of `regs` (Ertl's improved estimator, as Redis 7).
pub fn estimate(regs: &[u8; REGISTERS]) -> u64 {
    let mut histogram = [0u32; 64];
    for &r in regs.iter() {
        histogram[(r & 63) as usize] += 1;
    }
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histogram[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += histogram[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histogram[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// PFDEBUG DECODE's text for a sparse HLL's runs (`z:` short zero run, `Z:` long zero
/// run, `v:value,length`).
pub fn describe_sparse(bytes: &[u8]) -> String {
    let body = &bytes[HEADER.min(bytes.len())..];
    let mut parts = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let op = body[i];
        if op & 0xc0 == 0 {
            parts.push(format!("z:{}", (op & 0x3f) as usize + 1));
            i += 1;
        } else if op & 0xc0 == 0x40 {
            let low = body.get(i + 1).copied().unwrap_or(0) as usize;
            parts.push(format!("Z:{}", ((((op & 0x3f) as usize) << 8) | low) + 1));
            i += 2;
        } else {
            parts.push(format!("v:{},{}", ((op >> 2) & 0x1f) + 1, (op & 3) + 1));
            i += 1;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_redis_bytes() {
        // "HYLL", sparse, cache 0, then one XZERO run of 16384: 0x7f 0xff.
        let e = empty();
        assert_eq!(&e[..5], b"HYLL\x01");
        assert_eq!(&e[HEADER..], &[0x7f, 0xff]);
        assert_eq!(e.len(), 18);
        assert_eq!(cached(&e), Some(0));
    }

    /// What PFADD does to `hll`: every element, then the encoding it keeps.
    fn add(hll: &[u8], elements: impl Iterator<Item = String>) -> Vec<u8> {
        let mut regs = registers(hll).unwrap();
        for e in elements {
            let (i, c) = position(e.as_bytes());
            regs[i] = regs[i].max(c);
        }
        let sparse = encoding(hll) == Ok(Encoding::Sparse);
        encode(&regs, Some(hll), sparse, 3000, true)
    }

    /// The bytes redis-server 7.0.15 stores for the same PFADDs (read back with GET before
    /// any PFCOUNT, so with the cache marked stale), and the counts it answers.
    #[test]
    fn the_same_bytes_and_counts_as_redis_server() {
        let abc = add(&empty(), ["a", "b", "c"].iter().map(|s| s.to_string()));
        let mut want = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80".to_vec();
        want.extend_from_slice(b"`\xf3\x80P\xb1\x84K\xfb\x80BZ");
        assert_eq!(abc, want);
        assert_eq!(
            describe_sparse(&abc),
            "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
        );
        assert_eq!(estimate(&registers(&abc).unwrap()), 3);

        let blank = add(&empty(), std::iter::once(String::new()));
        let mut want = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80".to_vec();
        want.extend_from_slice(b"W1\x84h\xcc");
        assert_eq!(blank, want);

        let sparse = add(&empty(), (0..200).map(|i| i.to_string()));
        assert_eq!(
            (sparse.len(), crc32fast::hash(&sparse)),
            (507, 1_660_841_669)
        );
        assert_eq!(estimate(&registers(&sparse).unwrap()), 201);

        let dense = add(&empty(), (0..5000).map(|i| i.to_string()));
        assert_eq!(encoding(&dense), Ok(Encoding::Dense));
        assert_eq!(
            (dense.len(), crc32fast::hash(&dense)),
            (12_304, 1_619_629_080)
        );
        assert_eq!(estimate(&registers(&dense).unwrap()), 4985);

        let big = add(&empty(), (0..100_000).map(|i| format!("el{i}")));
        assert_eq!(estimate(&registers(&big).unwrap()), 99_142);
    }

    #[test]
    fn sparse_and_dense_hold_the_same_registers() {
        let mut regs = Box::new([0u8; REGISTERS]);
        for k in 0..2000u32 {
            let (i, c) = position(&k.to_le_bytes());
            regs[i] = regs[i].max(c);
        }
        let sparse = encode(&regs, None, true, usize::MAX, true);
        let dense = encode(&regs, None, false, 0, true);
        assert_eq!(encoding(&sparse), Ok(Encoding::Sparse));
        assert_eq!(encoding(&dense), Ok(Encoding::Dense));
        assert_eq!(dense.len(), DENSE_SIZE);
        assert_eq!(*registers(&sparse).unwrap(), *regs);
        assert_eq!(*registers(&dense).unwrap(), *regs);
        let n = estimate(&regs) as f64;
        assert!((n - 2000.0).abs() < 2000.0 * 0.03, "{n}");
        assert_eq!(cached(&sparse), None);
    }

    #[test]
    fn damage_is_told_apart_from_not_an_hll() {
        let mut e = empty();
        e.extend_from_slice(b"hello");
        assert_eq!(registers(&e).err(), Some(Bad::Corrupt));
        assert_eq!(encoding(b"HYL"), Err(Bad::NotHll));
        let mut d = encode(&[0; REGISTERS], None, false, 0, false);
        d.pop();
        assert_eq!(encoding(&d), Err(Bad::NotHll));
        let mut x = empty();
        x[4] = b'x';
        assert_eq!(encoding(&x), Err(Bad::NotHll));
    }
}
