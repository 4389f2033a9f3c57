//! CLUSTER ...: cairn seen as a Redis Cluster of one shard that owns all 16384 slots, with
//! the Raft leader as its master and the followers as its replicas, so cluster-aware clients
//! (`redis-cli -c`, cluster client libraries) find the leader and follow it across failovers.
//! Node ids are the Raft ids written as 40 hex digits.

use cairn_protocol::errors::RedisError;
use std::collections::BTreeMap;

use bytes::Bytes;
use cairn_protocol::slot::{key_slot, SLOTS};
use cairn_protocol::Reply;
use cairn_raft::{NodeId, NodeInfo};

use cairn_raft::store::Keyspace;

use crate::cluster::handle::Cluster;

/// The Redis Cluster node id of Raft node `id`.
pub fn cluster_id(id: NodeId) -> String {
    format!("{id:040x}")
}

/// (host, port) of a node's RESP address.
pub fn host_port(info: &NodeInfo) -> (String, u16) {
    match info.resp_addr.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(0)),
        None => (info.resp_addr.clone(), 0),
    }
}

/// What the CLUSTER subcommands are built from.
struct View {
    leader: Option<NodeId>,
    /// The leader (master) first, as clients expect.
    members: Vec<(NodeId, NodeInfo)>,
    term: u64,
    /// On the leader: each follower's matched log index.
    matched: Option<BTreeMap<NodeId, Option<u64>>>,
}

fn view(cluster: &Cluster) -> View {
    let m = cluster.raft.metrics().borrow().clone();
    let mut members: Vec<(NodeId, NodeInfo)> = m
        .membership_config
        .nodes()
        .map(|(id, n)| (*id, n.clone()))
        .collect();
    let leader = cluster.leader().map(|(id, _)| id);
    members.sort_by_key(|(id, _)| (Some(*id) != leader, *id));
    let matched = m.replication.as_ref().map(|r| {
        r.iter()
            .map(|(id, l)| (*id, l.as_ref().map(|l| l.index)))
            .collect()
    });
    View {
        leader,
        members,
        term: m.current_term,
        matched,
    }
}

pub fn handle(cluster: &Cluster, keyspace: &Keyspace, args: &[Bytes]) -> Reply {
    let sub = args
        .first()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .unwrap_or_default();
    let arity = |n: usize| {
        (args.len() != n).then(|| {
            Reply::error(format!(
                "ERR wrong number of arguments for 'cluster|{sub}' command"
            ))
        })
    };
    match sub.as_str() {
        "info" => arity(1).unwrap_or_else(|| info(cluster)),
        "myid" => arity(1).unwrap_or_else(|| Reply::text(cluster_id(cluster.id))),
        "nodes" => arity(1).unwrap_or_else(|| Reply::Verbatim(nodes(cluster))),
        "slots" => arity(1).unwrap_or_else(|| slots(cluster)),
        "shards" => arity(1).unwrap_or_else(|| shards(cluster)),
        "keyslot" => arity(2).unwrap_or_else(|| {
            Reply::Integer(i64::from(key_slot(args.get(1).map_or(&[][..], |k| k))))
        }),
        "countkeysinslot" => arity(2).unwrap_or_else(|| keys_in_slot(keyspace, &args[1..], None)),
        "getkeysinslot" => {
            arity(3).unwrap_or_else(|| keys_in_slot(keyspace, &args[1..2], args.get(2)))
        }
        _ => Reply::error(format!(
            "ERR unknown subcommand '{}'. Try CLUSTER HELP.",
            String::from_utf8_lossy(args.first().map_or(&[][..], |a| a))
        )),
    }
}

/// CLUSTER COUNTKEYSINSLOT slot, and CLUSTER GETKEYSINSLOT slot count (`count` given): from
/// this node's replica of database 0, as a Redis Cluster node answers for its own keys. The
/// keyspace groups keys by slot, so this costs the slot's keys, not the whole database's.
fn keys_in_slot(keyspace: &Keyspace, slot: &[Bytes], count: Option<&Bytes>) -> Reply {
    let int = |b: &Bytes| cairn_protocol::num::parse_i64(b);
    let Some(slot) = slot.first().and_then(int) else {
        return Reply::from(RedisError::NotInteger);
    };
    let count = match count.map(int) {
        None => None,
        Some(None) => return Reply::from(RedisError::NotInteger),
        Some(Some(n)) => Some(n),
    };
    let in_range = (0..i64::from(SLOTS)).contains(&slot);
    let Some(reading) = keyspace.reading() else {
        return Reply::error(cairn_raft::store::LOADING);
    };
    let Some(db) = reading.db(0) else {
        return Reply::Integer(0);
    };
    match count {
        None if !in_range => Reply::error("ERR Invalid slot"),
        None => Reply::Integer(db.keys.slot_len(slot as usize) as i64),
        Some(n) if n < 0 || !in_range => Reply::error("ERR Invalid slot or number of keys"),
        Some(n) => Reply::Array(
            db.keys
                .slot_keys(slot as usize)
                .take(usize::try_from(n).unwrap_or(usize::MAX))
                .map(|(k, _)| Reply::Bulk(Bytes::copy_from_slice(k)))
                .collect(),
        ),
    }
}

