//! A batch of parsed requests, executed in order: consecutive writes go to the leader as one
//! run, consecutive reads wait for one read barrier, anything else runs alone between runs.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use cairn_protocol::command::{self, ReadCommand, ReplyMode};
use cairn_protocol::{ConnCommand, Reply, WriteCommand};
use cairn_raft::types::now_ms;

use crate::cache::lookups;
use crate::observe::stats::Stats;
use crate::server::blocking::{self, Ended};

use super::classify::{metric_name, Named, Step};
use super::state::{ClientIo, Session};

/// What a step run alone leaves the batch to do.
enum After {
    /// Go on; `pushes` when its replies were pushes only (CLIENT REPLY does not silence them).
    Next { pushes: bool },
    /// Close the connection: a write's outcome is unknown, or the user is gone.
    Close,
}

/// The runs a batch is building: consecutive writes or consecutive reads, with the timing
/// of each command in them.
#[derive(Default)]
struct Pending<'a> {
    writes: Vec<WriteCommand>,
    reads: Vec<(ReadCommand, Vec<Bytes>)>,
    timings: Vec<Timing<'a>>,
}

/// A command of a pending run: its metrics name, when it was parsed, its arguments.
type Timing<'a> = (&'static str, Instant, &'a [Bytes]);

impl Session {
    /// Executes requests in order, appending replies. False when the connection must close
    /// because a write's outcome is unknown.
    pub(super) async fn execute(
        &mut self,
        requests: Vec<Vec<Bytes>>,
        out: &mut BytesMut,
        io: &mut ClientIo<'_>,
    ) -> bool {
        self.refresh_acl();
        let mut steps = requests.iter();
        let mut pending = Pending::default();
        // Writes are accesses of the keys they name (settings read once per parsed batch).
        let node = self.node.clone();
        let writes = node.recorder(now_ms(), true);
        loop {
            let next = steps.next();
            let started = Instant::now();
            // The request's table entry, looked up once for all that consult it.
            let spec = next.and_then(|args| Named::of(args));
            if !self
                .catch_up_before_oom_check(spec.as_ref(), &mut pending, out)
                .await
            {
                return false;
            }
            let step = next.map(|args| {
                let name = metric_name(args, spec.as_ref());
                self.running = name;
                (
                    name,
                    self.classify(args, spec.as_ref(), started),
                    args.as_slice(),
                )
            });
            // CLIENT PAUSE holds writes (or everything) until it ends.
            if let Some((_, Ok(s), _)) = &step {
                self.node.clients.wait_unpaused(s.writes()).await;
            }
            // While replies are suppressed every command runs alone, so its reply (and only
            // its reply) can be dropped.
            let quiet = self.replies_off || self.skip_next;
            // Flush runs that the next step does not continue.
            let continues_writes = !quiet && matches!(step, Some((_, Ok(Step::Write(_)), _)));
            let continues_reads = !quiet && matches!(step, Some((_, Ok(Step::Read(_)), _)));
            if !self
                .flush_runs(&mut pending, continues_writes, continues_reads, out)
                .await
            {
                return false;
            }
            let Some((name, step, args)) = step else {
                return true;
            };
            Stats::add(&self.node.stats.commands_processed, 1);
            let reply_start = out.len();
            let mut pushes_only = false;
            match step {
                Ok(Step::ReplyMode(mode)) => {
                    self.reply_mode(mode, out);
                    self.finished(name, started, args);
                    continue;
                }
                Ok(Step::Write(w)) if quiet => {
                    writes.write_command(self.db, &w, args);
                    pending.timings.push((name, started, args));
                    let ok = self.run_writes(vec![w], out).await;
                    self.record(&mut pending.timings);
                    if !ok {
                        return false;
                    }
                }
                Ok(Step::Read(r)) if quiet => {
                    pending.timings.push((name, started, args));
                    self.run_reads(vec![(r, lookups::keys_of(args))], out).await;
                    self.record(&mut pending.timings);
                }
                Ok(Step::Write(w)) => {
                    writes.write_command(self.db, &w, args);
                    pending.writes.push(w);
                    pending.timings.push((name, started, args));
                }
                Ok(Step::Read(r)) => {
                    pending.reads.push((r, lookups::keys_of(args)));
                    pending.timings.push((name, started, args));
                }
                Ok(Step::Hangup) => {
                    self.closing = true;
                    return true;
                }
                step => {
                    let after = self.perform(step, out, io).await;
                    self.finished(name, started, args);
                    match after {
                        After::Next { pushes } => pushes_only = pushes,
                        After::Close => return false,
                    }
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

    /// Runs a step that does not join a run of reads or writes (connection commands, EXEC,
    /// blocking commands, pub/sub, admin, errors), encoding its reply.
    async fn perform(
        &mut self,
        step: Result<Step, Reply>,
        out: &mut BytesMut,
        io: &mut ClientIo<'_>,
    ) -> After {
        let mut pushes = false;
        match step {
            Ok(Step::Conn(c)) => {
                let reply = match c {
                    ConnCommand::Save => Some(crate::backup::save::save(&self.node.backups).await),
                    ConnCommand::Wait {
                        replicas,
                        timeout_ms,
                    } => Some(
                        crate::cluster::wait::wait(
                            &self.node.cluster,
                            &self.node.reads,
                            replicas,
                            timeout_ms,
                        )
                        .await,
                    ),
                    ConnCommand::Shutdown { save, abort } => self.shutdown(save, abort).await,
                    c => Some(crate::server::conn::handle(self, c)),
                };
                if let Some(reply) = reply {
                    reply.encode(self.protocol, out);
                }
            }
            Ok(Step::Reply(r)) => {
                r.encode(self.protocol, out);
            }
            Ok(Step::Exec) => {
                let keep = self.exec(out).await;
                if !keep {
                    return After::Close;
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
                match ended {
                    Ended::Reply(r) => r.encode(self.protocol, out),
                    Ended::Close => return After::Close,
                }
            }
            Ok(Step::Monitor) => {
                if self.monitor.is_none() {
                    self.monitor = Some(self.node.monitors.subscribe());
                }
                Reply::ok().encode(self.protocol, out);
            }
            Ok(Step::Acl(cmd)) => {
                let reply = crate::server::acl::command(
                    &self.node.cluster,
                    &self.node.replica,
                    &self.node.settings,
                    &self.user,
                    cmd,
                )
                .await;
                match reply {
                    Some(r) => r.encode(self.protocol, out),
                    None => return After::Close,
                }
            }
            Ok(Step::ConfigSet(pairs)) => {
                let Some(reply) = self.config_set(pairs).await else {
                    return After::Close;
                };
                reply.encode(self.protocol, out);
            }
            Ok(Step::Watch(keys)) => {
                let reply = match self.node.reads.wait(&self.node.cluster).await {
                    Ok(_) => self.tx.watch(&self.node.replica.keyspace, self.db, &keys),
                    Err(e) => e,
                };
                reply.encode(self.protocol, out);
            }
            Ok(Step::PubSub(cmd)) => {
                let replies = crate::server::pubsub::handle(
                    &self.node.pubsub,
                    &self.node.cluster,
                    &mut self.subs,
                    self.id,
                    cmd,
                )
                .await;
                let (sub, psub) = self.subs.as_ref().map_or((0, 0), |s| s.counts());
                self.node.clients.update(self.id, |c| {
                    c.sub = sub;
                    c.psub = psub;
                });
                // (Un)subscribe confirmations are pushes: CLIENT REPLY does not silence
                // them, as in Redis.
                pushes = replies.iter().all(|r| matches!(r, Reply::Push(_)));
                for r in replies {
                    r.encode(self.protocol, out);
                }
            }
            Ok(Step::Admin(admin)) => {
                crate::server::admin::handle(
                    &self.node.cluster,
                    &self.node.replica,
                    &self.node.backups,
                    &admin,
                )
                .await
                .encode(self.protocol, out);
            }
            Ok(Step::Failover(options)) => {
                crate::cluster::handoff::cluster_failover(&self.node.cluster, &options)
                    .await
                    .encode(self.protocol, out);
            }
            Err(e) => {
                e.encode(self.protocol, out);
            }
            // Handled by `execute` before a step gets here.
            Ok(Step::ReplyMode(_) | Step::Read(_) | Step::Write(_) | Step::Hangup) => {}
        }
        After::Next { pushes }
    }

    /// Runs the pending run of writes unless the next step continues it, then the pending
    /// run of reads unless it continues that (a run holds writes only or reads only, so the
    /// order between them is kept). False when the connection must close.
    async fn flush_runs(
        &mut self,
        pending: &mut Pending<'_>,
        keep_writes: bool,
        keep_reads: bool,
        out: &mut BytesMut,
    ) -> bool {
        if !keep_writes && !pending.writes.is_empty() {
            let ok = self
                .run_writes(std::mem::take(&mut pending.writes), out)
                .await;
            self.record(&mut pending.timings);
            if !ok {
                return false;
            }
        }
        if !keep_reads && !pending.reads.is_empty() {
            self.run_reads(std::mem::take(&mut pending.reads), out)
                .await;
            self.record(&mut pending.timings);
        }
        true
    }

    /// CLIENT REPLY ON|OFF|SKIP: ON answers OK; SKIP silences the next command only.
    fn reply_mode(&mut self, mode: ReplyMode, out: &mut BytesMut) {
        match mode {
            ReplyMode::On => {
                self.replies_off = false;
                self.skip_next = false;
                Reply::ok().encode(self.protocol, out);
            }
            ReplyMode::Off => self.replies_off = true,
            ReplyMode::Skip => self.skip_next = !self.replies_off,
        }
    }

    /// Before a request that maxmemory may refuse (`spec`, as the table finds it): the writes
    /// before it (a DEL may make room) and, on a follower, the leader's latest state count
    /// first. False when the connection must close.
    async fn catch_up_before_oom_check(
        &mut self,
        spec: Option<&Named<'_>>,
        pending: &mut Pending<'_>,
        out: &mut BytesMut,
    ) -> bool {
        let node = &self.node;
        let may_refuse = spec.is_some_and(|n| {
            crate::cache::eviction::may_refuse(&node.replica, &node.settings, n.full, n.args)
        });
        if !may_refuse {
            return true;
        }
        if !self.flush_runs(pending, false, false, out).await {
            return false;
        }
        if !self.node.cluster.is_leader() {
            if let Err(e) = self.node.reads.wait(&self.node.cluster).await {
                // The check then decides on what this node has applied.
                tracing::debug!(error = ?e, "no read index before the maxmemory check");
            }
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
        crate::observe::slowlog::record(
            &self.node.slowlog,
            &self.node.clients,
            self.id,
            args,
            elapsed,
        );
        if self.node.latency.enabled() {
            let fast = args
                .first()
                .and_then(|n| command::table::lookup_command(n))
                .is_some_and(|spec| spec.flags.contains(&"fast"));
            self.node.latency.record(fast, elapsed);
        }
    }
}
