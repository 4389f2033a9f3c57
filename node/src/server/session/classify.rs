//! From a parsed request to what the session does with it (a [`Step`]): authentication, the
//! parser, ACL, maxmemory, the pub/sub context, MULTI queueing, and cluster redirects.

use bytes::Bytes;
use cairn_protocol::command::{
    self, table::CommandSpec, AclCommand, BlockingCommand, ClientCommand, Command, ConfigCommand,
    PubSubCommand, ReadCommand, ReplyMode,
};
use cairn_protocol::{ConnCommand, Reply, WriteCommand};

use crate::server::acl::Verdict;
use crate::server::transaction::Action;

use super::state::Session;

/// What to do with one parsed request.
pub(super) enum Step {
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

/// A request whose command is in the table, with its entries: looked up once per request,
/// since the metrics, CLIENT LIST, maxmemory and the parser all ask.
pub(super) struct Named<'a> {
    pub(super) command: &'static CommandSpec,
    /// The subcommand's entry for a container (`config|get`), as ACL and maxmemory judge it;
    /// none for a container without a known subcommand.
    pub(super) full: Option<&'static CommandSpec>,
    pub(super) args: &'a [Bytes],
}

impl Step {
    /// Whether the step writes (CLIENT PAUSE WRITE holds it).
    pub(super) fn writes(&self) -> bool {
        matches!(
            self,
            Step::Write(_) | Step::Exec | Step::Block(_) | Step::Acl(_) | Step::ConfigSet(_)
        )
    }
}

impl<'a> Named<'a> {
    pub(super) fn of(args: &'a [Bytes]) -> Option<Named<'a>> {
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
pub(super) fn metric_name(args: &[Bytes], spec: Option<&Named<'_>>) -> &'static str {
    match (spec, args.first()) {
        (Some(n), _) => n.command.name,
        (None, Some(a)) if a.eq_ignore_ascii_case(b"cairn") => "cairn",
        (None, _) => "unknown",
    }
}

impl Session {
    /// What request `args` asks for, or the error that refuses it. `arrived`: when it was
    /// taken up (CLIENT LIST's idle time counts from it).
    pub(super) fn classify(
        &mut self,
        args: &[Bytes],
        spec: Option<&Named<'_>>,
        arrived: std::time::Instant,
    ) -> Result<Step, Reply> {
        let last_cmd = spec.and_then(|n| n.client_list_name());
        self.node.clients.update(self.id, |c| {
            c.last_cmd = last_cmd;
            c.last_active = arrived;
        });
        if !self.authenticated && self.requires_auth(args) {
            return Err(Reply::error("NOAUTH Authentication required."));
        }
        let mut parsed = command::parse(args).map_err(|e| Reply::error(e.resp_error()));
        if parsed.is_ok() {
            match crate::server::acl::check(&self.acl, &self.user, args) {
                Verdict::Allowed => {}
                // Refused like a bad command: inside MULTI it also aborts the EXEC.
                Verdict::Denied(reply) => parsed = Err(reply),
                Verdict::Gone => return Ok(Step::Hangup),
            }
        }
        if parsed.is_ok() {
            // Refused like a bad command: inside MULTI it also aborts the EXEC, as in Redis.
            if let Some(oom) = spec.and_then(|n| {
                crate::cache::eviction::refusal(
                    &self.node.replica,
                    &self.node.settings,
                    n.full,
                    args,
                )
            }) {
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
}
