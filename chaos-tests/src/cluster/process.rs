//! One `cairn serve` node: a process started (optionally inside a network namespace through
//! `ip netns exec`, which execs in place so the child's pid is cairn's own), signalled by its
//! own pid only, and reaped; or, on the docker backend, a container driven through `docker`.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Where a node listens and keeps its files.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub id: u64,
    /// The address it binds and peers dial: 127.0.0.1, or its namespace's address.
    pub host: String,
    pub port: u16,
    pub raft_port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    /// The namespace to run in (netns backend).
    pub netns: Option<String>,
    /// The container to run as (docker backend).
    pub container: Option<super::docker::ContainerSpec>,
    /// libfaketime to preload and the node's clock-offset file (clock-skew fault).
    pub clock: Option<(PathBuf, PathBuf)>,
}

impl NodeSpec {
    pub fn url(&self) -> String {
        format!("redis://{}:{}/", self.host, self.port)
    }
}

/// A node and its process, if running.
#[derive(Debug)]
pub struct NodeProc {
    pub spec: NodeSpec,
    child: Option<Child>,
    /// Docker backend: whether the harness started the container and has not stopped it.
    container_up: bool,
    paused: bool,
}

impl NodeProc {
    pub fn new(spec: NodeSpec) -> NodeProc {
        NodeProc {
            spec,
            child: None,
            container_up: false,
            paused: false,
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some() || self.container_up
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Starts the node from its data dir (again), appending to its log.
    pub fn start(&mut self, bin: &std::path::Path, initial_cluster: &str) -> Result<()> {
        if self.is_running() {
            bail!("node {} is already running", self.spec.id);
        }
        if let Some(c) = &self.spec.container {
            c.start(&self.spec.host, self.spec.id, initial_cluster)?;
            self.container_up = true;
            self.paused = false;
            return Ok(());
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.spec.log)
            .with_context(|| format!("opening {}", self.spec.log.display()))?;
        let mut cmd = match &self.spec.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        if let Some((library, file)) = &self.spec.clock {
            cmd.envs(super::clock::env(library, file));
        }
        // Own process group: a terminal's Ctrl-C must reach only the harness, which stops
        // the nodes itself after healing.
        cmd.process_group(0)
            .arg("serve")
            .args(["--id", &self.spec.id.to_string()])
            .arg("--data-dir")
            .arg(&self.spec.data_dir)
            .args(["--initial-cluster", initial_cluster])
            .args(["--bind", &self.spec.host])
            .args(["--log-level", "info,openraft=warn"])
            // Consistency checks every 10 s, so a divergence shows up in a 60 s run's logs.
            .args(["--check-interval-secs", "10"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("cloning the log handle")?)
            .stderr(log);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting node {} ({})", self.spec.id, bin.display()))?;
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    /// SIGKILL: no chance to flush or hand over leadership.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(c) = &self.spec.container {
            if self.container_up {
                if self.paused {
                    c.resume()?; // a frozen container cannot take SIGKILL
                }
                c.kill()?;
                self.container_up = false;
            }
            self.paused = false;
            return Ok(());
        }
        if let Some(mut c) = self.child.take() {
            // Killing an exited child fails harmlessly; reaping is what matters.
            if let Err(e) = c.kill() {
                if c.try_wait().ok().flatten().is_none() {
                    return Err(e).context("SIGKILL");
                }
            }
            c.wait().context("reaping a killed node")?;
        }
        self.paused = false;
        Ok(())
    }

    /// SIGTERM, then waits up to `grace` for a clean exit before SIGKILL.
    pub async fn terminate(&mut self, grace: Duration) -> Result<()> {
        if let Some(c) = &self.spec.container {
            if self.container_up {
                if self.paused {
                    c.resume()?;
                }
                c.stop(grace.as_secs().max(1))?;
                self.container_up = false;
                self.paused = false;
            }
            return Ok(());
        }
        if self.child.is_none() {
            return Ok(());
        }
        if self.paused {
            self.signal("CONT")?;
        }
        self.signal("TERM")?;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if c.try_wait().context("waiting for a node")?.is_some() {
                    self.child = None;
                    self.paused = false;
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill()
    }

    pub fn pause(&mut self) -> Result<()> {
        if self.is_running() && !self.paused {
            match &self.spec.container {
                Some(c) => c.pause()?,
                None => self.signal("STOP")?,
            }
            self.paused = true;
        }
        Ok(())
    }

    pub fn resume(&mut self) -> Result<()> {
        if self.is_running() && self.paused {
            match &self.spec.container {
                Some(c) => c.resume()?,
                None => self.signal("CONT")?,
            }
            self.paused = false;
        }
        Ok(())
    }

    /// The exit status if the process died by itself (a crash the harness did not cause);
    /// the node then counts as stopped, so healing starts it again.
    pub fn exited_unexpectedly(&mut self) -> Option<std::process::ExitStatus> {
        if let Some(c) = &self.spec.container {
            if !self.container_up || c.running().unwrap_or(true) {
                return None;
            }
            self.container_up = false;
            self.paused = false;
            return c.exit_status();
        }
        let c = self.child.as_mut()?;
        let status = c.try_wait().ok().flatten()?;
        self.child = None;
        self.paused = false;
        Some(status)
    }

    /// Sends `sig` (a name such as "STOP") to this node's own pid, never by name.
    fn signal(&self, sig: &str) -> Result<()> {
        let Some(c) = &self.child else {
            return Ok(());
        };
        let status = Command::new("kill")
            .args(["-s", sig, &c.id().to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -s {sig} {} failed: {status}", c.id());
        }
        Ok(())
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        if let Err(e) = self.kill() {
            eprintln!("cairn-chaos: stopping node {}: {e:#}", self.spec.id);
        }
        // A container's output stays with Docker until it is removed: keep it in the log.
        if let Some(c) = &self.spec.container {
            match c.logs() {
                Ok(text) => {
                    if let Err(e) = std::fs::write(&self.spec.log, text) {
                        eprintln!("cairn-chaos: writing {}: {e}", self.spec.log.display());
                    }
                }
                Err(e) => eprintln!("cairn-chaos: docker logs of node {}: {e:#}", self.spec.id),
            }
        }
    }
}
