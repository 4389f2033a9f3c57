//! Access tracking for LRU and LFU eviction, OBJECT IDLETIME and OBJECT FREQ.
//!
//! Accesses are not replicated state: each node records, in memory, the keys its clients
//! read and write, by (db, scan hash of the key), with Redis's per-key facts: the time of the
//! last access (LRU) and the logarithmic access counter with its decay (LFU, `lfu-log-factor`,
//! `lfu-decay-time`). Only the leader evicts, so a follower also queues its accesses and
//! [`spawn_reporter`] sends them to the leader in one bounded `Touch` call per period, where
//! they count as accesses at the time they arrive. The approximation (see docs/DECISIONS.md,
//! "Eviction"): a follower's access reaches the leader up to one period late, accesses beyond
//! [`REPORT_KEYS_MAX`] distinct keys in a period are dropped, a new leader starts with what
//! it saw itself, and each node tracks at most [`SHARDS`] × [`SHARD_KEYS_MAX`] keys (when a
//! shard fills, its least recently used half is forgotten).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_raft::network::{Touched, TOUCH_BATCH_MAX};
use cairn_raft::types::now_ms;
use rustc_hash::FxHashMap as HashMap;

use crate::cluster::handle::Cluster;

const SHARDS: usize = 16;
/// Keys tracked per shard, at most (a million per node).
const SHARD_KEYS_MAX: usize = 1 << 16;
/// Distinct keys a follower reports per period, at most; later ones wait for no one.
pub const REPORT_KEYS_MAX: usize = TOUCH_BATCH_MAX;
/// How often a follower reports its accesses to the leader.
const REPORT_EVERY: Duration = Duration::from_millis(100);
const REPORT_TIMEOUT: Duration = Duration::from_millis(500);
/// Redis's LFU counter of a new key (`LFU_INIT_VAL`), so new keys are not evicted first.
pub const LFU_INIT_VAL: u8 = 5;

/// What one key's accesses left behind: 16 bytes, so tracking a million keys costs about
/// 24 MiB with the map's key (see [`slot`]).
#[derive(Debug, Clone, Copy)]
struct Entry {
    last_ms: u64,
    /// When the counter was last decremented by decay (unix minutes).
    decayed_min: u32,
    /// Redis's 8-bit logarithmic counter.
    counter: u8,
}

