//! Digests of values that a write keeps up to date in O(size of the change).
//!
//! The consistency check compares each replica's digest of its whole keyspace: the wrapping
//! sum of every key's digest, so a write adds the key's new digest and subtracts its old one.
//! A key's digest mixes its database, name, type, expiry and the *content digest* of its
//! value, which each value type maintains as it changes:
//! - a string: `Σ w_i · B^i mod P` over its 32-bit little-endian words (the last zero-padded),
//!   with its length mixed in, so APPEND, SETRANGE and SETBIT update it from the bytes they
//!   change (and padding with zeros changes only the length);
//! - a list: `Σ h(e_i) · B^i mod P`, so a push or pop at either end is O(1);
//! - hashes, sets and sorted sets: the wrapping sum of their elements' hashes.
//!
//! P is the Mersenne prime 2^61 − 1. Everything here is part of the check protocol between
//! replicas: it must never change (a test pins values).

/// The modulus: 2^61 − 1.
pub const P: u64 = (1 << 61) - 1;
/// The polynomial base (any fixed value in [2, P) will do; this one is random).
pub const B: u64 = 0x1d8e_4e27_c47d_124f % P;
/// B's inverse mod P, for removals at the head of a list.
pub const B_INV: u64 = inverse(B);

/// `a · b mod P`.
pub const fn mul(a: u64, b: u64) -> u64 {
    let product = (a as u128) * (b as u128);
    let low = (product as u64) & P;
    let high = (product >> 61) as u64;
    reduce(low + high)
}

const fn reduce(x: u64) -> u64 {
    let x = (x & P) + (x >> 61);
    if x >= P {
        x - P
    } else {
        x
    }
}

pub const fn add(a: u64, b: u64) -> u64 {
    reduce(a + b)
}

pub const fn sub(a: u64, b: u64) -> u64 {
    reduce(a + P - b)
}

/// `base^exp mod P`.
pub const fn pow(mut base: u64, mut exp: u64) -> u64 {
    let mut acc = 1;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = mul(acc, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    acc
}

const fn inverse(a: u64) -> u64 {
    // Fermat: a^(P−2) is a's inverse for a prime P.
    pow(a, P - 2)
}

/// splitmix64's finalizer: spreads every input bit over the whole word.
pub const fn mix(mut h: u64) -> u64 {
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A 64-bit hash of bytes (FNV-1a, finished with [`mix`]) with a seed, so that a field and a
/// value, or two kinds of element, hash apart.
pub fn hash(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h ^ bytes.len() as u64)
}

/// An element's hash reduced mod P (for the polynomial digests).
pub fn hash_mod(seed: u64, bytes: &[u8]) -> u64 {
    hash(seed, bytes) % P
}

/// The 32-bit little-endian word `i` of `bytes`, zero-padded.
fn word(bytes: &[u8], i: usize) -> u64 {
    let start = i * 4;
    let mut w = [0u8; 4];
    if let Some(chunk) = bytes.get(start..) {
        let n = chunk.len().min(4);
        w[..n].copy_from_slice(&chunk[..n]);
    }
    u64::from(u32::from_le_bytes(w))
}

/// `Σ w_i · B^(first + i)` over the words of `bytes` starting at word `first`.
fn words_sum(bytes: &[u8], first: usize, count: usize) -> u64 {
    let mut acc = 0;
    // Horner from the last word down, then shift by B^first.
    for i in (0..count).rev() {
        acc = add(mul(acc, B), word(bytes, first + i));
    }
    mul(acc, pow(B, first as u64))
}

/// The polynomial of a whole string.
pub fn string_poly(bytes: &[u8]) -> u64 {
    words_sum(bytes, 0, bytes.len().div_ceil(4))
}

/// How the polynomial of `old` changes when its bytes from `offset` become `new` (bytes past
/// the old end read as zeros), looking only at the words the change touches.
pub fn string_poly_delta(old: &[u8], offset: usize, new: &[u8]) -> (u64, u64) {
    if new.is_empty() {
        return (0, 0);
    }
    let first = offset / 4;
    let last = (offset + new.len() - 1) / 4;
    let count = last - first + 1;
    let before = words_sum(old, first, count);
    // The touched words after the change: old bytes around, new bytes inside.
    let mut after_bytes = vec![0u8; count * 4];
    let base = first * 4;
    for (i, b) in after_bytes.iter_mut().enumerate() {
        let at = base + i;
        *b = if at >= offset && at < offset + new.len() {
            new[at - offset]
        } else {
            old.get(at).copied().unwrap_or(0)
        };
    }
    let after = words_sum(&after_bytes, 0, count);
    (before, mul(after, pow(B, first as u64)))
}

/// A string's content digest from its polynomial and length.
pub fn string_digest(poly: u64, len: usize) -> u64 {
    mix(poly ^ (len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Seeds that keep the element hashes of different roles apart.
pub mod seed {
    pub const LIST: u64 = 0x4c49_5354;
    pub const SET: u64 = 0x5345_5400;
    pub const FIELD: u64 = 0x4649_454c;
    pub const VALUE: u64 = 0x5641_4c55;
    pub const MEMBER: u64 = 0x4d45_4d42;
}

/// One hash field's contribution.
pub fn field(field: &[u8], value: &[u8]) -> u64 {
    mix(hash(seed::FIELD, field).wrapping_add(mix(hash(seed::VALUE, value))))
}

/// One sorted-set member's contribution.
pub fn member(member: &[u8], score: f64) -> u64 {
    mix(hash(seed::MEMBER, member) ^ mix(score.to_bits()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_mod_p() {
        assert_eq!(mul(B, B_INV), 1);
        assert_eq!(mul(P - 1, P - 1), 1);
        assert_eq!(sub(3, 5), P - 2);
        assert_eq!(pow(B, 3), mul(B, mul(B, B)));
    }

    #[test]
    fn a_string_change_updates_its_polynomial() {
        let old = b"hello, world".to_vec();
        let mut new = old.clone();
        new[5..9].copy_from_slice(b"XYZW");
        let (before, after) = string_poly_delta(&old, 5, b"XYZW");
        let updated = add(sub(string_poly(&old), before), after);
        assert_eq!(updated, string_poly(&new));
        // Past the end: the old string reads as zeros there.
        let mut grown = old.clone();
        grown.resize(20, 0);
        grown[17..20].copy_from_slice(b"abc");
        let (before, after) = string_poly_delta(&old, 17, b"abc");
        assert_eq!(
            add(sub(string_poly(&old), before), after),
            string_poly(&grown)
        );
    }

    #[test]
    fn digests_never_change() {
        // Part of the check protocol between replicas.
        assert_eq!(string_digest(string_poly(b"abc"), 3), 0x9148_7693_6d4f_73c5);
        assert_eq!(field(b"f", b"v"), 0x157f_c8cd_9110_c07d);
        assert_eq!(member(b"m", 1.5), 0x6fbb_d363_e546_d4b6);
    }
}
