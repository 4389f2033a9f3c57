//! Elections with a pre-vote, driven by cairn instead of openraft's timer.
//!
//! openraft 0.9 has no pre-vote: a node cut off from the cluster keeps standing for election,
//! raising its term each time, and when it comes back the leader meets that higher term and
//! steps down. So openraft's own election timer is off (`enable_elect = false`) and this
//! driver decides when a node stands:
//!
//! - every node notes when it last heard from a leader (an AppendEntries or InstallSnapshot
//!   raft accepted, or a vote it granted), see [`Elections::heard_from_leader`];
//! - once a voter has heard nothing for `election_timeout_max` (the followers' lease in
//!   openraft, during which they would refuse it anyway) plus a random jitter, it asks the
//!   other voters a `PreVote`: "have you, too, heard nothing from a leader for that long?";
//! - only with a majority of yeses (its own included) does it call `trigger().elect()`, which
//!   raises the term. Otherwise it asks again a little later, with its term untouched.
//!
//! A pre-vote is granted only to a candidate whose log is at least as up to date as the
//! voter's (as a real vote is): a follower that lags cannot win pre-votes it would then lose
//! as votes, term after term, while the up-to-date voter waits for a silence it keeps
//! breaking.
//!
//! An isolated node therefore never raises its term, and when it returns the leader stays.
//! A deliberate hand-off (`TimeoutNow`, see [`crate::transfer`]) calls `elect()` directly,
//! without a pre-vote.
//!
//! This module also holds the voters' side of the leader lease: a voter refuses an ordinary
//! vote for `election_timeout_max` after it last heard from a leader
//! ([`Elections::leader_heard_recently`]); only a hand-off from that very leader skips it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::ServerState;

use crate::types::LogId;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::lease::LeaderLease;
use crate::network::PeerClients;
use crate::types::{NodeId, Raft};

/// A pre-vote request: `candidate` would stand for election with this last log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreVote {
    pub candidate: NodeId,
    /// The candidate's last log id. Appended after `candidate`, so a node of the previous
    /// version decodes the request (bincode ignores trailing bytes) and just does not compare.
    pub last_log: Option<LogId>,
}

impl PreVote {
    /// Decodes a pre-vote of this version or of the previous one (without `last_log`, which
    /// then counts as up to date: that node cannot say, and its real vote still checks).
    pub fn open(env: &crate::pb::Envelope) -> crate::Result<PreVote> {
        crate::network::open::<PreVote>(env).or_else(|_| {
            crate::network::open::<NodeId>(env).map(|candidate| PreVote {
                candidate,
                last_log: None,
            })
        })
    }
}

/// The log a pre-vote is compared with: this node's last log id.
pub type LastLog = Box<dyn Fn() -> Option<LogId> + Send + Sync>;

/// When this node last heard from a leader, and the timeouts that judge it.
pub struct Elections {
    /// The last append or snapshot from a leader, or vote granted: elections wait for silence.
    last_contact: Mutex<Instant>,
    /// The last append or snapshot from a leader only: ordinary votes are refused for a
    /// timeout after it (the voters' half of the leader lease).
    leader_contact: Mutex<Option<Instant>>,
    last_log: LastLog,
    /// Silence after which a voter may stand: openraft's follower lease.
    timeout: Duration,
    /// The random extra wait, so that two followers rarely stand at once.
    jitter: Duration,
    /// The wait before another pre-vote after one that failed.
    retry: Duration,
}

impl Elections {
    pub fn new(
        election_timeout_min: Duration,
        election_timeout_max: Duration,
        last_log: LastLog,
    ) -> Elections {
        Elections {
            last_contact: Mutex::new(Instant::now()),
            leader_contact: Mutex::new(None),
            last_log,
            timeout: election_timeout_max,
            jitter: (election_timeout_max.saturating_sub(election_timeout_min) / 2)
                .max(Duration::from_millis(10)),
            retry: (election_timeout_min / 4).max(Duration::from_millis(10)),
        }
    }

    fn contact(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.last_contact.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A leader was heard from (an append or a snapshot): no election now, and no ordinary
    /// vote for a timeout.
    pub fn heard_from_leader(&self) {
        let now = Instant::now();
        *self.contact() = now;
        *self
            .leader_contact
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(now);
    }

    /// This node gave a candidate its vote: no election of its own for a while.
    pub fn granted_vote(&self) {
        *self.contact() = Instant::now();
    }

    /// Whether this voter heard from a leader less than an election timeout ago, and must
    /// refuse ordinary votes: that leader may hold a lease counting on it (see
    /// [`crate::lease`]). openraft's own check is shortened to a minimum (see the node's raft
    /// configuration) so that a hand-off from that leader does not wait it out.
    pub fn leader_heard_recently(&self) -> bool {
        self.leader_contact
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < self.timeout)
    }

    fn silence(&self) -> Duration {
        self.contact().elapsed()
    }

    /// Whether no leader has been heard from for an election timeout: the leader this node
    /// last knew is then not to be relied on (openraft's follower keeps naming it, since
    /// without a pre-vote majority nobody stands and no new term tells it otherwise).
    pub fn leader_silent(&self) -> bool {
        self.silence() >= self.timeout
    }