/// The map key of (db, scan hash): the hash, salted per database. A collision of two keys
/// only merges their access facts, which are hints.
fn slot(db: u8, hash: u64) -> u64 {
    hash ^ u64::from(db).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Unix minutes, as the decay counts them.
fn minutes(now_ms: u64) -> u32 {
    u32::try_from(now_ms / 60_000).unwrap_or(u32::MAX)
}

/// The LFU settings (Redis's `lfu-log-factor`, `lfu-decay-time` in minutes).
#[derive(Debug, Clone, Copy)]
pub struct Lfu {
    pub log_factor: u64,
    pub decay_minutes: u64,
}

impl Lfu {
    /// Redis's `LFUDecrAndReturn`: one decrement per `lfu-decay-time` minutes idle.
    fn decayed(&self, e: &Entry, now_ms: u64) -> u8 {
        if self.decay_minutes == 0 {
            return e.counter;
        }
        let periods = u64::from(minutes(now_ms).saturating_sub(e.decayed_min)) / self.decay_minutes;
        u8::try_from(u64::from(e.counter).saturating_sub(periods)).unwrap_or(0)
    }

    /// Redis's `LFULogIncr`: the higher the counter, the less likely an access raises it.
    fn incremented(&self, counter: u8) -> u8 {
        if counter == u8::MAX {
            return counter;
        }
        let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
        let p = 1.0 / (base * self.log_factor as f64 + 1.0);
        if rand::random::<f64>() < p {
            counter + 1
        } else {
            counter
        }
    }
}

#[derive(Default)]
pub struct Access {
    shards: [Mutex<HashMap<u64, Entry>>; SHARDS],
    /// A follower's accesses since its last report: (db, hash) → count.
    pending: Mutex<HashMap<(u8, u64), u32>>,
}

fn shard_of(hash: u64) -> usize {
    (hash >> 60) as usize % SHARDS
}

impl Access {
    fn shard(&self, hash: u64) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        // A poisoned shard only holds access facts, never wrong data: keep using it.
        self.shards[shard_of(hash)]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records `hits` accesses to the key (db, hash) at `now_ms`; `report` also queues them
    /// for the leader (this node follows).
    pub fn touch(&self, db: u8, hash: u64, hits: u32, now_ms: u64, lfu: Lfu, report: bool) {
        {
            let mut shard = self.shard(hash);
            let e = tracked(&mut shard, db, hash, now_ms);
            let mut counter = lfu.decayed(e, now_ms);
            for _ in 0..hits.min(u32::from(u8::MAX)) {
                counter = lfu.incremented(counter);
            }
            *e = Entry {
                last_ms: e.last_ms.max(now_ms),
                counter,
                decayed_min: minutes(now_ms),
            };
        }
        if report {
            let mut pending = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let len = pending.len();
            if let Some(n) = pending.get_mut(&(db, hash)) {
                *n = n.saturating_add(hits);
            } else if len < REPORT_KEYS_MAX {
                pending.insert((db, hash), hits);
            }
        }
    }

    /// Milliseconds since the key's last access here, and its LFU counter as of `now_ms`
    /// (decayed). A key this node never saw accessed (written through another node before
    /// a report arrived, or before this node began to lead) is tracked from now on as a new
    /// key: idle 0, Redis's initial counter; it ages from here, and is not counted as an
    /// access (OBJECT and the evictor's sampling do not touch keys, as in Redis).
    pub fn observe(&self, db: u8, hash: u64, now_ms: u64, lfu: Lfu) -> (u64, u8) {
        let mut shard = self.shard(hash);
        let e = tracked(&mut shard, db, hash, now_ms);
        (now_ms.saturating_sub(e.last_ms), lfu.decayed(e, now_ms))
    }

    /// Sets a key's facts as RESTORE's IDLETIME or FREQ asks (`idle_ms` before `now_ms`, or
    /// that LFU counter). Not reported to the leader: a hint, like every access fact.
    pub fn seed(&self, db: u8, hash: u64, now_ms: u64, idle_ms: Option<u64>, counter: Option<u8>) {
        let mut shard = self.shard(hash);
        let e = tracked(&mut shard, db, hash, now_ms);
        if let Some(idle) = idle_ms {
            e.last_ms = now_ms.saturating_sub(idle);
        }
        if let Some(c) = counter {
            e.counter = c;
            e.decayed_min = minutes(now_ms);
        }
    }

    /// Forgets a key (it was evicted).
    pub fn forget(&self, db: u8, hash: u64) {
        self.shard(hash).remove(&slot(db, hash));
    }

    /// The accesses queued for the leader, emptying the queue.
    fn take_report(&self) -> Vec<Touched> {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending
            .drain()
            .map(|((db, hash), n)| (db, hash, n))
            .collect()
    }

    /// Accesses another node reported: they count as accesses now.
    pub fn reported(&self, touched: Vec<Touched>, lfu: Lfu) {
        let now = now_ms();
        for (db, hash, n) in touched {
            self.touch(db, hash, n, now, lfu, false);
        }
    }
}

/// Drops the least recently used half of a full shard: O(n) once per n/2 new keys.
/// The key's entry, made as a new key's (idle 0, Redis's initial counter) if untracked; a
/// full shard first forgets its older half.
fn tracked(shard: &mut HashMap<u64, Entry>, db: u8, hash: u64, now_ms: u64) -> &mut Entry {
    let key = slot(db, hash);
    if shard.len() >= SHARD_KEYS_MAX && !shard.contains_key(&key) {
        forget_older_half(shard);
    }
    shard.entry(key).or_insert(Entry {
        last_ms: now_ms,
        counter: LFU_INIT_VAL,
        decayed_min: minutes(now_ms),
    })
}

fn forget_older_half(shard: &mut HashMap<u64, Entry>) {
    let mut times: Vec<u64> = shard.values().map(|e| e.last_ms).collect();
    let mid = times.len() / 2;
    let (_, median, _) = times.select_nth_unstable(mid);
    let median = *median;
    shard.retain(|_, e| e.last_ms > median);
}

/// On a follower, sends the accesses it served to the leader every [`REPORT_EVERY`]; a
/// report that fails is dropped (accesses are hints, not data).
pub fn spawn_reporter(access: Arc<Access>, cluster: Arc<Cluster>) {
    tokio::spawn(async move {
        let mut shutdown = cluster.shutdown.clone();
        let mut tick = tokio::time::interval(REPORT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let report = access.take_report();
            if report.is_empty() {
                continue;
            }
            let Some((leader, info)) = cluster.leader() else {
                continue;
            };
            if leader == cluster.id {
                continue;
            }
            if let Err(e) = cluster
                .peers
                .touch(&info.raft_addr, &report, REPORT_TIMEOUT)
                .await
            {
                tracing::debug!(leader, error = %e, "access report dropped");
            }
        }
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LFU: Lfu = Lfu {
        log_factor: 10,
        decay_minutes: 1,
    };

    #[test]
    fn lru_idle_time_and_lfu_counter_follow_accesses() {
        let a = Access::default();
        let t0 = 10 * 60_000;
        a.touch(0, 7, 1, t0, LFU, false);
        // The first accesses of a new key raise its counter with probability 1.
        assert_eq!(a.observe(0, 7, t0 + 1_500, LFU), (1_500, LFU_INIT_VAL + 1));
        // A key never accessed here starts as a new key when first observed, then ages.
        assert_eq!(a.observe(1, 7, t0, LFU), (0, LFU_INIT_VAL));
        assert_eq!(a.observe(1, 7, t0 + 900, LFU).0, 900);
        a.touch(0, 7, 200, t0, LFU, false);
        let (_, hot) = a.observe(0, 7, t0, LFU);
        // 200 accesses from 6: about 11 expected; 8 or less about once in a hundred runs
        // (seen in CI), 7 or less about once in ten thousand.
        assert!((LFU_INIT_VAL + 3..40).contains(&hot), "logarithmic: {hot}");
        // Three idle minutes take three off the counter.
        assert_eq!(a.observe(0, 7, t0 + 3 * 60_000, LFU).1, hot - 3);
        a.forget(0, 7);
        assert_eq!(a.observe(0, 7, t0, LFU), (0, LFU_INIT_VAL));
    }

    #[test]
    fn follower_reports_are_bounded_and_summed() {
        let a = Access::default();
        for h in 0..(REPORT_KEYS_MAX as u64 + 10) {
            a.touch(0, h, 1, 0, LFU, true);
        }
        a.touch(0, 0, 2, 0, LFU, true);
        let report = a.take_report();
        assert_eq!(report.len(), REPORT_KEYS_MAX);
        assert!(report.contains(&(0, 0, 3)));
        assert!(a.take_report().is_empty());
    }

    #[test]
    fn a_full_shard_forgets_its_least_recently_used_half() {
        let mut shard = HashMap::default();
        for t in 0..100u64 {
            shard.insert(
                t,
                Entry {
                    last_ms: t,
                    counter: 0,
                    decayed_min: 0,
                },
            );
        }
        forget_older_half(&mut shard);
        assert_eq!(shard.len(), 49);
        assert!(shard.keys().all(|t| *t > 50));
    }
}
