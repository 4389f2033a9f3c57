//! A Zipfian cache workload for `scripts/bench-cache.sh`: GETs and SETs over a fixed key space,
//! the key of each operation drawn from a Zipf distribution, against any RESP server.
//!
//!   cache_bench --port P [--keys N] [--ops M] [--warmup W] [--clients C] [--get-percent G]
//!               [--theta T] [--value-bytes B] [--seed S] [--prefill] [--prefill-only]
//!
//! Phases: an optional prefill (every key SET once, pipelined), a warm-up of W operations and
//! the measured run of M operations, split over C connections, each with its own seeded
//! random stream, so two servers get exactly the same operations. Prints `key=value` lines:
//! the measured operations, seconds, operations per second, GETs, hits and the hit ratio.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use rand::{Rng, SeedableRng};

struct Args {
    port: u16,
    keys: u64,
    ops: u64,
    warmup: u64,
    clients: u64,
    get_percent: u32,
    theta: f64,
    value_bytes: usize,
    seed: u64,
    prefill: bool,
    prefill_only: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        port: 6379,
        keys: 1_000_000,
        ops: 1_000_000,
        warmup: 500_000,
        clients: 32,
        get_percent: 90,
        theta: 0.99,
        value_bytes: 100,
        seed: 1,
        prefill: false,
        prefill_only: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).expect("a value after the flag").clone();
        match args[i].as_str() {
            "--port" => a.port = value().parse().expect("--port"),
            "--keys" => a.keys = value().parse().expect("--keys"),
            "--ops" => a.ops = value().parse().expect("--ops"),
            "--warmup" => a.warmup = value().parse().expect("--warmup"),
            "--clients" => a.clients = value().parse().expect("--clients"),
            "--get-percent" => a.get_percent = value().parse().expect("--get-percent"),
            "--theta" => a.theta = value().parse().expect("--theta"),
            "--value-bytes" => a.value_bytes = value().parse().expect("--value-bytes"),
            "--seed" => a.seed = value().parse().expect("--seed"),
            "--prefill" => {
                a.prefill = true;
                i += 1;
                continue;
            }
            "--prefill-only" => {
                a.prefill = true;
                a.prefill_only = true;
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

/// Zipf over ranks 0..n by inverse CDF (exact; n f64s of memory).
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: u64, theta: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n as usize);
        let mut total = 0.0;
        for rank in 0..n {
            total += 1.0 / ((rank + 1) as f64).powf(theta);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut impl Rng) -> u64 {
        let u: f64 = rng.gen();
        self.cdf.partition_point(|c| *c < u) as u64
    }
}

/// The key of a rank: ranks are spread over the key space by a fixed permutation, so hot keys
/// are not neighbours.
fn key(rank: u64, keys: u64) -> String {
    const PRIME: u64 = 999_983;
    format!("key:{}", (rank % keys) * PRIME % keys)
}

fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

fn prefill(a: &Args, value: &str) {
    std::thread::scope(|s| {
        for c in 0..a.clients {
            s.spawn(move || {
                let mut conn = connect(a.port);
                let mut pipe = redis::pipe();
                let mut n = 0;
                for k in (c..a.keys).step_by(a.clients as usize) {
                    pipe.cmd("SET").arg(key(k, a.keys)).arg(value).ignore();
                    n += 1;
                    if n % 64 == 0 {
                        let _: () = pipe.query(&mut conn).unwrap();
                        pipe = redis::pipe();
                    }
                }
                let _: () = pipe.query(&mut conn).unwrap();
            });
        }
    });
}

/// `call`'s result, retried as a client library would while the server answers TRYAGAIN
/// (a cairn follower whose apply waits for a snapshot) or CLUSTERDOWN (an election), for
/// up to 30 s.
fn retrying<T>(mut call: impl FnMut() -> redis::RedisResult<T>) -> T {
    for _ in 0..3000 {
        match call() {
            Err(e) if matches!(e.code(), Some("TRYAGAIN" | "CLUSTERDOWN")) => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => return r.unwrap(),
        }
    }
    call().unwrap()
}

/// Runs `ops` operations over the connections; returns (GETs, hits).
fn run(a: &Args, zipf: &Zipf, value: &str, ops: u64, phase: u64) -> (u64, u64) {
    let per = ops / a.clients;
    let totals: Vec<(u64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..a.clients)
            .map(|c| {
                s.spawn(move || {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(
                        a.seed.wrapping_mul(1_000_003) ^ (phase << 32) ^ c,
                    );
                    let mut conn = connect(a.port);
                    let (mut gets, mut hits) = (0, 0);
                    for _ in 0..per {
                        let k = key(zipf.sample(&mut rng), a.keys);
                        if rng.gen_range(0..100) < a.get_percent {
                            let v: Option<Vec<u8>> =
                                retrying(|| redis::cmd("GET").arg(&k).query(&mut conn));
                            gets += 1;
                            hits += u64::from(v.is_some());
                        } else {
                            retrying(|| {
                                redis::cmd("SET").arg(&k).arg(value).query::<()>(&mut conn)
                            });
                        }
                    }
                    (gets, hits)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    totals
        .into_iter()
        .fold((0, 0), |(g, h), (g2, h2)| (g + g2, h + h2))
}

fn main() {
    let a = parse_args();
    let value = "v".repeat(a.value_bytes);
    if a.prefill {
        let t = Instant::now();
        prefill(&a, &value);
        println!("prefill_secs={:.1}", t.elapsed().as_secs_f64());
        if a.prefill_only {
            return;
        }
    }
    let zipf = Zipf::new(a.keys, a.theta);
    run(&a, &zipf, &value, a.warmup, 1);
    let t = Instant::now();
    let (gets, hits) = run(&a, &zipf, &value, a.ops, 2);
    let secs = t.elapsed().as_secs_f64();
    let done = a.ops / a.clients * a.clients;
    println!("ops={done}");
    println!("secs={secs:.2}");
    println!("ops_per_sec={:.0}", done as f64 / secs);
    println!("gets={gets}");
    println!("hits={hits}");
    println!("hit_ratio={:.4}", hits as f64 / gets.max(1) as f64);
}
