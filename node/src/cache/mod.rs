//! Redis as a cache: key accesses for LRU/LFU (`access`), maxmemory and eviction, active
//! expiry, keyspace hit/miss accounting (`lookups`), and client-side caching (`tracking`).
//! Eviction and active expiry are decided by the leader only and replicated as log entries.

pub mod access;
pub mod eviction;
pub mod expiry;
pub mod lookups;
pub mod tracking;
