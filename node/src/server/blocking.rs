//! Blocking pops: BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN, BZPOPMAX, BZMPOP,
//! XREADGROUP ... BLOCK; and blocking reads: XREAD ... BLOCK ([`run_read`]).
//!
//! A blocking command is its non-blocking pop (`LMPop`, `LMove`, `ZMPop`) tried through the
//! log until it pops something. The client's node looks first: after a read barrier, a local
//! read tells whether any of the keys holds something; only then is the pop proposed, so an
//! idle waiter writes nothing to the log. While nothing is there the client waits for its
//! node to apply the next batch (any batch: a push applied on this node, wherever it was
//! sent, wakes every waiter of the node, which looks again locally), for its timeout, or for
//! the connection to go away.
//!
//! Differences from Redis, which serves a pushed element to the longest-waiting client inside
//! the push itself: here a node serves its own waiters first come, first served (they take
//! turns after each change, see [`Turnstile`]), but waiters on different nodes and plain pops
//! race for the element, the push is answered before a waiter is served, and an element
//! pushed and popped in one transaction is never seen by a waiter. Each pop is still one log
//! entry, linearizable like any write.

use std::future::Future;
use std::time::Duration;

use cairn_protocol::command::{BlockingCommand, BlockingRead};
use cairn_protocol::{ReadCommand, Reply, WriteCommand};
use cairn_raft::keyspace;
use cairn_raft::types::now_ms;
use cairn_raft::OpKind;
use tokio::time::Instant;

use crate::cluster::handle::Cluster;
use crate::cluster::replica::Replica;
use crate::cluster::router::{self, Outcome};
use crate::node::Node;
use crate::server::clients::Clients;
use crate::server::clients::Control;
use crate::server::turnstile::Ticket;

/// How a blocking command ended.
pub enum Ended {
    Reply(Reply),
    /// The connection must close: the client went away, or a pop's outcome is unknown.
    Close,
}

/// Runs `cmd` for the client `client` in database `db`. `hangup` completes when the client
/// disconnects or is killed.
pub async fn run(
    node: &Node,
    client: u64,
    control: &Control,
    db: u8,
    cmd: BlockingCommand,
    hangup: impl Future<Output = ()>,
) -> Ended {
    let deadline = deadline_of(cmd.timeout_ms);
    let mut changes = node.replica.sm.changes();
    // An UNBLOCK meant for an earlier command does not end this one.
    control.take_unblock();
    tokio::pin!(hangup);
    // Join the node's queue on arrival (not yet done with the current round), so clients
    // are served in the order their commands came, the first try included.
    let ticket = Ticket::new(&node.turnstile, changes.borrow().saturating_sub(1));
    // The first look follows a read barrier, so that a timeout's empty reply is linearizable.
    if let Err(e) = node.reads.wait(&node.cluster).await {
        return Ended::Reply(e);
    }
    let timeout = until(deadline);
    tokio::pin!(timeout);
    let mut blocked = None;
    let mut round = *changes.borrow_and_update();
    loop {
        let first = blocked.is_none();
        // Wait for the older waiters to have had their turn at this round (the first try
        // does not time out: a command whose key has data pops, whatever its timeout).
        tokio::select! {
            () = &mut hangup => return Ended::Close,
            () = &mut timeout, if !first => return Ended::Reply(timed_out(&cmd.op)),
            () = node.turnstile.turn(ticket.0, round) => {}
        }
        let popped = if worth_trying(&node.replica, db, &cmd, first) {
            pop(&node.cluster, db, &cmd.op).await
        } else {
            Some(Reply::NilArray)
        };
        node.turnstile.done(ticket.0, round);
        let popped = match (first, popped) {
            (false, Some(Reply::Error(e))) => {
                Some(gone_while_blocked(&node.replica, db, &cmd.op, e))
            }
            (_, popped) => popped,
        };
        match popped {
            Some(reply) if !BlockingCommand::is_empty_reply(&reply) => return Ended::Reply(reply),
            Some(_) => {}
            None => return Ended::Close,
        }
        blocked.get_or_insert_with(|| Blocked::new(&node.clients, client));
        // Wait for a change.
        round = tokio::select! {
            () = &mut hangup => return Ended::Close,
            () = control.signalled() => match interrupted(control, &cmd) {
                Some(ended) => return ended,
                None => continue,
            },
            () = &mut timeout => return Ended::Reply(timed_out(&cmd.op)),
            changed = changes.changed() => match changed {
                Ok(()) => *changes.borrow_and_update(),
                Err(_) => return Ended::Close,
            },
        };
    }
}

