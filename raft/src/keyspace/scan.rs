//! HSCAN and SSCAN over one collection.
//!
//! A collection of up to [`SMALL`] elements is returned whole with cursor 0, whatever the
//! cursor and COUNT, as Redis does for its small (listpack/intset) encodings. A larger one is
//! visited in the order of its elements' scan hashes (`scan_hash`, as keys are in SCAN), and
//! the cursor is the hash of the next element to visit. The cursor stays valid while elements
//! come and go, which gives Redis's guarantee: an element present for the whole iteration is
//! returned (at least once). Elements with equal hashes are never split between calls.

use bytes::Bytes;
use cairn_protocol::glob::glob_match;
use cairn_protocol::Reply;

use super::scan_hash;

/// Redis's default `hash-max-listpack-entries` / `set-max-listpack-entries`.
pub(crate) const SMALL: usize = 128;

/// The reply `[cursor, [element, (value,) ...]]` for one call. `items` are the collection's
/// elements with their values (hash) or none (set).
pub(crate) fn reply(
    items: Vec<(Bytes, Option<Bytes>)>,
    cursor: u64,
    pattern: Option<&[u8]>,
    count: usize,
) -> Reply {
    let (visited, next) = if items.len() <= SMALL {
        (items, 0)
    } else {
        page(items, cursor, count)
    };
    let mut out = Vec::new();
    for (element, value) in visited {
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

/// At least `count` items (all of the last hash group) from hash `cursor` on, and the cursor
/// after them (0: done).
fn page(
    items: Vec<(Bytes, Option<Bytes>)>,
    cursor: u64,
    count: usize,
) -> (Vec<(Bytes, Option<Bytes>)>, u64) {
    let mut hashed: Vec<(u64, (Bytes, Option<Bytes>))> = items
        .into_iter()
        .map(|item| (scan_hash(&item.0), item))
        .filter(|(h, _)| *h >= cursor)
        .collect();
    hashed.sort_by(|a, b| (a.0, &a.1 .0).cmp(&(b.0, &b.1 .0)));
    let mut out = Vec::new();
    let mut rest = hashed.into_iter().peekable();
    while let Some((h, item)) = rest.next() {
        out.push(item);
        let next = rest.peek().map(|(next, _)| *next);
        match next {
            None => return (out, 0),
            Some(next) if out.len() >= count && next != h => return (out, next),
            Some(_) => {}
        }
    }
    (out, 0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn members(n: usize) -> Vec<(Bytes, Option<Bytes>)> {
        (0..n)
            .map(|i| (Bytes::from(format!("m{i}")), None))
            .collect()
    }

    /// Runs a whole iteration; the elements seen, and the number of calls.
    fn iterate(n: usize, count: usize) -> (Vec<Bytes>, usize) {
        let (mut cursor, mut seen, mut calls) = (0, Vec::new(), 0);
        loop {
            calls += 1;
            let Reply::Array(parts) = reply(members(n), cursor, None, count) else {
                panic!("not an array");
            };
            let [Reply::Bulk(next), Reply::Array(elements)] = &parts[..] else {
                panic!("bad shape");
            };
            seen.extend(elements.iter().filter_map(|e| match e {
                Reply::Bulk(b) => Some(b.clone()),
                _ => None,
            }));
            cursor = String::from_utf8_lossy(next).parse().unwrap_or(0);
            if cursor == 0 {
                return (seen, calls);
            }
        }
    }

    #[test]
    fn small_collections_come_whole() {
        let (seen, calls) = iterate(SMALL, 1);
        assert_eq!((seen.len(), calls), (SMALL, 1));
    }

    #[test]
    fn large_collections_are_paged_and_complete() {
        let (seen, calls) = iterate(1000, 10);
        assert_eq!(seen.len(), 1000);
        assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 1000);
        assert!(calls >= 100, "{calls} calls");
    }

    #[test]
    fn match_filters_after_visiting() {
        let items = vec![
            (Bytes::from("a1"), Some(Bytes::from("x"))),
            (Bytes::from("b1"), Some(Bytes::from("y"))),
        ];
        assert_eq!(
            reply(items, 0, Some(b"a*"), 10),
            Reply::Array(vec![
                Reply::bulk("0"),
                Reply::Array(vec![Reply::bulk("a1"), Reply::bulk("x")])
            ])
        );
    }
}
