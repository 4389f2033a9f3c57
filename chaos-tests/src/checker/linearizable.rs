//! Linearizability of registers (read, write, compare-and-set), checked per key with the
//! Wing–Gong algorithm as improved by Lowe: a depth-first search over the history's
//! call/return entries in a linked list, linearizing a pending call when the model allows
//! it and backtracking at a return that nothing can precede, with a cache of (set of
//! linearized operations, model state) pairs so no configuration is explored twice.
//!
//! Operations whose outcome is unknown (`info`) never return: they may take effect at any
//! time after their invocation, or never. Failed operations had no effect and are left out;
//! so are unknown reads (no effect, no information).
//!
//! The search is bounded: past `limit` steps the key's verdict is "unknown", never a hang.

use std::collections::HashSet;

use crate::history::{Call, Op, Outcome, Ret};

/// The register model: `None` is a missing key.
type State = Option<i64>;

/// The verdict for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyVerdict {
    Linearizable,
    /// No linearization exists. `op` is an operation at which every search path failed
    /// deepest; `linearized` how many operations the deepest path had placed.
    Illegal {
        op: u64,
        linearized: usize,
    },
    /// The search bound was reached first.
    Unknown {
        steps: usize,
    },
}

/// One history entry: the call or the return of an operation.
#[derive(Debug, Clone, Copy)]
struct Entry {
    op: usize,
    is_call: bool,
    /// The index of this operation's other entry.
    other: usize,
}

/// A model step: the state after `op` from `state`, or `None` if `op` cannot happen there.
fn step(state: State, call: &Call, ret: Option<&Ret>) -> Option<State> {
    match call {
        Call::Read => match ret {
            Some(Ret::Value(v)) => (*v == state).then_some(state),
            // An acknowledged read without a value cannot be checked against the model.
            _ => Some(state),
        },
        Call::Write { value } => Some(Some(*value)),
        Call::Cas { from, to } => (state == Some(*from)).then_some(Some(*to)),
        // Not register operations: they do not touch a register's state.
        _ => Some(state),
    }
}

/// Operations of one key that matter to linearizability.
fn relevant(op: &Op) -> bool {
    match op.outcome {
        Outcome::Ok => true,
        Outcome::Info => op.call.is_write(),
        Outcome::Fail => false,
    }
}

/// Checks one key's operations (all of the same key), starting from a missing key.
pub fn check_key(ops: &[&Op], limit: usize) -> KeyVerdict {
    let ops: Vec<&Op> = ops.iter().copied().filter(|o| relevant(o)).collect();
    let n = ops.len();
    if n == 0 {
        return KeyVerdict::Linearizable;
    }
    // Events: (time, is_return, op). Calls sort before returns at the same instant, which
    // treats touching operations as concurrent (the lenient reading of equal timestamps).
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
    for (i, o) in ops.iter().enumerate() {
        events.push((o.invoke_us, false, i));
        let ret = if o.outcome == Outcome::Ok {
            o.complete_us.max(o.invoke_us)
        } else {
            u64::MAX
        };
        events.push((ret, true, i));
    }
    events.sort_unstable();
    let mut entries: Vec<Entry> = Vec::with_capacity(2 * n);
    let mut call_at = vec![0usize; n];
    for (idx, &(_, is_ret, op)) in events.iter().enumerate() {
        if !is_ret {
            call_at[op] = idx;
        }
        entries.push(Entry {
            op,
            is_call: !is_ret,
            other: 0,
        });
    }
    for idx in 0..entries.len() {
        if !entries[idx].is_call {
            let c = call_at[entries[idx].op];
            entries[idx].other = c;
            entries[c].other = idx;
        }
    }
    search(&ops, &entries, limit)
}

