//! SORT and SORT_RO (and SORT ... STORE, applied through the log), as Redis's sort.c
//! behaves: numeric or ALPHA order, BY weights and GET values through key patterns, LIMIT,
//! and the "don't sort" case of a BY pattern without `*`. Ties are broken as Redis breaks
//! them (by the element's bytes, numerically), and the sort is stable, so every replica that
//! applies a SORT ... STORE stores the same list.

use std::cmp::Ordering;

use bytes::Bytes;
use cairn_protocol::command::SortSpec;
use cairn_protocol::num::parse_float;
use cairn_protocol::Reply;

use super::{Ctx, Data, StoredValue, WRONGTYPE};
use crate::error::Result;

/// Looks a key up (live values only) in the database the SORT runs in.
pub type Lookup<'a> = dyn FnMut(&[u8]) -> Result<Option<StoredValue>> + 'a;

/// The rows SORT returns: one element per sorted item, or one value per GET pattern per
/// item (`None`: nil). `Err` is the error reply.
pub fn sort(
    value: Option<StoredValue>,
    spec: &SortSpec,
    storing: bool,
    lookup: &mut Lookup<'_>,
) -> Result<std::result::Result<Vec<Option<Bytes>>, Reply>> {
    let mut dont_sort = spec.by.as_ref().is_some_and(|p| !p.contains(&b'*'));
    let (mut by, mut alpha) = (spec.by.as_ref(), spec.alpha);
    let data = value.map(|v| v.data);
    if dont_sort && storing && matches!(data, Some(Data::Set(_))) {
        // A set has no order of its own to keep: what is stored must not depend on it.
        (dont_sort, alpha, by) = (false, true, None);
    }
    let len = match &data {
        None => 0,
        Some(Data::List(l)) => l.len(),
        Some(Data::Set(s)) => s.len(),
        Some(Data::ZSet(z)) => z.len(),
        Some(Data::Str(_) | Data::Hash(_) | Data::Stream(_)) => {
            return Ok(Err(Reply::error(WRONGTYPE)))
        }
    };
    let (start, end) = limits(spec.limit, len);
    // Lists and sorted sets keep their own order when not sorted: take the range directly.
    let sliced = dont_sort && matches!(data, Some(Data::List(_) | Data::ZSet(_)));
    let mut items: Vec<Bytes> = match data {
        None => Vec::new(),
        Some(Data::List(l)) if dont_sort => ordered(l.iter().cloned(), spec.desc, start, end),
        Some(Data::ZSet(z)) if dont_sort => ordered(
            z.range(0, z.len()).map(|(m, _)| m.clone()),
            spec.desc,
            start,
            end,
        ),
        Some(Data::List(l)) => l.iter().cloned().collect(),
        Some(Data::Set(s)) => s.iter().cloned().collect(),
        Some(Data::ZSet(z)) => z.members().map(|(m, _)| m.clone()).collect(),
        Some(Data::Str(_) | Data::Hash(_) | Data::Stream(_)) => Vec::new(),
    };
    let (start, end) = if sliced {
        (0, items.len())
    } else {
        (start, end)
    };
    if !dont_sort {
        let mut keyed = Vec::with_capacity(items.len());
        let mut convert_error = false;
        for item in items {
            let weight = match by {
                Some(pattern) => by_pattern(pattern, &item, lookup)?,
                None => Some(item.clone()),
            };
            let key = if alpha {
                Weight::Text(if by.is_some() { weight } else { None })
            } else {
                Weight::Number(match weight {
                    None => 0.0,
                    Some(w) => strtod(&w).unwrap_or_else(|| {
                        convert_error = true;
                        0.0
                    }),
                })
            };
            keyed.push((key, item));
        }
        if convert_error {
            return Ok(Err(Reply::error(
                "ERR One or more scores can't be converted into double",
            )));
        }
        keyed.sort_by(|(ka, a), (kb, b)| {
            let order = match (ka, kb) {
                (Weight::Number(x), Weight::Number(y)) => x
                    .partial_cmp(y)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.cmp(b)),
                (Weight::Text(x), Weight::Text(y)) if by.is_some() => x.cmp(y),
                _ => a.cmp(b),
            };
            if spec.desc {
                order.reverse()
            } else {
                order
            }
        });
        items = keyed.into_iter().map(|(_, item)| item).collect();
    }
    let chosen = items.get(start..end).unwrap_or_default();
    if spec.get.is_empty() {
        return Ok(Ok(chosen.iter().cloned().map(Some).collect()));
    }
    let mut rows = Vec::with_capacity(chosen.len() * spec.get.len());
    for item in chosen {
        for pattern in &spec.get {
            rows.push(by_pattern(pattern, item, lookup)?);
        }
    }
    Ok(Ok(rows))
}

