//! One client connection: read bytes, parse requests (pipelined), execute them in order,
//! write replies.
//!
//! A run of consecutive writes is sent to the leader as one ordered batch, and a run of
//! consecutive reads waits for one read barrier, so pipelining pays off as it does in Redis
//! while each connection still sees its own commands in order.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use cairn_protocol::command::{
    self, table::CommandSpec, AclCommand, BlockingCommand, ClientCommand, Command, ConfigCommand,
    PubSubCommand, ReadCommand, ReplyMode,
};
use cairn_protocol::{ConnCommand, Limits, Protocol, Reply, RequestParser, WriteCommand};
use cairn_raft::keyspace;
use cairn_raft::types::now_ms;
use cairn_raft::OpKind;
use futures::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::broadcast;

use crate::acl::Verdict;
use crate::blocking::{self, Ended};
use crate::clients::Control;
use crate::lookups::{self, Recorder};
use crate::node::Node;
use crate::pubsub::Subscriptions;
use crate::router::{self, Outcome};
use crate::settings::Settings;
use crate::stats::Stats;
use crate::transaction::{Action, Transaction};

/// Requests executed before replies are written, at most (bounds the reply buffer).
const PIPELINE_MAX: usize = 1024;
const READ_CHUNK: usize = 16 * 1024;
/// Bytes a blocked client may send ahead, at most; they wait to be parsed after it wakes.
const INPUT_WHILE_BLOCKED_MAX: usize = 1024 * 1024;
// A run of pipelined writes is forwarded in one call, which the leader accepts up to a bound.
const _: () = assert!(PIPELINE_MAX <= cairn_raft::network::FORWARD_BATCH_MAX);

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
    pub track: crate::tracking::SessionTracking,
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
}

/// A command of a pending run: its metrics name, when it was parsed, its arguments.
type Timing<'a> = (&'static str, Instant, &'a [Bytes]);

/// What to do with one parsed request.
enum Step {
    Reply(Reply),
    Admin(Vec<Bytes>),
    /// CLUSTER FAILOVER (its arguments after FAILOVER): waits for a leadership transfer.
    Failover(Vec<Bytes>),
    Exec,
    Watch(Vec<Bytes>),
    Read(ReadCommand),
    Write(WriteCommand),
    PubSub(PubSubCommand),
    /// CLIENT REPLY: takes effect after the runs before it are answered.
    ReplyMode(ReplyMode),
    Block(BlockingCommand),
    /// XREAD ... BLOCK.
    BlockRead(cairn_protocol::command::BlockingRead),
    Acl(AclCommand),
    /// CONFIG SET: a new requirepass is replicated first.
    ConfigSet(Vec<(Bytes, Bytes)>),
    /// The connection's user was deleted: close without a reply, as Redis does.
    Hangup,
    Monitor,
    /// A connection or server command (SELECT, HELLO, CLIENT, CONFIG GET, INFO...).
    Conn(ConnCommand),
}

/// The connection's socket and unparsed input, which a blocked command watches to notice
/// the client going away.
pub struct ClientIo<'a> {
    stream: &'a mut (dyn AsyncRead + Unpin + Send),
    input: &'a mut BytesMut,
    stats: &'a Stats,
}

