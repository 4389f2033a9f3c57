//! TTL bounds. A key set with `PX ttl` by an acknowledged SET invoked at `si` and completed
//! at `sc` gets its deadline from the leader's clock at some instant in between, so with
//! clocks that agree it expires somewhere in `[si + ttl, sc + ttl]`. A read that completed
//! before `si + ttl` and began after `sc` must see the key (else it expired early); a read
//! that began after `sc + ttl` must not (else it outlived its deadline). Each key is written
//! once, so nothing else explains either. Reads inside the window are unconstrained. Clocks
//! here are one machine's, read to the millisecond, hence a small tolerance.

use std::collections::HashMap;

use super::Check;
use crate::history::{Call, Op, Outcome};
use crate::workload::ttl::seen;

/// Slack for millisecond rounding of deadlines and clock reads.
pub const TOLERANCE_US: u64 = 10_000;

pub fn check(ops: &[Op]) -> Vec<Check> {
    let mut early = Check::new("ttl-not-expired-early");
    let mut late = Check::new("ttl-not-visible-late");
    // key -> (value, invoke, complete, ttl in µs) of its acknowledged SET.
    let mut sets: HashMap<&str, (i64, u64, u64, u64)> = HashMap::new();
    for o in ops {
        if let (Call::SetTtl { value, ttl_ms }, Outcome::Ok) = (&o.call, o.outcome) {
            sets.insert(&o.key, (*value, o.invoke_us, o.complete_us, ttl_ms * 1000));
        }
    }
    let (mut before, mut after, mut between) = (0u64, 0u64, 0u64);
    for o in ops {
        if o.call != Call::Read || o.outcome != Outcome::Ok {
            continue;
        }
        let Some(&(value, si, sc, ttl)) = sets.get(o.key.as_str()) else {
            continue;
        };
        let Some(got) = seen(&o.ret) else {
            continue;
        };
        // A key is expired once the clock is past its deadline (Redis's `now > when`), in
        // whole milliseconds: hence the tolerance on this side too.
        if o.invoke_us >= sc + ttl + TOLERANCE_US {
            after += 1;
            if got.is_some() {
                late.fail(format!(
                    "op {} read {} on node {} {:.0} ms after its latest deadline (set op \
                     ttl {} ms): {got:?}",
                    o.id,
                    o.key,
                    o.node,
                    (o.invoke_us - sc - ttl) as f64 / 1000.0,
                    ttl / 1000
                ));
            }
        } else if o.invoke_us >= sc && o.complete_us + TOLERANCE_US <= si + ttl {
            before += 1;
            if got != Some(value) {
                early.fail(format!(
                    "op {} read {} on node {} as {got:?} {:.0} ms before its earliest \
                     deadline (ttl {} ms, value {value})",
                    o.id,
                    o.key,
                    o.node,
                    (si + ttl - o.complete_us) as f64 / 1000.0,
                    ttl / 1000
                ));
            }
        } else {
            between += 1;
        }
    }
    let summary = format!(
        "{} keys set; reads before their deadline {before}, after {after}, around it {between}",
        sets.len()
    );
    for c in [&mut early, &mut late] {
        c.evidence = Some(summary.clone());
        if before + after == 0 {
            c.unknown("no read fell clearly before or after a deadline".into());
        }
    }
    vec![early, late]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Verdict;
    use crate::history::Ret;

    fn op(id: u64, key: &str, call: Call, inv_ms: u64, done_ms: u64, ret: Option<Ret>) -> Op {
        Op {
            id,
            client: 0,
            node: 1,
            key: key.into(),
            call,
            invoke_us: inv_ms * 1000,
            complete_us: done_ms * 1000,
            outcome: Outcome::Ok,
            ret,
            error: None,
            final_read: false,
        }
    }

    fn set(id: u64, at: u64) -> Op {
        op(
            id,
            "k",
            Call::SetTtl {
                value: 7,
                ttl_ms: 1000,
            },
            at,
            at + 10,
            None,
        )
    }

    fn read(id: u64, at: u64, v: Option<i64>) -> Op {
        op(id, "k", Call::Read, at, at + 5, Some(Ret::Value(v)))
    }

    #[test]
    fn reads_inside_the_bounds_pass() {
        let h = vec![
            set(1, 0),
            read(2, 100, Some(7)),
            read(3, 1500, None),
            read(4, 1005, None),
        ];
        let c = check(&h);
        assert!(c.iter().all(|c| c.verdict == Verdict::Pass), "{c:?}");
    }

    #[test]
    fn an_early_expiry_fails() {
        let h = vec![set(1, 0), read(2, 500, None), read(3, 1500, None)];
        let c = check(&h);
        assert_eq!(c[0].verdict, Verdict::Fail);
        assert_eq!(c[1].verdict, Verdict::Pass);
    }

    #[test]
    fn a_key_seen_after_its_deadline_fails() {
        let h = vec![set(1, 0), read(2, 100, Some(7)), read(3, 1200, Some(7))];
        let c = check(&h);
        assert_eq!(c[0].verdict, Verdict::Pass);
        assert_eq!(c[1].verdict, Verdict::Fail);
    }

    #[test]
    fn unacknowledged_sets_constrain_nothing() {
        let mut s = set(1, 0);
        s.outcome = Outcome::Info;
        let h = vec![s, read(2, 500, None), read(3, 1500, Some(7))];
        let c = check(&h);
        assert!(c.iter().all(|c| c.verdict != Verdict::Fail), "{c:?}");
    }
}
