//! Lists (Elle's list-append, for single-key operations). Per key:
//! - `list-prefix-order`: no read holds an element twice; all reads are prefixes of one
//!   another; a read that began after another ended is at least as long.
//! - `list-no-lost-appends`: an acknowledged append is in the final read, and in every read
//!   invoked after the append was acknowledged.
//! - `list-no-phantoms`: every element read was appended (without a definite failure).
//! - `list-append-position`: RPUSH answers the new length L, so its element sits at position
//!   L − 1 of the final read: anything else is a reordering.
//!
//! The fenced workload's appends (`FencedAppend`) count as appends.

use std::collections::{HashMap, HashSet};

use super::{group_by_key, Check};
use crate::history::{Call, Op, Outcome, Ret};

fn read_of(o: &Op) -> Option<&Vec<i64>> {
    match (&o.call, &o.ret, o.outcome) {
        (Call::ReadList, Some(Ret::List(v)), Outcome::Ok) => Some(v),
        _ => None,
    }
}

pub fn check(ops: &[Op]) -> Vec<Check> {
    let mut order = Check::new("list-prefix-order");
    let mut lost = Check::new("list-no-lost-appends");
    let mut phantoms = Check::new("list-no-phantoms");
    let mut position = Check::new("list-append-position");
    for (key, ops) in group_by_key(ops) {
        let reads: Vec<(&Op, &Vec<i64>)> = ops
            .iter()
            .filter_map(|o| read_of(o).map(|v| (*o, v)))
            .collect();
        check_order(&key, &reads, &mut order);
        let final_read = reads
            .iter()
            .filter(|(o, _)| o.final_read)
            .map(|(_, v)| *v)
            .next_back();
        let mut attempted = HashSet::new();
        for o in &ops {
            if let (Call::Append { value } | Call::FencedAppend { value, .. }, true) =
                (&o.call, o.outcome != Outcome::Fail)
            {
                attempted.insert(*value);
            }
        }
        for (o, v) in &reads {
            if let Some(x) = v.iter().find(|x| !attempted.contains(x)) {
                phantoms.fail(format!("{key}: read {} holds {x}, never appended", o.id));
            }
        }
        let acked: Vec<(&Op, i64)> = ops
            .iter()
            .filter(|o| o.outcome == Outcome::Ok)
            .filter_map(|o| match o.call {
                Call::Append { value } | Call::FencedAppend { value, .. } => Some((*o, value)),
                _ => None,
            })
            .collect();
        for (o, v) in &reads {
            let have: HashSet<i64> = v.iter().copied().collect();
            if let Some((a, x)) = acked
                .iter()
                .find(|(a, x)| a.complete_us < o.invoke_us && !have.contains(x))
            {
                lost.fail(format!(
                    "{key}: append {} of {x} was acknowledged before read {} began, which \
                     lacks it",
                    a.id, o.id
                ));
            }
        }
        let Some(final_read) = final_read else {
            if !acked.is_empty() {
                lost.unknown(format!("{key}: no successful final read"));
                position.unknown(format!("{key}: no successful final read"));
            }
            continue;
        };
        let at: HashMap<i64, usize> = final_read
            .iter()
            .enumerate()
            .map(|(i, x)| (*x, i))
            .collect();
        for (a, x) in &acked {
            if let Some(Ret::Int(len)) = a.ret {
                let want = usize::try_from(len - 1).ok();
                let got = at.get(x).copied();
                if got.is_some() && got != want {
                    position.fail(format!(
                        "{key}: append {} of {x} answered length {len} but sits at index {} \
                         of the final read",
                        a.id,
                        got.unwrap_or(0)
                    ));
                }
            }
        }
    }
    vec![order, lost, phantoms, position]
}

