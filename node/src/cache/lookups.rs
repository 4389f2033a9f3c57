//! What the commands a node serves tell its cache front end: keyspace hits and misses (INFO
//! stats), key accesses for LRU and LFU (see `access`), and OBJECT IDLETIME / FREQ from them.

use bytes::Bytes;
use cairn_protocol::command::{AccessHint, ObjectQuery, ReadCommand, WriteCommand};
use cairn_protocol::Reply;
use cairn_raft::keyspace::scan_hash;
use cairn_raft::store::State;

use crate::cache::access::Lfu;
use crate::cache::eviction::{self, Policy};
use crate::cluster::replica::Replica;
use crate::observe::stats::Stats;
use crate::settings::Settings;

/// How one node records a run of commands: read once per run, not per command.
pub struct Recorder<'a> {
    replica: &'a Replica,
    stats: &'a Stats,
    lfu: Lfu,
    policy: Policy,
    /// This node follows: its accesses are also reported to the leader.
    report: bool,
    /// Reads count as accesses (not under CLIENT NO-TOUCH).
    reads_touch: bool,
    now_ms: u64,
}

/// The keys a request names (by the command table's key specs).
pub fn keys_of(args: &[Bytes]) -> Vec<Bytes> {
    cairn_protocol::acl::request_keys(args)
        .into_iter()
        .map(Bytes::copy_from_slice)
        .collect()
}

impl<'a> Recorder<'a> {
    /// A recorder of `replica`'s accesses and `stats`' hits; `leading`: this node leads, so
    /// its accesses need not be reported to another.
    pub fn new(
        replica: &'a Replica,
        settings: &Settings,
        stats: &'a Stats,
        leading: bool,
        now_ms: u64,
        reads_touch: bool,
    ) -> Self {
        let limits = eviction::Limits::of(replica, settings);
        Recorder {
            replica,
            stats,
            lfu: limits.lfu,
            policy: limits.policy,
            report: !leading,
            reads_touch,
            now_ms,
        }
    }

    /// After a read: each key it looked up counts as a hit or a miss, and a hit is an access,
    /// except for the commands Redis runs without touching the key (OBJECT, TYPE, TTL, ...)
    /// and for a client in CLIENT NO-TOUCH mode.
    pub fn read(&self, state: &State, db: u8, cmd: &ReadCommand, keys: &[Bytes], reply: &Reply) {
        let touches = self.reads_touch
            && !matches!(
                cmd,
                ReadCommand::Object { .. } | ReadCommand::Type { .. } | ReadCommand::Ttl { .. }
            );
        for key in keys {
            let hit = match cmd {
                // GET's reply says it: nil is a miss (saves a second lookup on the hot path).
                ReadCommand::Get { .. } => !matches!(reply, Reply::Nil),
                _ => state.get_live(db, key, self.now_ms).is_some(),
            };
            self.stats.lookup(hit);
            if hit && touches {
                self.touch(db, key);
            }
        }
    }

    /// A write names keys: each is accessed (Redis's lookupKeyWrite and new keys alike).
    fn write(&self, db: u8, keys: &[Bytes]) {
        for key in keys {
            self.touch(db, key);
        }
    }

    /// A write's keys are accessed; RESTORE's IDLETIME or FREQ then sets the restored key's
    /// facts, as Redis's `objectSetLRUOrLFU` does.
    pub fn write_command(&self, db: u8, cmd: &WriteCommand, args: &[Bytes]) {
        self.write(db, &keys_of(args));
        if let WriteCommand::Restore {
            key,
            hint: Some(hint),
            ..
        } = cmd
        {
            let (idle, freq) = match *hint {
                AccessHint::IdleSecs(s) => (Some(s.saturating_mul(1000)), None),
                AccessHint::Freq(f) => (None, Some(f)),
            };
            self.replica
                .access
                .seed(db, scan_hash(key), self.now_ms, idle, freq);
        }
    }

    fn touch(&self, db: u8, key: &[u8]) {
        self.replica
            .access
            .touch(db, scan_hash(key), 1, self.now_ms, self.lfu, self.report);
    }

    /// OBJECT IDLETIME and OBJECT FREQ of an existing key from this node's access facts,
    /// with Redis's errors when the policy does not track that measure (nil for a missing
    /// key). `stored` is the keyspace's answer, returned for every other query.
    pub fn object(
        &self,
        state: &State,
        db: u8,
        what: ObjectQuery,
        key: &[u8],
        stored: Reply,
    ) -> Reply {
        if !matches!(what, ObjectQuery::IdleTime | ObjectQuery::Freq) {
            return stored;
        }
        if state.get_live(db, key, self.now_ms).is_none() {
            return Reply::Nil;
        }
        let hash = scan_hash(key);
        match what {
            ObjectQuery::IdleTime if self.policy.lfu() => Reply::error(
                "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ),
            ObjectQuery::IdleTime => {
                let (idle, _) = self.replica.access.observe(db, hash, self.now_ms, self.lfu);
                Reply::Integer(i64::try_from(idle / 1000).unwrap_or(i64::MAX))
            }
            ObjectQuery::Freq if self.policy.lfu() => {
                let (_, freq) = self.replica.access.observe(db, hash, self.now_ms, self.lfu);
                Reply::Integer(i64::from(freq))
            }
            _ => stored,
        }
    }
}
