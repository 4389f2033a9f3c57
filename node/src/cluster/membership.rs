//! Membership on the RESP port (`CAIRN MEMBERS`, `CAIRN MEMBER ADD|REMOVE`) and `--join`.
//! Changes run on the leader: a follower sends them there over the peer protocol.

use std::sync::Arc;
use std::time::Duration;

use cairn_protocol::Reply;
use cairn_raft::membership::{self, ChangeOutcome, MemberChange};
use cairn_raft::network::CallError;

use crate::cluster::handle::Cluster;

/// How long a change may take: adding a node waits for it to catch up with the log.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(120);
const JOIN_RETRY: Duration = Duration::from_secs(1);

/// `CAIRN MEMBERS`: one line per member: id, addresses, voter or learner, leader.
pub fn members(cluster: &Cluster) -> Reply {
    let m = cluster.raft.metrics().borrow().clone();
    let voters: Vec<u64> = m.membership_config.membership().voter_ids().collect();
    let mut text = String::new();
    for (id, info) in m.membership_config.nodes() {
        let kind = if voters.contains(id) {
            "voter"
        } else {
            "learner"
        };
        let leader = if m.current_leader == Some(*id) {
            " leader"
        } else {
            ""
        };
        text.push_str(&format!(
            "id={id} resp={} raft={} {kind}{leader}\n",
            info.resp_addr, info.raft_addr
        ));
    }
    Reply::Verbatim(text)
}

/// Runs a change on the leader, wherever it is; the reply for the client.
pub async fn change(cluster: &Cluster, change: MemberChange) -> Reply {
    match run(cluster, &change).await {
        Ok(ChangeOutcome::Done(text)) => Reply::Simple(text),
        Ok(ChangeOutcome::Refused(why)) => Reply::error(format!("ERR {why}")),
        Ok(ChangeOutcome::NotLeader(_)) => crate::cluster::router::cluster_down(),
        Err(e) => Reply::error(format!("ERR membership change: {e}")),
    }
}

async fn run(cluster: &Cluster, change: &MemberChange) -> Result<ChangeOutcome, CallError> {
    let deadline = tokio::time::Instant::now() + cluster.leader_wait();
    loop {
        let Some((leader, info)) = cluster.wait_leader(deadline.into_std()).await else {
            return Ok(ChangeOutcome::NotLeader(None));
        };
        let outcome = if leader == cluster.id {
            membership::change(&cluster.raft, change.clone()).await
        } else {
            cluster
                .peers
                .change_membership(&info.raft_addr, change, CHANGE_TIMEOUT)
                .await?
        };
        match outcome {
            ChangeOutcome::NotLeader(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return Ok(other),
        }
    }
}

/// `--join`: asks the cluster reached at `via` (members' peer addresses, comma-separated,
/// tried in turn) to add this node,
/// until it is a member. Runs in the background; a node that is already a member returns.
pub fn spawn_join(cluster: Arc<Cluster>, via: String) {
    tokio::spawn(async move {
        let me = match cluster.config.members().map(|mut m| m.remove(&cluster.id)) {
            Ok(Some(info)) => info,
            _ => {
                tracing::error!("--join needs this node's own entry in --initial-cluster");
                return;
            }
        };
        let change = MemberChange::Add {
            id: cluster.id,
            info: me,
        };
        let mut shutdown = cluster.shutdown.clone();
        for attempt in 1u64.. {
            if *shutdown.borrow() || is_voter(&cluster) {
                return;
            }
            let members: Vec<&str> = via.split(',').map(str::trim).collect();
            let through = members[(attempt as usize - 1) % members.len().max(1)];
            match join_once(&cluster, through, &change).await {
                Ok(ChangeOutcome::Done(text)) => {
                    tracing::info!(%via, "{text}");
                    return;
                }
                Ok(other) => tracing::info!(%via, attempt, outcome = ?other, "join: retrying"),
                Err(e) => tracing::info!(%via, attempt, error = %e, "join: retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(JOIN_RETRY) => {}
                _ = shutdown.changed() => {}
            }
        }
    });
}

fn is_voter(cluster: &Cluster) -> bool {
    cluster
        .raft
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .voter_ids()
        .any(|id| id == cluster.id)
}

/// One try: find the leader through `via`, then ask it.
async fn join_once(
    cluster: &Cluster,
    via: &str,
    change: &MemberChange,
) -> Result<ChangeOutcome, CallError> {
    let status = cluster.peers.status(via, Duration::from_secs(2)).await?;
    let Some(leader) = status.leader else {
        return Ok(ChangeOutcome::NotLeader(None));
    };
    let Some((_, info)) = status.members.iter().find(|(id, _)| *id == leader) else {
        return Ok(ChangeOutcome::NotLeader(Some(leader)));
    };
    cluster
        .peers
        .change_membership(&info.raft_addr, change, CHANGE_TIMEOUT)
        .await
}