/// Duplicates, prefix order, and real-time order of the reads of one key.
fn check_order(key: &str, reads: &[(&Op, &Vec<i64>)], check: &mut Check) {
    for (o, v) in reads {
        let distinct: HashSet<&i64> = v.iter().collect();
        if distinct.len() != v.len() {
            check.fail(format!("{key}: read {} holds an element twice", o.id));
        }
    }
    let mut by_len: Vec<&(&Op, &Vec<i64>)> = reads.iter().collect();
    by_len.sort_by_key(|(_, v)| v.len());
    for pair in by_len.windows(2) {
        let ((a, short), (b, long)) = (pair[0], pair[1]);
        if long[..short.len()] != short[..] {
            check.fail(format!(
                "{key}: read {} is not a prefix of read {} (diverge at index {})",
                a.id,
                b.id,
                short
                    .iter()
                    .zip(long.iter())
                    .position(|(x, y)| x != y)
                    .unwrap_or(short.len())
            ));
        }
    }
    // Real time: the longest read completed before each read's invocation must not be
    // longer than it.
    let mut by_end: Vec<&(&Op, &Vec<i64>)> = reads.iter().collect();
    by_end.sort_by_key(|(o, _)| o.complete_us);
    let mut by_start: Vec<&(&Op, &Vec<i64>)> = reads.iter().collect();
    by_start.sort_by_key(|(o, _)| o.invoke_us);
    let mut j = 0;
    let mut longest: Option<(u64, usize)> = None;
    for (o, v) in by_start {
        while j < by_end.len() && by_end[j].0.complete_us < o.invoke_us {
            let (p, pv) = by_end[j];
            if longest.is_none_or(|(_, l)| pv.len() > l) {
                longest = Some((p.id, pv.len()));
            }
            j += 1;
        }
        if let Some((pid, l)) = longest {
            if l > v.len() {
                check.fail(format!(
                    "{key}: read {} saw {} elements after read {pid} had seen {l}",
                    o.id,
                    v.len()
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Verdict;
    use super::*;

    fn append(id: u64, v: i64, len: i64, inv: u64, ret: u64) -> Op {
        Op {
            id,
            client: 0,
            node: 1,
            key: "l".into(),
            call: Call::Append { value: v },
            invoke_us: inv,
            complete_us: ret,
            outcome: Outcome::Ok,
            ret: Some(Ret::Int(len)),
            error: None,
            final_read: false,
        }
    }
    fn read(id: u64, v: Vec<i64>, inv: u64, ret: u64, fin: bool) -> Op {
        Op {
            id,
            client: 0,
            node: 1,
            key: "l".into(),
            call: Call::ReadList,
            invoke_us: inv,
            complete_us: ret,
            outcome: Outcome::Ok,
            ret: Some(Ret::List(v)),
            error: None,
            final_read: fin,
        }
    }
    fn verdicts(h: &[Op]) -> Vec<Verdict> {
        check(h).into_iter().map(|c| c.verdict).collect()
    }

    #[test]
    fn growing_prefixes_pass() {
        let h = [
            append(0, 10, 1, 0, 10),
            read(1, vec![10], 20, 30, false),
            append(2, 11, 2, 40, 50),
            read(3, vec![10, 11], 60, 70, false),
            read(4, vec![10, 11], 100, 110, true),
        ];
        assert_eq!(verdicts(&h), vec![Verdict::Pass; 4]);
    }

    #[test]
    fn reordered_reads_fail() {
        let h = [
            append(0, 10, 1, 0, 10),
            append(1, 11, 2, 0, 10),
            read(2, vec![10, 11], 20, 30, false),
            read(3, vec![11, 10], 40, 50, true),
        ];
        let v = verdicts(&h);
        assert_eq!(v[0], Verdict::Fail, "not prefixes");
        assert_eq!(
            v[3],
            Verdict::Fail,
            "append 0 answered length 1 but sits at index 1"
        );
    }

    #[test]
    fn shrinking_read_in_real_time_fails() {
        let h = [
            append(0, 10, 1, 0, 10),
            read(1, vec![10], 20, 30, false),
            read(2, vec![], 40, 50, false),
            read(3, vec![10], 60, 70, true),
        ];
        let v = verdicts(&h);
        assert_eq!(v[0], Verdict::Fail);
        assert_eq!(v[1], Verdict::Fail, "append 0 acknowledged before read 2");
    }

    #[test]
    fn lost_append_and_phantom_fail() {
        let h = [
            append(0, 10, 1, 0, 10),
            append(1, 11, 2, 20, 30),
            read(2, vec![10, 99], 100, 110, true),
        ];
        let v = verdicts(&h);
        assert_eq!(v[1], Verdict::Fail);
        assert_eq!(v[2], Verdict::Fail);
    }

    #[test]
    fn duplicate_element_fails() {
        let h = [append(0, 10, 1, 0, 10), read(1, vec![10, 10], 20, 30, true)];
        assert_eq!(verdicts(&h)[0], Verdict::Fail);
    }
}
