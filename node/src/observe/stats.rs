//! Server-wide counters for INFO.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Samples of total_commands_processed kept for instantaneous_ops_per_sec, as Redis keeps 16.
const OPS_SAMPLES: usize = 16;
/// How often commands_processed is sampled (Redis: every 100 ms).
pub const OPS_SAMPLE_EVERY: Duration = Duration::from_millis(100);

#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub expired_keys: AtomicU64,
    /// Keys this node deleted by eviction while it led.
    pub evicted_keys: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    /// Commands that panicked (a bug): each closed its connection after an error reply.
    pub connection_panics: AtomicU64,
    /// Linearizable reads served under the leader lease, with no round.
    pub lease_reads: AtomicU64,
    /// Read-index rounds this node started (each serves a batch of reads).
    pub read_index_rounds: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// The largest dataset size seen (INFO memory `used_memory_peak`).
    pub used_memory_peak: AtomicU64,
    /// (when, commands_processed) samples, oldest first.
    ops_samples: Mutex<VecDeque<(Instant, u64)>>,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Every counter with its INFO stats name, for INFO, metrics and CONFIG RESETSTAT.
    pub fn named(&self) -> [(&'static str, &AtomicU64); 12] {
        [
            ("total_connections_received", &self.connections_received),
            ("total_commands_processed", &self.commands_processed),
            ("total_net_input_bytes", &self.net_input_bytes),
            ("total_net_output_bytes", &self.net_output_bytes),
            ("rejected_connections", &self.rejected_connections),
            ("expired_keys", &self.expired_keys),
            ("evicted_keys", &self.evicted_keys),
            ("keyspace_hits", &self.keyspace_hits),
            ("keyspace_misses", &self.keyspace_misses),
            ("cairn_connection_panics", &self.connection_panics),
            ("cairn_lease_reads", &self.lease_reads),
            ("cairn_read_index_rounds", &self.read_index_rounds),
        ]
    }

    /// CONFIG RESETSTAT. The memory peak stays, as in Redis.
    pub fn reset(&self) {
        for (_, c) in self.named() {
            c.store(0, Ordering::Relaxed);
        }
        self.samples().clear();
    }

    /// Counts a key lookup of a read as a hit or a miss.
    pub fn lookup(&self, hit: bool) {
        Stats::add(
            if hit {
                &self.keyspace_hits
            } else {
                &self.keyspace_misses
            },
            1,
        );
    }

    /// Raises the memory peak to `used` if it is higher.
    pub fn note_used_memory(&self, used: u64) {
        self.used_memory_peak.fetch_max(used, Ordering::Relaxed);
    }

    fn samples(&self) -> std::sync::MutexGuard<'_, VecDeque<(Instant, u64)>> {
        self.ops_samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records commands_processed now; called every [`OPS_SAMPLE_EVERY`].
    pub fn sample_ops(&self, now: Instant) {
        let total = Stats::get(&self.commands_processed);
        let mut samples = self.samples();
        if samples.len() >= OPS_SAMPLES {
            samples.pop_front();
        }
        samples.push_back((now, total));
    }

    /// Commands per second over the sampled window (about the last 1.6 s).
    pub fn instantaneous_ops(&self) -> u64 {
        let samples = self.samples();
        match (samples.front(), samples.back()) {
            (Some((t0, n0)), Some((t1, n1))) if t1 > t0 => {
                let secs = t1.duration_since(*t0).as_secs_f64();
                (n1.saturating_sub(*n0) as f64 / secs).round() as u64
            }
            _ => 0,
        }
    }
}

/// Samples commands_processed every [`OPS_SAMPLE_EVERY`] for instantaneous_ops_per_sec.
pub fn spawn_sampler(stats: std::sync::Arc<Stats>, shutdown: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut shutdown = shutdown;
        let mut tick = tokio::time::interval(OPS_SAMPLE_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => stats.sample_ops(Instant::now()),
                _ = shutdown.changed() => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_per_second_over_the_sampled_window_and_reset() {
        let s = Stats::default();
        let t0 = Instant::now();
        s.sample_ops(t0);
        Stats::add(&s.commands_processed, 50);
        s.sample_ops(t0 + Duration::from_millis(500));
        assert_eq!(s.instantaneous_ops(), 100);
        Stats::add(&s.evicted_keys, 3);
        s.note_used_memory(10);
        s.reset();
        assert_eq!(Stats::get(&s.evicted_keys), 0);
        assert_eq!(Stats::get(&s.used_memory_peak), 10);
        assert_eq!(s.instantaneous_ops(), 0);
    }
}