impl Ctx<'_> {
    /// SORT ... STORE: the rows as a list at `destination` (GET's nils as empty strings),
    /// replacing whatever was there, or deleting it when there are none. Reply: the count.
    pub(crate) fn sort_store(&mut self, spec: &SortSpec, destination: &Bytes) -> Result<Reply> {
        let value = self.live(&spec.key)?;
        let rows = {
            let mut lookup = |k: &[u8]| self.live(k);
            match sort(value, spec, true, &mut lookup)? {
                Ok(rows) => rows,
                Err(e) => return Ok(e),
            }
        };
        if rows.is_empty() {
            self.delete(destination);
            return Ok(Reply::Integer(0));
        }
        let count = rows.len() as i64;
        let list = rows.into_iter().map(Option::unwrap_or_default).collect();
        self.put(
            destination,
            StoredValue::new(Data::List(std::sync::Arc::new(list)), None),
        );
        Ok(Reply::Integer(count))
    }
}

/// What an item sorts by: its numeric weight, or (ALPHA) the BY value (`None` when BY
/// found nothing, sorting first; without BY the item itself is compared).
enum Weight {
    Number(f64),
    Text(Option<Bytes>),
}

/// Redis's LIMIT clamping, as a half-open range of positions.
fn limits(limit: Option<(i64, i64)>, len: usize) -> (usize, usize) {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let (offset, count) = limit.unwrap_or((0, -1));
    let start = offset.clamp(0, len_i);
    let count = count.clamp(-1, len_i);
    let end = if count < 0 {
        len_i
    } else {
        start.saturating_add(count).min(len_i)
    };
    let as_pos = |n: i64| usize::try_from(n).unwrap_or(0);
    (as_pos(start), as_pos(end.max(start)))
}

/// Items in their own order (reversed for DESC), positions `start..end` only.
fn ordered(
    items: impl DoubleEndedIterator<Item = Bytes>,
    desc: bool,
    start: usize,
    end: usize,
) -> Vec<Bytes> {
    let take = end - start;
    if desc {
        items.rev().skip(start).take(take).collect()
    } else {
        items.skip(start).take(take).collect()
    }
}

/// C's `strtod` over the whole value, as Redis reads SORT weights: leading white space is
/// skipped, the empty string is 0, anything left over (or NaN) is an error.
fn strtod(text: &[u8]) -> Option<f64> {
    if text.is_empty() {
        return Some(0.0);
    }
    let start = text
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    parse_float(&text[start..])
}

