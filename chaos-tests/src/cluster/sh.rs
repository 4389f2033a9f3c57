//! Running the host's tools (`ip`, `iptables`, `docker`) for the netns and docker backends,
//! and recognizing what earlier runs left: every object a run makes carries its pid.

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The prefix of every name and rule comment a run makes: `cairn-chaos-<pid>...`.
pub const PREFIX: &str = "cairn-chaos-";

/// Runs a command, failing with its stderr. It gets a process group of its own, so a
/// Ctrl-C at the terminal reaches only the harness, which then cleans up in order.
pub fn run(cmd: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(cmd)
        .args(args)
        .process_group(0)
        .output()
        .with_context(|| format!("running {cmd}"))?;
    if !out.status.success() {
        bail!(
            "{cmd} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command during cleanup: failures are reported, never stop the cleanup.
pub fn run_quiet(cmd: &str, args: &[&str]) {
    if let Err(e) = run(cmd, args) {
        eprintln!("cairn-chaos cleanup: {e:#}");
    }
}

/// A third octet K such that `used` (text listing addresses and subnets in use) mentions no
/// `<prefix>.K.` address; the search starts from the pid so parallel runs spread out.
pub fn free_octet(prefix: &str, used: &str) -> Result<u8> {
    let start = (std::process::id() % 250) as u8;
    for k in 0..250u8 {
        let k = (start + k) % 250;
        if !used.contains(&format!("{prefix}.{k}.")) {
            return Ok(k);
        }
    }
    bail!("no free {prefix}.K.0/24 subnet for the test network")
}

/// The iptables match that selects a random `percent` of packets (the statistic module:
/// these kernels have no netem), for a lossy link's DROP rules.
pub fn loss_match(percent: u32) -> Vec<String> {
    let p = format!("{:.2}", f64::from(percent.min(100)) / 100.0);
    ["-m", "statistic", "--mode", "random", "--probability", &p]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// True if a cairn-chaos process with this pid is alive.
pub fn owner_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().starts_with("cairn-chaos"))
        .unwrap_or(false)
}

/// Deletes the rules of iptables chain `chain` whose comment names an owner pid for which
/// `doomed` holds; how many. A missing chain holds nothing of ours.
pub fn remove_owned_rules(chain: &str, doomed: impl Fn(u32) -> bool) -> Result<usize> {
    let Ok(rules) = run("iptables", &["-S", chain]) else {
        return Ok(0);
    };
    let mut removed = 0;
    for line in rules.lines() {
        let Some(pos) = line.find(&format!("--comment {PREFIX}")) else {
            continue;
        };
        let tail = &line[pos + "--comment ".len() + PREFIX.len()..];
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        if digits.parse::<u32>().is_ok_and(&doomed) {
            if let Some(spec) = line.strip_prefix("-A ") {
                let mut args = vec!["-D"];
                args.extend(spec.split_whitespace());
                run("iptables", &args)?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}