impl ClientIo<'_> {
    /// Completes when the client closes the connection. What it sends meanwhile is kept for
    /// later, up to a bound; past it the socket is no longer read (and so not watched).
    async fn hangup(&mut self) {
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

/// Runs one client connection, plain TCP or TLS, until it closes.
pub async fn run<S>(node: Arc<Node>, mut stream: S, id: u64, control: Arc<Control>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut session = Session {
        node: node.clone(),
        id,
        control: control.clone(),
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
    };
    session.publish_outlet();
    let limits = Limits {
        bulk_len_max: node.config.max_bulk_len,
        args_max: node.config.max_args,
        ..Limits::default()
    };
    let mut parser = RequestParser::new(limits);
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut output = BytesMut::new();
    loop {
        // A CLIENT KILL that raced with incoming data: the connection ends before running
        // anything more (the select below may pick the read over the kill signal).
        if control.is_killed() {
            break;
        }
        let mut requests = Vec::new();
        let mut protocol_error = None;
        while requests.len() < PIPELINE_MAX {
            match parser.parse(&mut input) {
                Ok(Some(args)) => requests.push(args),
                Ok(None) => break,
                Err(e) => {
                    protocol_error = Some(e.resp_error());
                    break;
                }
            }
        }
        // A burst larger than PIPELINE_MAX leaves whole requests in the buffer: parse again
        // before reading more.
        let more_buffered = requests.len() >= PIPELINE_MAX;
        let mut io = ClientIo {
            stream: &mut stream,
            input: &mut input,
            stats: &node.stats,
        };
        let ran = std::panic::AssertUnwindSafe(session.execute(requests, &mut output, &mut io))
            .catch_unwind()
            .await;
        let keep_going = match ran {
            Ok(keep_going) => keep_going,
            Err(panic) => {
                // A bug, never a client's fault: say so to the client, the log and the
                // counters, and drop the connection, whose state may be half changed.
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(
                    client = id,
                    command = session.running,
                    panic = %what,
                    "a command panicked: closing its connection"
                );
                Stats::add(&node.stats.connection_panics, 1);
                output.clear();
                let text = format!(
                    "ERR internal error while running '{}'; the connection will be closed",
                    session.running
                );
                Reply::error(text).encode(session.protocol, &mut output);
                false
            }
        };
        if let Some(e) = &protocol_error {
            // Like Redis: answer the protocol error, then close the connection.
            Reply::error(e.clone()).encode(session.protocol, &mut output);
        }
        if !output.is_empty() {
            Stats::add(&node.stats.net_output_bytes, output.len() as u64);
            if stream.write_all(&output).await.is_err() {
                break;
            }
            output.clear();
        }
        if !keep_going || protocol_error.is_some() || session.closing || control.is_killed() {
            break;
        }
        if more_buffered {
            continue;
        }
        input.reserve(READ_CHUNK);
        tokio::select! {
            read = stream.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => Stats::add(&node.stats.net_input_bytes, n as u64),
            },
            Some(first) = next_message(&mut session.subs) => {
                if !write_messages(&mut session, first, &mut stream, &mut output).await {
                    break;
                }
            }
            () = control.signalled() => {
                if control.is_killed() {
                    break;
                }
            }
            line = next_line(&mut session.monitor) => {
                let Ok(line) = line else {
                    tracing::warn!(client = id, "closing a MONITOR client that fell behind");
                    break;
                };
                Stats::add(&node.stats.net_output_bytes, line.len() as u64);
                if stream.write_all(&line).await.is_err() {
                    break;
                }
            }
        }
    }
    if let Some(mut subs) = session.subs.take() {
        subs.leave_all(&node.pubsub);
    }
    if session.track.on {
        crate::node::stop_tracking(&node, id);
    }
    node.clients.remove(id);
}