fn search(ops: &[&Op], entries: &[Entry], limit: usize) -> KeyVerdict {
    let m = entries.len();
    let (head, tail) = (m, m + 1);
    // A doubly linked list over entries with sentinels; lifted entries keep their links so
    // they can be put back in LIFO order.
    let mut next: Vec<usize> = vec![tail; m + 2];
    let mut prev: Vec<usize> = vec![head; m + 2];
    for i in 0..m {
        next[i] = if i + 1 < m { i + 1 } else { tail };
        prev[i] = if i > 0 { i - 1 } else { head };
    }
    next[head] = if m > 0 { 0 } else { tail };
    prev[tail] = if m > 0 { m - 1 } else { head };
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, x: usize| {
        let (p, nx) = (prev[x], next[x]);
        next[p] = nx;
        prev[nx] = p;
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, x: usize| {
        let (p, nx) = (prev[x], next[x]);
        next[p] = x;
        prev[nx] = x;
    };

    let words = ops.len().div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, State)> = HashSet::new();
    let mut calls: Vec<(usize, State)> = Vec::new();
    let mut state: State = None;
    let mut remaining_ok = ops.iter().filter(|o| o.outcome == Outcome::Ok).count();
    let mut entry = next[head];
    let mut deepest = (0usize, 0u64);

    for _ in 0..limit {
        if remaining_ok == 0 {
            return KeyVerdict::Linearizable;
        }
        if entry != tail && entries[entry].is_call {
            let op = ops[entries[entry].op];
            let i = entries[entry].op;
            if let Some(s2) = step(state, &op.call, op.ret.as_ref()) {
                linearized[i / 64] |= 1 << (i % 64);
                if cache.insert((linearized.clone(), s2)) {
                    calls.push((entry, state));
                    state = s2;
                    if op.outcome == Outcome::Ok {
                        remaining_ok -= 1;
                    }
                    // Lift the call, then its return (LIFO with the relinking below).
                    unlink(&mut next, &mut prev, entry);
                    unlink(&mut next, &mut prev, entries[entry].other);
                    entry = next[head];
                    continue;
                }
                linearized[i / 64] &= !(1 << (i % 64));
            }
            entry = next[entry];
            continue;
        }
        // A return (or the end) reached with its call not linearized: backtrack.
        if calls.len() >= deepest.0 && entry != tail {
            deepest = (calls.len(), ops[entries[entry].op].id);
        }
        let Some((e, s)) = calls.pop() else {
            return KeyVerdict::Illegal {
                op: deepest.1,
                linearized: deepest.0,
            };
        };
        state = s;
        let i = entries[e].op;
        linearized[i / 64] &= !(1 << (i % 64));
        if ops[i].outcome == Outcome::Ok {
            remaining_ok += 1;
        }
        relink(&mut next, &mut prev, entries[e].other);
        relink(&mut next, &mut prev, e);
        entry = next[e];
    }
    KeyVerdict::Unknown { steps: limit }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operation on key "k" from `inv` to `ret` (µs).
    fn op(id: u64, call: Call, inv: u64, ret: u64, outcome: Outcome, r: Option<Ret>) -> Op {
        Op {
            id,
            client: id as usize,
            node: 1,
            key: "k".into(),
            call,
            invoke_us: inv,
            complete_us: ret,
            outcome,
            ret: r,
            error: None,
            final_read: false,
        }
    }
    fn w(id: u64, v: i64, inv: u64, ret: u64) -> Op {
        op(id, Call::Write { value: v }, inv, ret, Outcome::Ok, None)
    }
    fn r(id: u64, v: Option<i64>, inv: u64, ret: u64) -> Op {
        op(id, Call::Read, inv, ret, Outcome::Ok, Some(Ret::Value(v)))
    }
    fn cas(id: u64, from: i64, to: i64, inv: u64, ret: u64, o: Outcome) -> Op {
        op(id, Call::Cas { from, to }, inv, ret, o, None)
    }
    fn check(ops: &[Op]) -> KeyVerdict {
        check_key(&ops.iter().collect::<Vec<_>>(), 100_000)
    }

    #[test]
    fn sequential_history_passes() {
        let h = [
            w(0, 1, 0, 10),
            r(1, Some(1), 20, 30),
            cas(2, 1, 2, 40, 50, Outcome::Ok),
        ];
        assert_eq!(check(&h), KeyVerdict::Linearizable);
        let h2 = [r(0, None, 0, 5), w(1, 3, 10, 20), r(2, Some(3), 30, 40)];
        assert_eq!(check(&h2), KeyVerdict::Linearizable);
    }

    #[test]
    fn concurrent_reads_may_see_either_value() {
        // The write overlaps both reads: one sees the old value, one the new: fine, as long
        // as the one that saw the new value does not precede the one that saw the old.
        let h = [
            w(0, 1, 0, 5),
            w(1, 2, 10, 100),
            r(2, Some(1), 20, 30),
            r(3, Some(2), 40, 50),
        ];
        assert_eq!(check(&h), KeyVerdict::Linearizable);
    }

    #[test]
    fn stale_read_fails() {
        // The write of 2 completed before the read began, yet the read saw 1.
        let h = [w(0, 1, 0, 10), w(1, 2, 20, 30), r(2, Some(1), 40, 50)];
        assert!(matches!(check(&h), KeyVerdict::Illegal { .. }));
    }

    #[test]
    fn reordering_fails() {
        // A reader sees 2 then, strictly later, 1 again, with no write of 1 after the 2.
        let h = [
            w(0, 1, 0, 10),
            w(1, 2, 20, 100),
            r(2, Some(2), 30, 40),
            r(3, Some(1), 50, 60),
        ];
        assert!(matches!(check(&h), KeyVerdict::Illegal { .. }));
    }

    #[test]
    fn lost_write_fails() {
        // An acknowledged write that no later read reflects.
        let h = [w(0, 4, 0, 10), r(1, None, 20, 30)];
        assert!(matches!(check(&h), KeyVerdict::Illegal { .. }));
    }

    #[test]
    fn unknown_writes_may_or_may_not_happen() {
        let info = op(1, Call::Write { value: 7 }, 5, 6, Outcome::Info, None);
        let seen = [w(0, 1, 0, 2), info.clone(), r(2, Some(7), 100, 110)];
        assert_eq!(check(&seen), KeyVerdict::Linearizable);
        let unseen = [w(0, 1, 0, 2), info, r(2, Some(1), 100, 110)];
        assert_eq!(check(&unseen), KeyVerdict::Linearizable);
    }

    #[test]
    fn failed_cas_has_no_effect_and_ok_cas_must_match() {
        let h = [
            w(0, 1, 0, 10),
            cas(1, 3, 4, 20, 30, Outcome::Fail),
            r(2, Some(1), 40, 50),
        ];
        assert_eq!(check(&h), KeyVerdict::Linearizable);
        // A CAS that succeeded although the register held something else.
        let bad = [w(0, 1, 0, 10), cas(1, 3, 4, 20, 30, Outcome::Ok)];
        assert!(matches!(check(&bad), KeyVerdict::Illegal { .. }));
        // Two CAS from the same value cannot both succeed without a write in between.
        let dup = [
            w(0, 1, 0, 10),
            cas(1, 1, 2, 20, 30, Outcome::Ok),
            cas(2, 1, 3, 20, 30, Outcome::Ok),
        ];
        assert!(matches!(check(&dup), KeyVerdict::Illegal { .. }));
    }

    /// A random history that is linearizable by construction: 4 clients, each op takes
    /// effect on a simulated register at a random instant inside its interval (unknown
    /// writes at an instant that may lie after every completion, or never).
    fn random_linearizable(seed: u64) -> Vec<Op> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        // (effect time, client, call, outcome): drawn per client, sequential per client.
        let mut planned = Vec::new();
        for client in 0..4u64 {
            let mut t = rng.gen_range(0..20u64);
            for _ in 0..8 {
                let inv = t;
                let ret = inv + rng.gen_range(1..60u64);
                let effect = rng.gen_range(inv..=ret);
                let call = match rng.gen_range(0..3) {
                    0 => Call::Read,
                    1 => Call::Write {
                        value: rng.gen_range(0..3),
                    },
                    _ => Call::Cas {
                        from: rng.gen_range(0..3),
                        to: rng.gen_range(0..3),
                    },
                };
                let info = call.is_write() && rng.gen_bool(0.1);
                planned.push((effect, client, call, inv, ret, info));
                t = ret + rng.gen_range(1..10u64);
            }
        }
        planned.sort_by_key(|p| p.0);
        let mut state: State = None;
        let mut ops = Vec::new();
        for (id, (_, client, call, inv, ret, info)) in planned.into_iter().enumerate() {
            // An unknown write takes effect or not, by a coin.
            let happens = !info || rng.gen_bool(0.5);
            let (outcome, r) = match &call {
                Call::Read => (Outcome::Ok, Some(Ret::Value(state))),
                Call::Write { value } => {
                    if happens {
                        state = Some(*value);
                    }
                    (if info { Outcome::Info } else { Outcome::Ok }, None)
                }
                Call::Cas { from, to } if state == Some(*from) => {
                    if happens {
                        state = Some(*to);
                    }
                    (if info { Outcome::Info } else { Outcome::Ok }, None)
                }
                _ => (Outcome::Fail, None),
            };
            let mut o = op(id as u64, call, inv, ret, outcome, r);
            o.client = client as usize;
            ops.push(o);
        }
        ops
    }

    #[test]
    fn random_linearizable_histories_pass_and_corrupted_ones_fail() {
        let mut corrupted_failures = 0;
        for seed in 0..300 {
            let mut h = random_linearizable(seed);
            assert_eq!(check(&h), KeyVerdict::Linearizable, "seed {seed}");
            // A read of a value never written cannot be explained by any order.
            if let Some(read) = h.iter_mut().find(|o| o.call == Call::Read) {
                read.ret = Some(Ret::Value(Some(99)));
                assert!(
                    matches!(check(&h), KeyVerdict::Illegal { .. }),
                    "seed {seed}"
                );
                corrupted_failures += 1;
            }
        }
        assert!(corrupted_failures > 250);
    }

    #[test]
    fn the_search_bound_answers_unknown() {
        // Many concurrent writes and a read no order explains: the search must give up at
        // its bound rather than run on.
        let mut h: Vec<Op> = (0..14).map(|i| w(i, i as i64, 0, 1000)).collect();
        h.push(r(99, Some(99), 2000, 2001));
        let verdict = check_key(&h.iter().collect::<Vec<_>>(), 1_000);
        assert_eq!(verdict, KeyVerdict::Unknown { steps: 1_000 });
    }
}
