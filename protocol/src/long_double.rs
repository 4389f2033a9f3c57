//! INCRBYFLOAT's arithmetic: the x87 80-bit `long double` that Redis computes in on x86-64,
//! emulated exactly in software.
//!
//! Redis reads the stored value and the increment with `strtold`, adds them in `long double`
//! (64-bit significand) and stores `printf("%.17Lf")` with the trailing zeros removed. Its 11
//! extra bits of precision are why `0.1` plus `0.2` is `0.3` in Redis, where `f64` would give
//! `0.30000000000000004`. Every step here is correctly rounded (to nearest, ties to even) with
//! integer arithmetic, so the result is the same on every replica whatever its hardware.

use std::cmp::Ordering;

use crate::num::parse_float;

/// Smallest exponent of a value `mant * 2^exp`: the x87 subnormals end at 2^-16445.
const EXP_MIN: i64 = -16445;
/// Largest exponent of a finite value with a 64-bit significand (largest value < 2^16384).
const EXP_MAX: i64 = 16320;
/// The decimal range strtold can return without ERANGE, with a digit of slack either side
/// (the exact limits are decided by rounding).
const DEC_MAX: i64 = 4934;
const DEC_MIN: i64 = -4952;

/// An x87 extended-precision value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongDouble {
    /// `(-1)^neg * mant * 2^exp`; `mant` has its top bit set unless the value is subnormal
    /// (`exp == EXP_MIN`) or zero (`mant == 0`).
    Finite {
        neg: bool,
        mant: u64,
        exp: i32,
    },
    Infinite {
        neg: bool,
    },
}

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble::Finite {
        neg: false,
        mant: 0,
        exp: 0,
    };

    /// Redis's `string2ld`: what `strtold` makes of the whole of `s`, or `None` where Redis
    /// says "value is not a valid float" (bad syntax, NaN, 5 KiB or more, or a decimal outside
    /// the `long double` range). Hexadecimal floats are read through `f64`.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        let approx = parse_float(s)?;
        let (neg, body) = match s.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, s),
        };
        let hex = matches!(body, [b'0', b'x' | b'X', ..]);
        if hex || (approx.is_infinite() && body.first().is_some_and(u8::is_ascii_alphabetic)) {
            return Some(LongDouble::from_f64(approx));
        }
        parse_decimal(neg, body)
    }

    /// The exact value of an `f64`.
    pub fn from_f64(f: f64) -> LongDouble {
        let neg = f.is_sign_negative();
        if f.is_infinite() {
            return LongDouble::Infinite { neg };
        }
        let bits = f.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1 << 52) - 1);
        let (m, e) = if biased == 0 {
            (frac, -1074)
        } else {
            (frac | (1 << 52), biased - 1075)
        };
        round(neg, Big::from_u64(m), e, false)
    }

    /// The value of an `f64` increment as the client wrote it: its shortest decimal text (which
    /// is the client's text for up to 15 significant digits) read as a `long double`.
    pub fn from_f64_text(f: f64) -> LongDouble {
        if f.is_finite() {
            LongDouble::parse(format!("{f}").as_bytes()).unwrap_or(LongDouble::from_f64(f))
        } else {
            LongDouble::from_f64(f)
        }
    }

    pub fn is_finite(&self) -> bool {
        matches!(self, LongDouble::Finite { .. })
    }

    /// `self + other`, correctly rounded; `None` if the sum is NaN (`inf + -inf`).
    pub fn add(&self, other: &LongDouble) -> Option<LongDouble> {
        use LongDouble::{Finite, Infinite};
        match (*self, *other) {
            (Infinite { neg: a }, Infinite { neg: b }) => (a == b).then_some(*self),
            (Infinite { .. }, _) => Some(*self),
            (_, Infinite { .. }) => Some(*other),
            (
                Finite {
                    mant: 0, neg: a, ..
                },
                Finite {
                    mant: 0, neg: b, ..
                },
            ) => Some(Finite {
                neg: a && b,
                mant: 0,
                exp: 0,
            }),
            (Finite { mant: 0, .. }, _) => Some(*other),
            (_, Finite { mant: 0, .. }) => Some(*self),
            (
                Finite {
                    neg: na,
                    mant: ma,
                    exp: ea,
                },
                Finite {
                    neg: nb,
                    mant: mb,
                    exp: eb,
                },
            ) => {
                let (ea, eb) = (i64::from(ea), i64::from(eb));
                // A normal significand has its top bit set, so the larger exponent is the
                // larger magnitude; one more than 130 binary places smaller is less than a
                // quarter of the larger's last place and cannot change its rounding.
                if ea - eb > 130 {
                    return Some(*self);
                }
                if eb - ea > 130 {
                    return Some(*other);
                }
                let low = ea.min(eb);
                let a = Big::from_u64(ma).shl((ea - low) as u64);
                let b = Big::from_u64(mb).shl((eb - low) as u64);
                let (neg, sum) = if na == nb {
                    (na, a.add(&b))
                } else {
                    match a.cmp(&b) {
                        Ordering::Equal => return Some(LongDouble::ZERO),
                        Ordering::Greater => (na, a.sub(&b)),
                        Ordering::Less => (nb, b.sub(&a)),
                    }
                };
                Some(round(neg, sum, low, false))
            }
        }
    }

    /// Redis's `ld2string(..., LD_STR_HUMAN)`: `%.17Lf` without trailing zeros (and `-0` as
    /// `0`); `inf`/`-inf` for infinities.
    pub fn to_human_string(&self) -> String {
        let (neg, mant, exp) = match *self {
            LongDouble::Infinite { neg } => return if neg { "-inf" } else { "inf" }.into(),
            LongDouble::Finite { neg, mant, exp } => (neg, mant, i64::from(exp)),
        };
        let m = Big::from_u64(mant);
        let (int, frac) = if exp >= 0 {
            (m.shl(exp as u64), 0)
        } else {
            let shift = (-exp) as u64;
            let int = m.shr(shift);
            let fraction = m.sub(&int.shl(shift));
            let mut scaled = fraction;
            scaled.mul_small(100_000_000, 0);
            scaled.mul_small(1_000_000_000, 0);
            let mut q = scaled.shr(shift);
            let rest = scaled.sub(&q.shl(shift));
            let half = Big::from_u64(1).shl(shift - 1);
            let up = match rest.cmp(&half) {
                Ordering::Greater => true,
                Ordering::Equal => q.low_u64() & 1 == 1,
                Ordering::Less => false,
            };
            if up {
                q = q.add(&Big::from_u64(1));
            }
            let q = q.low_u64();
            if q >= 100_000_000_000_000_000 {
                (int.add(&Big::from_u64(1)), q - 100_000_000_000_000_000)
            } else {
                (int, q)
            }
        };
        let mut text = String::new();
        if neg {
            text.push('-');
        }
        text.push_str(&int.to_decimal());
        let frac = format!("{frac:017}");
        let frac = frac.trim_end_matches('0');
        if !frac.is_empty() {
            text.push('.');
            text.push_str(frac);
        }
        if text == "-0" {
            text = "0".into();
        }
        text
    }
}

