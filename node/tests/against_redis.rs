//! Goal: BITFIELD and the HyperLogLog commands answer exactly as redis-server does, replies,
//! errors and stored bytes alike.
//! Method: differential: the same random commands (every type width, offsets in both forms,
//! all OVERFLOW modes, bad types and offsets; PFADD/PFMERGE/PFCOUNT over shared keys; not
//! damaged HLLs, where Redis may still edit a sparse one that cairn refuses) go to
//! Debian's redis-server (started here on loopback) and through a follower of a 3-node
//! cluster; every reply and every final value must be equal. Skipped where redis-server is
//! not installed, except in CI (CI=true).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{free_port, wait_for, Cluster};
use rand::{Rng, SeedableRng};

struct RedisServer {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis_server() -> Option<RedisServer> {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(std::env::var("CI").is_err(), "CI=true but no redis-server");
        eprintln!("skipped: no redis-server");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(10), "redis-server", || {
        let c = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
        let mut c = c.get_connection().ok()?;
        redis::cmd("PING").query::<String>(&mut c).ok()
    });
    Some(RedisServer {
        port,
        child,
        _dir: dir,
    })
}

/// A reply or an error, comparable across the two servers.
fn run(c: &mut redis::Connection, cmd: &[String]) -> Result<redis::Value, String> {
    let mut command = redis::cmd(&cmd[0]);
    for a in &cmd[1..] {
        command.arg(a);
    }
    command
        .query::<redis::Value>(c)
        .map_err(|e| format!("{}: {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")))
}

fn bitfield_cmd(rng: &mut impl Rng) -> Vec<String> {
    let name = if rng.gen_bool(0.1) {
        "BITFIELD_RO"
    } else {
        "BITFIELD"
    };
    let mut cmd = vec![name.to_string(), format!("b{}", rng.gen_range(0..3))];
    for _ in 0..rng.gen_range(1..5) {
        let op = ["GET", "SET", "INCRBY", "OVERFLOW"][rng.gen_range(0..4)];
        if op == "OVERFLOW" {
            let modes = ["WRAP", "SAT", "FAIL", "SOMETIMES"];
            let n = if rng.gen_bool(0.02) { 4 } else { 3 };
            cmd.extend([op.to_string(), modes[rng.gen_range(0..n)].to_string()]);
            continue;
        }
        let widths = [0, 1, 2, 3, 7, 8, 13, 16, 31, 32, 33, 63, 64, 65];
        let ty = format!(
            "{}{}",
            ["i", "u"][rng.gen_range(0..2)],
            widths[rng.gen_range(0..widths.len())]
        );
        let offset = match rng.gen_range(0..10) {
            0 => format!("#{}", rng.gen_range(0..12)),
            1 => "-3".to_string(),
            _ => rng.gen_range(0..120).to_string(),
        };
        cmd.extend([op.to_string(), ty, offset]);
        if op != "GET" {
            let values = [
                0,
                1,
                -1,
                127,
                128,
                255,
                256,
                -128,
                -129,
                1 << 31,
                1 << 62,
                i64::MIN,
                i64::MAX,
            ];
            let v = if rng.gen_bool(0.3) {
                rng.gen_range(-1_000_000..1_000_000)
            } else {
                values[rng.gen_range(0..values.len())]
            };
            cmd.push(v.to_string());
        }
    }
    cmd
}

fn hll_cmd(rng: &mut impl Rng) -> Vec<String> {
    let key = |rng: &mut dyn rand::RngCore| format!("h{}", rng.gen_range(0..4));
    match rng.gen_range(0..10) {
        0..=5 => {
            let mut cmd = vec!["PFADD".to_string(), key(rng)];
            let n = if rng.gen_bool(0.1) {
                400
            } else {
                rng.gen_range(0..8)
            };
            cmd.extend((0..n).map(|_| rng.gen_range(0..5000).to_string()));
            cmd
        }
        6 | 7 => vec!["PFCOUNT".into(), key(rng), key(rng)],
        _ => vec!["PFMERGE".into(), key(rng), key(rng), key(rng)],
    }
}

#[test]
fn bitfield_and_hyperloglog_answer_as_redis_server_does() {
    let Some(reference) = redis_server() else {
        return;
    };
    let cluster = Cluster::start(3, &[]);
    let mut ours = cluster.node(cluster.follower()).conn();
    let mut theirs = redis::Client::open(format!("redis://127.0.0.1:{}", reference.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261206);
    for i in 0..1500 {
        let cmd = if i % 2 == 0 {
            bitfield_cmd(&mut rng)
        } else {
            hll_cmd(&mut rng)
        };
        let (a, b) = (run(&mut theirs, &cmd), run(&mut ours, &cmd));
        assert_eq!(a, b, "{cmd:?}");
    }
    for key in ["b0", "b1", "b2", "h0", "h1", "h2", "h3"] {
        let get = vec!["GET".to_string(), key.to_string()];
        assert_eq!(run(&mut theirs, &get), run(&mut ours, &get), "{key}");
    }
}
