//! Goal: /healthz, /readyz and /metrics behave as probes and Prometheus expect.
//! Method: a 3-node cluster with an HTTP port each; the metrics text is checked line by line
//! against the Prometheus text format; /readyz must flip to 503 when the node loses its
//! leader (two of three nodes killed).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{http_get, wait_for, Cluster};
use redis::Commands;

/// Checks the Prometheus text exposition format (0.0.4): comments are `# HELP name text` or
/// `# TYPE name type`; samples are `name{label="value",...} number`.
fn check_prometheus_text(text: &str) -> Result<usize, String> {
    let mut samples = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap_or("");
            let name = parts.next().unwrap_or("");
            if !matches!(kind, "HELP" | "TYPE") || name.is_empty() {
                return Err(format!("bad comment line: {line}"));
            }
            if kind == "TYPE"
                && !matches!(
                    parts.next(),
                    Some("counter" | "gauge" | "histogram" | "summary" | "untyped")
                )
            {
                return Err(format!("bad TYPE: {line}"));
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or(format!("no value: {line}"))?;
        if value.parse::<f64>().is_err() && !matches!(value, "+Inf" | "-Inf" | "NaN") {
            return Err(format!("bad value: {line}"));
        }
        let name = series.split('{').next().unwrap_or("");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return Err(format!("bad metric name: {line}"));
        }
        if let Some(labels) = series.strip_prefix(name) {
            let braced = labels.starts_with('{') && labels.ends_with('}');
            if !labels.is_empty() && !braced {
                return Err(format!("bad labels: {line}"));
            }
        }
        samples += 1;
    }
    Ok(samples)
}

#[test]
fn health_ready_and_metrics() {
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let mut c = cluster.node(leader).conn();
    let _: () = c.set("k", "v").unwrap();
    let _: Option<String> = c.get("k").unwrap();

    for n in &cluster.nodes {
        // The HTTP listener starts beside the RESP one: allow it a moment.
        wait_for(Duration::from_secs(10), "healthz", || {
            (http_get(n.http_port, "/healthz")?.0 == 200).then_some(())
        });
        wait_for(Duration::from_secs(10), "ready", || {
            (http_get(n.http_port, "/readyz")?.0 == 200).then_some(())
        });
    }
    let (status, text) = http_get(cluster.node(leader).http_port, "/metrics").unwrap();
    assert_eq!(status, 200);
    let samples = check_prometheus_text(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(samples > 20, "{text}");
    assert!(text.contains("cairn_raft{field=\"is_leader\"} 1"), "{text}");
    assert!(
        text.contains("cairn_commands_total{cmd=\"set\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("cairn_command_duration_seconds_bucket{cmd=\"get\""),
        "{text}"
    );
    assert!(
        text.contains("cairn_keys{db=\"0\",kind=\"all\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("cairn_replication_lag_entries{follower="),
        "{text}"
    );
    // One metric per quantity (docs/METRICS.md), beside the deprecated families above.
    for line in [
        "cairn_raft_is_leader 1",
        "cairn_raft_has_leader 1",
        "cairn_raft_voters 3",
        "cairn_raft_voters_reachable 3",
        "cairn_db_keys{db=\"0\"} 1",
        "cairn_consistency_ok 1",
        "cairn_disk_full 0",
        "cairn_maxmemory_policy_info{policy=\"noeviction\"} 1",
        "cairn_keyspace_hits_total 1",
        "# TYPE cairn_raft_leader_changes_total counter",
        "# TYPE process_resident_memory_bytes gauge",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    assert!(
        text.contains("cairn_raft_peer_last_contact_seconds{peer="),
        "{text}"
    );

    // Without a quorum the survivor has no leader and says it is not ready.
    let others: Vec<u64> = cluster
        .nodes
        .iter()
        .map(|n| n.id)
        .filter(|i| *i != leader)
        .collect();
    cluster.kill(leader);
    cluster.kill(others[0]);
    let survivor = cluster.node(others[1]);
    wait_for(Duration::from_secs(15), "/readyz to report 503", || {
        let (status, body) = http_get(survivor.http_port, "/readyz")?;
        (status == 503 && body.contains("not ready")).then_some(())
    });
    assert_eq!(http_get(survivor.http_port, "/healthz").unwrap().0, 200);
}
