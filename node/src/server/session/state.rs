//! A connection's state: what its commands read and change between requests (database,
//! protocol, user, MULTI, subscriptions, tracking, CLIENT REPLY), and the socket a blocked
//! command watches. The flows that use it (`execute`, `conn`) import it; it imports neither.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use cairn_protocol::acl::Users;
use cairn_protocol::{Protocol, Reply, WriteCommand};
use cairn_raft::OpKind;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::broadcast;

use crate::node::Node;
use crate::observe::stats::Stats;
use crate::server::clients::Control;
use crate::server::pubsub::Subscriptions;
use crate::server::transaction::Transaction;

/// Bytes read from the socket at a time.
pub(super) const READ_CHUNK: usize = 16 * 1024;
/// Bytes a blocked client may send ahead, at most; they wait to be parsed after it wakes.
const INPUT_WHILE_BLOCKED_MAX: usize = 1024 * 1024;

/// Per-connection state.
pub struct Session {
    pub node: Arc<Node>,
    pub id: u64,
    pub db: u8,
    pub protocol: Protocol,
    /// READONLY: serve reads from the local replica without a read barrier.
    pub readonly: bool,
    pub authenticated: bool,
    /// The ACL user the connection runs as.
    pub user: String,
    /// Set by QUIT: close after the reply.
    pub closing: bool,
    /// MULTI/EXEC and WATCH state.
    pub tx: Transaction,
    /// Pub/sub subscriptions and the connection's message queue (also for invalidations).
    pub subs: Option<Subscriptions>,
    /// Client-side caching: this connection's CLIENT TRACKING state.
    pub track: crate::cache::tracking::SessionTracking,
    /// CLIENT REPLY OFF: commands get no replies (pub/sub pushes still do).
    pub replies_off: bool,
    /// CLIENT REPLY SKIP: the next command gets no reply.
    pub skip_next: bool,
    /// How CLIENT KILL and CLIENT UNBLOCK reach this connection.
    pub control: Arc<Control>,
    /// After MONITOR: the lines of every command the node runs.
    pub monitor: Option<broadcast::Receiver<Bytes>>,
    /// CLIENT NO-TOUCH: this connection's reads leave LRU/LFU facts alone.
    pub no_touch: bool,
    /// The command being run (its metrics name): what a panic is blamed on.
    pub running: &'static str,
    /// The ACL users as of this batch of requests, and whether they make a connection
    /// authenticate: read once per batch, not per command (see `Session::execute`).
    pub(super) acl: Arc<Users>,
    pub(super) auth_required: bool,
}

/// The connection's socket and unparsed input, which a blocked command watches to notice
/// the client going away.
pub struct ClientIo<'a> {
    pub(super) stream: &'a mut (dyn AsyncRead + Unpin + Send),
    pub(super) input: &'a mut BytesMut,
    pub(super) stats: &'a Stats,
}

impl ClientIo<'_> {
    /// Completes when the client closes the connection. What it sends meanwhile is kept for
    /// later, up to a bound; past it the socket is no longer read (and so not watched).
    pub async fn hangup(&mut self) {
        while self.input.len() < INPUT_WHILE_BLOCKED_MAX {
            self.input.reserve(READ_CHUNK);
            match self.stream.read_buf(self.input).await {
                Ok(0) | Err(_) => return,
                Ok(n) => Stats::add(&self.stats.net_input_bytes, n as u64),
            }
        }
        std::future::pending().await
    }
}

/// The commands an unauthenticated connection may run: AUTH, HELLO, QUIT, RESET.
fn auth_exempt(args: &[Bytes]) -> bool {
    let name = args.first().map_or(&[][..], |a| &a[..]);
    [&b"auth"[..], b"hello", b"quit", b"reset"]
        .iter()
        .any(|free| name.eq_ignore_ascii_case(free))
}