/// When a blocking command's timeout (in milliseconds from now; 0 is none) runs out.
fn deadline_of(timeout_ms: u64) -> Option<Instant> {
    (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms))
}

/// Completes at `deadline`; never without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// What a kill or CLIENT UNBLOCK makes of the command; `None`: neither (a stale signal).
fn interrupted(control: &Control, cmd: &BlockingCommand) -> Option<Ended> {
    interrupted_with(control, timed_out(&cmd.op))
}

fn interrupted_with(control: &Control, timeout_reply: Reply) -> Option<Ended> {
    if control.is_killed() {
        return Some(Ended::Close);
    }
    match control.take_unblock()? {
        true => Some(Ended::Reply(Reply::error(
            "UNBLOCKED client unblocked via CLIENT UNBLOCK",
        ))),
        false => Some(Ended::Reply(timeout_reply)),
    }
}

/// Runs a blocking read (XREAD ... BLOCK) for the client `client` in database `db`: after a
/// read barrier, `$` becomes each stream's last ID and the read is tried on this node; then
/// again after each batch this node applies, until it finds entries (entries this node has
/// applied are committed, so serving them needs no further round), the timeout passes or the
/// client goes away. A read writes nothing, so it waits on any node without the log.
pub async fn run_read(
    node: &Node,
    client: u64,
    control: &Control,
    db: u8,
    cmd: BlockingRead,
    hangup: impl Future<Output = ()>,
) -> Ended {
    let deadline = deadline_of(cmd.timeout_ms);
    let mut changes = node.replica.sm.changes();
    control.take_unblock();
    tokio::pin!(hangup);
    if let Err(e) = node.reads.wait(&node.cluster).await {
        return Ended::Reply(e);
    }
    changes.borrow_and_update();
    let look = |read: &ReadCommand| -> Reply {
        let Some(reading) = node.replica.keyspace.reading() else {
            return Reply::error(cairn_raft::store::LOADING);
        };
        keyspace::read(&reading, db, read, now_ms())
            .unwrap_or_else(|e| Reply::error(format!("ERR storage: {e}")))
    };
    // `$` is the last ID as of the barrier; later looks use the default COUNT of a woken
    // XREAD when none was given.
    let mut resolved = {
        let Some(reading) = node.replica.keyspace.reading() else {
            return Ended::Reply(Reply::error(cairn_raft::store::LOADING));
        };
        match keyspace::stream::read::resolve_last(&reading, db, &cmd.read, now_ms()) {
            Ok(r) => r,
            Err(e) => return Ended::Reply(e),
        }
    };
    let reply = look(&resolved);
    if !BlockingCommand::is_empty_reply(&reply) {
        return Ended::Reply(reply);
    }
    if let ReadCommand::XRead { count, .. } = &mut resolved {
        count.get_or_insert(keyspace::stream::read::BLOCKED_DEFAULT_COUNT);
    }
    let timeout = until(deadline);
    tokio::pin!(timeout);
    let _blocked = Blocked::new(&node.clients, client);
    loop {
        tokio::select! {
            () = &mut hangup => return Ended::Close,
            () = control.signalled() => match interrupted_with(control, Reply::NilArray) {
                Some(ended) => return ended,
                None => continue,
            },
            () = &mut timeout => return Ended::Reply(Reply::NilArray),
            changed = changes.changed() => if changed.is_err() {
                return Ended::Close;
            },
        }
        changes.borrow_and_update();
        let reply = look(&resolved);
        // Woken only by a stream: a key re-created as another type is not one (as Redis
        // wakes a blocked XREAD only for a stream).
        let other_type = matches!(&reply, Reply::Error(e) if e.starts_with("WRONGTYPE"));
        if !BlockingCommand::is_empty_reply(&reply) && !other_type {
            return Ended::Reply(reply);
        }
    }
}

