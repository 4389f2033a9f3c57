//! The netns backend's network: one namespace per node, each with a veth into a bridge that
//! the harness makes in the root namespace, on a private /24 of its own (10.77.K.0/24, K
//! picked unused). The harness reaches every node through the bridge (address .254).
//!
//! Partitions are iptables DROP rules in the INPUT chain of the namespaces, matching only
//! node addresses: nodes lose each other while the harness's clients still reach every node,
//! so the clients see what a partition does to cairn rather than a dead socket.
//!
//! Every name carries the harness's pid (`cairn-chaos-<pid>-n<i>`, links `cch<pid>...`, the
//! root FORWARD rule's comment), so parallel runs never collide and [`cleanup_stale`] can
//! remove what a killed run left without touching anything else.

use anyhow::Result;

use super::sh::{
    free_octet, loss_match, owner_alive, remove_owned_rules, run, run_quiet, PREFIX as NS_PREFIX,
};
const LINK_PREFIX: &str = "cch";

/// The namespaces, links and rules of one run; dropping it removes them all.
#[derive(Debug)]
pub struct Net {
    pid: u32,
    subnet: u8,
    namespaces: Vec<String>,
    /// Root-namespace ends of the veth pairs. Deleting a namespace destroys its pairs only
    /// once nothing holds the namespace any more, which can be later than our exit: they are
    /// deleted explicitly.
    links: Vec<String>,
    bridge: Option<String>,
    /// Root-namespace iptables rules added, as their `-A` argument lists.
    root_rules: Vec<Vec<String>>,
}

/// True if `ip netns add` works here (root, a kernel with namespaces).
pub fn available() -> bool {
    let name = format!("{NS_PREFIX}{}-probe", std::process::id());
    let ok = run("ip", &["netns", "add", &name]).is_ok();
    if ok {
        run_quiet("ip", &["netns", "del", &name]);
    }
    ok
}

