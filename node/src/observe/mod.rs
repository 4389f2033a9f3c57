//! What a node tells about itself: INFO and ROLE, server counters (`stats`), Prometheus metrics
//! and the HTTP endpoint that serves them with the health checks, SLOWLOG, LATENCY and
//! MONITOR. Nothing here changes data.

pub mod http;
pub mod info;
pub mod latency;
pub mod metrics;
pub mod monitor;
pub mod slowlog;
pub mod stats;
