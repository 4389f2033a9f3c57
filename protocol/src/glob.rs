//! Redis's glob-style pattern matching (`stringmatchlen` in util.c), for KEYS, SCAN MATCH and
//! CONFIG GET.
//!
//! Syntax: `*` any sequence, `?` any byte, `[abc]` a set, `[^abc]` its complement, `[a-z]` a
//! range (either order), `\x` the byte `x` literally (also inside sets). Quirks of Redis are
//! kept: an unterminated set (`[abc`) matches what it lists so far, `-` right before the
//! closing `]` makes a range ending at `]`, escapes inside sets compare case-sensitively, and
//! range bounds compare as C's signed `char`.
//!
//! Redis matches recursively, one level per `*`, with a nesting cap. Here the standard
//! iterative algorithm is used instead: on a mismatch, retry from the most recent `*`, which
//! absorbs one more byte. Every token other than `*` matches exactly one byte, so only the
//! last `*` ever needs to be revisited: the work is O(pattern × string) at worst, with no
//! recursion, whatever the pattern (`*a*a*a*a*b` against a long run of `a` included).
//!
//! One deliberate difference: Redis's `stringmatchlen("*", "")` is false (its callers
//! special-case the pattern `*`), while [`glob_match`] says a pattern of only stars matches the
//! empty string, which is what KEYS and SCAN show for `*` anyway.

/// Whether `s` matches the glob `pattern`; `nocase` folds ASCII case.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut p = 0;
    let mut i = 0;
    // The pattern position after the latest run of stars, and the string position that star
    // has absorbed up to.
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = s.get(i) {
        match pattern.get(p) {
            Some(b'*') => {
                while pattern.get(p) == Some(&b'*') {
                    p += 1;
                }
                if p == pattern.len() {
                    return true;
                }
                star = Some((p, i));
                continue;
            }
            Some(_) => {
                if let Some(next) = match_one(pattern, p, c, nocase) {
                    p = next;
                    i += 1;
                    continue;
                }
            }
            None => {}
        }
        // Mismatch: let the last star absorb one more byte, or fail.
        match star {
            Some((after_star, absorbed)) => {
                p = after_star;
                i = absorbed + 1;
                star = Some((after_star, absorbed + 1));
            }
            None => return false,
        }
    }
    while pattern.get(p) == Some(&b'*') {
        p += 1;
    }
    p == pattern.len()
}