/// The next MONITOR line for the connection; never, while it is not monitoring.
async fn next_line(
    monitor: &mut Option<broadcast::Receiver<Bytes>>,
) -> Result<Bytes, broadcast::error::RecvError> {
    match monitor {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The next pub/sub message for the connection; never, while it has no subscriptions.
async fn next_message(subs: &mut Option<Subscriptions>) -> Option<Reply> {
    match subs {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Writes `first` and whatever else is queued (a bounded batch). False when the connection
/// must close: the client fell too far behind, or the write failed.
async fn write_messages(
    session: &mut Session,
    first: Reply,
    stream: &mut (dyn AsyncWrite + Unpin + Send),
    output: &mut BytesMut,
) -> bool {
    let Some(subs) = session.subs.as_mut() else {
        return true;
    };
    if subs.overflowed() {
        tracing::warn!(
            client = session.id,
            "closing a pub/sub client that fell behind"
        );
        return false;
    }
    first.encode(session.protocol, output);
    for _ in 0..PIPELINE_MAX {
        match subs.try_next() {
            Some(m) => m.encode(session.protocol, output),
            None => break,
        }
    }
    Stats::add(&session.node.stats.net_output_bytes, output.len() as u64);
    let ok = stream.write_all(output).await.is_ok();
    output.clear();
    ok
}

/// Redis's full name of a request's command (`get`, `config|get`), for error texts.
fn full_name(args: &[Bytes]) -> String {
    let lower = |b: &Bytes| String::from_utf8_lossy(b).to_ascii_lowercase();
    let Some(name) = args.first() else {
        return String::new();
    };
    match (command::table::lookup_command(name), args.get(1)) {
        (Some(spec), Some(sub)) if !spec.subcommands.is_empty() => {
            format!("{}|{}", spec.name, lower(sub))
        }
        (Some(spec), _) => spec.name.to_string(),
        (None, _) => lower(name),
    }
}

/// A request whose command is in the table, with its entries: looked up once per request,
/// since the metrics, CLIENT LIST, maxmemory and the parser all ask.
struct Named<'a> {
    command: &'static CommandSpec,
    /// The subcommand's entry for a container (`config|get`), as ACL and maxmemory judge it;
    /// none for a container without a known subcommand.
    full: Option<&'static CommandSpec>,
    args: &'a [Bytes],
}

impl<'a> Named<'a> {
    fn of(args: &'a [Bytes]) -> Option<Named<'a>> {
        let command = command::table::lookup_command(args.first()?)?;
        let full = if command.subcommands.is_empty() {
            Some(command)
        } else {
            args.get(1).and_then(|sub| command.subcommand(sub))
        };
        Some(Named {
            command,
            full,
            args,
        })
    }

    /// The name CLIENT LIST shows (`get`, `config|get`, `config` alone): none for an unknown
    /// subcommand, as Redis's `cmd=NULL`.
    fn client_list_name(&self) -> Option<&'static str> {
        match self.full {
            Some(full) => Some(full.name),
            None if self.args.len() < 2 => Some(self.command.name),
            None => None,
        }
    }
}

/// The commands an unauthenticated connection may run: AUTH, HELLO, QUIT, RESET.
fn auth_exempt(args: &[Bytes]) -> bool {
    let name = args.first().map_or(&[][..], |a| &a[..]);
    [&b"auth"[..], b"hello", b"quit", b"reset"]
        .iter()
        .any(|free| name.eq_ignore_ascii_case(free))
}

/// What a subscribed RESP2 connection may run, as Redis allows.
fn allowed_while_subscribed(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Conn(
            ConnCommand::Ping(_)
                | ConnCommand::Quit
                | ConnCommand::Reset
                | ConnCommand::PubSub(
                    PubSubCommand::Subscribe(_)
                        | PubSubCommand::Unsubscribe(_)
                        | PubSubCommand::PSubscribe(_)
                        | PubSubCommand::PUnsubscribe(_)
                )
        )
    )
}

/// The metrics label of a request: the table's name for known commands, so label values stay
/// bounded whatever clients send.
fn metric_name(args: &[Bytes], spec: Option<&Named<'_>>) -> &'static str {
    match (spec, args.first()) {
        (Some(n), _) => n.command.name,
        (None, Some(a)) if a.eq_ignore_ascii_case(b"cairn") => "cairn",
        (None, _) => "unknown",
    }
}

impl Session {
    /// Executes requests in order, appending replies. False when the connection must close
    /// because a write's outcome is unknown.
    async fn execute(
        &mut self,
        requests: Vec<Vec<Bytes>>,
        out: &mut BytesMut,
        io: &mut ClientIo<'_>,
    ) -> bool {
        let mut steps = requests.iter();
        let mut pending_writes: Vec<WriteCommand> = Vec::new();
        let mut pending_reads: Vec<(ReadCommand, Vec<Bytes>)> = Vec::new();
        // (command name, when it was parsed, arguments) of the commands in the pending runs.
        let mut timings: Vec<Timing<'_>> = Vec::new();
        // Writes are accesses of the keys they name (settings read once per parsed batch).
        let node = self.node.clone();
        let writes = Recorder::new(&node, now_ms(), true);
        loop {
            let next = steps.next();
            let started = Instant::now();
            // The request's table entry, looked up once for all that consult it.
            let spec = next.and_then(|args| Named::of(args));
            if spec
                .as_ref()
                .is_some_and(|n| crate::eviction::may_refuse(&self.node, n.full, n.args))
            {
                // Over maxmemory as this node sees it: the writes before this one (a DEL may
                // make room) and, on a follower, the leader's latest state count first.
                let ok = self
                    .flush_runs(&mut pending_writes, &mut pending_reads, &mut timings, out)
                    .await;
                if !ok {
                    return false;
                }
                if !crate::info::is_leader(&self.node) {
                    if let Err(e) = self.node.reads.wait(&self.node).await {
                        // The check below then decides on what this node has applied.
                        tracing::debug!(error = ?e, "no read index before the maxmemory check");
                    }
                }
            }
            let step = next.map(|args| {
                let name = metric_name(args, spec.as_ref());
                self.running = name;
                (name, self.classify(args, spec.as_ref()), args.as_slice())
            });
            // CLIENT PAUSE holds writes (or everything) until it ends.
            if let Some((_, Ok(s), _)) = &step {
                let write = matches!(
                    s,
                    Step::Write(_)
                        | Step::Exec
                        | Step::Block(_)
                        | Step::Acl(_)
                        | Step::ConfigSet(_)
                );
                self.node.clients.wait_unpaused(write).await;
            }
            // While replies are suppressed every command runs alone, so its reply (and only
            // its reply) can be dropped.
            let quiet = self.replies_off || self.skip_next;
            // Flush runs that the next step does not continue.
            let continues_writes = !quiet && matches!(step, Some((_, Ok(Step::Write(_)), _)));
            let continues_reads = !quiet && matches!(step, Some((_, Ok(Step::Read(_)), _)));
            if !continues_writes && !pending_writes.is_empty() {
                let cmds = std::mem::take(&mut pending_writes);
                let ok = self.run_writes(cmds, out).await;
                self.record(&mut timings);
                if !ok {
                    return false;
                }
            }
            if !continues_reads && !pending_reads.is_empty() {
                let cmds = std::mem::take(&mut pending_reads);
                self.run_reads(cmds, out).await;
                self.record(&mut timings);
            }
            let Some((name, step, args)) = step else {
                return true;
            };
            Stats::add(&self.node.stats.commands_processed, 1);
            let reply_start = out.len();
            let mut pushes_only = false;
            match step {
                Ok(Step::ReplyMode(mode)) => {
                    match mode {
                        ReplyMode::On => {
                            self.replies_off = false;
                            self.skip_next = false;
                            Reply::ok().encode(self.protocol, out);
                        }
                        ReplyMode::Off => self.replies_off = true,
                        ReplyMode::Skip => self.skip_next = !self.replies_off,
                    }
                    self.finished(name, started, args);
                    continue;
                }
                Ok(Step::Write(w)) if quiet => {
                    writes.write_command(self.db, &w, args);
                    timings.push((name, started, args));
                    let ok = self.run_writes(vec![w], out).await;
                    self.record(&mut timings);
                    if !ok {
                        return false;
                    }
                }
                Ok(Step::Read(r)) if quiet => {
                    timings.push((name, started, args));
                    self.run_reads(vec![(r, lookups::keys_of(args))], out).await;
                    self.record(&mut timings);
                }
                Ok(Step::Write(w)) => {
                    writes.write_command(self.db, &w, args);
                    pending_writes.push(w);
                    timings.push((name, started, args));
                }
                Ok(Step::Read(r)) => {
                    pending_reads.push((r, lookups::keys_of(args)));
                    timings.push((name, started, args));
                }
                Ok(Step::Conn(c)) => {
                    let reply = match c {
                        ConnCommand::Save => Some(crate::save::save(&self.node).await),
                        ConnCommand::Wait {
                            replicas,
                            timeout_ms,
                        } => Some(crate::wait::wait(&self.node, replicas, timeout_ms).await),
                        ConnCommand::Shutdown { save, abort } => self.shutdown(save, abort).await,
                        c => Some(crate::conn::handle(self, c)),
                    };
                    if let Some(reply) = reply {
                        reply.encode(self.protocol, out);
                    }
                    self.finished(name, started, args);
                }
                Ok(Step::Reply(r)) => {
                    r.encode(self.protocol, out);
                    self.finished(name, started, args);
                }
                Ok(Step::Exec) => {
                    let keep = self.exec(out).await;
                    self.finished(name, started, args);
                    if !keep {
                        return false;
                    }
                }
                Ok(step @ (Step::Block(_) | Step::BlockRead(_))) => {
                    let (node, id, control, db) = (&self.node, self.id, &self.control, self.db);
                    let ended = match step {
                        Step::Block(cmd) => {
                            blocking::run(node, id, control, db, cmd, io.hangup()).await
                        }
                        Step::BlockRead(cmd) => {
                            blocking::run_read(node, id, control, db, cmd, io.hangup()).await
                        }
                        _ => Ended::Close,
                    };
                    self.finished(name, started, args);
                    match ended {
                        Ended::Reply(r) => r.encode(self.protocol, out),
                        Ended::Close => return false,
                    }
                }
                Ok(Step::Monitor) => {
                    if self.monitor.is_none() {
                        self.monitor = Some(self.node.monitors.subscribe());
                    }
                    Reply::ok().encode(self.protocol, out);
                    self.finished(name, started, args);
                }
                Ok(Step::Hangup) => {
                    self.closing = true;
                    return true;
                }
                Ok(Step::Acl(cmd)) => {
                    let reply = crate::acl::command(&self.node, &self.user, cmd).await;
                    self.finished(name, started, args);
                    match reply {
                        Some(r) => r.encode(self.protocol, out),
                        None => return false,
                    }
                }
                Ok(Step::ConfigSet(pairs)) => {
                    let Some(reply) = self.config_set(pairs).await else {
                        return false;
                    };
                    reply.encode(self.protocol, out);
                    self.finished(name, started, args);
                }
                Ok(Step::Watch(keys)) => {
                    let reply = match self.node.reads.wait(&self.node).await {
                        Ok(_) => self.tx.watch(&self.node, self.db, &keys),
                        Err(e) => e,
                    };
                    reply.encode(self.protocol, out);
                    self.finished(name, started, args);
                }
                Ok(Step::PubSub(cmd)) => {
                    let replies =
                        crate::pubsub::handle(&self.node, &mut self.subs, self.id, cmd).await;
                    let (sub, psub) = self.subs.as_ref().map_or((0, 0), |s| s.counts());
                    self.node.clients.update(self.id, |c| {
                        c.sub = sub;
                        c.psub = psub;
                    });
                    // (Un)subscribe confirmations are pushes: CLIENT REPLY does not silence
                    // them, as in Redis.
                    pushes_only = replies.iter().all(|r| matches!(r, Reply::Push(_)));
                    for r in replies {
                        r.encode(self.protocol, out);
                    }
                    self.finished(name, started, args);
                }
                Ok(Step::Admin(admin)) => {
                    crate::admin::handle(&self.node, &admin)
                        .await
                        .encode(self.protocol, out);
                    self.finished(name, started, args);
                }
                Ok(Step::Failover(options)) => {
                    crate::handoff::cluster_failover(&self.node, &options)
                        .await
                        .encode(self.protocol, out);
                    self.finished(name, started, args);
                }
                Err(e) => {
                    e.encode(self.protocol, out);
                    self.finished(name, started, args);
                }
            }
            if quiet && !pushes_only {
                out.truncate(reply_start);
            }
            self.skip_next = false;
            if self.closing {
                return true;
            }
        }
    }

    /// Runs the pending runs of writes and reads now; false when the connection must close.
    async fn flush_runs(
        &mut self,
        writes: &mut Vec<WriteCommand>,
        reads: &mut Vec<(ReadCommand, Vec<Bytes>)>,
        timings: &mut Vec<Timing<'_>>,
        out: &mut BytesMut,
    ) -> bool {
        // A run holds writes only or reads only, so the order between them is kept.
        if !writes.is_empty() {
            let ok = self.run_writes(std::mem::take(writes), out).await;
            self.record(timings);
            if !ok {
                return false;
            }
        }
        if !reads.is_empty() {
            self.run_reads(std::mem::take(reads), out).await;
            self.record(timings);
        }
        true
    }

    /// Records the latency of every command of a finished run.
    fn record(&self, timings: &mut Vec<Timing<'_>>) {
        for (name, started, args) in timings.drain(..) {
            self.finished(name, started, args);
        }
    }

    /// Accounts for a command that has been answered: metrics, SLOWLOG, LATENCY.
    fn finished(&self, name: &'static str, started: Instant, args: &[Bytes]) {
        let elapsed = started.elapsed();
        self.node.metrics.command(name, elapsed.as_secs_f64());
        crate::slowlog::record(&self.node, self.id, args, elapsed);
        if self.node.latency.enabled() {
            let fast = args
                .first()
                .and_then(|n| command::table::lookup_command(n))
                .is_some_and(|spec| spec.flags.contains(&"fast"));
            self.node.latency.record(fast, elapsed);
        }
    }

    fn classify(&mut self, args: &[Bytes], spec: Option<&Named<'_>>) -> Result<Step, Reply> {
        let last_cmd = spec.and_then(|n| n.client_list_name());
        self.node.clients.update(self.id, |c| {
            c.last_cmd = last_cmd;
            c.last_active = std::time::Instant::now();
        });
        if !self.authenticated && self.requires_auth(args) {
            return Err(Reply::error("NOAUTH Authentication required."));
        }
        let mut parsed = command::parse(args).map_err(|e| Reply::error(e.resp_error()));
        if parsed.is_ok() {
            match crate::acl::check(&self.node, &self.user, args) {
                Verdict::Allowed => {}
                // Refused like a bad command: inside MULTI it also aborts the EXEC.
                Verdict::Denied(reply) => parsed = Err(reply),
                Verdict::Gone => return Ok(Step::Hangup),
            }
        }
        if parsed.is_ok() {
            // Refused like a bad command: inside MULTI it also aborts the EXEC, as in Redis.
            if let Some(oom) = spec.and_then(|n| crate::eviction::refusal(&self.node, n.full, args))
            {
                parsed = Err(oom);
            }
        }
        if let (Ok(cmd), true) = (&parsed, self.in_resp2_pubsub_context()) {
            if !allowed_while_subscribed(cmd) {
                return Err(Reply::error(format!(
                    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                    full_name(args)
                )));
            }
            if let Command::Conn(ConnCommand::Ping(msg)) = cmd {
                // Subscribed RESP2 clients read arrays only: PING answers one.
                return Ok(Step::Reply(Reply::Array(vec![
                    Reply::bulk("pong"),
                    Reply::Bulk(msg.clone().unwrap_or_default()),
                ])));
            }
        }
        if parsed.is_ok() && self.node.monitors.watched() {
            let addr = self
                .node
                .clients
                .get(self.id)
                .map(|c| c.addr)
                .unwrap_or_default();
            self.node.monitors.feed(self.db, &addr, args);
        }
        let cmd = match self.tx.route(parsed) {
            Action::Reply(r) => return Ok(Step::Reply(r)),
            Action::Exec => return Ok(Step::Exec),
            Action::Watch(keys) => return Ok(Step::Watch(keys)),
            Action::Pass(cmd) => cmd,
        };
        Ok(match cmd {
            Command::Read(r) => Step::Read(r),
            Command::Write(w) => match self.moved(&w) {
                Some(redirect) => Step::Reply(redirect),
                None => Step::Write(w),
            },
            Command::Blocking(b) => match self.moved(&b.op) {
                Some(redirect) => Step::Reply(redirect),
                None => Step::Block(b),
            },
            Command::BlockingRead(b) => Step::BlockRead(b),
            Command::Conn(ConnCommand::Cairn(args)) => Step::Admin(args),
            Command::Conn(ConnCommand::Cluster(mut args))
                if args
                    .first()
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"failover")) =>
            {
                Step::Failover(args.split_off(1))
            }
            Command::Conn(ConnCommand::PubSub(p)) => Step::PubSub(p),
            Command::Conn(ConnCommand::Client(ClientCommand::Reply(mode))) => Step::ReplyMode(mode),
            Command::Conn(ConnCommand::Acl(cmd)) => Step::Acl(cmd),
            Command::Conn(ConnCommand::Monitor) => Step::Monitor,
            Command::Conn(ConnCommand::Config(ConfigCommand::Set(pairs))) => Step::ConfigSet(pairs),
            // Run in order, after the pending runs: SELECT or HELLO must not change the
            // database or protocol of the commands before them.
            Command::Conn(c) => Step::Conn(c),
        })
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
    fn in_resp2_pubsub_context(&self) -> bool {
        self.protocol == Protocol::Resp2 && self.subs.as_ref().is_some_and(|s| s.count() > 0)
    }

    /// With `--redirect`, a follower sends cluster clients to the leader instead of
    /// forwarding: `-MOVED <slot> <host>:<port>`. Keyless writes are still forwarded.
    fn moved(&self, w: &WriteCommand) -> Option<Reply> {
        if !self.node.config.redirect {
            return None;
        }
        let key = w.first_key()?;
        let (leader, info) = self.node.leader()?;
        if leader == self.node.id {
            return None;
        }
        let slot = cairn_protocol::slot::key_slot(key);
        Some(Reply::error(format!("MOVED {slot} {}", info.resp_addr)))
    }

    fn requires_auth(&self, args: &[Bytes]) -> bool {
        !auth_exempt(args) && crate::acl::auth_required(&self.node)
    }

    /// CONFIG SET, with a new requirepass replicated as the default user's password first and
    /// the maxmemory settings replicated through the log (see `settings::is_replicated`);
    /// `None` when such a change's outcome is unknown.
    async fn config_set(&mut self, pairs: Vec<(Bytes, Bytes)>) -> Option<Reply> {
        let pass = pairs
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(b"requirepass"))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
        let text: Vec<(String, String)> = pairs
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        // Nothing is replicated unless every pair is valid.
        let checked = match Settings::validate(&text) {
            Ok(c) => c,
            Err(e) => return Some(Reply::error(e)),
        };
        if let Some(pass) = pass {
            let reply = crate::acl::set_requirepass(&self.node, &pass).await?;
            if reply.is_error() {
                return Some(reply);
            }
        }
        let replicated: Vec<(String, String)> = checked
            .into_iter()
            .filter(|(n, _)| crate::settings::is_replicated(n))
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        if !replicated.is_empty() {
            match router::write_ops(&self.node, vec![OpKind::Config(replicated)])
                .await
                .pop()
            {
                Some(Outcome::Reply(r)) if r.is_error() => return Some(r),
                Some(Outcome::Reply(_)) => {}
                _ => return None,
            }
            // Committed, but this node may not have applied it yet: a CONFIG GET right after
            // on this connection must see it, so wait as a read would.
            if let Err(e) = self.node.reads.wait(&self.node).await {
                return Some(e);
            }
        }
        let cmd = ConnCommand::Config(ConfigCommand::Set(pairs));
        Some(crate::conn::handle(self, cmd))
    }

    /// EXEC: false when the connection must close (the outcome is unknown).
    async fn exec(&mut self, out: &mut BytesMut) -> bool {
        let op = match self.tx.take(self.db) {
            Ok(op) => op,
            Err(abort) => {
                abort.encode(self.protocol, out);
                return true;
            }
        };
        let op = self.traced(op);
        self.track.caching = false;
        match router::write_ops(&self.node, vec![op]).await.pop() {
            Some(Outcome::Reply(r)) => {
                r.encode(self.protocol, out);
                true
            }
            _ => false,
        }
    }

    /// A NOLOOP tracking client's write says whose it is (so its own changes are not
    /// announced to it); any other op goes as it is.
    fn traced(&self, op: OpKind) -> OpKind {
        if !self.track.noloop {
            return op;
        }
        OpKind::Tracked {
            origin: self.node.tracking.origin_of(self.id),
            op: Box::new(op),
        }
    }

    async fn run_writes(&mut self, cmds: Vec<WriteCommand>, out: &mut BytesMut) -> bool {
        self.track.caching = false;
        let db = self.db;
        let ops: Vec<OpKind> = cmds
            .into_iter()
            .map(|cmd| self.traced(OpKind::Command { db, cmd }))
            .collect();
        for outcome in router::write_ops(&self.node, ops).await {
            match outcome {
                Outcome::Reply(r) => r.encode(self.protocol, out),
                Outcome::Unknown => return false,
            }
        }
        true
    }

    /// SHUTDOWN: stops the node the way SIGTERM does. As in Redis, success has no reply: the
    /// connection closes; ABORT has no shutdown to abort (cairn's starts at once).
    async fn shutdown(&mut self, save: bool, abort: bool) -> Option<Reply> {
        if abort {
            return Some(Reply::error("ERR No shutdown in progress."));
        }
        if save {
            let saved = crate::save::save(&self.node).await;
            if saved.is_error() {
                tracing::warn!(reply = ?saved, "SHUTDOWN SAVE: the snapshot failed; not stopping");
                return Some(Reply::error("ERR Errors trying to SHUTDOWN. Check logs."));
            }
        }
        tracing::info!(client = self.id, "SHUTDOWN: stopping");
        self.node.request_exit(0);
        self.closing = true;
        None
    }

    async fn run_reads(&mut self, cmds: Vec<(ReadCommand, Vec<Bytes>)>, out: &mut BytesMut) {
        // One reply for every command: the reads fail together.
        let all = |reply: &Reply, out: &mut BytesMut| {
            for _ in &cmds {
                reply.encode(self.protocol, out);
            }
        };
        if let Some(refusal) = self.node.integrity.read_refusal() {
            return all(&refusal, out);
        }
        let start = out.len();
        let time = if self.readonly {
            crate::read_barrier::ReadTime::local()
        } else {
            match self.node.reads.wait(&self.node).await {
                Ok(time) => time,
                Err(e) => return all(&e, out),
            }
        };
        self.read_at(&cmds, time, out);
        if self.track.remembers() {
            let max = self
                .node
                .settings
                .get("tracking-table-max-keys")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1_000_000);
            for (_, keys) in &cmds {
                self.node
                    .tracking
                    .remember(&|id| self.node.clients.peer(id), self.id, keys, max);
            }
        }
        self.track.caching = false;
        if !time.still_valid(&self.node) {
            // The lease ran out while the reads ran (a pause, a step-down): what they saw
            // may be stale. Read again after a round.
            out.truncate(start);
            match self.node.reads.wait_round(&self.node).await {
                Ok(time) => self.read_at(&cmds, time, out),
                Err(e) => all(&e, out),
            }
        }
    }

    /// Runs `cmds` against this node's state as of `time`, encoding their replies.
    fn read_at(
        &self,
        cmds: &[(ReadCommand, Vec<Bytes>)],
        time: crate::read_barrier::ReadTime,
        out: &mut BytesMut,
    ) {
        let now = time.now_ms();
        let recorder = Recorder::new(&self.node, now, !self.no_touch);
        let Some(reading) = self.node.keyspace.reading() else {
            for _ in cmds {
                Reply::error(cairn_raft::store::LOADING).encode(self.protocol, out);
            }
            return;
        };
        for (cmd, keys) in cmds {
            let mut reply = keyspace::read(&reading, self.db, cmd, now).unwrap_or_else(|e| {
                tracing::error!(error = %e, "read failed");
                Reply::error(format!("ERR storage: {e}"))
            });
            if let ReadCommand::Object { what, key } = cmd {
                reply = recorder.object(&reading, self.db, *what, key, reply);
            }
            recorder.read(&reading, self.db, cmd, keys, &reply);
            reply.encode(self.protocol, out);
        }
    }
}
