//! A cluster of `cairn` nodes under the harness's control, on one of three backends:
//! loopback processes, one network namespace per node ([`netns`]), or one container per node
//! ([`docker`]). Dropping a [`Cluster`] kills every node it started and removes every
//! namespace, link, container, volume and rule.

mod clock;
pub mod docker;
pub mod netns;
pub mod process;
mod sh;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cli::Backend;
pub use process::{NodeProc, NodeSpec};

/// How long one status query may take: a paused or partitioned node must not stall the
/// nemesis.
const STATUS_TIMEOUT: Duration = Duration::from_millis(700);

/// The network the nodes are on, when it is a real one (partitions and loss need it).
#[derive(Debug)]
pub enum Network {
    Netns(netns::Net),
    Docker(docker::DockerNet),
}

impl Network {
    /// Drops traffic between every pair in `cuts` (node numbers, 1-based), both ways.
    pub fn partition(&self, cuts: &[(usize, usize)]) -> Result<()> {
        match self {
            Network::Netns(n) => n.partition(cuts),
            Network::Docker(d) => d.partition(cuts),
        }
    }

    /// Drops a random `percent` of the packets between every pair in `cuts`, both ways.
    pub fn lossy(&self, cuts: &[(usize, usize)], percent: u32) -> Result<()> {
        match self {
            Network::Netns(n) => n.lossy(cuts, percent),
            Network::Docker(d) => d.lossy(cuts, percent),
        }
    }

    /// Removes every partition and loss rule.
    pub fn heal(&self) -> Result<()> {
        match self {
            Network::Netns(n) => n.heal(),
            Network::Docker(d) => d.heal(),
        }
    }
}

pub struct Cluster {
    /// Declared before `net` so nodes are killed before their network goes away.
    pub nodes: Vec<NodeProc>,
    net: Option<Network>,
    bin: PathBuf,
    initial_cluster: String,
}

/// An ephemeral port that was free a moment ago (the process backend's nodes share one
/// address, so each needs its own ports).
fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding an ephemeral port")?;
    Ok(l.local_addr().context("reading an ephemeral port")?.port())
}

impl Cluster {
    /// Prepares the network (netns backend) and starts `n` nodes writing their logs and data
    /// under `out`, with movable wall clocks if `skew`. Does not wait for a leader.
    pub fn start(
        backend: Backend,
        n: usize,
        bin: &Path,
        image: &str,
        out: &Path,
        skew: bool,
    ) -> Result<Cluster> {
        let faketime = match (skew, backend) {
            (false, _) => None,
            (true, Backend::Docker) => bail!(
                "the clock-skew fault runs on the process and netns backends (it preloads \
                 libfaketime into a dynamically linked cairn; the image's is static)"
            ),
            (true, _) => Some(clock::library()?),
        };
        let bin = if backend == Backend::Docker {
            bin.to_path_buf() // unused: the image holds the binary
        } else if bin.is_file() {
            std::fs::canonicalize(bin).context("resolving the cairn binary's path")?
        } else {
            bail!(
                "no cairn binary at {} (build it with `cargo build -p cairn-node`, or pass --bin)",
                bin.display()
            );
        };
        let net = match backend {
            Backend::Process => None,
            Backend::Netns => {
                let removed = netns::cleanup_stale()?;
                if removed > 0 {
                    eprintln!("cairn-chaos: removed {removed} stale objects of earlier runs");
                }
                Some(Network::Netns(
                    netns::Net::create(n).context("building the test network")?,
                ))
            }
            Backend::Docker => {
                let removed = docker::cleanup_stale()?;
                if removed > 0 {
                    eprintln!("cairn-chaos: removed {removed} stale objects of earlier runs");
                }
                Some(Network::Docker(
                    docker::DockerNet::create(n, image).context("building the Docker network")?,
                ))
            }
        };
        let data = out.join("data");
        std::fs::create_dir_all(&data).context("creating the data directory")?;
        let mut specs = Vec::new();
        for i in 1..=n {
            let (host, port, raft_port, ns, container) = match &net {
                None => (
                    "127.0.0.1".to_string(),
                    free_port()?,
                    free_port()?,
                    None,
                    None,
                ),
                Some(Network::Netns(net)) => (
                    net.node_addr(i),
                    6379,
                    16379,
                    Some(net.namespace(i).to_string()),
                    None,
                ),
                Some(Network::Docker(d)) => {
                    (d.node_addr(i), 6379, 16379, None, Some(d.container(i)))
                }
            };
            specs.push(NodeSpec {
                id: i as u64,
                host,
                port,
                raft_port,
                data_dir: data.join(format!("n{i}")),
                log: out.join(format!("node{i}.log")),
                netns: ns,
                container,
                clock: match &faketime {
                    Some(lib) => {
                        let file = out.join(format!("clock-n{i}"));
                        clock::set_offset(&file, 0)?;
                        Some((lib.clone(), file))
                    }
                    None => None,
                },
            });
        }
        let initial_cluster = specs
            .iter()
            .map(|s| format!("{}={}:{}@{}", s.id, s.host, s.port, s.raft_port))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = Cluster {
            nodes: specs.into_iter().map(NodeProc::new).collect(),
            net,
            bin,
            initial_cluster,
        };
        for i in 0..n {
            cluster.nodes[i].start(&cluster.bin, &cluster.initial_cluster)?;
        }
        Ok(cluster)
    }

