//! The leader lease: linearizable reads on the leader without a quorum round.
//!
//! Voters refuse every ordinary candidate for `election_timeout_max` after they last heard
//! from the leader, judged on their monotonic clock (the peer service enforces it, see
//! [`crate::election::Elections::leader_heard_recently`]). So once a
//! read-index round that *started* at T is confirmed by a quorum, every voter of that quorum
//! heard from the leader after T, and no other node can win an election before
//! T + `election_timeout_max`. Until T + the lease (that timeout less a margin for clock-rate
//! drift between machines) the leader serves reads from its own state, asking no one.
//!
//! The peer service also asks [`LeaderLease::refuses_vote`] before it hands a vote request
//! to raft, for two cases the voters' rule does not cover:
//! - the leader itself would grant a vote while its lease runs (heartbeats refresh the
//!   followers' vote time, not its own), so a leader refuses votes while it holds a lease;
//! - a voter that restarts forgets when it last heard from the leader and would vote at once,
//!   so a node that had a vote refuses votes for one election timeout after it starts.
//!
//! A lease belongs to one term. It ends on step-down (the term or the role changes), on a
//! hand-off ([`LeaderLease::begin_handoff`]), and by itself when a pause outlives it: the clock
//! is monotonic, so a SIGSTOPped leader resumes with an expired lease, and a reader checks the
//! lease again after it has read ([`LeaderLease::still_valid`]).
//!
//! Since voters now skip their lease check for a successor the leader named (see
//! [`crate::transfer`]), a hand-off also bars leases for the rest of the term: if it fails,
//! a late vote request of that successor may still be granted, so the leader reads through
//! quorum rounds (which such an election makes fail) until it leads in a newer term.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::{LogId, ServerState};

use crate::types::{NodeId, NodeInfo, Raft};

/// A granted lease: reads may be served locally until `until`, in `term`.
#[derive(Debug, Clone, Copy)]
pub struct Leased {
    pub term: u64,
    pub until: Instant,
    /// What a read must have applied first: the leader's last log index, which is at least
    /// every index committed (and so every write acknowledged, or seen by another read)
    /// before the read arrived.
    pub index: u64,
}

pub type RoundResult =
    Result<Option<LogId<NodeId>>, RaftError<NodeId, CheckIsLeaderError<NodeId, NodeInfo>>>;

pub struct LeaderLease {
    id: NodeId,
    /// How long a confirmed round lets the leader read alone; zero when leases are off.
    duration: Duration,
    /// Votes are refused until then (a restarted voter's quiet period).
    quiet_until: Instant,
    state: Mutex<State>,
    /// True while a hand-off runs: rounds wait, so no heartbeat refreshes the voters.
    handing_off: tokio::sync::watch::Sender<bool>,
    /// A renewal round is running (at most one at a time).
    renewing: AtomicBool,
}

/// Whether a voter may trust its own vote and log (see `node/src/cluster/amnesia.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Memory {
    /// It started with the vote it persisted.
    Intact,
    /// It started without data and does not yet know what the cluster had committed: it
    /// neither votes nor stands.
    #[default]
    Lost,
    /// It started without data and learnt from the leader that the cluster had applied up
    /// to this entry: it votes only for candidates whose log reaches it (as it would if it
    /// held that log itself), and does not stand until it has caught up.
    Floor(LogId<NodeId>),
}

#[derive(Default)]
struct State {
    /// The lease held: its term and end.
    held: Option<(u64, Instant)>,
    /// The term of the last hand-off: no lease in it any more.
    barred_term: Option<u64>,
    /// What this voter remembers of its vote and log.
    memory: Memory,
}