impl Session {
    /// A new connection's state: database 0, RESP2, the default user (not yet authenticated).
    pub fn new(node: Arc<Node>, id: u64, control: Arc<Control>) -> Session {
        let acl = node.replica.sm.acl_users();
        let auth_required = crate::server::acl::auth_required_by(&acl, &node.settings);
        Session {
            acl,
            auth_required,
            node,
            id,
            control,
            monitor: None,
            db: 0,
            protocol: Protocol::Resp2,
            readonly: false,
            authenticated: false,
            user: cairn_protocol::acl::DEFAULT_USER.to_string(),
            closing: false,
            tx: Transaction::default(),
            subs: Some(Subscriptions::new(id)),
            track: Default::default(),
            replies_off: false,
            skip_next: false,
            no_touch: false,
            running: "none",
        }
    }

    /// RESET: the connection as new (database 0, RESP2, the default user, not
    /// authenticated), out of MULTI, subscriptions, tracking and MONITOR; CLIENT LIST shows
    /// the same.
    pub fn reset(&mut self) {
        self.tx.reset();
        if let Some(mut subs) = self.subs.take() {
            subs.leave_all(&self.node.pubsub);
        }
        self.publish_outlet();
        if self.track.on {
            self.node.stop_tracking(self.id);
            self.track = Default::default();
        }
        self.db = 0;
        self.protocol = Protocol::Resp2;
        self.readonly = false;
        self.authenticated = false;
        self.monitor = None;
        self.no_touch = false;
        self.user = cairn_protocol::acl::DEFAULT_USER.to_string();
        self.node.clients.update(self.id, |c| {
            c.user = cairn_protocol::acl::DEFAULT_USER.to_string();
            c.db = 0;
            c.name.clear();
            c.resp = 2;
            c.no_evict = false;
            c.no_touch = false;
        });
    }

    /// SELECT of a database already checked against `DATABASES`.
    pub fn select(&mut self, db: u8) {
        self.db = db;
        self.node.clients.update(self.id, |c| c.db = db);
    }

    /// AUTH or HELLO AUTH succeeded as `user`.
    pub fn login(&mut self, user: String) {
        self.authenticated = true;
        self.node.clients.update(self.id, |c| c.user = user.clone());
        self.user = user;
    }

    /// Makes the connection's message queue reachable by others (invalidations redirected
    /// to it); a new queue after RESET.
    pub fn publish_outlet(&mut self) {
        let subs = self.subs.get_or_insert_with(|| Subscriptions::new(self.id));
        let outlet = subs.outlet();
        self.node
            .clients
            .update(self.id, |c| c.outlet = Some(outlet));
    }

    /// A RESP2 connection with subscriptions may only run a few commands (RESP3 may run any).
    pub(super) fn in_resp2_pubsub_context(&self) -> bool {
        self.protocol == Protocol::Resp2 && self.subs.as_ref().is_some_and(|s| s.count() > 0)
    }

    /// With `--redirect`, a follower sends cluster clients to the leader instead of
    /// forwarding: `-MOVED <slot> <host>:<port>`. Keyless writes are still forwarded.
    pub(super) fn moved(&self, w: &WriteCommand) -> Option<Reply> {
        if !self.node.cluster.config.redirect {
            return None;
        }
        let key = w.first_key()?;
        let (leader, info) = self.node.cluster.leader()?;
        if leader == self.node.cluster.id {
            return None;
        }
        let slot = cairn_protocol::slot::key_slot(key);
        Some(Reply::error(format!("MOVED {slot} {}", info.resp_addr)))
    }

    pub(super) fn requires_auth(&self, args: &[Bytes]) -> bool {
        !auth_exempt(args) && self.auth_required
    }

    /// Reads the ACL users for the next batch of requests.
    pub(super) fn refresh_acl(&mut self) {
        self.acl = self.node.replica.sm.acl_users();
        self.auth_required = crate::server::acl::auth_required_by(&self.acl, &self.node.settings);
    }

    /// A NOLOOP tracking client's write says whose it is (so its own changes are not
    /// announced to it); any other op goes as it is.
    pub(super) fn traced(&self, op: OpKind) -> OpKind {
        if !self.track.noloop {
            return op;
        }
        OpKind::Tracked {
            origin: self.node.tracking.origin_of(self.id),
            op: Box::new(op),
        }
    }
}
