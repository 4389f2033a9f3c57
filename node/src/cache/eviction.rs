//! maxmemory: refusing writes under `noeviction`, and eviction, decided by the leader only.
//!
//! The measure is the replicated dataset size (`Keyspace::used_bytes`), the same on every
//! replica, and the settings are replicated through the log, so every node refuses the same
//! writes. With an evicting policy the leader's evictor wakes after every applied batch; while
//! the dataset is over maxmemory it picks victims as Redis does (samples of
//! `maxmemory-samples` keys per database into a pool of the [`POOL_SIZE`] best candidates,
//! ranked by idle time, LFU counter or nothing for the random policies; volatile-ttl takes the
//! soonest deadlines from the expiry index, exactly) and proposes their deletion as one
//! `Evict` entry per database, so replicas delete the same keys (DESIGN.md invariant 6).
//! Writes are admitted meanwhile: the dataset may pass maxmemory by what is written during
//! one eviction round, where Redis evicts before each command.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_protocol::command::table::CommandSpec;
use cairn_protocol::Reply;
use cairn_raft::keyspace::{scan_hash, DATABASES};
use cairn_raft::store::Sampled;
use cairn_raft::types::now_ms;
use cairn_raft::types::ReplicatedSettings;
use cairn_raft::OpKind;

use crate::cache::access::Lfu;
use crate::cluster::handle::Cluster;
use crate::cluster::replica::Replica;
use crate::observe::stats::Stats;
use crate::settings::Settings;

/// Redis's eviction pool size (`EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;
/// Keys evicted per round, at most (one entry per database each round). Each pick samples
/// afresh, as Redis does per evicted key, so a round costs picks × samples lookups; rounds
/// are large so that eviction keeps up with pipelined writes (one commit per round).
const ROUND_KEYS_MAX: usize = 512;
/// Rounds per wake-up, at most, so a slow round cannot hold the task for ever.
const ROUNDS_MAX: usize = 64;
/// Entries looked at per sample, at most (keys without a TTL under a volatile policy, and
/// keys already chosen or in the pool, are passed over).
const SCAN_MAX: usize = 256;
/// Wakes the evictor even when nothing is applied (a CONFIG SET lowering maxmemory).
const IDLE_WAKE: Duration = Duration::from_millis(100);

pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    fn parse(s: &str) -> Policy {
        match s {
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    /// The `maxmemory-policy` name.
    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    /// Only keys with a TTL may be evicted.
    pub fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    pub fn lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }
}

/// The memory settings in force on this node (replicated values first).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// 0: no limit.
    pub maxmemory: u64,
    pub policy: Policy,
    pub samples: usize,
    pub lfu: Lfu,
}

/// A numeric setting in force (negative: 0).
fn number(replicated: &ReplicatedSettings, local: &Settings, name: &str, default: u64) -> u64 {
    crate::settings::effective(replicated, local, name)
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(default, |v| u64::try_from(v).unwrap_or(0))
}

/// The LFU settings in force (`lfu-log-factor`, `lfu-decay-time`).
pub fn lfu(replicated: &ReplicatedSettings, local: &Settings) -> Lfu {
    Lfu {
        log_factor: number(replicated, local, "lfu-log-factor", 10),
        decay_minutes: number(replicated, local, "lfu-decay-time", 1),
    }
}

impl Limits {
    /// The limits in force: `replica`'s replicated settings first, then this node's own.
    pub fn of(replica: &Replica, local: &Settings) -> Limits {
        let replicated = replica.sm.replicated_settings();
        let num = |name: &str, default: u64| number(&replicated, local, name, default);
        let policy = crate::settings::effective(&replicated, local, "maxmemory-policy");
        Limits {
            maxmemory: num("maxmemory", 0),
            policy: Policy::parse(&policy.unwrap_or_default()),
            samples: usize::try_from(num("maxmemory-samples", 5).clamp(1, 64)).unwrap_or(5),
            lfu: lfu(&replicated, local),
        }
    }

    fn over(&self, used: u64) -> bool {
        self.maxmemory > 0 && used > self.maxmemory
    }
}

