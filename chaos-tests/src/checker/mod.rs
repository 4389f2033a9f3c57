//! Checkers: pure functions of a history (and the nemesis windows, for availability).
//! A check passes, fails (with anomalies named by key and op id), or is unknown (the
//! evidence it needs is missing, or a search bound was reached); unknown does not pass.

pub mod counter;
pub mod fenced;
pub mod linearizable;
pub mod list_append;
pub mod set;
pub mod ttl;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cli::Workload;
use crate::history::{Op, Outcome};
use crate::nemesis::Window;
use crate::workload::register::CAS_REFUSED;
use crate::workload::MALFORMED;

/// Anomalies listed per check at most; the count is always exact.
const ANOMALIES_LISTED_MAX: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    /// How many anomalies (fail) or gaps (unknown) were found.
    pub count: usize,
    /// The first of them, described.
    pub anomalies: Vec<String>,
    /// What the check looked at, when that says more than the count (e.g. how many reads
    /// fell where); not an anomaly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

impl Check {
    pub fn new(name: &str) -> Check {
        Check {
            name: name.to_string(),
            verdict: Verdict::Pass,
            count: 0,
            anomalies: Vec::new(),
            evidence: None,
        }
    }

    pub fn fail(&mut self, what: String) {
        self.verdict = Verdict::Fail;
        self.note(what);
    }

    /// Marks the check unknown unless it already failed.
    pub fn unknown(&mut self, what: String) {
        if self.verdict == Verdict::Pass {
            self.verdict = Verdict::Unknown;
        }
        self.note(what);
    }

    fn note(&mut self, what: String) {
        self.count += 1;
        if self.anomalies.len() < ANOMALIES_LISTED_MAX {
            self.anomalies.push(what);
        }
    }
}

/// Operations grouped by key, each group in invocation order.
pub fn group_by_key(ops: &[Op]) -> BTreeMap<String, Vec<&Op>> {
    let mut map: BTreeMap<String, Vec<&Op>> = BTreeMap::new();
    for o in ops {
        map.entry(o.key.clone()).or_default().push(o);
    }
    for v in map.values_mut() {
        v.sort_by_key(|o| (o.invoke_us, o.id));
    }
    map
}

/// Every check of `workload` on `ops`.
pub fn check(workload: Workload, ops: &[Op], search_limit: usize) -> Vec<Check> {
    let mut checks = match workload {
        Workload::Register => vec![linearizable_check(ops, search_limit)],
        Workload::Counter => counter::check(ops),
        Workload::ListAppend => list_append::check(ops),
        Workload::Set => set::check(ops),
        Workload::Ttl => ttl::check(ops),
        Workload::Fenced => {
            let mut checks = list_append::check(ops);
            checks.push(fenced::check(ops));
            checks
        }
    };
    checks.push(well_formed(ops));
    checks
}

/// Linearizability of every register key.
fn linearizable_check(ops: &[Op], limit: usize) -> Check {
    let mut c = Check::new("linearizable-registers");
    for (key, ops) in group_by_key(ops) {
        match linearizable::check_key(&ops, limit) {
            linearizable::KeyVerdict::Linearizable => {}
            linearizable::KeyVerdict::Illegal { op, linearized } => c.fail(format!(
                "{key}: no linearization of its {} ops; the deepest search placed {linearized} \
                 and could not get past op {op}",
                ops.len()
            )),
            linearizable::KeyVerdict::Unknown { steps } => c.unknown(format!(
                "{key}: search bound of {steps} steps reached on {} ops",
                ops.len()
            )),
        }
    }
    c
}

/// Every reply could be read as what the workload wrote.
fn well_formed(ops: &[Op]) -> Check {
    let mut c = Check::new("replies-well-formed");
    for o in ops {
        if let Some(e) = o.error.as_deref().filter(|e| e.starts_with(MALFORMED)) {
            c.fail(format!("op {} on {}: {e}", o.id, o.key));
        }
    }
    c
}

/// Success rate of the workload's operations, split by whether they were invoked while a
/// fault was in force. Final reads are excluded (they run after the faults). A refused
/// compare-and-set counts as answered: the cluster did its job.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Availability {
    pub ops_outside_faults: usize,
    pub ok_outside_faults: usize,
    /// ok / ops outside faults; None when there were no such ops.
    pub outside_faults: Option<f64>,
    pub ops_during_faults: usize,
    pub ok_during_faults: usize,
    pub during_faults: Option<f64>,
    /// Op counts favour healthy clients: a client stuck on an unreachable node issues one
    /// op per timeout while the others issue hundreds. These weigh each op by its duration
    /// instead: the share of client time spent in ops that were answered.
    #[serde(default)]
    pub time_outside_faults: Option<f64>,
    #[serde(default)]
    pub time_during_faults: Option<f64>,
}

pub fn availability(ops: &[Op], windows: &[Window]) -> Availability {
    let mut a = Availability::default();
    // (answered µs, all µs) outside and during faults.
    let mut time = [(0u64, 0u64); 2];
    for o in ops.iter().filter(|o| !o.final_read) {
        let inside = windows
            .iter()
            .any(|w| o.invoke_us >= w.start_us && o.invoke_us <= w.end_us);
        let refused = o
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with(CAS_REFUSED));
        let ok = usize::from(o.outcome == Outcome::Ok || refused);
        let took = o.complete_us.saturating_sub(o.invoke_us);
        let t = &mut time[usize::from(inside)];
        t.1 += took;
        t.0 += took * ok as u64;
        if inside {
            a.ops_during_faults += 1;
            a.ok_during_faults += ok;
        } else {
            a.ops_outside_faults += 1;
            a.ok_outside_faults += ok;
        }
    }
    let frac = |ok: usize, n: usize| (n > 0).then(|| ok as f64 / n as f64);
    a.outside_faults = frac(a.ok_outside_faults, a.ops_outside_faults);
    a.during_faults = frac(a.ok_during_faults, a.ops_during_faults);
    let tfrac = |(ok, all): (u64, u64)| (all > 0).then(|| ok as f64 / all as f64);
    a.time_outside_faults = tfrac(time[0]);
    a.time_during_faults = tfrac(time[1]);
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Call;

    #[test]
    fn availability_splits_on_windows() {
        let mk = |id: u64, t: u64, outcome| Op {
            id,
            client: 0,
            node: 1,
            key: "k".into(),
            call: Call::Read,
            invoke_us: t,
            complete_us: t + 1,
            outcome,
            ret: None,
            error: None,
            final_read: false,
        };
        let ops = [
            mk(0, 0, Outcome::Ok),
            mk(1, 10, Outcome::Fail),
            mk(2, 20, Outcome::Ok),
            mk(3, 30, Outcome::Ok),
        ];
        let w = [Window {
            kind: "kill".into(),
            detail: String::new(),
            start_us: 5,
            end_us: 15,
        }];
        let a = availability(&ops, &w);
        assert_eq!((a.ops_outside_faults, a.ok_outside_faults), (3, 3));
        assert_eq!((a.ops_during_faults, a.ok_during_faults), (1, 0));
        assert_eq!(a.outside_faults, Some(1.0));
        assert_eq!(a.time_during_faults, Some(0.0));
    }
}
