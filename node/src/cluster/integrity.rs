//! What this node knows of its own consistency: set by the checker (`checker`) and by repair,
//! read by every read (a replica known to have diverged refuses reads), INFO and metrics.

use std::sync::Mutex;

use cairn_protocol::Reply;

/// What this node knows of its own consistency.
#[derive(Default)]
pub struct Integrity {
    /// Set when this replica's data is known not to match (the reason): reads are refused.
    problem: Mutex<Option<String>>,
    /// The last check index compared with the leader, and whether it matched.
    last: Mutex<Option<(u64, bool)>>,
}

impl Integrity {
    pub fn problem(&self) -> Option<String> {
        self.problem.lock().ok()?.clone()
    }

    pub fn set_problem(&self, why: String) {
        tracing::error!(problem = %why, "this replica's data is inconsistent; it stops serving reads");
        if let Ok(mut p) = self.problem.lock() {
            *p = Some(why);
        }
    }

    pub fn last(&self) -> Option<(u64, bool)> {
        *self.last.lock().ok()?
    }

    pub fn record(&self, index: u64, ok: bool) {
        if let Ok(mut l) = self.last.lock() {
            *l = Some((index, ok));
        }
    }

    /// The error a read gets from a replica that must not serve reads.
    pub fn read_refusal(&self) -> Option<Reply> {
        self.problem().map(|why| {
            Reply::error(format!(
                "ERR this replica failed its consistency check and does not serve reads: {why}"
            ))
        })
    }
}
