//! A reference redis-server on loopback, for tests that compare cairn's answers with Redis's.
//! Absent outside CI, such tests are skipped (Debian's `redis-server`, which CI installs).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, wait_for};

pub struct RedisServer {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts redis-server on a free loopback port, or None (and a note) where it is not
/// installed; in CI (`CI` set) its absence fails the test.
pub fn redis_server() -> Option<RedisServer> {
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
