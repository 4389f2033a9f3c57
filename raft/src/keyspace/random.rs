//! Random choices for SPOP (a write: deterministic), SRANDMEMBER, HRANDFIELD and ZRANDMEMBER
//! (reads:
//! random on the serving node).
//!
//! SPOP is applied on every replica, so its choice must be the same everywhere: its generator
//! is seeded from the log entry's timestamp, the key's scan hash and the set's size (the size
//! makes two SPOPs of one key in the same entry draw differently), never from a local source.
//! Reads need not agree between replicas and are seeded from the process's random hasher keys.

use cairn_protocol::errors::RedisError;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use super::scan_hash;

/// The most elements a negative count (elements may repeat) may ask SRANDMEMBER or HRANDFIELD
/// for. Redis has no such bound; cairn builds a reply in memory and refuses larger ones.
pub(crate) const MAX_REPEATED_SAMPLE: u64 = 1 << 20;

/// What HRANDFIELD and ZRANDMEMBER pick from `len` items for `count`: without a count one
/// index (none if empty); a positive count that many distinct ones (at most all), a negative
/// one that many with repeats. `Err` is Redis's error for a repeat count too large.
pub(crate) fn sample(
    key: &[u8],
    len: usize,
    count: Option<i64>,
    now_ms: u64,
) -> std::result::Result<Sample, cairn_protocol::Reply> {
    let mut rng = SplitMix64::for_read(key, now_ms);
    let Some(count) = count else {
        return Ok(Sample::One((len > 0).then(|| rng.below(len))));
    };
    let n = count.unsigned_abs();
    if len == 0 || n == 0 {
        return Ok(Sample::Many(Vec::new()));
    }
    if count >= 0 {
        Ok(Sample::Many(distinct(&mut rng, len, n)))
    } else if n > MAX_REPEATED_SAMPLE {
        Err(cairn_protocol::Reply::from(RedisError::OutOfRange))
    } else {
        Ok(Sample::Many(repeated(&mut rng, len, n)))
    }
}

/// The indexes [`sample`] picked.
pub(crate) enum Sample {
    One(Option<usize>),
    Many(Vec<usize>),
}

/// splitmix64: small, fast, and fully specified, so every replica computes the same stream.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    #[cfg(test)]
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// SPOP's generator: the same on every replica for the same entry and set.
    pub(crate) fn for_write(now_ms: u64, key: &[u8], len: usize) -> SplitMix64 {
        SplitMix64(now_ms ^ scan_hash(key) ^ (len as u64).rotate_left(32))
    }

    /// A generator for a read, seeded from a per-process random source.
    pub(crate) fn for_read(key: &[u8], now_ms: u64) -> SplitMix64 {
        let mut h = RandomState::new().build_hasher();
        h.write(key);
        h.write_u64(now_ms);
        SplitMix64(h.finish())
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// `count` distinct indices of `0..n` in random order; all of `0..n` in order when `count`
/// covers them (as Redis returns the whole collection then).
pub(crate) fn distinct(rng: &mut SplitMix64, n: usize, count: u64) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    let Ok(count) = usize::try_from(count) else {
        return all;
    };
    if count >= n {
        return all;
    }
    // Partial Fisher-Yates: the first `count` slots end up a uniform sample.
    for i in 0..count {
        let j = i + rng.below(n - i);
        all.swap(i, j);
    }
    all.truncate(count);
    all
}

/// `count` indices of `0..n` (`n > 0`), each drawn independently (repeats allowed).
pub(crate) fn repeated(rng: &mut SplitMix64, n: usize, count: u64) -> Vec<usize> {
    (0..count).map(|_| rng.below(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_generator_is_a_pure_function_of_its_inputs() {
        let a: Vec<u64> = {
            let mut r = SplitMix64::for_write(1_000, b"k", 5);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let mut r = SplitMix64::for_write(1_000, b"k", 5);
        assert_eq!(a, (0..4).map(|_| r.next_u64()).collect::<Vec<_>>());
        // Pinned: replicas of different versions must agree.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_ne!(SplitMix64::for_write(1_001, b"k", 5).next_u64(), a[0]);
    }

    #[test]
    fn samples_are_in_range_and_distinct() {
        let mut r = SplitMix64::new(42);
        for n in 1..20 {
            for count in 0..25u64 {
                let mut s = distinct(&mut r, n, count);
                assert_eq!(s.len(), (count as usize).min(n));
                s.sort_unstable();
                s.dedup();
                assert_eq!(s.len(), (count as usize).min(n));
                assert!(s.iter().all(|&i| i < n));
                assert!(repeated(&mut r, n, count).iter().all(|&i| i < n));
            }
        }
        assert_eq!(distinct(&mut r, 3, 3), [0, 1, 2]);
    }
}
