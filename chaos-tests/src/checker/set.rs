//! Sets: every acknowledged SADD is in the final SMEMBERS; nothing there was never added;
//! no element appears twice.

use std::collections::HashSet;

use super::{group_by_key, Check};
use crate::history::{Call, Op, Outcome, Ret};

pub fn check(ops: &[Op]) -> Vec<Check> {
    let mut lost = Check::new("set-no-lost-adds");
    let mut phantoms = Check::new("set-no-phantoms");
    for (key, ops) in group_by_key(ops) {
        let Some(final_read) = ops
            .iter()
            .filter(|o| o.final_read && o.outcome == Outcome::Ok)
            .filter_map(|o| match &o.ret {
                Some(Ret::List(v)) => Some(v),
                _ => None,
            })
            .next_back()
        else {
            lost.unknown(format!("{key}: no successful final read"));
            phantoms.unknown(format!("{key}: no successful final read"));
            continue;
        };
        let present: HashSet<i64> = final_read.iter().copied().collect();
        if present.len() != final_read.len() {
            phantoms.fail(format!("{key}: the final read holds duplicate elements"));
        }
        let mut attempted = HashSet::new();
        let mut missing = Vec::new();
        for o in &ops {
            if let Call::Add { value } = o.call {
                if o.outcome != Outcome::Fail {
                    attempted.insert(value);
                }
                if o.outcome == Outcome::Ok && !present.contains(&value) {
                    missing.push((o.id, value));
                }
            }
        }
        if !missing.is_empty() {
            lost.fail(format!(
                "{key}: {} acknowledged adds missing from the final read, e.g. {:?}",
                missing.len(),
                &missing[..missing.len().min(5)]
            ));
        }
        let mut extra: Vec<i64> = present.difference(&attempted).copied().collect();
        extra.sort_unstable();
        if !extra.is_empty() {
            phantoms.fail(format!(
                "{key}: {} elements never added (or added with a definite failure), e.g. {:?}",
                extra.len(),
                &extra[..extra.len().min(5)]
            ));
        }
    }
    vec![lost, phantoms]
}

#[cfg(test)]
mod tests {
    use super::super::Verdict;
    use super::*;

    fn add(id: u64, v: i64, outcome: Outcome) -> Op {
        Op {
            id,
            client: 0,
            node: 1,
            key: "s".into(),
            call: Call::Add { value: v },
            invoke_us: id * 10,
            complete_us: id * 10 + 5,
            outcome,
            ret: (outcome == Outcome::Ok).then_some(Ret::Int(1)),
            error: None,
            final_read: false,
        }
    }
    fn fin(v: Vec<i64>) -> Op {
        Op {
            id: 100,
            client: 0,
            node: 1,
            key: "s".into(),
            call: Call::ReadSet,
            invoke_us: 1000,
            complete_us: 1001,
            outcome: Outcome::Ok,
            ret: Some(Ret::List(v)),
            error: None,
            final_read: true,
        }
    }
    fn verdicts(h: &[Op]) -> Vec<Verdict> {
        check(h).into_iter().map(|c| c.verdict).collect()
    }

    #[test]
    fn complete_set_passes() {
        let h = [
            add(0, 1, Outcome::Ok),
            add(1, 2, Outcome::Info),
            add(2, 3, Outcome::Fail),
            fin(vec![1, 2]),
        ];
        assert_eq!(verdicts(&h), vec![Verdict::Pass, Verdict::Pass]);
        let unknown_absent = [
            add(0, 1, Outcome::Ok),
            add(1, 2, Outcome::Info),
            fin(vec![1]),
        ];
        assert_eq!(
            verdicts(&unknown_absent),
            vec![Verdict::Pass, Verdict::Pass]
        );
    }

    #[test]
    fn lost_add_fails() {
        let h = [add(0, 1, Outcome::Ok), add(1, 2, Outcome::Ok), fin(vec![2])];
        assert_eq!(verdicts(&h), vec![Verdict::Fail, Verdict::Pass]);
    }

    #[test]
    fn phantom_or_failed_add_present_fails() {
        let h = [
            add(0, 1, Outcome::Ok),
            add(1, 2, Outcome::Fail),
            fin(vec![1, 2]),
        ];
        assert_eq!(verdicts(&h), vec![Verdict::Pass, Verdict::Fail]);
        let h = [add(0, 1, Outcome::Ok), fin(vec![1, 9])];
        assert_eq!(verdicts(&h), vec![Verdict::Pass, Verdict::Fail]);
    }
}
