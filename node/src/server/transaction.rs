//! MULTI / EXEC / DISCARD / WATCH on a connection.
//!
//! Commands after MULTI are checked and queued (`+QUEUED`); EXEC sends them to the leader as
//! one log entry, applied atomically on every replica, with the keys WATCHed on this
//! connection: if any of them changed since WATCH, nothing is applied and EXEC answers nil.
//! A command that fails to parse while queueing discards the transaction at EXEC
//! (`-EXECABORT`), as in Redis; errors while running are per-command replies.

use bytes::Bytes;
use cairn_protocol::errors::RedisError;
use cairn_protocol::{Command, ConnCommand, Reply};
use cairn_raft::keyspace::{needs_whole_db, watch_digest};
use cairn_raft::store::Keyspace;
use cairn_raft::types::now_ms;
use cairn_raft::{ExecItem, OpKind, Watched};

/// Most commands one transaction may queue.
pub const QUEUED_MAX: usize = 10_000;
/// Most keys one connection may WATCH.
pub const WATCHED_MAX: usize = 10_000;

#[derive(Default)]
pub struct Transaction {
    /// Between MULTI and EXEC/DISCARD.
    pub active: bool,
    queued: Vec<ExecItem>,
    /// A queued command was refused: EXEC will abort.
    dirty: bool,
    watched: Vec<Watched>,
}

/// What the session must do for a command, given the transaction state.
pub enum Action {
    /// Answer now.
    Reply(Reply),
    /// Run the transaction (EXEC).
    Exec,
    /// Record these keys (WATCH): needs a read barrier first.
    Watch(Vec<Bytes>),
    /// Not a transaction matter: handle as usual.
    Pass(Command),
}

fn not_allowed() -> Reply {
    Reply::from(RedisError::NotInTransaction)
}

impl Transaction {
    /// Routes a parsed command (or its parse error) through the transaction state.
    pub fn route(&mut self, cmd: Result<Command, Reply>) -> Action {
        let cmd = match cmd {
            Err(e) => {
                if self.active {
                    self.dirty = true;
                }
                return Action::Reply(e);
            }
            Ok(c) => c,
        };
        match (self.active, cmd) {
            (false, Command::Conn(ConnCommand::Multi)) => {
                self.active = true;
                Action::Reply(Reply::ok())
            }
            (true, Command::Conn(ConnCommand::Multi)) => {
                Action::Reply(Reply::error("ERR MULTI calls can not be nested"))
            }
            (false, Command::Conn(ConnCommand::Exec)) => {
                Action::Reply(Reply::error("ERR EXEC without MULTI"))
            }
            (true, Command::Conn(ConnCommand::Exec)) => Action::Exec,
            (false, Command::Conn(ConnCommand::Discard)) => {
                Action::Reply(Reply::error("ERR DISCARD without MULTI"))
            }
            (true, Command::Conn(ConnCommand::Discard)) => {
                self.reset();
                Action::Reply(Reply::ok())
            }
            (false, Command::Conn(ConnCommand::Watch(keys))) => Action::Watch(keys),
            (true, Command::Conn(ConnCommand::Watch(_))) => {
                Action::Reply(Reply::error("ERR WATCH inside MULTI is not allowed"))
            }
            (false, Command::Conn(ConnCommand::Unwatch)) => {
                self.watched.clear();
                Action::Reply(Reply::ok())
            }
            // QUIT and RESET still work inside MULTI.
            (true, Command::Conn(c @ (ConnCommand::Quit | ConnCommand::Reset))) => {
                self.reset();
                Action::Pass(Command::Conn(c))
            }
            (true, cmd) => Action::Reply(self.queue(cmd)),
            (false, cmd) => Action::Pass(cmd),
        }
    }

    fn queue(&mut self, cmd: Command) -> Reply {
        let item = match cmd {
            Command::Write(w) => ExecItem::write(w),
            // Inside MULTI a blocking command pops or answers nil at once, as in Redis.
            Command::Blocking(b) => ExecItem::write(b.op),
            Command::BlockingRead(b) => ExecItem::read(b.read),
            Command::Read(r) if !needs_whole_db(&r) => ExecItem::read(r),
            Command::Conn(ConnCommand::Ping(None)) => {
                ExecItem::constant(Reply::Simple("PONG".into()))
            }
            Command::Conn(ConnCommand::Ping(Some(m)) | ConnCommand::Echo(m)) => {
                ExecItem::constant(Reply::Bulk(m))
            }
            _ => {
                self.dirty = true;
                return not_allowed();
            }
        };
        if self.queued.len() >= QUEUED_MAX {
            self.dirty = true;
            return Reply::error(format!(
                "ERR a transaction holds at most {QUEUED_MAX} commands"
            ));
        }
        self.queued.push(item);
        Reply::Simple("QUEUED".into())
    }

    /// Ends the transaction and forgets the watched keys (EXEC, DISCARD, RESET).
    pub fn reset(&mut self) {
        *self = Transaction::default();
    }

    /// The log operation for EXEC, or the EXECABORT reply; the state is reset either way.
    pub fn take(&mut self, db: u8) -> Result<OpKind, Reply> {
        let dirty = self.dirty;
        let items = std::mem::take(&mut self.queued);
        let watched = std::mem::take(&mut self.watched);
        self.reset();
        if dirty {
            return Err(Reply::error(
                "EXECABORT Transaction discarded because of previous errors.",
            ));
        }
        Ok(OpKind::Exec { db, items, watched })
    }

    /// WATCH: records each key's live value as this node sees it (after a read barrier).
    pub fn watch(&mut self, keyspace: &Keyspace, db: u8, keys: &[Bytes]) -> Reply {
        if self.watched.len() + keys.len() > WATCHED_MAX {
            return Reply::error(format!("ERR at most {WATCHED_MAX} keys can be watched"));
        }
        let now = now_ms();
        let Some(state) = keyspace.reading() else {
            return Reply::error(cairn_raft::store::LOADING);
        };
        for key in keys {
            let value = state.get(db, key);
            let stamp = state.delete_stamp(db, key);
            self.watched.push(Watched {
                db,
                key: key.clone(),
                digest: watch_digest(db, key, value, stamp, now),
            });
        }
        Reply::ok()
    }
}
