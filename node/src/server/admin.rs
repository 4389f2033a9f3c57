//! `CAIRN ...`: cairn's own admin commands on the RESP port.
//!
//! - `CAIRN STATUS`: every member's view (role, term, log and applied index), asked over the
//!   peer protocol, as text; `cairn status` prints it.
//! - `CAIRN CHECK`: a consistency-check round now (see `cluster::checker`), one line per member.
//! - `CAIRN MEMBERS`, `CAIRN MEMBER ADD id host:port@raftport`, `CAIRN MEMBER REMOVE id`:
//!   membership (see `cluster::membership`).
//! - `CAIRN TRANSFER-LEADER [id]`: leadership to `id`, or to the most caught-up voter (see
//!   `handoff`).
//! - `CAIRN REPAIR [id]`: rebuilds this node (a replica whose data diverged) from the
//!   leader's snapshot (see `cluster::repair`).
//! - `CAIRN BACKUP [url]`: a backup now from this node (see `backup`), to `url` or to
//!   `--backup-to`; replies with the manifest's main fields once it is stored.

use cairn_protocol::errors::RedisError;
use std::fmt::Write;
use std::time::Duration;

use bytes::Bytes;
use cairn_protocol::Reply;
use cairn_raft::membership::MemberChange;
use cairn_raft::network::PeerStatus;

use crate::backup::handle::Backups;
use crate::cluster::handle::Cluster;
use crate::cluster::replica::Replica;

const PEER_TIMEOUT: Duration = Duration::from_millis(700);

pub async fn handle(
    cluster: &Cluster,
    replica: &Replica,
    backups: &Backups,
    args: &[Bytes],
) -> Reply {
    let sub = args
        .first()
        .map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
        .unwrap_or_default();
    match sub.as_str() {
        "STATUS" if args.len() == 1 => Reply::Verbatim(status(cluster, replica).await),
        "STATUS" => Reply::error("ERR wrong number of arguments for 'cairn|status' command"),
        "CHECK" if args.len() == 1 => crate::cluster::checker::run_round(cluster, replica).await,
        "CHECK" => Reply::error("ERR wrong number of arguments for 'cairn|check' command"),
        "MEMBERS" if args.len() == 1 => crate::cluster::membership::members(cluster),
        "MEMBERS" => Reply::error("ERR wrong number of arguments for 'cairn|members' command"),
        "MEMBER" => member(cluster, &args[1..]).await,
        "TRANSFER-LEADER" => crate::cluster::handoff::transfer_leader(cluster, &args[1..]).await,
        "BACKUP" if args.len() <= 2 => backup(backups, args.get(1)).await,
        "REPAIR" if args.len() <= 2 => {
            let id = args
                .get(1)
                .map(|a| String::from_utf8_lossy(a).parse::<u64>());
            match id {
                Some(Err(_)) => Reply::from(RedisError::NodeIdNotPositive),
                Some(Ok(id)) => crate::cluster::repair::repair(cluster, Some(id)).await,
                None => crate::cluster::repair::repair(cluster, None).await,
            }
        }
        "REPAIR" => Reply::error("ERR wrong number of arguments for 'cairn|repair' command"),
        "BACKUP" => Reply::error("ERR wrong number of arguments for 'cairn|backup' command"),
        _ => Reply::error(format!(
            "ERR unknown subcommand '{}'. Try CAIRN HELP.",
            String::from_utf8_lossy(args.first().map(|a| a.as_ref()).unwrap_or(b""))
        )),
    }
}

/// `CAIRN MEMBER ADD id host:port@raftport` / `CAIRN MEMBER REMOVE id`.
async fn member(cluster: &Cluster, args: &[Bytes]) -> Reply {
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let id = |b: &Bytes| text(b).parse::<u64>().ok().filter(|id| *id > 0);
    let change =
        match args {
            [op, node_id, addr] if op.eq_ignore_ascii_case(b"add") => {
                let Some(n) = id(node_id) else {
                    return Reply::from(RedisError::NodeIdNotPositive);
                };
                match crate::config::parse_initial_cluster(&format!("{n}={}", text(addr))) {
                    Ok(mut m) => match m.remove(&n) {
                        Some(info) => MemberChange::Add { id: n, info },
                        None => return Reply::error("ERR bad address"),
                    },
                    Err(e) => return Reply::error(format!("ERR {e:#}")),
                }
            }
            [op, node_id] if op.eq_ignore_ascii_case(b"remove") => match id(node_id) {
                Some(n) => MemberChange::Remove { id: n },
                None => return Reply::from(RedisError::NodeIdNotPositive),
            },
            _ => return Reply::error(
                "ERR usage: CAIRN MEMBER ADD <id> <host:port@raftport> | CAIRN MEMBER REMOVE <id>",
            ),
        };
    if let MemberChange::Remove { id } = change {
        // Removing the leader: hand leadership over first, so writes pause for one vote
        // round rather than for the lease and an election after the leader steps down.
        if cluster.leader().is_some_and(|(l, _)| l == id) {
            if let Err(e) = crate::cluster::handoff::transfer(cluster, None).await {
                tracing::warn!(error = %e, "removing the leader without a hand-off");
            }
        }
    }
    crate::cluster::membership::change(cluster, change).await
}

async fn backup(backups: &Backups, url: Option<&Bytes>) -> Reply {
    let url = url.map(|u| String::from_utf8_lossy(u).into_owned());
    match crate::backup::schedule::take(backups, url.as_deref()).await {
        Ok(m) => {
            let mut out = String::new();
            let _ = writeln!(out, "id: {}", m.id);
            let _ = writeln!(out, "index: {}", m.index);
            let _ = writeln!(out, "term: {}", m.term);
            let _ = writeln!(out, "snapshot_bytes: {}", m.snapshot_bytes);
            let _ = writeln!(out, "stored_bytes: {}", m.stored_bytes);
            let _ = writeln!(out, "parts: {}", m.parts.len());
            let _ = writeln!(out, "encrypted: {}", m.encryption.is_some());
            let _ = writeln!(out, "duration_ms: {}", m.duration_ms);
            Reply::Verbatim(out)
        }
        Err(e) => Reply::error(format!(
            "ERR backup failed: {}",
            format!("{e:#}").replace(['\r', '\n'], " ")
        )),
    }
}

async fn status(cluster: &Cluster, replica: &Replica) -> String {
    let me = PeerStatus::of(cluster.id, &cluster.raft, &replica.sm);
    let mut out = String::new();
    let _ = writeln!(out, "node: {}", cluster.id);
    let _ = writeln!(out, "leader: {}", me.leader.unwrap_or(0));
    let _ = writeln!(out, "term: {}", me.term);
    let _ = writeln!(out, "members:");
    for (id, info) in &me.members {
        let s = if *id == cluster.id {
            Ok(me.clone())
        } else {
            cluster.peers.status(&info.raft_addr, PEER_TIMEOUT).await
        };
        let _ = match s {
            Ok(s) => writeln!(
                out,
                "  id={id} resp={} raft={} role={} term={} last_log={} applied={}",
                info.resp_addr,
                info.raft_addr,
                if s.leader == Some(*id) {
                    "leader"
                } else {
                    "follower"
                },
                s.term,
                s.last_log_index.map_or("-".into(), |i| i.to_string()),
                s.last_applied.map_or("-".into(), |i| i.to_string()),
            ),
            Err(e) => writeln!(
                out,
                "  id={id} resp={} raft={} role=unreachable ({e})",
                info.resp_addr, info.raft_addr
            ),
        };
    }
    out
}
