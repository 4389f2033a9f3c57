//! HSCAN, SSCAN and ZSCAN over one collection.
//!
//! A collection of up to [`SMALL`] elements is returned whole with cursor 0, whatever the
//! cursor and COUNT, as Redis does for its small (listpack/intset) encodings.
//!
//! A larger one is visited by position, from the last element down to the first; the cursor
//! is the number of positions still to visit (0 on the first call stands for all of them).
//! The collections keep insertion order and fill a removed element's place with their last
//! element, so an element present for the whole iteration is always returned, which is
//! Redis's guarantee: an element moves only from the last position into a hole, and the last
//! position is either already visited (then the hole is too, or the element is returned a
//! second time, which SCAN allows) or still to visit, like the hole. Each call costs O(COUNT),
//! as Redis documents.

use bytes::Bytes;
use cairn_protocol::glob::glob_match;
use cairn_protocol::Reply;

/// Redis's default `hash-max-listpack-entries` / `set-max-listpack-entries`.
pub(crate) const SMALL: usize = 128;

/// The reply `[cursor, [element, (value,) ...]]` for one call over a collection of `len`
/// elements; `at(i)` is the element at position `i` with its value (hash, sorted set) or
/// none (set).
pub(crate) fn reply(
    len: usize,
    at: impl Fn(usize) -> Option<(Bytes, Option<Bytes>)>,
    cursor: u64,
    pattern: Option<&[u8]>,
    count: usize,
) -> Reply {
    // A small collection comes in its own order, a large one from its last position down.
    let (positions, next): (Box<dyn Iterator<Item = usize>>, u64) = if len <= SMALL {
        (Box::new(0..len), 0)
    } else {
        let remaining = match usize::try_from(cursor) {
            Ok(0) | Err(_) => len,
            Ok(c) => c.min(len),
        };
        let start = remaining.saturating_sub(count.max(1));
        (Box::new((start..remaining).rev()), start as u64)
    };
    let mut out = Vec::new();
    for i in positions {
        let Some((element, value)) = at(i) else {
            continue;
        };
        if pattern.is_some_and(|p| !glob_match(p, &element, false)) {
            continue;
        }
        out.push(Reply::Bulk(element));
        if let Some(v) = value {
            out.push(Reply::Bulk(v));
        }
    }
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(out),
    ])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::keyspace::value::SetValue;

    fn set(n: usize) -> SetValue {
        (0..n).map(|i| Bytes::from(format!("m{i}"))).collect()
    }

    /// One call over `s`; the elements and the next cursor.
    fn call(s: &SetValue, cursor: u64, count: usize) -> (Vec<Bytes>, u64) {
        let Reply::Array(parts) = reply(
            s.len(),
            |i| s.get_index(i).map(|m| (m.clone(), None)),
            cursor,
            None,
            count,
        ) else {
            panic!("not an array");
        };
        let [Reply::Bulk(next), Reply::Array(elements)] = &parts[..] else {
            panic!("bad shape");
        };
        let seen = elements
            .iter()
            .filter_map(|e| match e {
                Reply::Bulk(b) => Some(b.clone()),
                _ => None,
            })
            .collect();
        (seen, String::from_utf8_lossy(next).parse().unwrap_or(0))
    }

    #[test]
    fn small_collections_come_whole() {
        let s = set(SMALL);
        let (seen, next) = call(&s, 0, 1);
        assert_eq!((seen.len(), next), (SMALL, 0));
    }

    #[test]
    fn large_collections_are_paged_and_complete() {
        let s = set(1000);
        let (mut cursor, mut seen, mut calls) = (0, Vec::new(), 0);
        loop {
            calls += 1;
            let (got, next) = call(&s, cursor, 10);
            seen.extend(got);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 1000);
        assert_eq!(calls, 100);
    }

    /// Elements present for the whole iteration are returned even as others come and go
    /// between calls.
    #[test]
    fn churn_between_calls_loses_no_lasting_element() {
        let mut s = set(1000);
        let lasting: BTreeSet<Bytes> = (0..1000)
            .filter(|i| i % 3 == 0)
            .map(|i| Bytes::from(format!("m{i}")))
            .collect();
        let (mut cursor, mut seen, mut round) = (0, BTreeSet::new(), 0);
        loop {
            let (got, next) = call(&s, cursor, 7);
            seen.extend(got);
            // Remove some that are not lasting, add new ones.
            for k in 0..5 {
                let i = (round * 5 + k) * 3 + 1;
                s.remove(format!("m{i}").as_bytes());
                s.insert(Bytes::from(format!("new{round}-{k}")));
            }
            round += 1;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert!(lasting.is_subset(&seen), "a lasting element was missed");
    }

    #[test]
    fn match_filters_after_visiting() {
        let s: SetValue = [Bytes::from("a1"), Bytes::from("b1")].into_iter().collect();
        assert_eq!(
            reply(
                s.len(),
                |i| s.get_index(i).map(|m| (m.clone(), Some(Bytes::from("x")))),
                0,
                Some(b"a*"),
                10
            ),
            Reply::Array(vec![
                Reply::bulk("0"),
                Reply::Array(vec![Reply::bulk("a1"), Reply::bulk("x")])
            ])
        );
    }
}