impl LeaderLease {
    /// The lease for node `id` whose voters refuse candidates for `election_timeout_max`
    /// after a heartbeat. `enabled`: the read policy is `lease` (else every read takes a
    /// round). `had_vote`: the node voted before this start, so it may have promised a
    /// leader its lease and must not vote until that promise has run out; a node without one
    /// starts amnesiac (no votes) until [`LeaderLease::remembers`] or [`LeaderLease::set_vote_floor`].
    pub fn new(id: NodeId, election_timeout_max: Duration, enabled: bool, had_vote: bool) -> Self {
        let margin = (election_timeout_max / 5).max(Duration::from_millis(20));
        let duration = if enabled {
            election_timeout_max.saturating_sub(margin)
        } else {
            Duration::ZERO
        };
        let quiet = if had_vote {
            election_timeout_max
        } else {
            Duration::ZERO
        };
        LeaderLease {
            id,
            duration,
            quiet_until: Instant::now() + quiet,
            state: Mutex::new(State {
                memory: if had_vote {
                    Memory::Intact
                } else {
                    Memory::Lost
                },
                ..State::default()
            }),
            handing_off: tokio::sync::watch::Sender::new(false),
            renewing: AtomicBool::new(false),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.duration.is_zero()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This node's term if it leads (as its metrics say), else `None`.
    fn leading_term(&self, raft: &Raft) -> Option<u64> {
        let m = raft.metrics();
        let m = m.borrow();
        (m.state == ServerState::Leader && m.current_leader == Some(self.id))
            .then_some(m.current_term)
    }

    /// The lease, if this node leads and holds one that has not run out: a read may then be
    /// served once `index` is applied, with no round.
    pub fn read_index(&self, raft: &Raft) -> Option<Leased> {
        if !self.enabled() {
            return None;
        }
        let (term, until) = self.state().held?;
        let m = raft.metrics();
        let m = m.borrow();
        let leads = m.state == ServerState::Leader
            && m.current_leader == Some(self.id)
            && m.current_term == term;
        (leads && Instant::now() < until).then(|| Leased {
            term,
            until,
            index: m.last_log_index.unwrap_or(0),
        })
    }

    /// Whether `leased` still holds: the lease has not run out (a pause while the read ran
    /// may have outlived it) and this node still leads in its term.
    /// A hand-off that began meanwhile ended the lease: the read is done again.
    pub fn still_valid(&self, raft: &Raft, leased: &Leased) -> bool {
        let held = self.state().held;
        Instant::now() < leased.until
            && held.is_some_and(|(term, _)| term == leased.term)
            && self.leading_term(raft) == Some(leased.term)
    }

    /// Starts a round in the background if `leased` has under half of its time left, so a
    /// steady stream of reads never waits for one; at most one such round runs at a time.
    pub fn renew_if_due(self: &Arc<Self>, raft: &Raft, leased: &Leased) {
        let due = leased.until.saturating_duration_since(Instant::now()) < self.duration / 2;
        if !due || self.renewing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (lease, raft) = (self.clone(), raft.clone());
        tokio::spawn(async move {
            if let Err(e) = lease.round(&raft).await {
                tracing::debug!(error = %e, "lease renewal round failed");
            }
            lease.renewing.store(false, Ordering::Release);
        });
    }

    /// One read-index round through raft (a quorum confirms this node still leads); on
    /// success, the lease runs from when the round started.
    pub async fn round(&self, raft: &Raft) -> RoundResult {
        // A hand-off stops heartbeats so that the voters' leases run out; a round would send
        // one. Once it ends this node no longer leads (the round fails) or it kept leading.
        let _ = self.handing_off.subscribe().wait_for(|h| !*h).await;
        let started = Instant::now();
        let term = self.leading_term(raft);
        let read = raft.get_read_log_id().await?.0;
        if let Some(term) = term.filter(|_| self.enabled()) {
            if self.leading_term(raft) == Some(term) {
                let until = started + self.duration;
                let mut state = self.state();
                // Checked under the same lock as `begin_handoff` takes: a round that was in
                // flight when a hand-off began grants nothing.
                let barred = *self.handing_off.borrow() || state.barred_term == Some(term);
                match state.held {
                    _ if barred => {}
                    Some((t, u)) if t == term && u >= until => {}
                    _ => state.held = Some((term, until)),
                }
            }
        }
        Ok(read)
    }

    /// Gives the lease up before a hand-off, for the rest of this term: the voters will
    /// grant the named successor's vote without waiting for it to run out. Rounds wait until
    /// [`LeaderLease::end_handoff`].
    pub fn begin_handoff(&self, term: u64) {
        let mut state = self.state();
        self.handing_off.send_replace(true);
        state.held = None;
        state.barred_term = Some(term);
    }

    /// The hand-off is over (the successor leads, or it failed and this node leads on).
    pub fn end_handoff(&self) {
        self.handing_off.send_replace(false);
    }

    /// Whether a vote (or pre-vote) for a candidate whose last log entry is `candidate_log`
    /// must be refused now: while this node holds an unexpired lease, during a restarted
    /// voter's quiet period, and while it is amnesiac, unless the candidate's log reaches
    /// what the cluster had applied when this node asked ([`LeaderLease::set_vote_floor`]).
    pub fn refuses_vote(&self, candidate_log: Option<LogId<NodeId>>) -> bool {
        let now = Instant::now();
        let state = self.state();
        let forgot = match state.memory {
            Memory::Intact => false,
            Memory::Lost => true,
            Memory::Floor(floor) => candidate_log < Some(floor),
        };
        forgot || now < self.quiet_until || state.held.is_some_and(|(_, until)| now < until)
    }

    /// Whether this node lost its data and has not caught up: it does not stand for election.
    pub fn amnesiac(&self) -> bool {
        self.state().memory != Memory::Intact
    }

    /// This node holds what the cluster had applied when it started (or started a cluster):
    /// it votes and stands as any voter.
    pub fn remembers(&self) {
        self.state().memory = Memory::Intact;
    }

    /// The leader said the cluster had applied up to `floor` when this node, started without
    /// data, asked: any entry this node acknowledged before it lost its log and that was
    /// committed is at or before `floor`, so a candidate whose log reaches `floor` holds them
    /// all, and this node may vote for it (Raft's rule, as if it still held that log). No
    /// earlier than that: a candidate behind `floor` might lack a write only this node's lost
    /// copy made durable.
    pub fn set_vote_floor(&self, floor: LogId<NodeId>) {
        let mut state = self.state();
        if state.memory != Memory::Intact {
            state.memory = Memory::Floor(floor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_is_the_election_timeout_less_a_drift_margin() {
        let lease = LeaderLease::new(1, Duration::from_millis(450), true, false);
        assert_eq!(lease.duration, Duration::from_millis(360));
        let short = LeaderLease::new(1, Duration::from_millis(60), true, false);
        assert_eq!(short.duration, Duration::from_millis(40));
        assert!(!LeaderLease::new(1, Duration::from_millis(450), false, false).enabled());
    }

    #[test]
    fn a_restarted_voter_is_quiet_for_one_election_timeout() {
        let fresh = LeaderLease::new(1, Duration::from_millis(200), true, false);
        assert!(fresh.refuses_vote(None), "amnesiac until told otherwise");
        fresh.remembers();
        assert!(!fresh.refuses_vote(None));
        let restarted = LeaderLease::new(1, Duration::from_millis(200), true, true);
        assert!(restarted.refuses_vote(None));
        std::thread::sleep(Duration::from_millis(220));
        assert!(!restarted.refuses_vote(None));
    }

    #[test]
    fn a_held_lease_refuses_votes_until_it_runs_out_or_ends() {
        let lease = LeaderLease::new(1, Duration::from_millis(450), true, false);
        lease.remembers();
        lease.state().held = Some((3, Instant::now() + Duration::from_millis(50)));
        assert!(lease.refuses_vote(None));
        lease.begin_handoff(3);
        assert!(!lease.refuses_vote(None));
        assert_eq!(
            lease.state().barred_term,
            Some(3),
            "no lease for the rest of term 3"
        );
        lease.end_handoff();
        lease.state().held = Some((3, Instant::now() + Duration::from_millis(20)));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!lease.refuses_vote(None));
    }

    #[test]
    fn an_amnesiac_votes_only_for_logs_that_reach_its_floor() {
        let lease = LeaderLease::new(1, Duration::from_millis(200), true, false);
        let at = |term, index| Some(LogId::new(openraft::CommittedLeaderId::new(term, 1), index));
        assert!(lease.refuses_vote(at(9, 100)), "knows nothing yet");
        lease.set_vote_floor(LogId::new(openraft::CommittedLeaderId::new(2, 1), 10));
        assert!(lease.amnesiac(), "does not stand before it caught up");
        assert!(lease.refuses_vote(None));
        assert!(lease.refuses_vote(at(2, 9)), "behind the floor");
        assert!(
            lease.refuses_vote(at(1, 50)),
            "an older term's longer log lacks the floor"
        );
        assert!(!lease.refuses_vote(at(2, 10)));
        assert!(
            !lease.refuses_vote(at(3, 4)),
            "a newer term holds every committed entry"
        );
        lease.remembers();
        assert!(!lease.amnesiac());
        lease.set_vote_floor(LogId::new(openraft::CommittedLeaderId::new(5, 1), 10));
        assert!(
            !lease.refuses_vote(None),
            "a floor does not undo remembering"
        );
    }
}