impl Net {
    /// Builds the bridge and `n` namespaces. On error, what was built is removed (by Drop).
    pub fn create(n: usize) -> Result<Net> {
        let pid = std::process::id();
        let mut net = Net {
            pid,
            subnet: free_subnet()?,
            namespaces: Vec::new(),
            links: Vec::new(),
            bridge: None,
            root_rules: Vec::new(),
        };
        let br = format!("{LINK_PREFIX}{pid}b");
        run("ip", &["link", "add", &br, "type", "bridge"])?;
        net.bridge = Some(br.clone());
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/24", net.host_addr()),
                "dev",
                &br,
            ],
        )?;
        run("ip", &["link", "set", &br, "up"])?;
        // With br_netfilter loaded (Docker loads it), bridged frames traverse the root
        // FORWARD chain, whose policy Docker sets to DROP: let our bridge's traffic through.
        let rule: Vec<String> = [
            "FORWARD",
            "-i",
            &br,
            "-o",
            &br,
            "-m",
            "comment",
            "--comment",
            &format!("{NS_PREFIX}{pid}"),
            "-j",
            "ACCEPT",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut insert = vec!["-I"];
        insert.extend(rule.iter().map(String::as_str));
        run("iptables", &insert)?;
        net.root_rules.push(rule);
        for i in 1..=n {
            let ns = format!("{NS_PREFIX}{pid}-n{i}");
            run("ip", &["netns", "add", &ns])?;
            net.namespaces.push(ns.clone());
            let host_end = format!("{LINK_PREFIX}{pid}h{i}");
            let ns_end = net.dev(i);
            run(
                "ip",
                &[
                    "link", "add", &host_end, "type", "veth", "peer", "name", &ns_end, "netns", &ns,
                ],
            )?;
            net.links.push(host_end.clone());
            run("ip", &["link", "set", &host_end, "master", &br])?;
            run("ip", &["link", "set", &host_end, "up"])?;
            let addr = format!("{}/24", net.node_addr(i));
            run("ip", &["-n", &ns, "addr", "add", &addr, "dev", &ns_end])?;
            run("ip", &["-n", &ns, "link", "set", &ns_end, "up"])?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    /// Node `i`'s (1-based) address.
    pub fn node_addr(&self, i: usize) -> String {
        format!("10.77.{}.{}", self.subnet, i)
    }

    /// The bridge's address, from which the harness's clients connect.
    pub fn host_addr(&self) -> String {
        format!("10.77.{}.254", self.subnet)
    }

    pub fn namespace(&self, i: usize) -> &str {
        &self.namespaces[i - 1]
    }

    /// Node `i`'s interface inside its namespace.
    fn dev(&self, i: usize) -> String {
        format!("{LINK_PREFIX}{}n{i}", self.pid)
    }

    /// Drops traffic between every pair in `cuts` (node numbers, 1-based), both ways.
    pub fn partition(&self, cuts: &[(usize, usize)]) -> Result<()> {
        self.drop_between(cuts, &[])
    }

    /// Removes every partition and loss rule (the INPUT chains hold nothing else of ours).
    pub fn heal(&self) -> Result<()> {
        for ns in &self.namespaces {
            run("ip", &["netns", "exec", ns, "iptables", "-F", "INPUT"])?;
        }
        Ok(())
    }

    /// Drops a random `percent` of the packets between every pair in `cuts`, both ways
    /// (iptables' statistic match: this kernel has no netem, and a lossy link is the fault
    /// that matters to Raft's retries). Removed by [`Net::heal`].
    pub fn lossy(&self, cuts: &[(usize, usize)], percent: u32) -> Result<()> {
        let matching = loss_match(percent);
        let matching: Vec<&str> = matching.iter().map(String::as_str).collect();
        self.drop_between(cuts, &matching)
    }

    /// Adds an INPUT rule `-s <other> <matching> -j DROP` in each node's namespace for every
    /// pair in `cuts`, both ways.
    fn drop_between(&self, cuts: &[(usize, usize)], matching: &[&str]) -> Result<()> {
        for &(a, b) in cuts {
            for (me, other) in [(a, b), (b, a)] {
                let src = self.node_addr(other);
                let mut args = vec![
                    "netns",
                    "exec",
                    self.namespace(me),
                    "iptables",
                    "-A",
                    "INPUT",
                    "-s",
                    &src,
                ];
                args.extend_from_slice(matching);
                args.extend_from_slice(&["-j", "DROP"]);
                run("ip", &args)?;
            }
        }
        Ok(())
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            kill_namespace_pids(ns);
        }
        for link in self.links.drain(..) {
            run_quiet("ip", &["link", "del", &link]);
        }
        for ns in self.namespaces.drain(..) {
            run_quiet("ip", &["netns", "del", &ns]);
        }
        if let Some(br) = self.bridge.take() {
            run_quiet("ip", &["link", "del", &br]);
        }
        for rule in self.root_rules.drain(..) {
            let mut del = vec!["-D"];
            del.extend(rule.iter().map(String::as_str));
            run_quiet("iptables", &del);
        }
    }
}

/// SIGKILLs whatever still runs in `ns` (nodes are normally reaped before this).
fn kill_namespace_pids(ns: &str) {
    let Ok(pids) = run("ip", &["netns", "pids", ns]) else {
        return;
    };
    for pid in pids.split_whitespace() {
        run_quiet("kill", &["-s", "KILL", pid]);
    }
}

/// A third octet K such that no interface here has an address in 10.77.K.0/24.
fn free_subnet() -> Result<u8> {
    let addrs = run("ip", &["-o", "-4", "addr", "show"])?;
    free_octet("10.77", &addrs)
}

/// Removes namespaces, links and root rules whose owning cairn-chaos process is gone.
/// Returns how many objects it removed.
pub fn cleanup_stale() -> Result<usize> {
    let mut removed = 0;
    let list = run("ip", &["netns", "list"])?;
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(rest) = name.strip_prefix(NS_PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !owner_alive(p)) {
            kill_namespace_pids(name);
            run_quiet("ip", &["netns", "del", name]);
            removed += 1;
        }
    }
    let links = run("ip", &["-o", "link", "show"])?;
    for line in links.lines() {
        // "12: cch123b: <...>" or "13: cch123h1@if2: <...>"
        let Some(name) = line.split(": ").nth(1) else {
            continue;
        };
        let name = name.split('@').next().unwrap_or(name);
        let Some(rest) = name.strip_prefix(LINK_PREFIX) else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if digits.parse::<u32>().is_ok_and(|p| !owner_alive(p)) {
            run_quiet("ip", &["link", "del", name]);
            removed += 1;
        }
    }
    removed += remove_owned_rules("FORWARD", |p| !owner_alive(p))?;
    Ok(removed)
}
