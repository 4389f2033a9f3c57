//! Locks with fencing tokens: `fence-order`. Every token is handed out once
//! (`cairn.fencing_token()` of the acquiring write), and in every read of a list, element by element in list order, the
//! tokens never go down: no holder's append landed after an append of a newer holder (a
//! holder that outlived its lease and lost the lock was refused). The list checks
//! (`list_append`) cover lost and phantom appends.

use std::collections::HashMap;

use super::{group_by_key, Check};
use crate::history::{Call, Outcome, Ret};
use crate::workload::fenced::token_of;

pub fn check(ops: &[crate::history::Op]) -> Check {
    let mut c = Check::new("fence-order");
    let mut holders: HashMap<i64, u64> = HashMap::new();
    for o in ops {
        if let (Call::Acquire { .. }, Outcome::Ok, Some(Ret::Value(Some(t)))) =
            (&o.call, o.outcome, &o.ret)
        {
            if let Some(first) = holders.insert(*t, o.id) {
                c.fail(format!(
                    "token {t} handed out twice: ops {first} and {}",
                    o.id
                ));
            }
        }
    }
    for (key, ops) in group_by_key(ops) {
        for o in ops {
            let (Call::ReadList, Outcome::Ok, Some(Ret::List(items))) =
                (&o.call, o.outcome, &o.ret)
            else {
                continue;
            };
            if let Some(w) = items.windows(2).find(|w| token_of(w[1]) < token_of(w[0])) {
                c.fail(format!(
                    "{key}: read {} holds {} (token {}) after {} (token {}): an older holder wrote after a newer one",
                    o.id,
                    w[1],
                    token_of(w[1]),
                    w[0],
                    token_of(w[0])
                ));
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::super::Verdict;
    use super::*;
    use crate::history::Op;

    fn op(id: u64, key: &str, call: Call, ret: Ret) -> Op {
        Op {
            id,
            client: 0,
            node: 1,
            key: key.into(),
            call,
            invoke_us: id * 10,
            complete_us: id * 10 + 5,
            outcome: Outcome::Ok,
            ret: Some(ret),
            error: None,
            final_read: false,
        }
    }

    fn acquired(id: u64, token: i64) -> Op {
        op(
            id,
            "lock:0",
            Call::Acquire { holder: 0 },
            Ret::Value(Some(token)),
        )
    }

    fn read(id: u64, items: Vec<i64>) -> Op {
        op(id, "fenced:0", Call::ReadList, Ret::List(items))
    }

    #[test]
    fn tokens_that_never_go_down_pass() {
        let h = [
            acquired(0, 5),
            acquired(1, 9),
            read(2, vec![5 * 16, 5 * 16 + 1, 9 * 16]),
        ];
        assert_eq!(check(&h).verdict, Verdict::Pass);
    }

    #[test]
    fn an_older_holder_after_a_newer_one_fails() {
        let h = [
            acquired(0, 5),
            acquired(1, 9),
            read(2, vec![5 * 16, 9 * 16, 5 * 16 + 1]),
        ];
        assert_eq!(check(&h).verdict, Verdict::Fail);
    }

    #[test]
    fn a_token_handed_out_twice_fails() {
        let h = [acquired(0, 5), acquired(1, 5)];
        assert_eq!(check(&h).verdict, Verdict::Fail);
    }
}