/// The value a BY or GET pattern names for `item` (Redis's `lookupKeyByPattern`): `#` is
/// the item; otherwise the first `*` is replaced by the item, and `key->field` reads a hash
/// field. A pattern without `*`, a missing key or one of the wrong type give `None`.
fn by_pattern(pattern: &[u8], item: &Bytes, lookup: &mut Lookup<'_>) -> Result<Option<Bytes>> {
    if pattern == b"#" {
        return Ok(Some(item.clone()));
    }
    let Some(star) = pattern.iter().position(|b| *b == b'*') else {
        return Ok(None);
    };
    let rest = &pattern[star + 1..];
    let (postfix, field) = match rest.windows(2).position(|w| w == b"->") {
        Some(arrow) if arrow + 2 < rest.len() => (&rest[..arrow], Some(&rest[arrow + 2..])),
        _ => (rest, None),
    };
    let mut key = Vec::with_capacity(star + item.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(item);
    key.extend_from_slice(postfix);
    Ok(match (lookup(&key)?.map(|v| v.data), field) {
        (Some(Data::Hash(h)), Some(f)) => h.get(f).cloned(),
        (Some(Data::Str(s)), None) => Some(s.to_bytes()),
        _ => None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::testing::{bulk, exec, script};
    use super::super::State;
    use super::*;

    fn array(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| bulk(s)).collect())
    }

    #[test]
    fn numeric_alpha_desc_and_limit() {
        let mut t = State::default();
        exec(&mut t, "rpush l 3 10 1 2 10");
        assert_eq!(exec(&mut t, "sort l"), array(&["1", "2", "3", "10", "10"]));
        assert_eq!(exec(&mut t, "sort l desc limit 1 2"), array(&["10", "3"]));
        assert_eq!(
            exec(&mut t, "sort l alpha"),
            array(&["1", "10", "10", "2", "3"])
        );
        assert_eq!(exec(&mut t, "sort l limit -5 2"), array(&["1", "2"]));
        assert_eq!(exec(&mut t, "sort l limit 9 2"), array(&[]));
        assert_eq!(exec(&mut t, "sort l limit 3 -1"), array(&["10", "10"]));
        exec(&mut t, "rpush words b a");
        assert_eq!(
            exec(&mut t, "sort words"),
            Reply::error("ERR One or more scores can't be converted into double")
        );
        assert_eq!(exec(&mut t, "sort missing"), array(&[]));
        exec(&mut t, "set s x");
        assert_eq!(exec(&mut t, "sort s"), Reply::error(WRONGTYPE));
    }

    #[test]
    fn by_and_get_patterns() {
        let mut t = State::default();
        script(
            &mut t,
            &[
                "rpush ids 1 2 3",
                "mset w_1 30 w_2 10 w_3 20 name_1 one name_2 two",
                "hset h_1 f c",
                "hset h_2 f a",
                "hset h_3 f b",
            ],
        );
        assert_eq!(exec(&mut t, "sort ids by w_*"), array(&["2", "3", "1"]));
        assert_eq!(
            exec(&mut t, "sort ids by h_*->f alpha"),
            array(&["2", "3", "1"])
        );
        assert_eq!(
            exec(&mut t, "sort ids by w_* get # get name_*"),
            Reply::Array(vec![
                bulk("2"),
                bulk("two"),
                bulk("3"),
                Reply::Nil,
                bulk("1"),
                bulk("one")
            ])
        );
        // BY without `*`: the list's own order, reversed for DESC, LIMIT applied to it.
        assert_eq!(
            exec(&mut t, "sort ids by nosort desc"),
            array(&["3", "2", "1"])
        );
        assert_eq!(exec(&mut t, "sort ids by nosort limit 1 1"), array(&["2"]));
        assert_eq!(
            exec(&mut t, "sort ids get nokey"),
            Reply::Array(vec![Reply::Nil; 3])
        );
    }

    #[test]
    fn sorted_sets_keep_score_order_unsorted_and_store_makes_a_list() {
        let mut t = State::default();
        exec(&mut t, "zadd z 3 a 1 c 2 b");
        assert_eq!(exec(&mut t, "sort z by nosort"), array(&["c", "b", "a"]));
        assert_eq!(
            exec(&mut t, "sort z by nosort desc limit 0 2"),
            array(&["a", "b"])
        );
        assert_eq!(exec(&mut t, "sort z alpha store dst"), Reply::Integer(3));
        assert_eq!(exec(&mut t, "lrange dst 0 -1"), array(&["a", "b", "c"]));
        // An empty result deletes the destination.
        assert_eq!(exec(&mut t, "sort missing store dst"), Reply::Integer(0));
        assert_eq!(exec(&mut t, "exists dst"), Reply::Integer(0));
        // GET of a missing key stores an empty string.
        assert_eq!(
            exec(&mut t, "sort z alpha get nokey_* store dst"),
            Reply::Integer(3)
        );
        assert_eq!(exec(&mut t, "lrange dst 0 -1"), array(&["", "", ""]));
        assert_eq!(exec(&mut t, "sort_ro z alpha limit 0 1"), array(&["a"]));
        assert_eq!(
            exec(&mut t, "sort_ro z store dst"),
            Reply::error("ERR syntax error")
        );
    }
}