/// A decimal `[digits][.digits][(e|E)[sign]digits]` (already validated by [`parse_float`]).
fn parse_decimal(neg: bool, body: &[u8]) -> Option<LongDouble> {
    let mut digits = Big::default();
    let mut significant = 0i64;
    let mut exp10 = 0i64;
    let mut seen_dot = false;
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b'.' => seen_dot = true,
            b'0'..=b'9' => {
                if significant > 0 || b != b'0' {
                    significant += 1;
                    digits.mul_small(10, u32::from(b - b'0'));
                }
                if seen_dot {
                    exp10 -= 1;
                }
            }
            _ => break,
        }
        i += 1;
    }
    if let Some(b'e' | b'E') = body.get(i) {
        let rest = body.get(i + 1..)?;
        let (eneg, ds) = match rest.split_first() {
            Some((b'-', d)) => (true, d),
            Some((b'+', d)) => (false, d),
            _ => (false, rest),
        };
        let mut e: i64 = 0;
        for &d in ds {
            e = (e * 10 + i64::from(d.wrapping_sub(b'0'))).min(1_000_000);
        }
        exp10 += if eneg { -e } else { e };
    }
    if digits.is_zero() {
        return Some(LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    // The value is in [10^(magnitude-1), 10^magnitude).
    let magnitude = significant + exp10;
    if magnitude - 1 > DEC_MAX || magnitude < DEC_MIN {
        return None;
    }
    let value = if exp10 >= 0 {
        let mut n = digits;
        mul_pow10(&mut n, exp10 as u64);
        round(neg, n, 0, false)
    } else {
        // Enough quotient bits for the 64 of the significand plus rounding bits.
        let k = (66 + (-exp10) * 3322 / 1000 + 2 - digits.bits() as i64).max(0);
        let mut n = digits.shl(k as u64);
        let mut sticky = false;
        let mut left = -exp10;
        while left > 0 {
            let step = left.min(9);
            sticky |= n.div_small(10u32.pow(step as u32)) != 0;
            left -= step;
        }
        round(neg, n, -k, sticky)
    };
    match value {
        // strtold's ERANGE with HUGE_VALL or zero, which string2ld rejects.
        LongDouble::Infinite { .. } | LongDouble::Finite { mant: 0, .. } => None,
        v => Some(v),
    }
}

fn mul_pow10(n: &mut Big, mut e: u64) {
    while e > 0 {
        let step = e.min(9);
        n.mul_small(10u32.pow(step as u32), 0);
        e -= step;
    }
}

/// `(-1)^neg * (n + sticky) * 2^e` rounded to the nearest `long double` (ties to even), where
/// `sticky` stands for a positive amount less than one unit of `n`.
fn round(neg: bool, n: Big, e: i64, sticky: bool) -> LongDouble {
    let bits = n.bits() as i64;
    if bits == 0 {
        return LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    let mut exp = (e + bits - 64).max(EXP_MIN);
    let shift = exp - e;
    let mant = if shift <= 0 {
        n.shl((-shift) as u64).low_u64()
    } else {
        let shift = shift as u64;
        let kept = n.shr(shift).low_u64();
        let half = n.bit(shift - 1);
        let below = sticky || n.any_below(shift - 1);
        if half && (below || kept & 1 == 1) {
            match kept.checked_add(1) {
                Some(m) => m,
                None => {
                    exp += 1;
                    1 << 63
                }
            }
        } else {
            kept
        }
    };
    if exp > EXP_MAX {
        return LongDouble::Infinite { neg };
    }
    if mant == 0 {
        exp = 0;
    }
    LongDouble::Finite {
        neg,
        mant,
        exp: exp as i32,
    }
}

/// A non-negative big integer, little-endian 32-bit limbs without trailing zeros.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() as u64 * 32 - u64::from(top.leading_zeros()),
        }
    }

    fn bit(&self, i: u64) -> bool {
        self.0
            .get((i / 32) as usize)
            .is_some_and(|limb| limb >> (i % 32) & 1 == 1)
    }

    /// Whether any bit below bit `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let whole = (i / 32) as usize;
        let part = i % 32;
        self.0.iter().take(whole).any(|&l| l != 0)
            || (part > 0
                && self
                    .0
                    .get(whole)
                    .is_some_and(|l| l & ((1 << part) - 1) != 0))
    }

    /// The low 64 bits.
    fn low_u64(&self) -> u64 {
        let limb = |i: usize| u64::from(self.0.get(i).copied().unwrap_or(0));
        limb(0) | limb(1) << 32
    }

    fn shl(&self, n: u64) -> Big {
        if self.is_zero() {
            return Big::default();
        }
        let (whole, part) = ((n / 32) as usize, n % 32);
        let mut out = vec![0u32; whole];
        let mut carry = 0u32;
        for &l in &self.0 {
            if part == 0 {
                out.push(l);
            } else {
                out.push(l << part | carry);
                carry = l >> (32 - part);
            }
        }
        out.push(carry);
        let mut b = Big(out);
        b.trim();
        b
    }

    fn shr(&self, n: u64) -> Big {
        let (whole, part) = ((n / 32) as usize, n % 32);
        let src = self.0.get(whole..).unwrap_or_default();
        let mut out = Vec::with_capacity(src.len());
        for (i, &l) in src.iter().enumerate() {
            let next = src.get(i + 1).copied().unwrap_or(0);
            out.push(if part == 0 {
                l
            } else {
                l >> part | next << (32 - part)
            });
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    /// `self = self * m + add`.
    fn mul_small(&mut self, m: u32, add: u32) {
        let mut carry = u64::from(add);
        for l in &mut self.0 {
            let v = u64::from(*l) * u64::from(m) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    /// `self /= d`; the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for l in self.0.iter_mut().rev() {
            let v = rem << 32 | u64::from(*l);
            *l = (v / u64::from(d)) as u32;
            rem = v % u64::from(d);
        }
        self.trim();
        rem as u32
    }

    fn add(&self, other: &Big) -> Big {
        let len = self.0.len().max(other.0.len());
        let mut out = Vec::with_capacity(len + 1);
        let mut carry = 0u64;
        for i in 0..len {
            let v = u64::from(self.0.get(i).copied().unwrap_or(0))
                + u64::from(other.0.get(i).copied().unwrap_or(0))
                + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        out.push(carry as u32);
        let mut b = Big(out);
        b.trim();
        b
    }

    /// `self - other`, for `self >= other`.
    fn sub(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for (i, &l) in self.0.iter().enumerate() {
            let mut v = i64::from(l) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            out.push(v as u32);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut text = String::new();
        for (i, c) in chunks.iter().rev().enumerate() {
            if i == 0 {
                text.push_str(&c.to_string());
            } else {
                text.push_str(&format!("{c:09}"));
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// INCRBYFLOAT as Redis 7 on x86-64 computes it.
    fn incr(value: &str, delta: &str) -> Option<String> {
        let sum =
            LongDouble::parse(value.as_bytes())?.add(&LongDouble::parse(delta.as_bytes())?)?;
        sum.is_finite().then(|| sum.to_human_string())
    }

    #[test]
    fn sums_match_redis_on_x86_64() {
        // Expected values are redis-server 7.0.15's replies (x86-64).
        assert_eq!(incr("0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(incr("0.3", "0.3").as_deref(), Some("0.6"));
        assert_eq!(incr("10.5", "0.1").as_deref(), Some("10.6"));
        assert_eq!(incr("3", "1.1").as_deref(), Some("4.1"));
        assert_eq!(incr("100.01", "1e-20").as_deref(), Some("100.01"));
        assert_eq!(incr("0", "5.0e3").as_deref(), Some("5000"));
        assert_eq!(
            incr("9223372036854775807", "1").as_deref(),
            Some("9223372036854775808")
        );
        assert_eq!(
            incr("-9223372036854775808", "1").as_deref(),
            Some("-9223372036854775807")
        );
        assert_eq!(
            incr("1.23456789012345678901234", "0").as_deref(),
            Some("1.23456789012345679")
        );
        assert_eq!(incr("17179869184", "1.5").as_deref(), Some("17179869185.5"));
        assert_eq!(incr("1", "-1").as_deref(), Some("0"));
        assert_eq!(incr("-0", "0").as_deref(), Some("0"));
        assert_eq!(incr("0", "-1e-20").as_deref(), Some("0"));
        assert_eq!(incr("0x10", "1").as_deref(), Some("17"));
        assert_eq!(incr("inf", "1"), None);
        assert_eq!(incr("inf", "-inf"), None);
        let big = incr("1e308", "1").unwrap_or_default();
        assert!(big.starts_with("99999999999999999996685879655845645660560099847415567207"));
        assert_eq!(big.len(), 308);
        // long double has the range f64 lacks.
        let sum = incr("1e308", "1e308").unwrap_or_default();
        assert!(sum.starts_with("199999999999999999993371759311691291321120199694831134415"));
    }

    #[test]
    fn parse_range_like_string2ld() {
        assert!(LongDouble::parse(b"1e4932").is_some());
        assert_eq!(LongDouble::parse(b"1e4933"), None);
        assert_eq!(LongDouble::parse(b"1e-5000"), None);
        assert!(LongDouble::parse(b"1e-4940").is_some()); // subnormal, accepted
        assert!(LongDouble::parse(b"0e-99999").is_some());
        assert_eq!(LongDouble::parse(b"abc"), None);
        assert_eq!(LongDouble::parse(b" 1"), None);
        assert_eq!(LongDouble::parse(b"nan"), None);
        assert_eq!(
            LongDouble::parse(b"-inf"),
            Some(LongDouble::Infinite { neg: true })
        );
    }

    #[test]
    fn f64_increments_read_as_typed() {
        assert_eq!(
            LongDouble::from_f64_text(0.2),
            LongDouble::parse(b"0.2").unwrap_or(LongDouble::ZERO)
        );
        assert_eq!(LongDouble::from_f64_text(-0.0).to_human_string(), "0");
        assert_eq!(LongDouble::from_f64(0.5).to_human_string(), "0.5");
        assert_eq!(LongDouble::from_f64(5e-324).to_human_string(), "0");
    }

    #[test]
    fn formatting_rounds_half_to_even() {
        // 2^-18 = 0.000003814697265625 has 18 decimals; the 18th is a 5 after an even digit.
        let v = LongDouble::from_f64(2f64.powi(-18));
        assert_eq!(v.to_human_string(), "0.00000381469726562");
        let v = LongDouble::from_f64(3.0 * 2f64.powi(-18));
        assert_eq!(v.to_human_string(), "0.00001144409179688");
    }
}
