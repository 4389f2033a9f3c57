//! The nemesis: a fault schedule drawn wholly from the seed before the run starts (so a
//! failing run's faults repeat exactly), then played against the cluster. Targets such as
//! "the leader" are part of the schedule; which node is leader is resolved when the fault
//! starts, so that part depends on the run.

use std::time::{Duration, Instant};

use anyhow::Result;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::sync::watch;

use crate::cli::Fault;
use crate::cluster::{self, Cluster};

/// Which node a process fault hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Whichever node leads when the fault starts (node 1 if none does).
    Leader,
    Node(u64),
}

/// How a partition splits the nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// The leader alone on one side.
    IsolateLeader,
    /// These nodes (a minority) on one side, the rest on the other.
    Halves(Vec<u64>),
    /// Two groups that cannot talk, and one node in the middle that talks to both:
    /// `[left..., bridge, right...]`.
    Bridge(Vec<u64>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    Kill {
        target: Target,
    },
    Pause {
        target: Target,
    },
    Restart {
        target: Target,
    },
    Partition {
        shape: Shape,
    },
    Loss {
        percent: u32,
    },
    /// Remove a node from the membership, add it back when the fault ends.
    Member {
        target: Target,
    },
    /// Hand leadership to `to` (the next node when `to` leads; `CAIRN TRANSFER-LEADER`),
    /// through some other node.
    Transfer {
        to: u64,
    },
    /// Move a node's wall clock by `offset_ms`, back when the fault ends.
    Skew {
        target: Target,
        offset_ms: i64,
    },
}

/// One fault: starts `start` after the run begins and lasts `hold`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub start_ms: u64,
    pub hold_ms: u64,
    pub action: Action,
}

/// A fault as it happened, for the checkers (availability) and the report.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Window {
    pub kind: String,
    pub detail: String,
    pub start_us: u64,
    pub end_us: u64,
}

/// Draws the schedule: quiet gaps of `interval`..2×`interval` between faults held 2–6 s,
/// every fault over before `duration` ends.
pub fn schedule(
    seed: u64,
    faults: &[Fault],
    nodes: usize,
    duration: Duration,
    interval: Duration,
) -> Vec<Step> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6e65_6d65_7369_7321);
    let mut steps = Vec::new();
    if faults.is_empty() {
        return steps;
    }
    let end_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let gap_ms = u64::try_from(interval.as_millis()).unwrap_or(1000).max(1);
    let mut t = 0u64;
    // Bounded: each step advances time by at least one gap.
    for _ in 0..100_000 {
        t += rng.gen_range(gap_ms..=2 * gap_ms);
        let hold_ms = rng.gen_range(2_000..=6_000);
        if t + hold_ms > end_ms {
            break;
        }
        let fault = faults[rng.gen_range(0..faults.len())];
        let action = draw_action(&mut rng, fault, nodes);
        steps.push(Step {
            start_ms: t,
            hold_ms,
            action,
        });
        t += hold_ms;
    }
    steps
}

fn draw_target(rng: &mut StdRng, nodes: usize) -> Target {
    if rng.gen_bool(0.5) {
        Target::Leader
    } else {
        Target::Node(rng.gen_range(1..=nodes as u64))
    }
}

fn draw_action(rng: &mut StdRng, fault: Fault, nodes: usize) -> Action {
    let mut perm: Vec<u64> = (1..=nodes as u64).collect();
    perm.shuffle(rng);
    match fault {
        Fault::Kill => Action::Kill {
            target: draw_target(rng, nodes),
        },
        Fault::Pause => Action::Pause {
            target: draw_target(rng, nodes),
        },
        Fault::Restart => Action::Restart {
            target: draw_target(rng, nodes),
        },
        Fault::Partition => Action::Partition {
            shape: match rng.gen_range(0..3) {
                0 => Shape::IsolateLeader,
                1 => Shape::Halves(perm[..nodes / 2].to_vec()),
                _ => Shape::Bridge(perm),
            },
        },
        Fault::Loss => Action::Loss {
            percent: rng.gen_range(20..=50),
        },
        Fault::Member => Action::Member {
            target: draw_target(rng, nodes),
        },
        Fault::Transfer => Action::Transfer {
            to: rng.gen_range(1..=nodes as u64),
        },
        Fault::Skew => Action::Skew {
            target: draw_target(rng, nodes),
            // 2-30 s either way: well past every TTL the ttl workload sets.
            offset_ms: rng.gen_range(2_000..=30_000) * if rng.gen_bool(0.5) { 1 } else { -1 },
        },
    }
}

