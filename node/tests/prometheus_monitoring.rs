//! Goal: the shipped monitoring works against a real Prometheus: every query of the Grafana
//! dashboard returns data from a live cluster, and the alerts for a lagging follower and a
//! lost leader fire when that happens and resolve when it is over.
//! Method: Debian's `prometheus` on loopback scrapes a local 3-node cluster every second,
//! with deploy/monitoring/rules.yaml loaded as shipped except that every `for:` is cut to
//! 1 s (the real durations are unit-tested by `promtool test rules`). The dashboard's
//! queries run through Prometheus's HTTP API with Grafana's variables filled in. Then a
//! follower is SIGSTOPped under writes (lag and unreachable alerts) and resumed; then the
//! leader and that follower are killed (the survivor's no-leader alert) and restarted.
//! Skipped where `prometheus` is not installed, except in CI (CI=true).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, http_get, wait_for, Cluster};
use redis::Commands;
use serde_json::Value;

/// Prometheus on loopback, killed when dropped.
struct Prometheus {
    port: u16,
    child: Child,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Prometheus {
    fn start(dir: &Path, cluster: &Cluster) -> Prometheus {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let rules = std::fs::read_to_string(root.join("deploy/monitoring/rules.yaml")).unwrap();
        let fast: String = rules
            .lines()
            .map(|l| match l.trim_start().strip_prefix("for: ") {
                Some(_) => format!("{}for: 1s\n", &l[..l.len() - l.trim_start().len()]),
                None => format!("{l}\n"),
            })
            .collect();
        assert_ne!(fast, rules, "no `for:` found to shorten");
        std::fs::write(dir.join("rules.yaml"), fast).unwrap();
        let targets: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("\"127.0.0.1:{}\"", n.http_port))
            .collect();
        let config = format!(
            "global: {{scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}}\n\
             rule_files: [rules.yaml]\n\
             scrape_configs:\n  - job_name: cairn\n    static_configs:\n      \
             - targets: [{}]\n        labels: {{cluster: test}}\n",
            targets.join(", ")
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let prom = Prometheus { port, child };
        wait_for(Duration::from_secs(30), "Prometheus ready", || {
            (http_get(port, "/-/ready")?.0 == 200).then_some(())
        });
        prom
    }

    /// An instant query's result vector (None on an error answer).
    fn query(&self, expr: &str) -> Option<Vec<Value>> {
        let (status, body) = http_get(self.port, &format!("/api/v1/query?query={}", encode(expr)))?;
        let v: Value = serde_json::from_str(&body).ok()?;
        assert_eq!(status, 200, "query {expr}: {body}");
        Some(v["data"]["result"].as_array()?.clone())
    }

    /// The label sets of the firing alerts named `name`.
    fn firing(&self, name: &str) -> Vec<Value> {
        self.query(&format!(
            "ALERTS{{alertname=\"{name}\",alertstate=\"firing\"}}"
        ))
        .unwrap_or_default()
        .into_iter()
        .map(|s| s["metric"].clone())
        .collect()
    }
}

/// Every query of every dashboard panel, with Grafana's variables filled in as a user
/// looking at the test cluster would have them: (panel title, query).
fn dashboard_queries() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("deploy/monitoring/dashboard.json")).unwrap();
    let dash: Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "30s")
                .replace("$cluster", "test")
                .replace("$instance", ".*");
            assert!(!expr.contains('$'), "unfilled variable in {expr}");
            out.push((panel["title"].as_str().unwrap().to_string(), expr));
        }
    }
    assert!(out.len() > 20, "{} queries", out.len());
    out
}

/// Whether a query's answer has a sample with a finite value.
fn has_value(result: &[Value]) -> bool {
    result.iter().any(|s| {
        s["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(f64::is_finite)
    })
}

fn prometheus_present() -> bool {
    let found = Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but no prometheus (Debian's package)"
        );
        eprintln!("skipped: no prometheus binary");
    }
    found
}

/// Writes `n` keys one at a time (each its own log entry) and reads some back.
fn traffic(c: &mut redis::Connection, round: usize, n: usize) {
    for i in 0..n {
        let _: () = c.set(format!("k{round}:{i}"), i).unwrap();
    }
    let _: Option<String> = c.get(format!("k{round}:0")).unwrap();
    let _: Option<String> = c.get("missing").unwrap();
}

#[test]
fn dashboard_queries_answer_and_alerts_fire_and_resolve() {
    if !prometheus_present() {
        return;
    }
    let store = tempfile::tempdir().unwrap();
    let url = format!("file://{}", store.path().display());
    let mut cluster = Cluster::start(3, &["--backup-to", &url, "--snapshot-threshold", "200"]);
    let prom_dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(prom_dir.path(), &cluster);
    let leader = cluster.leader();
    let mut c = cluster.node(leader).conn();
    // maxmemory set, so that the memory panel's limit has a value (noeviction stays).
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1gb")
        .query(&mut c)
        .unwrap();
    let _: () = c.set_ex("with-ttl", 1, 600).unwrap();

    // Every dashboard query answers with data: after a snapshot (200 entries), a scheduled
    // backup (the first is due at once), and with traffic in the rate windows.
    let queries = dashboard_queries();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut round = 0;
    loop {
        round += 1;
        traffic(&mut c, round, if round == 1 { 250 } else { 20 });
        let empty: Vec<&(String, String)> = queries
            .iter()
            .filter(|(_, q)| !prom.query(q).is_some_and(|r| has_value(&r)))
            .collect();
        if empty.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "dashboard queries without data after 90 s: {empty:#?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }

    // A follower stopped under writes: the leader sees it fall behind and go silent.
    let follower = cluster.follower();
    let peer = follower.to_string();
    cluster.signal(follower, "STOP");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        round += 1;
        traffic(&mut c, round, 100);
        let about = |alert: &str, label: &str| {
            prom.firing(alert)
                .iter()
                .any(|l| l[label] == peer.as_str() && l["cluster"] == "test")
        };
        if about("CairnFollowerLagging", "follower") && about("CairnFollowerUnreachable", "peer") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "lag alerts did not fire; firing: {:?}",
            prom.query("ALERTS{alertstate=\"firing\"}")
        );
    }
    cluster.signal(follower, "CONT");
    wait_for(Duration::from_secs(60), "lag alerts to resolve", || {
        (prom.firing("CairnFollowerLagging").is_empty()
            && prom.firing("CairnFollowerUnreachable").is_empty())
        .then_some(())
    });

    // The leader and that follower killed: the survivor has no leader, and says so.
    let survivor = cluster
        .nodes
        .iter()
        .map(|n| n.id)
        .find(|&id| id != leader && id != follower)
        .unwrap();
    cluster.kill(leader);
    cluster.kill(follower);
    let instance = format!("127.0.0.1:{}", cluster.node(survivor).http_port);
    wait_for(Duration::from_secs(60), "CairnNoLeader to fire", || {
        let firing = prom.firing("CairnNoLeader");
        firing
            .iter()
            .any(|l| l["instance"] == instance.as_str())
            .then_some(())
    });
    wait_for(Duration::from_secs(30), "CairnNodeDown to fire", || {
        (prom.firing("CairnNodeDown").len() == 2).then_some(())
    });
    cluster.spawn(leader);
    cluster.spawn(follower);
    cluster.wait_leader(Duration::from_secs(30));
    wait_for(
        Duration::from_secs(60),
        "no-leader and node-down alerts to resolve",
        || {
            (prom.firing("CairnNoLeader").is_empty() && prom.firing("CairnNodeDown").is_empty())
                .then_some(())
        },
    );
}
