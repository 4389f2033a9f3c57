//! Counters: no acknowledged increment lost, none applied twice.
//!
//! Per key, with `acked` acknowledged INCRs and `unknown` INCRs of unknown outcome:
//! - the final value lies in `[acked, acked + unknown]`;
//! - no two acknowledged INCRs returned the same value (one of them was lost), and none
//!   returned more than the final value;
//! - every observed value (an INCR's result or a GET) lies between the increments known
//!   to have completed before it was invoked and those invoked before it completed.

use std::collections::BTreeMap;

use super::{group_by_key, Check};
use crate::history::{Call, Op, Outcome, Ret};

/// The value an acknowledged op observed, if it observed one.
fn observed(op: &Op) -> Option<i64> {
    match (&op.call, &op.ret) {
        (Call::Incr, Some(Ret::Int(v))) => Some(*v),
        // A missing counter reads as 0, as INCR sees it.
        (Call::Read, Some(Ret::Value(v))) => Some(v.unwrap_or(0)),
        _ => None,
    }
}

pub fn check(ops: &[Op]) -> Vec<Check> {
    let mut final_check = Check::new("counter-final-value");
    let mut unique = Check::new("counter-incr-results-unique");
    let mut bounds = Check::new("counter-observed-within-bounds");
    for (key, ops) in group_by_key(ops) {
        let incrs: Vec<&Op> = ops
            .iter()
            .copied()
            .filter(|o| o.call == Call::Incr)
            .collect();
        let acked = incrs.iter().filter(|o| o.outcome == Outcome::Ok).count() as i64;
        let unknown = incrs.iter().filter(|o| o.outcome == Outcome::Info).count() as i64;
        let final_value = ops
            .iter()
            .filter(|o| o.final_read && o.outcome == Outcome::Ok)
            .filter_map(|o| observed(o))
            .next_back();
        match final_value {
            None => final_check.unknown(format!("{key}: no successful final read")),
            Some(v) if v < acked => final_check.fail(format!(
                "{key}: final value {v} < {acked} acknowledged increments: {} lost",
                acked - v
            )),
            Some(v) if v > acked + unknown => final_check.fail(format!(
                "{key}: final value {v} > {acked} acknowledged + {unknown} unknown increments: \
                 {} applied twice",
                v - acked - unknown
            )),
            Some(_) => {}
        }
        let mut seen: BTreeMap<i64, u64> = BTreeMap::new();
        for o in incrs.iter().filter(|o| o.outcome == Outcome::Ok) {
            let Some(v) = observed(o) else { continue };
            if let Some(other) = seen.insert(v, o.id) {
                unique.fail(format!(
                    "{key}: INCR ops {other} and {} both returned {v}",
                    o.id
                ));
            }
            if final_value.is_some_and(|f| v > f) {
                unique.fail(format!(
                    "{key}: INCR op {} returned {v}, above the final value {final_value:?}",
                    o.id
                ));
            }
        }
        check_bounds(&key, &ops, &incrs, &mut bounds);
    }
    vec![final_check, unique, bounds]
}

/// Every observation `x` of op `o` needs lower ≤ x ≤ upper, where lower counts acknowledged
/// INCRs that completed before `o` was invoked (plus `o` itself if it is an INCR) and upper
/// counts INCRs of any possible effect invoked before `o` completed.
fn check_bounds(key: &str, ops: &[&Op], incrs: &[&Op], check: &mut Check) {
    let mut ok_completions: Vec<u64> = incrs
        .iter()
        .filter(|o| o.outcome == Outcome::Ok)
        .map(|o| o.complete_us)
        .collect();
    ok_completions.sort_unstable();
    let mut possible_invocations: Vec<u64> = incrs
        .iter()
        .filter(|o| o.outcome != Outcome::Fail)
        .map(|o| o.invoke_us)
        .collect();
    possible_invocations.sort_unstable();
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        let Some(x) = observed(o) else { continue };
        let own = i64::from(o.call == Call::Incr);
        let before = ok_completions.partition_point(|&t| t < o.invoke_us) as i64;
        let lower = before + own;
        let upper = possible_invocations.partition_point(|&t| t <= o.complete_us) as i64;
        if x < lower || x > upper {
            check.fail(format!(
                "{key}: op {} ({:?}) observed {x}, outside [{lower}, {upper}]",
                o.id, o.call
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Verdict;
    use super::*;

    fn op(id: u64, call: Call, inv: u64, ret: u64, outcome: Outcome, r: Option<Ret>) -> Op {
        Op {
            id,
            client: 0,
            node: 1,
            key: "c".into(),
            call,
            invoke_us: inv,
            complete_us: ret,
            outcome,
            ret: r,
            error: None,
            final_read: false,
        }
    }
    fn incr(id: u64, v: i64, inv: u64, ret: u64) -> Op {
        op(id, Call::Incr, inv, ret, Outcome::Ok, Some(Ret::Int(v)))
    }
    fn fin(id: u64, v: i64, at: u64) -> Op {
        let mut o = op(
            id,
            Call::Read,
            at,
            at + 1,
            Outcome::Ok,
            Some(Ret::Value(Some(v))),
        );
        o.final_read = true;
        o
    }
    fn verdicts(h: &[Op]) -> Vec<Verdict> {
        check(h).into_iter().map(|c| c.verdict).collect()
    }

    #[test]
    fn exact_counts_pass() {
        let info = op(2, Call::Incr, 30, 40, Outcome::Info, None);
        let h = [incr(0, 1, 0, 10), incr(1, 2, 10, 20), info, fin(3, 3, 100)];
        assert_eq!(verdicts(&h), vec![Verdict::Pass; 3]);
        let h = [incr(0, 1, 0, 10), incr(1, 2, 10, 20), fin(3, 2, 100)];
        assert_eq!(verdicts(&h), vec![Verdict::Pass; 3]);
    }

    #[test]
    fn lost_increment_fails() {
        let h = [incr(0, 1, 0, 10), incr(1, 2, 20, 30), fin(2, 1, 100)];
        assert_eq!(check(&h)[0].verdict, Verdict::Fail);
    }

    #[test]
    fn duplicate_increment_fails() {
        // Two increments, one applied twice: the final value exceeds every possibility.
        let h = [incr(0, 1, 0, 10), incr(1, 3, 20, 30), fin(2, 3, 100)];
        let c = check(&h);
        assert_eq!(c[0].verdict, Verdict::Fail);
        assert_eq!(
            c[2].verdict,
            Verdict::Fail,
            "3 observed after only 2 invocations"
        );
    }

    #[test]
    fn two_incrs_returning_the_same_value_fail() {
        let h = [incr(0, 1, 0, 10), incr(1, 1, 5, 15), fin(2, 2, 100)];
        assert_eq!(check(&h)[1].verdict, Verdict::Fail);
    }

    #[test]
    fn stale_read_of_a_counter_fails() {
        let read = op(
            2,
            Call::Read,
            50,
            60,
            Outcome::Ok,
            Some(Ret::Value(Some(1))),
        );
        let h = [incr(0, 1, 0, 10), incr(1, 2, 20, 30), read, fin(3, 2, 100)];
        assert_eq!(check(&h)[2].verdict, Verdict::Fail);
    }

    #[test]
    fn no_final_read_is_unknown() {
        let h = [incr(0, 1, 0, 10)];
        assert_eq!(check(&h)[0].verdict, Verdict::Unknown);
    }
}