/// The pairs of nodes (1-based) a shape cuts apart.
pub fn cuts(shape: &Shape, nodes: usize, leader: u64) -> Vec<(usize, usize)> {
    let all: Vec<u64> = (1..=nodes as u64).collect();
    let (a, b): (Vec<u64>, Vec<u64>) = match shape {
        Shape::IsolateLeader => all.iter().copied().partition(|&x| x == leader),
        Shape::Halves(side) => all.iter().copied().partition(|x| side.contains(x)),
        Shape::Bridge(order) => {
            let left = (order.len().saturating_sub(1)) / 2;
            let l = order[..left].to_vec();
            let r = order[(left + 1).min(order.len())..].to_vec();
            (l, r)
        }
    };
    let mut out = Vec::new();
    for &x in &a {
        for &y in &b {
            out.push((x as usize, y as usize));
        }
    }
    out
}

/// Plays `steps` against `cluster` from `start`, until the schedule ends or `stop` is set;
/// then heals everything. Returns the windows as they happened.
pub async fn play(
    cluster: &mut Cluster,
    steps: &[Step],
    start: Instant,
    mut stop: watch::Receiver<bool>,
    log: &mut Vec<String>,
) -> Result<Vec<Window>> {
    let mut windows = Vec::new();
    let us = |i: Instant| u64::try_from(i.duration_since(start).as_micros()).unwrap_or(u64::MAX);
    for step in steps {
        let at = start + Duration::from_millis(step.start_ms);
        if sleep_until(at, &mut stop).await {
            break;
        }
        for (id, status) in cluster.crashed() {
            log.push(format!(
                "{:>8.3}s CRASH node {id} exited by itself: {status}",
                start.elapsed().as_secs_f64()
            ));
        }
        let specs = cluster.specs();
        let leader = cluster::current_leader(&specs).await.unwrap_or(1);
        let began = Instant::now();
        let detail = begin(cluster, &step.action, leader).await?;
        log.push(format!(
            "{:>8.3}s start {detail}",
            began.duration_since(start).as_secs_f64()
        ));
        let stopped = sleep_until(
            Instant::now() + Duration::from_millis(step.hold_ms),
            &mut stop,
        )
        .await;
        cluster.heal_all()?;
        if let Some(note) = rejoin(cluster, &step.action, leader).await {
            log.push(format!("{:>8.3}s {note}", start.elapsed().as_secs_f64()));
        }
        let ended = Instant::now();
        log.push(format!(
            "{:>8.3}s heal",
            ended.duration_since(start).as_secs_f64()
        ));
        windows.push(Window {
            kind: kind_name(&step.action).to_string(),
            detail,
            start_us: us(began),
            end_us: us(ended),
        });
        if stopped {
            break;
        }
    }
    cluster.heal_all()?;
    Ok(windows)
}

fn kind_name(a: &Action) -> &'static str {
    match a {
        Action::Kill { .. } => "kill",
        Action::Pause { .. } => "pause",
        Action::Restart { .. } => "restart",
        Action::Partition { .. } => "partition",
        Action::Loss { .. } => "loss",
        Action::Member { .. } => "member",
        Action::Skew { .. } => "skew",
        Action::Transfer { .. } => "transfer",
    }
}

fn resolve(t: &Target, leader: u64) -> u64 {
    match t {
        Target::Leader => leader,
        Target::Node(n) => *n,
    }
}

