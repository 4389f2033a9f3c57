//! The docker backend: each node a container of the cairn image (scripts/build-image.sh) on a
//! Docker network made for the run, with a fixed address (10.78.K.(10+i)) and a named volume
//! for its data, so a killed container restarts from its data.
//!
//! Faults: SIGKILL (`docker kill`), restart (`docker start`), pause (`docker pause`, the
//! cgroup freezer), and partitions and loss as DROP rules in the host's `DOCKER-USER` chain
//! between node addresses: container-to-container traffic crosses it, while the harness's
//! clients (from the host, through the network's gateway) still reach every node.
//!
//! Everything carries the harness's pid (names `cairn-chaos-<pid>-...`, label
//! `cairn-chaos.owner=<pid>`, rule comments), so parallel runs never collide and
//! [`cleanup_stale`] removes what a killed run left.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};

use anyhow::{Context, Result};

use super::sh::{free_octet, loss_match, owner_alive, remove_owned_rules, run, run_quiet, PREFIX};
const LABEL: &str = "cairn-chaos.owner";
const CHAIN: &str = "DOCKER-USER";

/// True if the Docker daemon answers and `image` exists.
pub fn available(image: &str) -> Result<()> {
    run("docker", &["version", "--format", "{{.Server.Version}}"])
        .context("the docker backend needs a running Docker daemon")?;
    run(
        "docker",
        &["image", "inspect", "--format", "{{.Id}}", image],
    )
    .with_context(|| format!("no image {image}: build it with scripts/build-image.sh {image}"))?;
    Ok(())
}

/// The network, containers, volumes and rules of one run; dropping it removes them all.
#[derive(Debug)]
pub struct DockerNet {
    pid: u32,
    subnet: u8,
    pub image: String,
    network: Option<String>,
    containers: Vec<String>,
    volumes: Vec<String>,
}

/// How to run one node's container.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    pub network: String,
    pub volume: String,
    pub image: String,
    pub owner: u32,
}

impl DockerNet {
    pub fn create(n: usize, image: &str) -> Result<DockerNet> {
        let pid = std::process::id();
        let mut net = DockerNet {
            pid,
            subnet: free_subnet()?,
            image: image.to_string(),
            network: None,
            containers: (1..=n).map(|i| format!("{PREFIX}{pid}-n{i}")).collect(),
            volumes: (1..=n).map(|i| format!("{PREFIX}{pid}-v{i}")).collect(),
        };
        let name = format!("{PREFIX}{pid}");
        let subnet = format!("10.78.{}.0/24", net.subnet);
        let label = format!("{LABEL}={pid}");
        run(
            "docker",
            &[
                "network", "create", "--subnet", &subnet, "--label", &label, &name,
            ],
        )?;
        net.network = Some(name);
        for v in &net.volumes {
            run("docker", &["volume", "create", "--label", &label, v])?;
        }
        Ok(net)
    }

    /// Node `i`'s (1-based) fixed address.
    pub fn node_addr(&self, i: usize) -> String {
        format!("10.78.{}.{}", self.subnet, 10 + i)
    }

    pub fn container(&self, i: usize) -> ContainerSpec {
        ContainerSpec {
            name: self.containers[i - 1].clone(),
            network: self.network.clone().unwrap_or_default(),
            volume: self.volumes[i - 1].clone(),
            image: self.image.clone(),
            owner: self.pid,
        }
    }

    fn comment(&self) -> String {
        format!("{PREFIX}{}", self.pid)
    }

    /// Drops traffic between every pair in `cuts` (node numbers), both ways.
    pub fn partition(&self, cuts: &[(usize, usize)]) -> Result<()> {
        self.drop_between(cuts, &[])
    }

    /// Drops a random `percent` of the packets between every pair in `cuts`, both ways.
    pub fn lossy(&self, cuts: &[(usize, usize)], percent: u32) -> Result<()> {
        let matching = loss_match(percent);
        let matching: Vec<&str> = matching.iter().map(String::as_str).collect();
        self.drop_between(cuts, &matching)
    }

    fn drop_between(&self, cuts: &[(usize, usize)], matching: &[&str]) -> Result<()> {
        let comment = self.comment();
        for &(a, b) in cuts {
            for (from, to) in [(a, b), (b, a)] {
                let (src, dst) = (self.node_addr(from), self.node_addr(to));
                let mut args = vec!["-I", CHAIN, "-s", &src, "-d", &dst];
                args.extend_from_slice(matching);
                args.extend_from_slice(&["-m", "comment", "--comment", &comment, "-j", "DROP"]);
                run("iptables", &args)?;
            }
        }
        Ok(())
    }

    /// Removes every partition and loss rule of this run.
    pub fn heal(&self) -> Result<()> {
        remove_owned_rules(CHAIN, |owner| owner == self.pid).map(|_| ())
    }
}

impl Drop for DockerNet {
    fn drop(&mut self) {
        if let Err(e) = self.heal() {
            eprintln!("cairn-chaos cleanup: {e:#}");
        }
        for c in &self.containers {
            if exists(c) {
                run_quiet("docker", &["rm", "-f", "-v", c]);
            }
        }
        for v in &self.volumes {
            run_quiet("docker", &["volume", "rm", "-f", v]);
        }
        if let Some(n) = self.network.take() {
            run_quiet("docker", &["network", "rm", &n]);
        }
    }
}