fn info(cluster: &Cluster) -> Reply {
    let View {
        leader,
        members,
        term,
        ..
    } = view(cluster);
    let state = if leader.is_some() { "ok" } else { "fail" };
    let assigned = if leader.is_some() { SLOTS } else { 0 };
    Reply::Verbatim(format!(
        "cluster_enabled:1\r\ncluster_state:{state}\r\ncluster_slots_assigned:{assigned}\r\n\
cluster_slots_ok:{assigned}\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\n\
cluster_known_nodes:{}\r\ncluster_size:1\r\ncluster_current_epoch:{term}\r\n\
cluster_my_epoch:{term}\r\n",
        members.len()
    ))
}

fn nodes(cluster: &Cluster) -> String {
    let View {
        leader,
        members,
        term,
        ..
    } = view(cluster);
    let now_ms = cairn_raft::types::now_ms();
    let mut out = String::new();
    for (id, info) in &members {
        let (host, port) = host_port(info);
        let cport = info.raft_addr.rsplit(':').next().unwrap_or("0");
        let mut flags = Vec::new();
        if *id == cluster.id {
            flags.push("myself");
        }
        let is_master = Some(*id) == leader;
        flags.push(if is_master { "master" } else { "slave" });
        let master = match (is_master, leader) {
            (false, Some(l)) => cluster_id(l),
            _ => "-".to_string(),
        };
        let slots = if is_master { " 0-16383" } else { "" };
        out.push_str(&format!(
            "{} {host}:{port}@{cport} {} {master} 0 {now_ms} {term} connected{slots}\n",
            cluster_id(*id),
            flags.join(","),
        ));
    }
    out
}

fn node_entry(id: NodeId, info: &NodeInfo) -> Reply {
    let (host, port) = host_port(info);
    Reply::Array(vec![
        Reply::text(host),
        Reply::Integer(i64::from(port)),
        Reply::text(cluster_id(id)),
    ])
}

fn slots(cluster: &Cluster) -> Reply {
    let View {
        leader, members, ..
    } = view(cluster);
    if leader.is_none() {
        return Reply::Array(Vec::new());
    }
    let mut range = vec![Reply::Integer(0), Reply::Integer(i64::from(SLOTS - 1))];
    range.extend(members.iter().map(|(id, info)| node_entry(*id, info)));
    Reply::Array(vec![Reply::Array(range)])
}

fn shards(cluster: &Cluster) -> Reply {
    let View {
        leader,
        members,
        matched: replication,
        ..
    } = view(cluster);
    let applied = cluster.applied();
    let nodes = members
        .iter()
        .map(|(id, info)| {
            let (host, port) = host_port(info);
            let is_master = Some(*id) == leader;
            let offset = match (&replication, *id == cluster.id) {
                (_, true) => applied,
                (Some(r), false) => r.get(id).copied().flatten().unwrap_or(0),
                (None, false) => 0,
            };
            Reply::Map(vec![
                (Reply::text("id"), Reply::text(cluster_id(*id))),
                (Reply::text("port"), Reply::Integer(i64::from(port))),
                (Reply::text("ip"), Reply::text(host.clone())),
                (Reply::text("endpoint"), Reply::text(host)),
                (
                    Reply::text("role"),
                    Reply::text(if is_master { "master" } else { "replica" }),
                ),
                (
                    Reply::text("replication-offset"),
                    Reply::Integer(offset as i64),
                ),
                (Reply::text("health"), Reply::text("online")),
            ])
        })
        .collect();
    Reply::Array(vec![Reply::Map(vec![
        (
            Reply::text("slots"),
            Reply::Array(vec![
                Reply::Integer(0),
                Reply::Integer(i64::from(SLOTS - 1)),
            ]),
        ),
        (Reply::text("nodes"), Reply::Array(nodes)),
    ])])
}