/// Matches the single-byte token at `pattern[p]` (not `*`) against `c`: the position after the
/// token if it matches.
fn match_one(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<usize> {
    let at = |i: usize| pattern.get(i).copied();
    match at(p)? {
        b'?' => Some(p + 1),
        b'[' => match_class(pattern, p + 1, c, nocase),
        b'\\' if p + 1 < pattern.len() => eq(at(p + 1)?, c, nocase).then_some(p + 2),
        literal => eq(literal, c, nocase).then_some(p + 1),
    }
}

/// Matches a `[...]` set whose body starts at `q`, exactly as Redis walks it.
fn match_class(pattern: &[u8], mut q: usize, c: u8, nocase: bool) -> Option<usize> {
    let at = |i: usize| pattern.get(i).copied();
    let negate = at(q) == Some(b'^');
    if negate {
        q += 1;
    }
    let mut matched = false;
    loop {
        let remaining = pattern.len().saturating_sub(q);
        match at(q) {
            Some(b'\\') if remaining >= 2 => {
                q += 1;
                // Escaped bytes in a set compare exactly, even with nocase (as in Redis).
                if at(q) == Some(c) {
                    matched = true;
                }
            }
            Some(b']') => break,
            None => {
                // Unterminated set: it ends with the pattern. Step back so that the shared
                // `+ 1` below lands on the pattern's end.
                q -= 1;
                break;
            }
            Some(start) if remaining >= 3 && at(q + 1) == Some(b'-') => {
                let end = at(q + 2)?;
                if in_range(start, end, c, nocase) {
                    matched = true;
                }
                q += 2;
            }
            Some(literal) => {
                if eq(literal, c, nocase) {
                    matched = true;
                }
            }
        }
        q += 1;
    }
    (matched != negate).then_some(q + 1)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Redis compares range bounds as (signed) C `char`s, swapping reversed bounds, then folding
/// case with `tolower` when `nocase`.
fn in_range(start: u8, end: u8, c: u8, nocase: bool) -> bool {
    let signed = |b: u8| i32::from(b as i8);
    let fold = |v: i32| {
        if nocase && (i32::from(b'A')..=i32::from(b'Z')).contains(&v) {
            v + 32
        } else {
            v
        }
    };
    let (mut lo, mut hi) = (signed(start), signed(end));
    if lo > hi {
        std::mem::swap(&mut lo, &mut hi);
    }
    let c = fold(signed(c));
    fold(lo) <= c && c <= fold(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("hello", "hello"));
        assert!(!m("hello", "hell"));
        assert!(!m("hell", "hello"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("*", "anything"));
        assert!(m("*", ""));
        assert!(m("**", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("?", ""));
        assert!(m("a*", "a"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("*.txt", "notes.txt"));
        assert!(!m("*.txt", "notes.txt.bak"));
        assert!(m("user:*:name", "user:42:name"));
    }

    #[test]
    fn sets_and_ranges() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed ranges are swapped");
        assert!(m("[0-9][0-9]", "42"));
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        assert!(m("[a\\", "\\"), "backslash at the end of a set is literal");
    }

    #[test]
    fn redis_quirks() {
        // Unterminated set: matches the listed bytes.
        assert!(m("[abc", "b"));
        assert!(!m("[abc", "d"));
        assert!(m("[^", "x"));
        assert!(!m("a[", "a["));
        // `a-]` is the range ']'..='a' and the set continues to the next `]`.
        assert!(m("[a-]x]", "_"));
        assert!(m("[a-]x]", "x"));
        assert!(!m("[a-]x]", "b"));
        // A trailing backslash is a literal backslash.
        assert!(m("a\\", "a\\"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("\\?", "?"));
        // Range bounds are signed chars: 0xff is -1, so [\x00-\xff] is the range -1..=0.
        assert!(glob_match(b"[\x00-\xff]", b"\xff", false));
        assert!(!glob_match(b"[\x00-\xff]", b"a", false));
    }

    #[test]
    fn nocase() {
        assert!(glob_match(b"HeLLo", b"hello", true));
        assert!(!glob_match(b"HeLLo", b"hello", false));
        assert!(glob_match(b"[A-Z]x", b"qX", true));
        assert!(glob_match(b"[h]*", b"Hat", true));
        // Escapes inside sets stay case-sensitive, as in Redis.
        assert!(!glob_match(b"[\\A]", b"a", true));
        assert!(glob_match(b"\\A", b"a", true));
    }

    #[test]
    fn pathological_patterns_are_fast() {
        let s = vec![b'a'; 10_000];
        let mut pattern = b"*a".repeat(30);
        pattern.extend_from_slice(b"*b");
        let start = std::time::Instant::now();
        assert!(!glob_match(&pattern, &s, false));
        let stars = vec![b'*'; 100_000];
        assert!(glob_match(&stars, &s, false));
        let mut long = b"*".repeat(1000);
        long.extend_from_slice(b"[a-z]?\\a");
        assert!(glob_match(&long, &s, false));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn agrees_with_a_reference_matcher() {
        // Exhaustive over short patterns and strings from a tiny alphabet, against a
        // straightforward recursive matcher for the unquirky subset.
        fn reference(p: &[u8], s: &[u8]) -> bool {
            match p.split_first() {
                None => s.is_empty(),
                Some((b'*', rest)) => (0..=s.len()).any(|k| reference(rest, &s[k..])),
                Some((b'?', rest)) => !s.is_empty() && reference(rest, &s[1..]),
                Some((&c, rest)) => s.first() == Some(&c) && reference(rest, &s[1..]),
            }
        }
        fn all(alphabet: &[u8], max: usize) -> Vec<Vec<u8>> {
            let mut out = vec![vec![]];
            let mut frontier = vec![vec![]];
            for _ in 0..max {
                let mut next = vec![];
                for w in &frontier {
                    for &c in alphabet {
                        let mut w2: Vec<u8> = w.clone();
                        w2.push(c);
                        next.push(w2);
                    }
                }
                out.extend(next.iter().cloned());
                frontier = next;
            }
            out
        }
        let patterns = all(b"ab*?", 5);
        let strings = all(b"ab", 6);
        for p in &patterns {
            for s in &strings {
                assert_eq!(
                    glob_match(p, s, false),
                    reference(p, s),
                    "{:?} vs {:?}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(s)
                );
            }
        }
    }
}
