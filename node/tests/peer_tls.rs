//! Goal: with peer mTLS (`--peer-tls-cert-file`, `--peer-tls-key-file`,
//! `--peer-tls-ca-cert-file`) a cluster elects, replicates and serves as usual, while a node
//! whose certificate comes from another CA, or a node speaking plaintext, cannot join, vote or
//! append; a node given only part of the TLS material refuses to start and says why.
//! Method: two CAs made by rcgen in a temporary directory; a 3-node cluster of real `cairn`
//! processes on loopback; strangers that ask to join through the leader's peer port.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{wait_for, Cluster};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

/// Writes `<name>-ca.pem`, `<name>.pem` and `<name>.key` (a peer certificate for 127.0.0.1
/// and localhost, signed by that CA) into `dir`; returns the flags that use them.
fn make_peer_pki(dir: &Path, name: &str) -> Vec<String> {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let file = |suffix: &str| dir.join(format!("{name}{suffix}"));
    std::fs::write(file("-ca.pem"), ca.pem()).unwrap();
    std::fs::write(file(".pem"), cert.pem()).unwrap();
    std::fs::write(file(".key"), key.serialize_pem()).unwrap();
    let path = |suffix: &str| file(suffix).to_string_lossy().into_owned();
    vec![
        "--peer-tls-cert-file".into(),
        path(".pem"),
        "--peer-tls-key-file".into(),
        path(".key"),
        "--peer-tls-ca-cert-file".into(),
        path("-ca.pem"),
    ]
}

fn is_member(cluster: &Cluster, id: u64) -> bool {
    let mut c = cluster.node(cluster.leader()).conn();
    let listed: String = redis::cmd("CAIRN").arg("MEMBERS").query(&mut c).unwrap();
    listed.lines().any(|l| l.starts_with(&format!("id={id} ")))
}

#[test]
fn peers_talk_over_mutual_tls_and_strangers_are_refused() {
    let mut cluster = Cluster::unstarted(3, &[]);
    let ours = make_peer_pki(cluster.dir.path(), "ours");
    let theirs = make_peer_pki(cluster.dir.path(), "theirs");
    cluster.extra = ours.clone();
    cluster.launch();
    let leader = cluster.leader();
    let via = format!("127.0.0.1:{}", cluster.node(leader).raft_port);

    // Writes commit through TLS replication and every replica applies them.
    let mut c = cluster.node(leader).conn();
    redis::cmd("SET")
        .arg("k")
        .arg("v1")
        .query::<()>(&mut c)
        .unwrap();
    for n in 1..=3u64 {
        wait_for(Duration::from_secs(10), "the write to replicate", || {
            (common::local_get(cluster.node(n), "k").as_deref() == Some("v1")).then_some(())
        });
    }

    // A certificate from another CA: refused by the TLS handshake, every time it is tried.
    cluster.extra = theirs;
    let stranger = cluster.add_node();
    cluster.spawn_with(stranger, &["--join", &via]);
    // A plaintext peer (no TLS at all) is refused too.
    cluster.extra = Vec::new();
    let plain = cluster.add_node();
    cluster.spawn_with(plain, &["--join", &via]);
    // Each keeps retrying, and what it logs names the failure.
    wait_for(
        Duration::from_secs(30),
        "both joins to fail 5 times",
        || {
            let failed = |id: u64| {
                cluster
                    .node(id)
                    .log_text()
                    .matches("join: retrying")
                    .count()
                    >= 5
            };
            (failed(stranger) && failed(plain)).then_some(())
        },
    );
    let log = cluster.node(stranger).log_text().to_lowercase();
    assert!(log.contains("certificate"), "{log}");
    cluster.kill(stranger);
    cluster.kill(plain);
    assert!(!is_member(&cluster, stranger), "the stranger joined");
    assert!(!is_member(&cluster, plain), "the plaintext node joined");

    // The cluster still serves writes.
    let mut c = cluster.node(cluster.leader()).conn();
    redis::cmd("SET")
        .arg("k")
        .arg("v2")
        .query::<()>(&mut c)
        .unwrap();
    let got: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(got, "v2");

    // A member with the right certificate joins as any new member does.
    cluster.extra = ours.clone();
    let friend = cluster.add_node();
    cluster.spawn_with(friend, &["--join", &via]);
    wait_for(Duration::from_secs(30), "the friend to join", || {
        is_member(&cluster, friend).then_some(())
    });
    wait_for(Duration::from_secs(10), "the friend to catch up", || {
        (common::local_get(cluster.node(friend), "k").as_deref() == Some("v2")).then_some(())
    });

    // Only part of the TLS material: the node refuses to start and names what is missing.
    cluster.extra = ours[..2].to_vec();
    let partial = cluster.add_node();
    cluster.spawn_with(partial, &[]);
    let status = cluster.wait_exit(partial, Duration::from_secs(10));
    assert!(!status.success());
    let log = cluster.node(partial).log_text();
    assert!(log.contains("--peer-tls-ca-cert-file"), "{log}");
}
