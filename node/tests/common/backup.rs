//! Helpers for the backup tests: an S3-compatible server (s3s-fs, which checks request
//! signatures) on loopback, the `cairn backup` CLI, and a dataset of every type with TTLs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::{free_port, wait_for, NodeProc, BIN};

pub const ACCESS_KEY: &str = "cairn-test-access";
pub const SECRET_KEY: &str = "cairn-test-secret-key";
pub const BUCKET: &str = "backups";

/// s3s-fs serving a temporary directory; killed by its pid on drop.
pub struct S3Server {
    pub port: u16,
    pub root: tempfile::TempDir,
    child: Child,
}

fn s3s_fs_binary() -> PathBuf {
    if let Ok(p) = std::env::var("S3S_FS") {
        return PathBuf::from(p);
    }
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"));
    let p = home.join("bin/s3s-fs");
    assert!(
        p.exists(),
        "the backup tests need s3s-fs: `cargo install --locked s3s-fs@0.14.1 --features binary` (scripts/test.sh does this)"
    );
    p
}

impl S3Server {
    pub fn start() -> S3Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(BUCKET)).unwrap();
        let port = free_port();
        let child = Self::spawn(port, root.path());
        S3Server { port, root, child }
    }

    fn spawn(port: u16, root: &std::path::Path) -> Child {
        let child = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(Duration::from_secs(10), "s3s-fs to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        child
    }

    /// SIGKILL, whatever it was doing (requests in flight fail midway).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port and files.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Self::spawn(self.port, self.root.path());
    }

    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    /// The environment a client of this server needs (the standard AWS variables).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Where an object is on disk.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(key)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cairn <args>` with `env`; its output.
pub fn cairn(args: &[&str], env: &[(String, String)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).stdin(Stdio::null());
    c.env_remove("CAIRN_BACKUP_KEY");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Runs `cairn <args>`, asserts success, returns stdout.
pub fn cairn_ok(args: &[&str], env: &[(String, String)]) -> String {
    let out = cairn(args, env);
    assert!(
        out.status.success(),
        "cairn {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Writes `n` keys through `node`: strings (a fifth of them with TTLs), hashes, lists, sets
/// and sorted sets, pipelined.
pub fn fill(node: &NodeProc, n: usize) {
    let mut c = node.conn();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut p = redis::pipe();
        for &i in chunk {
            match i % 10 {
                0 => p
                    .cmd("HSET")
                    .arg(format!("h:{i}"))
                    .arg(&["a", "1", "b", &i.to_string()][..]),
                1 => p
                    .cmd("RPUSH")
                    .arg(format!("l:{i}"))
                    .arg(&["x", "y", &i.to_string()][..]),
                2 => p
                    .cmd("SADD")
                    .arg(format!("s:{i}"))
                    .arg(&["p", "q", &i.to_string()][..]),
                3 => p
                    .cmd("ZADD")
                    .arg(format!("z:{i}"))
                    .arg(&["1.5", "m", &i.to_string(), "n"][..]),
                4 | 5 => p
                    .cmd("SET")
                    .arg(format!("t:{i}"))
                    .arg(format!("v{i}"))
                    .arg("EX")
                    .arg(3600 + i),
                _ => p.cmd("SET").arg(format!("k:{i}")).arg(format!("value-{i}")),
            };
        }
        p.query::<()>(&mut c).unwrap();
    }
}

/// Every key of db 0 with its type, value and TTL (seconds, -1 for none).
pub fn dump(node: &NodeProc) -> BTreeMap<String, (String, Vec<String>, i64)> {
    let mut c = node.conn();
    let mut keys: Vec<String> = Vec::new();
    let mut cursor = 0u64;
    for _ in 0..1_000_000 {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query(&mut c)
            .unwrap();
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let mut out = BTreeMap::new();
    for chunk in keys.chunks(500) {
        let mut p = redis::pipe();
        for k in chunk {
            p.cmd("TYPE").arg(k).cmd("TTL").arg(k);
        }
        let meta: Vec<(String, i64)> = p.query(&mut c).unwrap();
        let mut p = redis::pipe();
        for (k, (t, _)) in chunk.iter().zip(&meta) {
            match t.as_str() {
                "string" => p.cmd("GET").arg(k),
                "hash" => p.cmd("HGETALL").arg(k),
                "list" => p.cmd("LRANGE").arg(k).arg(0).arg(-1),
                "set" => p.cmd("SMEMBERS").arg(k),
                "zset" => p.cmd("ZRANGE").arg(k).arg(0).arg(-1).arg("WITHSCORES"),
                other => panic!("unexpected type {other}"),
            };
        }
        let values: Vec<redis::Value> = p.query(&mut c).unwrap();
        for ((k, (t, ttl)), v) in chunk.iter().zip(meta).zip(values) {
            let mut items: Vec<String> = match v {
                redis::Value::Array(items) => items
                    .into_iter()
                    .map(|i| redis::from_redis_value::<String>(&i).unwrap())
                    .collect(),
                redis::Value::Map(pairs) => pairs
                    .into_iter()
                    .flat_map(|(a, b)| [a, b])
                    .map(|i| redis::from_redis_value::<String>(&i).unwrap())
                    .collect(),
                other => vec![redis::from_redis_value::<String>(&other).unwrap()],
            };
            if t == "set" || t == "hash" {
                items.sort();
            }
            out.insert(k.clone(), (t, items, ttl));
        }
    }
    out
}

/// Asserts two dumps hold the same keys, types and values, and TTLs within `slack` seconds.
pub fn assert_same(
    a: &BTreeMap<String, (String, Vec<String>, i64)>,
    b: &BTreeMap<String, (String, Vec<String>, i64)>,
    slack: i64,
) {
    assert_eq!(a.len(), b.len(), "key counts differ");
    for (k, (t, v, ttl)) in a {
        let (t2, v2, ttl2) = b
            .get(k)
            .unwrap_or_else(|| panic!("{k} missing after restore"));
        assert_eq!((t, v), (t2, v2), "{k} differs");
        if *ttl < 0 {
            assert_eq!(ttl, ttl2, "{k}: TTL");
        } else {
            assert!(
                *ttl2 >= 0 && (ttl - ttl2).abs() <= slack,
                "{k}: TTL {ttl} became {ttl2}"
            );
        }
    }
}