/// Whether the pop may find something on this replica. The first look takes any live key, so
/// that a key of another type gets its WRONGTYPE at once, as in Redis; later looks want a key
/// of the type the pop takes, as Redis wakes a client only for that (a list deleted and
/// re-created as a string does not answer a waiting BLPOP).
fn worth_trying(replica: &Replica, db: u8, cmd: &BlockingCommand, first: bool) -> bool {
    if let WriteCommand::XReadGroup(r) = &cmd.op {
        return match replica.keyspace.reading() {
            Some(reading) => keyspace::stream::read::group_ready(&reading, db, r, now_ms()),
            None => true,
        };
    }
    let wanted = match cmd.op {
        WriteCommand::ZMPop { .. } => "zset",
        _ => "list",
    };
    let now = now_ms();
    // While a snapshot loads: let the pop through the log find out.
    let Some(reading) = replica.keyspace.reading() else {
        return true;
    };
    cmd.keys().iter().any(|key| {
        let query = ReadCommand::Type { key: key.clone() };
        match keyspace::read(&reading, db, &query, now) {
            Ok(Reply::Simple(t)) if first => t != "none",
            Ok(Reply::Simple(t)) => t == wanted,
            // A storage error: let the pop through the log report it.
            _ => true,
        }
    })
}

/// The error a blocked XREADGROUP gets when its stream or group went away while it waited,
/// in Redis's words (other errors pass as they are).
fn gone_while_blocked(replica: &Replica, db: u8, op: &WriteCommand, e: String) -> Reply {
    let WriteCommand::XReadGroup(r) = op else {
        return Reply::Error(e);
    };
    if !e.starts_with("NOGROUP") && !e.starts_with("WRONGTYPE") {
        return Reply::Error(e);
    }
    let streams_there = replica.keyspace.reading().is_some_and(|reading| {
        r.streams.iter().all(|(key, _)| {
            let query = ReadCommand::Type { key: key.clone() };
            matches!(keyspace::read(&reading, db, &query, now_ms()), Ok(Reply::Simple(t)) if t == "stream")
        })
    });
    Reply::error(if streams_there {
        "NOGROUP the consumer group this client was blocked on no longer exists"
    } else {
        "UNBLOCKED the stream key no longer exists"
    })
}

/// One try of the pop through the leader; `None` when its outcome is unknown.
async fn pop(cluster: &Cluster, db: u8, op: &WriteCommand) -> Option<Reply> {
    let ops = vec![OpKind::command(db, op.clone())];
    match router::write_ops(cluster, ops).await.pop() {
        Some(Outcome::Reply(r)) => Some(r),
        _ => None,
    }
}

/// The reply to a blocking command whose timeout passed: nil for BLMOVE and BRPOPLPUSH, the
/// null array for the others.
fn timed_out(op: &WriteCommand) -> Reply {
    match op {
        WriteCommand::LMove { .. } => Reply::Nil,
        _ => Reply::NilArray,
    }
}

/// Marks the client as blocked (INFO's `blocked_clients`, CLIENT LIST's `b` flag) while it
/// lives.
struct Blocked<'a> {
    clients: &'a Clients,
    client: u64,
}

impl<'a> Blocked<'a> {
    fn new(clients: &'a Clients, client: u64) -> Self {
        clients.update(client, |c| c.blocked = true);
        Blocked { clients, client }
    }
}

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        self.clients.update(self.client, |c| c.blocked = false);
    }
}
