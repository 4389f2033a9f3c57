//! `redis.call` and `redis.pcall`: one command run from a script against the entry's state.

use bytes::Bytes;
use cairn_protocol::command::{table, Command, CommandError, ConnCommand, ReadCommand};
use cairn_protocol::errors::RedisError;
use cairn_protocol::Reply;

use super::super::{read, Ctx, DATABASES};
use crate::error::Error;

/// Runs the commands of one script: the entry's context, what the script may do, and the
/// first failure of the node itself (which ends the apply, not just the script).
pub(super) struct Caller<'c, 'a> {
    pub ctx: &'c mut Ctx<'a>,
    pub read_only: bool,
    /// `redis.setresp(3)`: replies reach the script in RESP3 shapes.
    pub resp3: bool,
    pub fatal: Option<Error>,
}

impl Caller<'_, '_> {
    /// Runs `args` as a command; the reply (a Redis error reply on failure).
    pub fn call(&mut self, args: &[Bytes]) -> Reply {
        if args.is_empty() {
            return Reply::error(
                "ERR Please specify at least one argument for this redis lib call",
            );
        }
        if let Some(refusal) = refusal(args) {
            return Reply::error(refusal);
        }
        let cmd = match cairn_protocol::command::parse(args) {
            Ok(cmd) => cmd,
            Err(CommandError::Unknown { .. } | CommandError::UnknownSubcommand { .. }) => {
                return Reply::error("ERR Unknown Redis command called from script")
            }
            Err(CommandError::Arity(_)) => {
                return Reply::error("ERR Wrong number of args calling Redis command from script")
            }
            Err(e) => return Reply::error(e.resp_error()),
        };
        super::monitor(self.ctx.db, args);
        let result = match cmd {
            // A script cannot wait, and Redis 7.0 refuses blocking commands in one.
            Command::Blocking(b)
                if !matches!(b.op, cairn_protocol::WriteCommand::XReadGroup(_)) =>
            {
                return Reply::from(RedisError::NotFromScript)
            }
            Command::Blocking(_) | Command::BlockingRead(_) => {
                return Reply::error(format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(&args[0])
                ))
            }
            Command::Write(w) => {
                if self.read_only {
                    return Reply::error(
                        "ERR Write commands are not allowed from read-only scripts.",
                    );
                }
                self.ctx.command(&w)
            }
            Command::Read(r) => {
                if !self.read_only && random_read(&r) {
                    return Reply::error(format!(
                        "ERR {} is not allowed in a script that may write: its answer would \
                         differ between replicas (use EVAL_RO or a no-writes script)",
                        String::from_utf8_lossy(&args[0]).to_ascii_uppercase()
                    ));
                }
                let r = self.sorted_for_script(r);
                read(self.ctx.state, self.ctx.db, &r, self.ctx.now)
            }
            Command::Conn(c) => Ok(self.conn(c)),
        };
        match result {
            Ok(reply) => reply,
            Err(e) => {
                let reply = Reply::error(format!("ERR {e}"));
                self.fatal.get_or_insert(e);
                reply
            }
        }
    }

    /// SORT BY a constant of a set sorts the members anyway inside a script, as Redis does, so
    /// the reply does not depend on the set's internal order.
    fn sorted_for_script(&self, r: ReadCommand) -> ReadCommand {
        match r {
            ReadCommand::Sort(mut spec)
                if spec.by.as_ref().is_some_and(|p| !p.contains(&b'*'))
                    && self
                        .ctx
                        .state
                        .get_live(self.ctx.db, &spec.key, self.ctx.now)
                        .is_some_and(|v| matches!(v.data, super::super::Data::Set(_))) =>
            {
                spec.by = None;
                spec.alpha = true;
                ReadCommand::Sort(spec)
            }
            other => other,
        }
    }

    /// The few connection commands a script may run; they act on the script alone.
    fn conn(&mut self, c: ConnCommand) -> Reply {
        match c {
            ConnCommand::Ping(None) => Reply::Simple("PONG".into()),
            ConnCommand::Ping(Some(m)) | ConnCommand::Echo(m) => Reply::Bulk(m),
            ConnCommand::Select(db) => match u8::try_from(db) {
                Ok(db) if db < DATABASES => {
                    self.ctx.db = db;
                    Reply::ok()
                }
                _ => Reply::from(RedisError::DbIndexOutOfRange),
            },
            // The entry's stamp: every replica answers the same time.
            ConnCommand::Time => Reply::Array(vec![
                Reply::Bulk(Bytes::from((self.ctx.now / 1000).to_string())),
                Reply::Bulk(Bytes::from((self.ctx.now % 1000 * 1000).to_string())),
            ]),
            _ => Reply::from(RedisError::NotFromScript),
        }
    }
}

/// Redis's refusal of a command flagged `noscript` (EVAL inside EVAL, MULTI, SUBSCRIBE...).
fn refusal(args: &[Bytes]) -> Option<&'static str> {
    let spec = table::lookup_command(&args[0])?;
    let spec = match (spec.subcommands.is_empty(), args.get(1)) {
        (false, Some(sub)) => spec.subcommand(sub).unwrap_or(spec),
        _ => spec,
    };
    spec.has_flag("noscript")
        .then_some(RedisError::NotFromScript.text())
}

/// Reads whose answer is drawn at random by the serving node.
fn random_read(r: &ReadCommand) -> bool {
    matches!(
        r,
        ReadCommand::SRandMember { .. }
            | ReadCommand::HRandField { .. }
            | ReadCommand::ZRandMember { .. }
    )
}
