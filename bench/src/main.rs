//! `cairn-load`: one closed-loop load generator for every target the benchmarks compare, so a
//! table of cairn, redis-server and etcd measures the servers, not different clients.
//!
//! Each of `--clients` connections sends a request (or `--pipeline` requests back to back),
//! waits for the replies, and sends the next, until `--requests` have been answered in all.
//! Keys are `key:NNNNNNNNNNNN` drawn uniformly from `--keyspace`, values `--value-size` bytes,
//! as redis-benchmark's `-r`/`-d`. It prints one line:
//! `target op requests/s p50_ms p99_ms max_ms errors`.
//!
//! Targets: `resp://host:port` (RESP2 over TCP: cairn, redis-server) and `etcd://host:port`
//! (etcd's v3 gRPC KV API: Put, and Range with linearizable reads, etcd's default). Besides
//! SET and GET, RESP targets take PFADD, GEOADD and GEOSEARCH (`--op`).

mod etcd;
mod resp;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use rand::Rng;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "cairn-load",
    about = "Closed-loop SET/GET load for RESP and etcd targets"
)]
struct Args {
    /// `resp://host:port` or `etcd://host:port`.
    #[arg(long)]
    target: String,
    #[arg(long, value_enum)]
    op: Op,
    #[arg(long, default_value_t = 50)]
    clients: usize,
    #[arg(long, default_value_t = 100_000)]
    requests: u64,
    /// Requests each connection sends before it waits for their replies.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Keys are drawn from this many.
    #[arg(long, default_value_t = 100_000)]
    keyspace: u64,
    #[arg(long, default_value_t = 3)]
    value_size: usize,
    /// Keys in order (`key:0`, `key:1`, ...) instead of at random: `--requests` equal to
    /// `--keyspace` writes every key once (loading a dataset).
    #[arg(long)]
    sequential: bool,
    /// Give up after this long.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Set,
    Get,
    /// `PFADD hll <key>`: every request adds its key to one HyperLogLog (RESP only).
    Pfadd,
    /// `GEOADD geo <lon> <lat> <key>`, the point derived from the key (RESP only).
    Geoadd,
    /// `GEOSEARCH geo FROMLONLAT <lon> <lat> BYRADIUS 100 km ASC COUNT 10` around the key's
    /// point (RESP only): run after `geoadd` filled the set.
    Geosearch,
    /// `XADD stream * k <key>`: every request appends to one stream (RESP only).
    Xadd,
    /// A consumer-group worker's cycle: `XREADGROUP GROUP g <conn> COUNT 1 STREAMS stream >`
    /// then `XACK stream g <id>` of what it got (RESP only): run after `xadd` filled the
    /// stream and `XGROUP CREATE stream g 0`.
    Xreadgroup,
}

impl Op {
    /// Whether etcd has this operation (its KV API has no HyperLogLog or geo).
    pub fn on_etcd(self) -> bool {
        matches!(self, Op::Set | Op::Get)
    }
}

/// A key's point for the geo operations: spread over Europe, the same for the same key.
pub fn key_point(key: &[u8]) -> (String, String) {
    let h = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    let lon = -10.0 + (h % 40_000) as f64 / 1000.0;
    let lat = 35.0 + ((h >> 20) % 30_000) as f64 / 1000.0;
    (format!("{lon:.6}"), format!("{lat:.6}"))
}

/// One connection of a target: sends a batch of requests and waits for every reply.
trait Conn: Send {
    /// Runs one batch; how many replies were errors.
    fn batch<'a>(
        &'a mut self,
        op: Op,
        keys: &'a [Vec<u8>],
        value: &'a [u8],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<u64>> + Send + 'a>>;
}

async fn connect(target: &str) -> anyhow::Result<Box<dyn Conn>> {
    if let Some(addr) = target.strip_prefix("resp://") {
        Ok(Box::new(resp::RespConn::connect(addr).await?))
    } else if let Some(addr) = target.strip_prefix("etcd://") {
        Ok(Box::new(etcd::EtcdConn::connect(addr).await?))
    } else {
        bail!("a target is resp://host:port or etcd://host:port, not {target}")
    }
}

struct Totals {
    issued: AtomicU64,
    errors: AtomicU64,
}

async fn client(
    args: Args,
    totals: Arc<Totals>,
    deadline: Instant,
) -> anyhow::Result<Vec<Duration>> {
    let mut conn = connect(&args.target).await?;
    let value = vec![b'x'; args.value_size];
    let mut latencies = Vec::new();
    let mut keys = Vec::with_capacity(args.pipeline);
    loop {
        let start = totals
            .issued
            .fetch_add(args.pipeline as u64, Ordering::Relaxed);
        if start >= args.requests || Instant::now() > deadline {
            return Ok(latencies);
        }
        keys.clear();
        {
            let mut rng = rand::thread_rng();
            for i in 0..args.pipeline as u64 {
                let n = if args.sequential {
                    (start + i) % args.keyspace.max(1)
                } else {
                    rng.gen_range(0..args.keyspace.max(1))
                };
                keys.push(format!("key:{n:012}").into_bytes());
            }
        }
        let sent = Instant::now();
        let errors = conn.batch(args.op, &keys, &value).await?;
        latencies.push(sent.elapsed());
        totals.errors.fetch_add(errors, Ordering::Relaxed);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.target.starts_with("etcd://") && !args.op.on_etcd() {
        bail!("etcd has no {:?}", args.op);
    }
    let totals = Arc::new(Totals {
        issued: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.clients.max(1))
        .map(|_| tokio::spawn(client(args.clone(), totals.clone(), deadline)))
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.context("a client task")??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = latencies.len() as u64 * args.pipeline as u64;
    latencies.sort();
    println!(
        "{} {:?} {:.0} {:.3} {:.3} {:.3} {}",
        args.target,
        args.op,
        done as f64 / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        totals.errors.load(Ordering::Relaxed)
    );
    Ok(())
}
