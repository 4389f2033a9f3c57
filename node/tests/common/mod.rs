//! A harness that runs real `cairn` processes on loopback, on free ports, with data dirs in a
//! temporary directory. Nodes are stopped by their own PIDs (SIGKILL through `Child::kill`,
//! or signals by pid); every wait is a condition polled with a deadline.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod backup;
pub mod reference;

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cairn");

/// Polls `f` every 50 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The wall clock as milliseconds since the Unix epoch (to compare with TIME, LASTSAVE).
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A port no one listens on, for a node to bind a moment later. Taken below Linux's ephemeral
/// range (32768-60999): a port the kernel handed out as "free" there can be given to an
/// outgoing connection (a client, a peer channel) before the node binds it, which made
/// nodes fail with "address in use". Each test process walks its own sequence from an
/// offset derived from its pid, so parallel test binaries rarely try the same port.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(LOW + (base + n) % SPAN).unwrap();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {LOW} and {}", LOW + SPAN);
}

pub struct NodeProc {
    pub id: u64,
    pub port: u16,
    pub raft_port: u16,
    pub http_port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    /// `--requirepass` of the cluster, used by the harness's own connections.
    pub password: Option<String>,
    child: Option<Child>,
}

impl NodeProc {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).unwrap()
    }

    /// A connection with read and write timeouts, so a test never hangs on a dead node.
    pub fn conn(&self) -> redis::Connection {
        let c = self
            .client()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to node {}: {e}", self.id));
        c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        c.set_write_timeout(Some(Duration::from_secs(15))).unwrap();
        c
    }

    pub fn try_conn(&self) -> Option<redis::Connection> {
        let c = self
            .client()
            .get_connection_with_timeout(Duration::from_millis(500))
            .ok()?;
        c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        Some(c)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub struct Cluster {
    pub nodes: Vec<NodeProc>,
    pub spec: String,
    pub extra: Vec<String>,
    /// Environment variables the nodes are started with.
    pub env: Vec<(String, String)>,
    // Kept last so the directory outlives the processes using it.
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts `n` nodes and waits until they agree on a leader.
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        let mut c = Cluster::unstarted(n, extra);
        c.launch();
        c
    }

    /// Starts every node and waits until they agree on a leader.
    pub fn launch(&mut self) {
        for i in 1..=self.nodes.len() as u64 {
            self.spawn(i);
        }
        self.wait_leader(Duration::from_secs(20));
    }

    /// `n` nodes with ports and data dirs, none started yet (e.g. to restore data dirs first).
    pub fn unstarted(n: usize, extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let password = extra
            .iter()
            .position(|a| *a == "--requirepass")
            .and_then(|i| extra.get(i + 1))
            .map(|p| p.to_string());
        let mut nodes = Vec::new();
        for i in 1..=n as u64 {
            nodes.push(NodeProc {
                id: i,
                port: free_port(),
                raft_port: free_port(),
                http_port: free_port(),
                data_dir: dir.path().join(format!("node{i}")),
                log: dir.path().join(format!("node{i}.log")),
                password: password.clone(),
                child: None,
            });
        }
        let spec = nodes
            .iter()
            .map(|n| format!("{}=127.0.0.1:{}@{}", n.id, n.port, n.raft_port))
            .collect::<Vec<_>>()
            .join(",");
        Cluster {
            nodes,
            spec,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            dir,
        }
    }

    pub fn node(&self, id: u64) -> &NodeProc {
        &self.nodes[(id - 1) as usize]
    }

    /// Adds node `n + 1` to the harness (free ports, its own data dir) and to the spec the
    /// nodes are started with, without starting it; its id.
    pub fn add_node(&mut self) -> u64 {
        let id = self.nodes.len() as u64 + 1;
        let n = NodeProc {
            id,
            port: free_port(),
            raft_port: free_port(),
            http_port: free_port(),
            data_dir: self.dir.path().join(format!("node{id}")),
            log: self.dir.path().join(format!("node{id}.log")),
            password: self.nodes.first().and_then(|n| n.password.clone()),
            child: None,
        };
        self.spec
            .push_str(&format!(",{id}=127.0.0.1:{}@{}", n.port, n.raft_port));
        self.nodes.push(n);
        id
    }

    /// Starts node `id` (again) from its data dir.
    pub fn spawn(&mut self, id: u64) {
        self.spawn_with(id, &[]);
    }

    /// Starts node `id` with `more` arguments after the cluster's own.
    pub fn spawn_with(&mut self, id: u64, more: &[&str]) {
        let spec = self.spec.clone();
        let mut extra = self.extra.clone();
        extra.extend(more.iter().map(|s| s.to_string()));
        let n = &mut self.nodes[(id - 1) as usize];
        assert!(n.child.is_none(), "node {id} already running");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&n.log)
            .unwrap();
        let child = Command::new(BIN)
            .arg("serve")
            .args(["--id", &id.to_string()])
            .arg("--data-dir")
            .arg(&n.data_dir)
            .args(["--initial-cluster", &spec])
            .args(["--log-level", "info,openraft=warn"])
            .args(["--http-port", &n.http_port.to_string()])
            .args(&extra)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        n.child = Some(child);
    }

    /// SIGKILL: the process gets no chance to flush or say goodbye.
    pub fn kill(&mut self, id: u64) {
        let n = &mut self.nodes[(id - 1) as usize];
        if let Some(mut c) = n.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends signal `sig` (a name: "STOP", "CONT", "TERM") to node `id`'s own pid.
    pub fn signal(&self, id: u64, sig: &str) {
        let pid = self.node(id).pid().expect("node not running");
        let status = Command::new("kill")
            .args(["-s", sig, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {sig} {pid}: {status}");
    }

    /// Waits for node `id` to exit by itself; its exit status.
    pub fn wait_exit(&mut self, id: u64, timeout: Duration) -> std::process::ExitStatus {
        let n = &mut self.nodes[(id - 1) as usize];
        let child = n.child.as_mut().expect("node not running");
        let status = wait_for(timeout, "node exit", || child.try_wait().ok().flatten());
        n.child = None;
        status
    }

    /// `INFO replication` of a running node, parsed into (role, leader id).
    pub fn role_of(&self, id: u64) -> Option<(String, u64)> {
        let n = self.node(id);
        if !n.is_running() {
            return None;
        }
        let mut c = n.try_conn()?;
        let info: String = redis::cmd("INFO").arg("replication").query(&mut c).ok()?;
        let field = |k: &str| {
            info.lines().find_map(|l| {
                l.strip_prefix(&format!("{k}:"))
                    .map(|v| v.trim().to_string())
            })
        };
        Some((field("role")?, field("cairn_leader_id")?.parse().ok()?))
    }

    /// Waits until every running node names the same leader, which says it is master.
    pub fn wait_leader(&self, timeout: Duration) -> u64 {
        wait_for(timeout, "a leader all running nodes agree on", || {
            let mut leader = None;
            for n in self.nodes.iter().filter(|n| n.is_running()) {
                let (role, l) = self.role_of(n.id)?;
                if l == 0 || leader.is_some_and(|x| x != l) {
                    return None;
                }
                if l == n.id && role != "master" {
                    return None;
                }
                leader = Some(l);
            }
            let l = leader?;
            self.node(l).is_running().then_some(l)
        })
    }

    pub fn leader(&self) -> u64 {
        self.wait_leader(Duration::from_secs(20))
    }

    pub fn follower(&self) -> u64 {
        let l = self.leader();
        self.nodes
            .iter()
            .find(|n| n.id != l && n.is_running())
            .expect("a running follower")
            .id
    }

    /// The applied index a node reports.
    pub fn applied(&self, id: u64) -> Option<u64> {
        let mut c = self.node(id).try_conn()?;
        let info: String = redis::cmd("INFO").arg("replication").query(&mut c).ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix("cairn_applied_index:"))
            .and_then(|v| v.trim().parse().ok())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if std::thread::panicking() {
            for n in &self.nodes {
                eprintln!("---- log of node {} ----\n{}", n.id, n.log_text());
            }
            return;
        }
        // A panic inside a node is a bug even when the test's own checks passed (a connection
        // task that panicked closes only that connection): every test fails on one.
        for n in &self.nodes {
            let log = n.log_text();
            let panics: Vec<&str> = log.lines().filter(|l| l.contains("panicked")).collect();
            assert!(
                panics.is_empty(),
                "node {} panicked:\n{}\n---- its log ----\n{log}",
                n.id,
                panics.join("\n")
            );
        }
    }
}

/// A plain HTTP/1.0 GET on loopback: (status code, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// Reads `key` on node `id` with READONLY (a local, possibly stale read).
pub fn local_get(node: &NodeProc, key: &str) -> Option<String> {
    let mut c = node.try_conn()?;
    redis::cmd("READONLY").query::<()>(&mut c).ok()?;
    redis::cmd("GET").arg(key).query(&mut c).ok()?
}

/// Sends raw bytes, half-closes, and returns everything the node answers before it closes.
pub fn raw(port: u16, bytes: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

/// The error code (first word) of a failed command; panics if it succeeded.
pub fn code<T: std::fmt::Debug>(r: redis::RedisResult<T>) -> String {
    match r {
        Err(e) => e.code().unwrap_or("?").to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// The full error line of a failed command (`ERR no such key`); panics if it succeeded.
pub fn err_text<T: std::fmt::Debug>(r: redis::RedisResult<T>) -> String {
    match r {
        Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// The value of `name` in `INFO section`; panics if the section has no such field.
pub fn info_field(c: &mut redis::Connection, section: &str, name: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("INFO {section} has no {name}: {info}"))
        .trim()
        .to_string()
}

/// A numeric INFO field (see [`info_field`]).
pub fn info_num(c: &mut redis::Connection, section: &str, name: &str) -> u64 {
    info_field(c, section, name).parse().unwrap()
}

/// A command with string arguments.
pub fn cmd(name: &str, args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(name);
    c.arg(args);
    c
}

pub const WRONGTYPE: &str = "WRONGTYPE";

/// Rewrites the current snapshot file of a stopped node's data dir through `edit` (each data
/// record's key and value), with valid checksums: a change that no checksum can catch.
pub fn edit_snapshot(data_dir: &std::path::Path, mut edit: impl FnMut(&[u8], &mut Vec<u8>)) {
    use cairn_raft::store::snapshot::{SnapReader, SnapRecord, SnapWriter};
    let dir = data_dir.join("snapshots");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "snap"))
        .unwrap();
    let tmp = dir.join("edited.tmp");
    let mut reader = SnapReader::open(&file).unwrap();
    let mut writer = None;
    while let Some(record) = reader.next_record().unwrap() {
        match record {
            SnapRecord::Meta {
                last_applied,
                membership,
            } => writer = Some(SnapWriter::create(&tmp, last_applied, membership).unwrap()),
            SnapRecord::Data(entries) => {
                let w = writer.as_mut().unwrap();
                for (k, mut v) in entries {
                    edit(&k, &mut v);
                    w.push(k, v).unwrap();
                }
            }
            SnapRecord::End { .. } => {}
        }
    }
    writer.unwrap().finish().unwrap();
    std::fs::rename(&tmp, &file).unwrap();
}

/// Runs the Python client `tests/clients/<name>` with `args` (redis-py: scripts/test.sh
/// installs it), calling `on_line` with each line it prints. A watchdog kills it after
/// `limit` (its own retries are bounded too). Its exit status and every line it printed.
pub fn python_client(
    name: &str,
    args: &[String],
    limit: Duration,
    mut on_line: impl FnMut(&str),
) -> (std::process::ExitStatus, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let script = format!("{}/tests/clients/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 (scripts/test.sh installs redis-py)");
    let pid = child.id().to_string();
    let watchdog = std::thread::spawn(move || {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            let gone = Command::new("kill")
                .args(["-0", &pid])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| !s.success());
            if gone {
                return;
            }
        }
        let _ = Command::new("kill").args(["-9", &pid]).status();
    });
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        on_line(&line);
        lines.push(line);
    }
    let status = child.wait().unwrap();
    watchdog.join().unwrap();
    (status, lines)
}
