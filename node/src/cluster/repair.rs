//! Rebuilding a replica whose data diverged: `CAIRN REPAIR`, sent to that replica.
//!
//! A replica cannot simply drop its data and catch up while it is a voter: its empty log
//! would still count in quorums, and entries the cluster committed with its help could be
//! lost. So the node first has itself removed from the membership (through the leader, as
//! `CAIRN MEMBER REMOVE` does), then leaves a marker in its data dir naming the members to
//! rejoin through, and exits with [`EXIT_REBUILD`] for its supervisor (Kubernetes, Compose,
//! systemd `Restart=on-failure`) to start it again. At start the marker empties the data dir
//! and the node joins as a new learner: it receives the leader's snapshot, catches up, and is
//! promoted to voter once it has.

use std::path::Path;

use cairn_protocol::Reply;
use cairn_raft::membership::MemberChange;

use crate::cluster::handle::Cluster;

/// The marker file in the data dir; holds the peer addresses to rejoin through.
const MARKER: &str = "REPAIR";
/// The exit code of a node that stops to be rebuilt (EX_TEMPFAIL: "try again").
pub const EXIT_REBUILD: i32 = 75;

/// `CAIRN REPAIR [id]`: rebuilds this node from the leader's snapshot.
pub async fn repair(cluster: &Cluster, id: Option<u64>) -> Reply {
    if let Some(id) = id.filter(|id| *id != cluster.id) {
        let addr = cluster
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .get_node(&id)
            .map_or_else(|| "?".to_string(), |n| n.resp_addr.clone());
        return Reply::error(format!(
            "ERR CAIRN REPAIR rebuilds the node it is sent to: send it to node {id} ({addr})"
        ));
    }
    let (others, voters) = {
        let m = cluster.raft.metrics().borrow().clone();
        let others: Vec<String> = m
            .membership_config
            .nodes()
            .filter(|(n, _)| **n != cluster.id)
            .map(|(_, info)| info.raft_addr.clone())
            .collect();
        (others, m.membership_config.membership().voter_ids().count())
    };
    if voters < 2 || others.is_empty() {
        return Reply::error("ERR no other replica to rebuild this node from");
    }
    let removed =
        crate::cluster::membership::change(cluster, MemberChange::Remove { id: cluster.id }).await;
    if let Reply::Error(e) = &removed {
        return Reply::error(format!("{e} (this node was not changed)"));
    }
    if let Err(e) = write_marker(&cluster.config.data_dir, &others.join(",")) {
        return Reply::error(format!(
            "ERR removed from the cluster, but cannot mark the data dir for rebuilding: {e}; \
             stop the node, empty its data dir and start it with --join"
        ));
    }
    tracing::warn!(
        "removed from the cluster for rebuilding: exiting with code {EXIT_REBUILD}; \
         the next start empties the data dir and rejoins"
    );
    cluster.request_exit(EXIT_REBUILD);
    Reply::Simple(
        "OK rebuilding: removed from the cluster; this node restarts empty and rejoins".into(),
    )
}

fn write_marker(data_dir: &Path, via: &str) -> std::io::Result<()> {
    use std::io::Write;
    let path = data_dir.join(MARKER);
    let mut f = std::fs::File::create(&path)?;
    f.write_all(via.as_bytes())?;
    f.sync_all()
}

/// At start: if a repair marker is there, empties the data dir and returns the peer
/// addresses to join through.
pub fn take_marker(data_dir: &Path) -> anyhow::Result<Option<String>> {
    let path = data_dir.join(MARKER);
    let via = match std::fs::read_to_string(&path) {
        Ok(v) => v.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    cairn_raft::store::Store::wipe(data_dir)?;
    std::fs::remove_file(&path)?;
    tracing::warn!(
        via,
        "CAIRN REPAIR: emptied the data dir; joining again as a new member"
    );
    Ok(Some(via))
}
