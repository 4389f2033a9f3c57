//! Running what a request asks of the cluster: runs of writes through the router, runs of
//! reads behind one read barrier (re-read after a round if the lease ran out meanwhile),
//! EXEC, CONFIG SET and SHUTDOWN.

use bytes::{Bytes, BytesMut};
use cairn_protocol::command::{ConfigCommand, ReadCommand};
use cairn_protocol::{ConnCommand, Reply, WriteCommand};
use cairn_raft::keyspace;
use cairn_raft::OpKind;

use crate::cluster::router::{self, Outcome};
use crate::settings::Settings;

use super::state::Session;

impl Session {
    pub(super) async fn run_writes(&mut self, cmds: Vec<WriteCommand>, out: &mut BytesMut) -> bool {
        self.track.caching = false;
        let db = self.db;
        let ops: Vec<OpKind> = cmds
            .into_iter()
            .map(|cmd| self.traced(OpKind::command(db, cmd)))
            .collect();
        for outcome in router::write_ops(&self.node.cluster, ops).await {
            match outcome {
                Outcome::Reply(r) => r.encode(self.protocol, out),
                Outcome::Unknown => return false,
            }
        }
        true
    }

    pub(super) async fn run_reads(
        &mut self,
        cmds: Vec<(ReadCommand, Vec<Bytes>)>,
        out: &mut BytesMut,
    ) {
        // One reply for every command: the reads fail together.
        let all = |reply: &Reply, out: &mut BytesMut| {
            for _ in &cmds {
                reply.encode(self.protocol, out);
            }
        };
        if let Some(refusal) = self.node.replica.integrity.read_refusal() {
            return all(&refusal, out);
        }
        let start = out.len();
        let time = if self.readonly {
            crate::cluster::read_barrier::ReadTime::local()
        } else {
            match self.node.reads.wait(&self.node.cluster).await {
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
        if !time.still_valid(&self.node.cluster) {
            // The lease ran out while the reads ran (a pause, a step-down): what they saw
            // may be stale. Read again after a round.
            out.truncate(start);
            match self.node.reads.wait_round(&self.node.cluster).await {
                Ok(time) => self.read_at(&cmds, time, out),
                Err(e) => all(&e, out),
            }
        }
    }

    /// Runs `cmds` against this node's state as of `time`, encoding their replies.
    fn read_at(
        &self,
        cmds: &[(ReadCommand, Vec<Bytes>)],
        time: crate::cluster::read_barrier::ReadTime,
        out: &mut BytesMut,
    ) {
        let now = time.now_ms();
        let recorder = self.node.recorder(now, !self.no_touch);
        let Some(reading) = self.node.replica.keyspace.reading() else {
            for _ in cmds {
                Reply::error(cairn_raft::store::LOADING).encode(self.protocol, out);
            }
            return;
        };
        if cmds.len() > 1 {
            // A pipeline's keys are brought into the cache together first: their misses
            // overlap instead of each read's stalling in turn.
            let keys: Vec<&[u8]> = cmds
                .iter()
                .flat_map(|(_, keys)| keys)
                .map(|k| &k[..])
                .collect();
            reading.warm(self.db, &keys);
        }
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

    /// EXEC: false when the connection must close (the outcome is unknown).
    pub(super) async fn exec(&mut self, out: &mut BytesMut) -> bool {
        let op = match self.tx.take(self.db) {
            Ok(op) => op,
            Err(abort) => {
                abort.encode(self.protocol, out);
                return true;
            }
        };
        let op = self.traced(op);
        self.track.caching = false;
        match router::write_ops(&self.node.cluster, vec![op]).await.pop() {
            Some(Outcome::Reply(r)) => {
                r.encode(self.protocol, out);
                true
            }
            _ => false,
        }
    }

    /// CONFIG SET, with a new requirepass replicated as the default user's password first and
    /// the maxmemory settings replicated through the log (see `settings::is_replicated`);
    /// `None` when such a change's outcome is unknown.
    pub(super) async fn config_set(&mut self, pairs: Vec<(Bytes, Bytes)>) -> Option<Reply> {
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
            let reply = crate::server::acl::set_requirepass(&self.node.cluster, &pass).await?;
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
            match router::write_ops(&self.node.cluster, vec![OpKind::Config(replicated)])
                .await
                .pop()
            {
                Some(Outcome::Reply(r)) if r.is_error() => return Some(r),
                Some(Outcome::Reply(_)) => {}
                _ => return None,
            }
            // Committed, but this node may not have applied it yet: a CONFIG GET right after
            // on this connection must see it, so wait as a read would.
            if let Err(e) = self.node.reads.wait(&self.node.cluster).await {
                return Some(e);
            }
        }
        let cmd = ConnCommand::Config(ConfigCommand::Set(pairs));
        Some(crate::server::conn::handle(self, cmd))
    }

    /// SHUTDOWN: stops the node the way SIGTERM does. As in Redis, success has no reply: the
    /// connection closes; ABORT has no shutdown to abort (cairn's starts at once).
    pub(super) async fn shutdown(&mut self, save: bool, abort: bool) -> Option<Reply> {
        if abort {
            return Some(Reply::error("ERR No shutdown in progress."));
        }
        if save {
            let saved = crate::backup::save::save(&self.node.backups).await;
            if saved.is_error() {
                tracing::warn!(reply = ?saved, "SHUTDOWN SAVE: the snapshot failed; not stopping");
                return Some(Reply::error("ERR Errors trying to SHUTDOWN. Check logs."));
            }
        }
        tracing::info!(client = self.id, "SHUTDOWN: stopping");
        self.node.cluster.request_exit(0);
        self.closing = true;
        None
    }
}
