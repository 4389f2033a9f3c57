//! Number parsing with Redis's exact rules.
//!
//! Redis is strict about what it accepts as a number, and clients see the difference (`SET k
//! v EX 010` is an error, `SCAN 010` is not), so these mirror the C functions they are named
//! after instead of using Rust's more lenient `str::parse`. The keyspace layer needs the same
//! rules for stored values (INCR on "010" fails), hence `pub`.

/// Longest decimal integer Redis reads (`LONG_STR_SIZE` is 21 including the terminator).
const LONG_STR_SIZE: usize = 21;

/// Longest text Redis reads as a long double (`MAX_LONG_DOUBLE_CHARS`).
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// Redis's `string2ll`: an optional `-`, then `0` alone or digits not starting with `0`, and
/// the value must fit in an `i64`. No `+`, no spaces, no leading zeros, no `-0`.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= LONG_STR_SIZE {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        // -(i64::MIN) does not fit in i64, but it fits in u64.
        if v > i64::MIN.unsigned_abs() {
            None
        } else {
            Some(0i64.wrapping_sub_unsigned(v))
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// C's `isspace` in the C locale.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Redis's `string2ull`, used for SCAN cursors: [`parse_i64`] first (negative is invalid), then
/// C's `strtoull`, which is lenient (leading spaces, `+`, leading zeros) and, like C, wraps a
/// negative value around (`-01` is `u64::MAX`).
pub fn parse_u64_cursor(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let start = s.iter().position(|&b| !is_c_space(b))?;
    let rest = s.get(start..)?;
    let (negative, digits) = match rest.split_first() {
        Some((b'-', d)) => (true, d),
        Some((b'+', d)) => (false, d),
        _ => (false, rest),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        // strtoull reports ERANGE on overflow, which string2ull rejects.
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative { v.wrapping_neg() } else { v })
}

/// The syntax of Redis's `string2ld`, with the value computed in `f64`. INCRBYFLOAT uses
/// [`crate::long_double::LongDouble::parse`], which checks the syntax here and then reads the
/// value with `long double`'s precision and range.
///
/// Accepts what C's `strtold` accepts over the whole input: decimal (`1`, `-1.5`, `.5`, `1.`,
/// `1e-3`), hexadecimal (`0x1p4`), and `inf`/`infinity` in any case. Rejects leading spaces,
/// trailing garbage, empty input, NaN and inputs of 5 KiB or more. A decimal that overflows
/// `f64` comes back infinite (Redis computes in `long double`, which has more range); callers
/// reject infinities where Redis would (INCRBYFLOAT's "would produce NaN or Infinity").
pub fn parse_float(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS {
        return None;
    }
    let (negative, body) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let magnitude = match body {
        [b'0', b'x' | b'X', hex @ ..] => parse_hex_float(hex)?,
        _ => {
            // Rust's grammar for decimals and inf/infinity/nan matches strtold's once the sign
            // is split off; a second sign ("--1") is rejected by both.
            if matches!(body.first(), Some(b'+' | b'-')) {
                return None;
            }
            std::str::from_utf8(body).ok()?.parse::<f64>().ok()?
        }
    };
    if magnitude.is_nan() {
        return None;
    }
    Some(if negative { -magnitude } else { magnitude })
}

/// The part of a C hexadecimal float after `0x`: hex digits with at most one `.` (at least
/// one digit in all), then optionally `p`, an optional sign and decimal digits.
fn parse_hex_float(s: &[u8]) -> Option<f64> {
    let mut mantissa = 0f64;
    let mut exp: i64 = 0;
    let mut digits = 0usize;
    let mut seen_dot = false;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'.' && !seen_dot {
            seen_dot = true;
        } else if let Some(d) = char::from(b).to_digit(16) {
            digits += 1;
            if mantissa < 2f64.powi(64) {
                mantissa = mantissa * 16.0 + f64::from(d);
                if seen_dot {
                    exp -= 4;
                }
            } else if !seen_dot {
                // Digits past f64's precision still scale the value.
                exp += 4;
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if let Some(b'p' | b'P') = s.get(i) {
        let rest = s.get(i + 1..)?;
        let (neg, ds) = match rest.split_first() {
            Some((b'-', d)) => (true, d),
            Some((b'+', d)) => (false, d),
            _ => (false, rest),
        };
        if ds.is_empty() || !ds.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Saturate: anything past ±100000 is 0 or infinity anyway.
        let mut e: i64 = 0;
        for &d in ds {
            e = (e * 10 + i64::from(d - b'0')).min(100_000);
        }
        exp += if neg { -e } else { e };
    } else if i != s.len() {
        return None;
    }
    Some(scale_by_pow2(mantissa, exp))
}

/// `m * 2^exp` without overflowing the exponent of an intermediate power.
fn scale_by_pow2(mut m: f64, mut exp: i64) -> f64 {
    while exp > 0 && m != 0.0 && m.is_finite() {
        let step = exp.min(1000);
        m *= 2f64.powi(step as i32);
        exp -= step;
    }
    while exp < 0 && m != 0.0 {
        let step = exp.max(-1000);
        m *= 2f64.powi(step as i32);
        exp -= step;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i64_is_strict_like_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"10"), Some(10));
        assert_eq!(parse_i64(b"-10"), Some(-10));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"+1",
            b"01",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
            b"1.0",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn cursor_is_lenient_like_strtoull() {
        assert_eq!(parse_u64_cursor(b"0"), Some(0));
        assert_eq!(parse_u64_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64_cursor(b"007"), Some(7));
        assert_eq!(parse_u64_cursor(b" +7"), Some(7));
        assert_eq!(parse_u64_cursor(b"-01"), Some(u64::MAX));
        assert_eq!(parse_u64_cursor(b"-1"), None);
        assert_eq!(parse_u64_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_u64_cursor(b""), None);
        assert_eq!(parse_u64_cursor(b" "), None);
        assert_eq!(parse_u64_cursor(b"1 "), None);
        assert_eq!(parse_u64_cursor(b"x"), None);
    }

    #[test]
    fn floats_like_strtold() {
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"-1.5"), Some(-1.5));
        assert_eq!(parse_float(b"+.5"), Some(0.5));
        assert_eq!(parse_float(b"1."), Some(1.0));
        assert_eq!(parse_float(b"1e3"), Some(1000.0));
        assert_eq!(parse_float(b"5.0e-1"), Some(0.5));
        assert_eq!(parse_float(b"0x10"), Some(16.0));
        assert_eq!(parse_float(b"-0x1.8p1"), Some(-3.0));
        assert_eq!(parse_float(b"0X1P-2"), Some(0.25));
        assert_eq!(parse_float(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_float(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float(b"1e400"), Some(f64::INFINITY));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"-NaN",
            b"abc",
            b"1e",
            b".",
            b"--1",
            b"+-1",
            b"0x",
            b"0xg",
            b"0x1p",
            b"1,5",
        ] {
            assert_eq!(parse_float(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_float(&[b'1'; MAX_LONG_DOUBLE_CHARS]), None);
    }
}
