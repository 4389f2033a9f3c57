//! Server-wide counters for INFO.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub expired_keys: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Every counter with its INFO stats name, for INFO, metrics and CONFIG RESETSTAT.
    pub fn named(&self) -> [(&'static str, &AtomicU64); 8] {
        [
            ("total_connections_received", &self.connections_received),
            ("total_commands_processed", &self.commands_processed),
            ("total_net_input_bytes", &self.net_input_bytes),
            ("total_net_output_bytes", &self.net_output_bytes),
            ("rejected_connections", &self.rejected_connections),
            ("expired_keys", &self.expired_keys),
            ("keyspace_hits", &self.keyspace_hits),
            ("keyspace_misses", &self.keyspace_misses),
        ]
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for (_, c) in self.named() {
            c.store(0, Ordering::Relaxed);
        }
    }
}