fn exists(container: &str) -> bool {
    run(
        "docker",
        &["container", "inspect", "--format", "{{.Id}}", container],
    )
    .is_ok()
}

impl ContainerSpec {
    /// Starts the node: creates its container the first time, starts it again afterwards.
    pub fn start(&self, ip: &str, id: u64, initial_cluster: &str) -> Result<()> {
        if exists(&self.name) {
            run("docker", &["start", &self.name])?;
            return Ok(());
        }
        let label = format!("{LABEL}={}", self.owner);
        let volume = format!("{}:/data", self.volume);
        let id = id.to_string();
        run(
            "docker",
            &[
                "run",
                "-d",
                "--name",
                &self.name,
                "--label",
                &label,
                "--network",
                &self.network,
                "--ip",
                ip,
                "-v",
                &volume,
                &self.image,
                "--id",
                &id,
                "--initial-cluster",
                initial_cluster,
                "--bind",
                "0.0.0.0",
                "--log-level",
                "info,openraft=warn",
                "--log-format",
                "human",
                "--check-interval-secs",
                "10",
            ],
        )?;
        Ok(())
    }

    pub fn kill(&self) -> Result<()> {
        if self.running()? {
            run("docker", &["kill", "-s", "KILL", &self.name])?;
        }
        Ok(())
    }

    pub fn pause(&self) -> Result<()> {
        run("docker", &["pause", &self.name]).map(|_| ())
    }

    pub fn resume(&self) -> Result<()> {
        run("docker", &["unpause", &self.name]).map(|_| ())
    }

    /// `docker stop`: SIGTERM, then SIGKILL after `grace_secs`.
    pub fn stop(&self, grace_secs: u64) -> Result<()> {
        run(
            "docker",
            &["stop", "-t", &grace_secs.to_string(), &self.name],
        )
        .map(|_| ())
    }

    pub fn running(&self) -> Result<bool> {
        let out = run(
            "docker",
            &[
                "container",
                "inspect",
                "--format",
                "{{.State.Running}}",
                &self.name,
            ],
        )?;
        Ok(out.trim() == "true")
    }

    /// The exit status of a stopped container.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let out = run(
            "docker",
            &[
                "container",
                "inspect",
                "--format",
                "{{.State.ExitCode}}",
                &self.name,
            ],
        )
        .ok()?;
        let code: i32 = out.trim().parse().ok()?;
        Some(ExitStatus::from_raw(code << 8))
    }

    /// Everything the container logged, for the node's log file.
    pub fn logs(&self) -> Result<Vec<u8>> {
        let out = Command::new("docker")
            .args(["logs", &self.name])
            .output()
            .context("running docker logs")?;
        let mut all = out.stdout;
        all.extend_from_slice(&out.stderr);
        Ok(all)
    }
}

/// A third octet K such that no Docker network or interface here uses 10.78.K.0/24.
fn free_subnet() -> Result<u8> {
    let addrs = run("ip", &["-o", "-4", "addr", "show"])?;
    let networks = run("docker", &["network", "ls", "-q"])?;
    let mut used = addrs;
    for id in networks.split_whitespace() {
        if let Ok(s) = run(
            "docker",
            &[
                "network",
                "inspect",
                "--format",
                "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
                id,
            ],
        ) {
            used.push_str(&s);
        }
    }
    free_octet("10.78", &used)
}

/// Removes containers, volumes, networks and rules whose owning cairn-chaos process is gone.
/// Returns how many objects it removed.
pub fn cleanup_stale() -> Result<usize> {
    let mut removed = 0;
    for (kind, list_args) in [
        (
            "container",
            vec![
                "ps",
                "-a",
                "--format",
                "{{.Names}} {{.Label \"cairn-chaos.owner\"}}",
            ],
        ),
        (
            "volume",
            vec![
                "volume",
                "ls",
                "--format",
                "{{.Name}} {{.Label \"cairn-chaos.owner\"}}",
            ],
        ),
        (
            "network",
            vec![
                "network",
                "ls",
                "--format",
                "{{.Name}} {{.Label \"cairn-chaos.owner\"}}",
            ],
        ),
    ] {
        let listed = run("docker", &list_args)?;
        for line in listed.lines() {
            let mut parts = line.split_whitespace();
            let (Some(name), Some(owner)) = (parts.next(), parts.next()) else {
                continue;
            };
            if !name.starts_with(PREFIX) {
                continue;
            }
            if owner.parse::<u32>().is_ok_and(|p| !owner_alive(p)) {
                let args: Vec<&str> = match kind {
                    "container" => vec!["rm", "-f", "-v", name],
                    "volume" => vec!["volume", "rm", "-f", name],
                    _ => vec!["network", "rm", name],
                };
                run_quiet("docker", &args);
                removed += 1;
            }
        }
    }
    removed += remove_owned_rules(CHAIN, |owner| !owner_alive(owner))?;
    Ok(removed)
}
