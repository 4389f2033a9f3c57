//! LCS: the longest common subsequence of two strings, by the textbook dynamic programme
//! Redis uses, so that ties resolve to the same subsequence and the same ranges.

use bytes::Bytes;
use cairn_protocol::command::LcsAnswer;
use cairn_protocol::Reply;

use super::{Data, StoredValue};

/// The table is (len a + 1) × (len b + 1) u32 cells. Redis bounds it by proto-max-bulk-len
/// (512 MiB); cairn bounds it lower, since a LCS inside MULTI is computed by every replica
/// as it applies the log.
const TABLE_BYTES_MAX: u64 = 128 << 20;

/// Answers LCS for the values of its two keys (missing keys are empty strings).
pub fn lcs(a: Option<&StoredValue>, b: Option<&StoredValue>, answer: LcsAnswer) -> Reply {
    let (Some(a), Some(b)) = (text(a), text(b)) else {
        return Reply::error("ERR The specified keys must contain string values");
    };
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
    if cells.saturating_mul(4) > TABLE_BYTES_MAX {
        return Reply::error(format!(
            "ERR Insufficient memory, transient memory for LCS exceeds {TABLE_BYTES_MAX} bytes"
        ));
    }
    let table = Table::build(&a, &b);
    let total = table.at(a.len(), b.len());
    match answer {
        LcsAnswer::Len => Reply::Integer(i64::from(total)),
        LcsAnswer::Text => Reply::Bulk(Bytes::from(table.walk(&a, &b, |_| {}))),
        LcsAnswer::Ranges {
            min_match_len,
            with_match_len,
        } => {
            let mut matches = Vec::new();
            table.walk(&a, &b, |m: Match| {
                if m.len() >= min_match_len.max(1) {
                    let pair = |start: usize, end: usize| Reply::Array(vec![int(start), int(end)]);
                    let mut item = vec![pair(m.a.0, m.a.1), pair(m.b.0, m.b.1)];
                    if with_match_len {
                        item.push(Reply::Integer(m.len() as i64));
                    }
                    matches.push(Reply::Array(item));
                }
            });
            Reply::Map(vec![
                (Reply::Bulk("matches".into()), Reply::Array(matches)),
                (Reply::Bulk("len".into()), Reply::Integer(i64::from(total))),
            ])
        }
    }
}

fn int(n: usize) -> Reply {
    Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A value's bytes: `Some(empty)` for a missing key, `None` for a key of another type.
fn text(v: Option<&StoredValue>) -> Option<Bytes> {
    match v.map(|v| &v.data) {
        None => Some(Bytes::new()),
        Some(Data::Str(s)) => Some(s.to_bytes()),
        Some(_) => None,
    }
}

/// A run of matching bytes: inclusive ranges in a and in b, of equal length.
struct Match {
    a: (usize, usize),
    b: (usize, usize),
}

impl Match {
    fn len(&self) -> u64 {
        (self.a.1 - self.a.0 + 1) as u64
    }
}

/// `cell(i, j)`: the LCS length of a[..i] and b[..j].
struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    fn build(a: &[u8], b: &[u8]) -> Table {
        let width = b.len() + 1;
        let mut cells = vec![0u32; (a.len() + 1) * width];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Table { cells, width }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Walks back from the end of both strings: returns the subsequence and reports each
    /// maximal run of matches, the last first (as Redis lists them). On a tie it steps back
    /// in b, as Redis does.
    fn walk(&self, a: &[u8], b: &[u8], mut run: impl FnMut(Match)) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.at(a.len(), b.len()) as usize);
        let (mut i, mut j) = (a.len(), b.len());
        let mut current: Option<Match> = None;
        while i > 0 && j > 0 {
            if a[i - 1] == b[j - 1] {
                out.push(a[i - 1]);
                match &mut current {
                    // Each step back after a match is diagonal, so a run only grows.
                    Some(m) => {
                        m.a.0 = i - 1;
                        m.b.0 = j - 1;
                    }
                    None => {
                        current = Some(Match {
                            a: (i - 1, i - 1),
                            b: (j - 1, j - 1),
                        })
                    }
                }
                i -= 1;
                j -= 1;
                if i == 0 || j == 0 {
                    if let Some(m) = current.take() {
                        run(m);
                    }
                }
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                if let Some(m) = current.take() {
                    run(m);
                }
            }
        }
        out.reverse();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Option<StoredValue> {
        Some(StoredValue::string(text.to_string(), None))
    }

    fn ranges(a: &str, b: &str, min: u64) -> Reply {
        lcs(
            s(a).as_ref(),
            s(b).as_ref(),
            LcsAnswer::Ranges {
                min_match_len: min,
                with_match_len: true,
            },
        )
    }

    fn range(a: (i64, i64), b: (i64, i64), len: i64) -> Reply {
        let pair = |(x, y)| Reply::Array(vec![Reply::Integer(x), Reply::Integer(y)]);
        Reply::Array(vec![pair(a), pair(b), Reply::Integer(len)])
    }

    #[test]
    fn text_and_len_as_in_redis_docs() {
        assert_eq!(
            lcs(
                s("ohmytext").as_ref(),
                s("mynewtext").as_ref(),
                LcsAnswer::Text
            ),
            Reply::Bulk("mytext".into())
        );
        assert_eq!(
            lcs(
                s("ohmytext").as_ref(),
                s("mynewtext").as_ref(),
                LcsAnswer::Len
            ),
            Reply::Integer(6)
        );
        assert_eq!(
            lcs(None, s("abc").as_ref(), LcsAnswer::Len),
            Reply::Integer(0)
        );
        assert_eq!(lcs(None, None, LcsAnswer::Text), Reply::Bulk(Bytes::new()));
    }

    #[test]
    fn ranges_last_first_with_min_match_len() {
        // The example of Redis's LCS documentation.
        let all = Reply::Map(vec![
            (
                Reply::Bulk("matches".into()),
                Reply::Array(vec![range((4, 7), (5, 8), 4), range((2, 3), (0, 1), 2)]),
            ),
            (Reply::Bulk("len".into()), Reply::Integer(6)),
        ]);
        assert_eq!(ranges("ohmytext", "mynewtext", 0), all);
        let long = Reply::Map(vec![
            (
                Reply::Bulk("matches".into()),
                Reply::Array(vec![range((4, 7), (5, 8), 4)]),
            ),
            (Reply::Bulk("len".into()), Reply::Integer(6)),
        ]);
        assert_eq!(ranges("ohmytext", "mynewtext", 4), long);
    }

    #[test]
    fn a_table_over_the_limit_is_refused_before_it_is_allocated() {
        let long = "x".repeat(6_000);
        let Reply::Error(e) = lcs(s(&long).as_ref(), s(&long).as_ref(), LcsAnswer::Len) else {
            panic!("not refused");
        };
        assert!(e.contains("Insufficient memory"), "{e}");
        // Just under the limit still answers.
        let under = "x".repeat(5_000);
        assert_eq!(
            lcs(s(&under).as_ref(), s(&under).as_ref(), LcsAnswer::Len),
            Reply::Integer(5_000)
        );
    }

    #[test]
    fn other_types_are_refused() {
        let set = Some(StoredValue::new(Data::Set(Default::default()), None));
        let Reply::Error(e) = lcs(set.as_ref(), s("x").as_ref(), LcsAnswer::Text) else {
            panic!("not an error");
        };
        assert!(e.contains("must contain string values"), "{e}");
    }
}