    pub fn specs(&self) -> Vec<NodeSpec> {
        self.nodes.iter().map(|n| n.spec.clone()).collect()
    }

    pub fn net(&self) -> Option<&Network> {
        self.net.as_ref()
    }

    pub fn node_mut(&mut self, id: u64) -> Result<&mut NodeProc> {
        let i = usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .filter(|&i| i < self.nodes.len())
            .with_context(|| format!("no node {id}"))?;
        Ok(&mut self.nodes[i])
    }

    /// Starts node `id` again from its data dir.
    pub fn restart(&mut self, id: u64) -> Result<()> {
        let bin = self.bin.clone();
        let ic = self.initial_cluster.clone();
        self.node_mut(id)?.start(&bin, &ic)
    }

    /// Moves node `id`'s wall clock `offset_ms` away from real time (it takes within a
    /// second); an error if the cluster was started without movable clocks.
    pub fn skew(&self, id: u64, offset_ms: i64) -> Result<()> {
        let node = self
            .nodes
            .iter()
            .find(|n| n.spec.id == id)
            .with_context(|| format!("no node {id}"))?;
        let Some((_, file)) = &node.spec.clock else {
            bail!("node {id} was started without a movable clock");
        };
        clock::set_offset(file, offset_ms)
    }

    /// Ends every fault: resumes paused nodes, starts stopped ones, removes network rules,
    /// puts clocks back.
    pub fn heal_all(&mut self) -> Result<()> {
        if let Some(net) = &self.net {
            net.heal()?;
        }
        for n in &self.nodes {
            if let Some((_, file)) = &n.spec.clock {
                clock::set_offset(file, 0)?;
            }
        }
        for i in 0..self.nodes.len() {
            self.nodes[i].resume()?;
            if !self.nodes[i].is_running() {
                let id = self.nodes[i].spec.id;
                self.restart(id)?;
            }
        }
        Ok(())
    }

    /// Nodes that exited without the harness killing them, with their exit status.
    pub fn crashed(&mut self) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        for n in &mut self.nodes {
            if let Some(status) = n.exited_unexpectedly() {
                out.push((n.spec.id, status.to_string()));
            }
        }
        out
    }
}

/// `INFO replication` of one node: (role, leader id as it sees it; 0 when none).
pub async fn role_of(spec: &NodeSpec) -> Option<(String, u64)> {
    let client = redis::Client::open(spec.url()).ok()?;
    let query = async {
        let mut con = client.get_multiplexed_tokio_connection().await.ok()?;
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut con)
            .await
            .ok()?;
        let field = |k: &str| {
            info.lines().find_map(|l| {
                l.strip_prefix(&format!("{k}:"))
                    .map(|v| v.trim().to_string())
            })
        };
        Some((field("role")?, field("cairn_leader_id")?.parse().ok()?))
    };
    tokio::time::timeout(STATUS_TIMEOUT, query).await.ok()?
}

/// The leader that every reachable node among `specs` agrees on and that calls itself
/// master, if any.
pub async fn current_leader(specs: &[NodeSpec]) -> Option<u64> {
    let mut leader = None;
    for s in specs {
        let Some((role, l)) = role_of(s).await else {
            continue;
        };
        if l == 0 || leader.is_some_and(|x| x != l) {
            return None;
        }
        if l == s.id && role != "master" {
            return None;
        }
        leader = Some(l);
    }
    let l = leader?;
    let spec = specs.iter().find(|s| s.id == l)?;
    let (role, _) = role_of(spec).await?;
    (role == "master").then_some(l)
}

/// `CAIRN CHECK` on one node: a consistency-check round (every replica's keyspace digest at
/// one log index), as the text the node answers, or the error.
pub async fn consistency_check(spec: &NodeSpec, timeout: Duration) -> Result<String, String> {
    admin(spec, &["CHECK".to_string()], timeout).await
}

/// `CAIRN <args>` on one node (a check round, membership changes): the node's answer, or the
/// error.
pub async fn admin(spec: &NodeSpec, args: &[String], timeout: Duration) -> Result<String, String> {
    let client = redis::Client::open(spec.url()).map_err(|e| e.to_string())?;
    let query = async {
        let mut con = client
            .get_multiplexed_tokio_connection()
            .await
            .map_err(|e| e.to_string())?;
        redis::cmd("CAIRN")
            .arg(args)
            .query_async::<String>(&mut con)
            .await
            .map_err(|e| e.to_string())
    };
    tokio::time::timeout(timeout, query)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

/// Polls [`current_leader`] every 100 ms until there is one or `timeout` passes.
pub async fn wait_leader(specs: &[NodeSpec], timeout: Duration) -> Option<u64> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(l) = current_leader(specs).await {
            return Some(l);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// A node's wall clock, from TIME, as its offset from the harness's clock in ms, checked to
/// be `expected_ms` (see [`clock::verify`]).
pub async fn clock_offset(spec: &NodeSpec, expected_ms: i64) -> Result<i64> {
    let client = redis::Client::open(spec.url())?;
    let query = async {
        let mut con = client.get_multiplexed_tokio_connection().await?;
        redis::cmd("TIME").query_async::<(u64, u64)>(&mut con).await
    };
    let (secs, micros) = tokio::time::timeout(STATUS_TIMEOUT, query)
        .await
        .context("TIME timed out")??;
    clock::verify(secs, micros, expected_ms)
}