    /// The answer to `PreVote`: yes if this node, too, has heard from no leader for the whole
    /// timeout, does not lead, holds no lease that forbids a vote, and the candidate's log is
    /// at least as up to date as its own (a candidate of the previous version sends none).
    pub fn grants_pre_vote(&self, raft: &Raft, lease: &LeaderLease, ask: &PreVote) -> bool {
        // A candidate still says yes: two that refused each other would wait forever (a
        // split vote is settled by the jitter of the next attempt instead).
        let leads = raft.metrics().borrow().state == ServerState::Leader;
        let log_ok = ask.last_log.is_none() || ask.last_log >= (self.last_log)();
        !leads && log_ok && !lease.refuses_vote(ask.last_log) && self.silence() >= self.timeout
    }

    /// Runs the election loop for node `id` until raft stops.
    pub fn spawn(
        self: &Arc<Self>,
        id: NodeId,
        raft: Raft,
        peers: PeerClients,
        lease: Arc<LeaderLease>,
    ) {
        let elections = self.clone();
        tokio::spawn(async move { elections.run(id, raft, peers, lease).await });
    }

    async fn run(&self, id: NodeId, raft: Raft, peers: PeerClients, lease: Arc<LeaderLease>) {
        let mut metrics = raft.metrics();
        loop {
            let wait = {
                let jitter = rand::thread_rng().gen_range(Duration::ZERO..=self.jitter);
                (self.timeout + jitter).saturating_sub(self.silence())
            };
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
                continue;
            }
            let (leads, voters) = {
                let m = metrics.borrow_and_update();
                if m.running_state.is_err() {
                    return;
                }
                let membership = m.membership_config.membership();
                let voters: Vec<(NodeId, String)> = membership
                    .voter_ids()
                    .filter_map(|v| Some((v, membership.get_node(&v)?.raft_addr.clone())))
                    .collect();
                (m.state == ServerState::Leader, voters)
            };
            if leads {
                // A leader hears itself.
                self.granted_vote();
                continue;
            }
            if lease.amnesiac() || !voters.iter().any(|(v, _)| *v == id) {
                // A learner, a node not yet in a cluster or one that lost its data and has
                // not caught up: nothing to stand for, but the silence stays what it is.
                tokio::time::sleep(self.retry).await;
                continue;
            }
            // Heard from a leader, or gave a candidate this node's vote, while the pre-vote
            // ran: standing now would only depose it.
            if self.pre_vote(id, &voters, &peers).await && self.silence() >= self.timeout {
                tracing::info!(
                    silent_ms = self.silence().as_millis() as u64,
                    "pre-vote won: standing for election"
                );
                if let Err(e) = raft.trigger().elect().await {
                    tracing::warn!(error = %e, "could not stand for election");
                    return;
                }
                // The election decides; a new one only after another full silence.
                self.granted_vote();
            } else {
                tokio::time::sleep(self.retry).await;
            }
        }
    }

    /// Asks every other voter; true with a majority of yeses, this node's own included.
    async fn pre_vote(&self, id: NodeId, voters: &[(NodeId, String)], peers: &PeerClients) -> bool {
        let request = PreVote {
            candidate: id,
            last_log: (self.last_log)(),
        };
        let asks = voters.iter().filter(|(v, _)| *v != id).map(|(_, addr)| {
            let (peers, request) = (peers.clone(), request.clone());
            async move {
                match peers
                    .pre_vote(addr, &request, self.retry.max(PRE_VOTE_TIMEOUT))
                    .await
                {
                    Ok(granted) => granted,
                    // A peer of a version without pre-votes: it votes as openraft decides.
                    Err(e) => e.to_string().contains("Unimplemented"),
                }
            }
        });
        let yes = 1 + futures::future::join_all(asks)
            .await
            .into_iter()
            .filter(|g| *g)
            .count();
        yes * 2 > voters.len()
    }
}

/// How long a pre-vote waits for each answer at least.
const PRE_VOTE_TIMEOUT: Duration = Duration::from_millis(100);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_the_election_bounds() {
        let e = Elections::new(
            Duration::from_millis(250),
            Duration::from_millis(450),
            Box::new(|| None),
        );
        assert_eq!(e.timeout, Duration::from_millis(450));
        assert_eq!(e.jitter, Duration::from_millis(100));
        assert_eq!(
            e.retry,
            Duration::from_millis(62) + Duration::from_micros(500)
        );
        assert!(e.silence() < e.timeout);
    }

    #[test]
    fn pre_votes_of_both_versions_decode_on_both() {
        let new = PreVote {
            candidate: 3,
            last_log: Some(LogId::new(openraft::CommittedLeaderId::new(2, 1), 41)),
        };
        let env = crate::network::seal(&new).unwrap();
        let back = PreVote::open(&env).unwrap();
        assert_eq!((back.candidate, back.last_log), (3, new.last_log));
        // The previous version reads the candidate and ignores what follows.
        assert_eq!(crate::network::open::<NodeId>(&env).unwrap(), 3);
        // And its requests, without a log id, are still understood.
        let old = crate::network::seal(&7u64).unwrap();
        let back = PreVote::open(&old).unwrap();
        assert_eq!((back.candidate, back.last_log), (7, None));
    }

    #[test]
    fn leader_contact_refuses_ordinary_votes_for_a_timeout() {
        let e = Elections::new(
            Duration::from_millis(30),
            Duration::from_millis(60),
            Box::new(|| None),
        );
        assert!(
            !e.leader_heard_recently(),
            "no leader heard yet: votes allowed"
        );
        e.granted_vote();
        assert!(
            !e.leader_heard_recently(),
            "a granted vote is not a leader's contact"
        );
        e.heard_from_leader();
        assert!(e.leader_heard_recently());
        std::thread::sleep(Duration::from_millis(70));
        assert!(!e.leader_heard_recently());
    }
}