/// Whether maxmemory may refuse this request as this node sees the dataset: it may grow
/// the dataset (`denyoom` in the command table), the dataset is over maxmemory, and the
/// policy may leave nothing to evict (noeviction, or a volatile one). A follower then
/// catches up with the leader before [`refusal`] decides.
/// `spec` is the request's entry as [`cairn_protocol::acl::spec_of`] finds it.
pub fn may_refuse(
    replica: &Replica,
    settings: &Settings,
    spec: Option<&CommandSpec>,
    args: &[Bytes],
) -> bool {
    let Some(spec) = spec else {
        return false;
    };
    if !spec.has_flag("denyoom") && !script_denied_when_oom(replica, spec.name, args) {
        return false;
    }
    // The common case first: no limit set, or the dataset under it (one setting read).
    let replicated = replica.sm.replicated_settings();
    let maxmemory = number(&replicated, settings, "maxmemory", 0);
    if maxmemory == 0 || replica.keyspace.used_bytes() <= maxmemory {
        return false;
    }
    let limits = Limits::of(replica, settings);
    limits.over(replica.keyspace.used_bytes())
        && (limits.policy == Policy::NoEviction || limits.policy.volatile())
}

/// EVAL, EVALSHA and FCALL of a script whose declared flags let it write without
/// `allow-oom` (looked up in this node's replicated script cache and libraries).
fn script_denied_when_oom(replica: &Replica, name: &str, args: &[Bytes]) -> bool {
    use cairn_raft::keyspace::script::{denied_when_oom, function_denied_when_oom};
    let Some(target) = args.get(1) else {
        return false;
    };
    match name {
        "eval" => denied_when_oom(target),
        "evalsha" => replica.keyspace.reading().is_some_and(|s| {
            let sha = String::from_utf8_lossy(target).to_ascii_lowercase();
            s.scripts
                .get(&sha)
                .is_some_and(|body| denied_when_oom(body))
        }),
        "fcall" => replica
            .keyspace
            .reading()
            .is_some_and(|s| function_denied_when_oom(&s.libraries, target)),
        _ => false,
    }
}

/// The OOM error for a request that may grow the dataset while it is over maxmemory and
/// nothing can be evicted: the policy is noeviction, or a volatile one and no key has a
/// TTL. Decided from replicated state on the client's node.
pub fn refusal(
    replica: &Replica,
    settings: &Settings,
    spec: Option<&CommandSpec>,
    args: &[Bytes],
) -> Option<Reply> {
    if !may_refuse(replica, settings, spec, args) {
        return None;
    }
    let stuck = Limits::of(replica, settings).policy == Policy::NoEviction
        || replica
            .keyspace
            .db_sizes()
            .map_or(true, |s| s.iter().all(|(_, _, expires)| *expires == 0));
    stuck.then(|| Reply::error(OOM))
}

/// The leader's evictor (followers never evict): it reads the data and the settings,
/// proposes evictions through the cluster and counts them.
pub struct Evictor {
    pub cluster: Arc<Cluster>,
    pub replica: Arc<Replica>,
    pub settings: Arc<Settings>,
    pub stats: Arc<Stats>,
}

pub fn spawn(evictor: Evictor) {
    tokio::spawn(async move {
        let mut shutdown = evictor.cluster.shutdown.clone();
        let mut changes = evictor.replica.sm.changes();
        let mut pool = Vec::new();
        loop {
            tokio::select! {
                _ = changes.changed() => {}
                () = tokio::time::sleep(IDLE_WAKE) => {}
                _ = shutdown.changed() => return,
            }
            evictor
                .stats
                .note_used_memory(evictor.replica.keyspace.used_bytes());
            if !evictor.cluster.is_leader() {
                pool.clear();
                continue;
            }
            if let Err(e) = evict(&evictor, &mut pool).await {
                tracing::debug!(error = %e, "eviction");
            }
        }
    });
}

/// A candidate in the pool: higher `score` goes first.
#[derive(Debug, Clone)]
struct Candidate {
    score: u64,
    db: u8,
    key: Bytes,
    hash: u64,
    /// Its size when sampled (a pooled key may have changed since: the next round makes up).
    bytes: u64,
}

async fn evict(evictor: &Evictor, pool: &mut Vec<Candidate>) -> anyhow::Result<()> {
    for _ in 0..ROUNDS_MAX {
        let limits = Limits::of(&evictor.replica, &evictor.settings);
        let used = evictor.replica.keyspace.used_bytes();
        if limits.policy == Policy::NoEviction || !limits.over(used) {
            return Ok(());
        }
        let sizes = evictor.replica.keyspace.db_sizes()?;
        // Victims until what they free brings the dataset back under the limit, as Redis
        // evicts until it is under: no more, so a round never makes room for keys that
        // would have been evicted had they come a moment earlier.
        let excess = used - limits.maxmemory;
        // Sampling reads the store for a while (up to 512 picks): off the async workers, so
        // heartbeats and clients are not held up behind it.
        let (replica, mut p) = (evictor.replica.clone(), std::mem::take(pool));
        let (victims, p) = tokio::task::spawn_blocking(move || {
            let victims = choose(&replica, &limits, &sizes, &mut p, excess);
            (victims, p)
        })
        .await?;
        *pool = p;
        let victims = victims?;
        if victims.is_empty() {
            return Ok(());
        }
        let mut by_db: Vec<(u8, Vec<Bytes>)> = Vec::new();
        for c in &victims {
            evictor.replica.access.forget(c.db, c.hash);
            match by_db.iter_mut().find(|(db, _)| *db == c.db) {
                Some((_, keys)) => keys.push(c.key.clone()),
                None => by_db.push((c.db, vec![c.key.clone()])),
            }
        }
        let ops = by_db
            .into_iter()
            .map(|(db, keys)| OpKind::Evict { db, keys })
            .collect();
        for r in evictor.cluster.proposer.propose(ops).await {
            if let Reply::Integer(removed) = r? {
                Stats::add(&evictor.stats.evicted_keys, removed.max(0) as u64);
            }
        }
    }
    Ok(())
}