/// Starts a fault; returns a description naming the nodes it hit.
async fn begin(cluster: &mut Cluster, action: &Action, leader: u64) -> Result<String> {
    let n = cluster.nodes.len();
    Ok(match action {
        Action::Kill { target } => {
            let id = resolve(target, leader);
            cluster.node_mut(id)?.kill()?;
            format!("kill node {id} (leader was {leader})")
        }
        Action::Pause { target } => {
            let id = resolve(target, leader);
            cluster.node_mut(id)?.pause()?;
            format!("pause node {id} (leader was {leader})")
        }
        Action::Restart { target } => {
            let id = resolve(target, leader);
            cluster
                .node_mut(id)?
                .terminate(Duration::from_secs(10))
                .await?;
            cluster.restart(id)?;
            format!("restart node {id} (leader was {leader})")
        }
        Action::Partition { shape } => {
            let cuts = cuts(shape, n, leader);
            if let Some(net) = cluster.net() {
                net.partition(&cuts)?;
            }
            format!("partition {shape:?} cutting {cuts:?} (leader was {leader})")
        }
        Action::Loss { percent } => {
            let mut pairs = Vec::new();
            for a in 1..=n {
                for b in a + 1..=n {
                    pairs.push((a, b));
                }
            }
            if let Some(net) = cluster.net() {
                net.lossy(&pairs, *percent)?;
            }
            format!("drop {percent}% of packets between nodes (leader was {leader})")
        }
        Action::Skew { target, offset_ms } => {
            let id = resolve(target, leader);
            cluster.skew(id, *offset_ms)?;
            // libfaketime re-reads the offset about once a second: look until it took.
            let spec = cluster.node_mut(id)?.spec.clone();
            let mut seen = Err(anyhow::anyhow!("not looked"));
            for _ in 0..SKEW_LOOKS {
                tokio::time::sleep(Duration::from_millis(250)).await;
                seen = cluster::clock_offset(&spec, *offset_ms).await;
                if seen.is_ok() {
                    break;
                }
            }
            let seen = seen?;
            format!(
                "skew node {id}'s clock by {offset_ms} ms (TIME: {seen} ms; leader was {leader})"
            )
        }
        Action::Transfer { to } => {
            // The drawn node, or the next one when it already leads.
            let to = if *to == leader {
                leader % n as u64 + 1
            } else {
                *to
            };
            let args = ["TRANSFER-LEADER", &to.to_string()].map(String::from);
            match admin_elsewhere(cluster, to, &args).await {
                Ok(done) => format!("transfer leadership {leader} -> {to}: {done}"),
                Err(e) => format!("transfer leadership {leader} -> {to} refused: {e}"),
            }
        }
        Action::Member { target } => {
            let id = resolve(target, leader);
            let args = ["MEMBER", "REMOVE", &id.to_string()].map(String::from);
            match admin_elsewhere(cluster, id, &args).await {
                Ok(done) => format!("remove node {id} (leader was {leader}): {done}"),
                Err(e) => format!("remove node {id} (leader was {leader}) refused: {e}"),
            }
        }
    })
}

/// Looks at a skewed node's clock, 250 ms apart, before giving up on the skew.
const SKEW_LOOKS: usize = 16;

/// How long a membership change may take (adding waits for the node to catch up).
const MEMBER_TIMEOUT: Duration = Duration::from_secs(60);

/// Sends `CAIRN args` to some node other than `not`, trying each in turn.
async fn admin_elsewhere(cluster: &Cluster, not: u64, args: &[String]) -> Result<String, String> {
    let mut last = Err("no other node".to_string());
    for spec in cluster.specs().iter().filter(|s| s.id != not) {
        last = cluster::admin(spec, args, MEMBER_TIMEOUT).await;
        if last.is_ok() {
            break;
        }
    }
    last
}

/// Ends a membership fault: adds the removed node back (it kept running and its data).
async fn rejoin(cluster: &Cluster, action: &Action, leader: u64) -> Option<String> {
    let Action::Member { target } = action else {
        return None;
    };
    let id = resolve(target, leader);
    let spec = cluster.specs().into_iter().find(|s| s.id == id)?;
    let addr = format!("{}:{}@{}", spec.host, spec.port, spec.raft_port);
    let args = ["MEMBER", "ADD", &id.to_string(), &addr].map(String::from);
    Some(match admin_elsewhere(cluster, id, &args).await {
        Ok(done) => format!("re-add node {id}: {done}"),
        Err(e) => format!("re-add node {id} FAILED: {e}"),
    })
}

/// Sleeps until `at`; true if `stop` was set first.
async fn sleep_until(at: Instant, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(at));
    tokio::select! {
        _ = sleep => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_schedule() {
        let f = [Fault::Kill, Fault::Partition, Fault::Pause];
        let d = Duration::from_secs(60);
        let i = Duration::from_secs(3);
        let a = schedule(7, &f, 5, d, i);
        assert!(!a.is_empty());
        assert_eq!(a, schedule(7, &f, 5, d, i));
        assert_ne!(a, schedule(8, &f, 5, d, i));
        assert!(a.iter().all(|s| s.start_ms + s.hold_ms <= 60_000));
    }

    #[test]
    fn shapes_cut_the_right_pairs() {
        assert_eq!(cuts(&Shape::IsolateLeader, 3, 2), vec![(2, 1), (2, 3)]);
        assert_eq!(cuts(&Shape::Halves(vec![3]), 3, 1), vec![(3, 1), (3, 2)]);
        // 2 - 1 - 3: only 2 and 3 are cut; 1 bridges.
        assert_eq!(cuts(&Shape::Bridge(vec![2, 1, 3]), 3, 1), vec![(2, 3)]);
        let five = cuts(&Shape::Bridge(vec![1, 2, 3, 4, 5]), 5, 1);
        assert_eq!(five, vec![(1, 4), (1, 5), (2, 4), (2, 5)]);
    }
}