/// Picks distinct victims under `limits.policy` until deleting them frees `excess` bytes,
/// [`ROUND_KEYS_MAX`] at most.
fn choose(
    replica: &Replica,
    limits: &Limits,
    sizes: &[(u8, u64, u64)],
    pool: &mut Vec<Candidate>,
    excess: u64,
) -> anyhow::Result<Vec<Candidate>> {
    let volatile = limits.policy.volatile();
    let dbs: Vec<u8> = sizes
        .iter()
        .filter(|(_, keys, expires)| if volatile { *expires > 0 } else { *keys > 0 })
        .map(|(db, _, _)| *db)
        .filter(|db| *db < DATABASES)
        .collect();
    if limits.policy == Policy::VolatileTtl {
        // The soonest deadlines of every database, soonest first.
        let mut all = Vec::new();
        for db in &dbs {
            for s in replica
                .keyspace
                .soonest_expiring(*db, excess, ROUND_KEYS_MAX)?
            {
                let at = s.expire_at_ms.unwrap_or(u64::MAX);
                all.push(candidate(*db, s, u64::MAX - at));
            }
        }
        all.sort_by_key(|c| std::cmp::Reverse(c.score));
        let mut freed = 0u64;
        all.retain(|c| {
            let take = freed < excess;
            freed = freed.saturating_add(c.bytes);
            take
        });
        all.truncate(ROUND_KEYS_MAX);
        return Ok(all);
    }
    let now = now_ms();
    let mut victims: Vec<Candidate> = Vec::new();
    // (db, key hash) of the victims so far.
    let mut chosen: HashSet<(u8, u64)> = HashSet::new();
    let mut freed = 0u64;
    // Each pick refills the pool with fresh samples, as Redis's evictionPoolPopulate does.
    while freed < excess && victims.len() < ROUND_KEYS_MAX {
        for db in &dbs {
            // Victims of this round are still stored: sample past them.
            let fresh = |key: &[u8]| {
                !chosen.contains(&(*db, scan_hash(key)))
                    && !pool.iter().any(|c| c.db == *db && c.key == key)
            };
            let from = rand::random::<u64>();
            let sampled =
                replica
                    .keyspace
                    .sample(*db, from, volatile, limits.samples, SCAN_MAX, &fresh)?;
            for s in sampled {
                pool.push(candidate(*db, s, 0));
            }
        }
        // Accesses since a candidate entered the pool count.
        for c in pool.iter_mut() {
            c.score = score(replica, limits, c.db, c.hash, now);
        }
        pool.sort_by_key(|c| std::cmp::Reverse(c.score));
        pool.truncate(POOL_SIZE);
        if pool.is_empty() {
            break;
        }
        let victim = pool.remove(0);
        freed = freed.saturating_add(victim.bytes);
        chosen.insert((victim.db, victim.hash));
        victims.push(victim);
    }
    Ok(victims)
}

fn candidate(db: u8, s: Sampled, score: u64) -> Candidate {
    Candidate {
        score,
        db,
        key: s.key,
        hash: s.hash,
        bytes: s.bytes,
    }
}

/// How strongly a key should go: its idle time (LRU), 255 minus its LFU counter (LFU), or a
/// random number (random policies).
fn score(replica: &Replica, limits: &Limits, db: u8, hash: u64, now: u64) -> u64 {
    match limits.policy {
        Policy::AllKeysLru | Policy::VolatileLru => {
            replica.access.observe(db, hash, now, limits.lfu).0
        }
        Policy::AllKeysLfu | Policy::VolatileLfu => {
            u64::from(u8::MAX - replica.access.observe(db, hash, now, limits.lfu).1)
        }
        _ => rand::random(),
    }
}
