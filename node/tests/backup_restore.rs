//! Goal: a cluster lost entirely, data dirs included, comes back from object storage with
//! every key, value and TTL; damaged, unauthorized and unkeyed restores are refused clearly.
//! Method: a real S3-compatible server (s3s-fs, which checks signatures) on loopback; a
//! 3-node cluster with ~100k keys of every type is backed up encrypted through a follower
//! with `cairn backup create`; a fresh 3-node cluster is built with `cairn backup restore`
//! and compared key by key with the original.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::backup::{assert_same, cairn, cairn_ok, dump, fill, S3Server};
use common::{wait_for, Cluster};

const KEYS: usize = 100_000;

#[test]
fn backup_to_s3_restores_into_a_fresh_cluster() {
    let s3 = S3Server::start();
    let env = s3.env();
    let scratch = tempfile::tempdir().unwrap();
    let key_file = scratch.path().join("backup.key");
    std::fs::write(&key_file, "11".repeat(32)).unwrap();
    let key_arg = key_file.to_str().unwrap();

    // The nodes get the S3 credentials from their environment, the key from a flag.
    let mut a = Cluster::unstarted(3, &["--backup-key-file", key_arg]);
    a.env = env.clone();
    a.launch();
    let leader = a.leader();
    fill(a.node(leader), KEYS);
    let follower = a.follower();
    let url = s3.url("prod");
    let out = cairn_ok(
        &[
            "backup",
            "create",
            "--port",
            &a.node(follower).port.to_string(),
            "--to",
            &url,
        ],
        &[],
    );
    assert!(out.contains("encrypted: true"), "{out}");
    let before = dump(a.node(leader));
    assert!(before.len() >= KEYS, "{} keys", before.len());
    drop(a); // the whole cluster is gone, data dirs included

    let listing = cairn_ok(&["backup", "list", &url], &env);
    assert_eq!(listing.lines().count(), 1, "{listing}");
    assert!(listing.contains("encrypted"), "{listing}");
    let latest = format!("{url}/latest");

    // Wrong credentials: a clear error, not a hang.
    let mut wrong = env.clone();
    wrong.retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
    wrong.push(("AWS_SECRET_ACCESS_KEY".into(), "not-the-secret".into()));
    let out = cairn(&["backup", "list", &url], &wrong);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("403") || err.contains("SignatureDoesNotMatch"),
        "{err}"
    );

    // Without the key: refused before anything is written.
    let mut b = Cluster::unstarted(3, &[]);
    let dir1 = b.node(1).data_dir.to_str().unwrap().to_string();
    let out = cairn(
        &[
            "backup",
            "restore",
            &latest,
            "--data-dir",
            &dir1,
            "--id",
            "1",
            "--initial-cluster",
            &b.spec,
        ],
        &env,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("encrypted"));
    assert!(
        holds_nothing(&b.node(1).data_dir),
        "a refused restore wrote data"
    );

    // A full verify, then a restore of every node of the new cluster.
    let verified = cairn_ok(&["backup", "verify", &latest, "--key-file", key_arg], &env);
    assert!(
        verified.contains("keyspace: matches its digest"),
        "{verified}"
    );
    for id in 1..=3u64 {
        let dir = b.node(id).data_dir.to_str().unwrap().to_string();
        let out = cairn_ok(
            &[
                "backup",
                "restore",
                &latest,
                "--data-dir",
                &dir,
                "--id",
                &id.to_string(),
                "--initial-cluster",
                &b.spec,
                "--key-file",
                key_arg,
            ],
            &env,
        );
        assert!(out.contains("restored backup"), "{out}");
    }
    b.launch();
    let after = dump(b.node(b.leader()));
    assert_same(&before, &after, 120);
    // The new cluster takes writes and its replicas agree.
    let mut c = b.node(b.leader()).conn();
    redis::cmd("SET")
        .arg("after-restore")
        .arg("1")
        .query::<()>(&mut c)
        .unwrap();
    let check: String = redis::cmd("CAIRN").arg("CHECK").query(&mut c).unwrap();
    assert!(check.contains("result: consistent"), "{check}");
}

/// A one-node cluster with 20k keys and one backup of them (in 64 KiB parts) at `prefix`.
fn one_node_backed_up(s3: &S3Server, prefix: &str) -> (Cluster, String) {
    let mut a = Cluster::unstarted(1, &["--backup-part-size", "65536"]);
    a.env = s3.env();
    a.launch();
    fill(a.node(1), 20_000);
    let url = s3.url(prefix);
    let port = a.node(1).port.to_string();
    cairn_ok(&["backup", "create", "--port", &port, "--to", &url], &[]);
    (a, url)
}

/// Restores `backup` as node 1 of a one-node cluster into `dir`.
fn restore_one(
    backup: &str,
    dir: &std::path::Path,
    env: &[(String, String)],
) -> std::process::Output {
    let dir = dir.to_str().unwrap();
    let args = ["backup", "restore", backup, "--data-dir", dir, "--id", "1"];
    let mut args: Vec<&str> = args.to_vec();
    args.extend(["--initial-cluster", "1=127.0.0.1:1@2"]);
    cairn(&args, env)
}

#[test]
fn damaged_parts_are_detected_and_refused() {
    let s3 = S3Server::start();
    let env = s3.env();
    let (_cluster, url) = one_node_backed_up(&s3, "damaged");
    let listing = cairn_ok(&["backup", "list", &url], &env);
    let id = listing.split_whitespace().next().unwrap().to_string();
    assert!(listing.contains("parts="), "{listing}");

    // Flip one byte in the middle of the second part, as a disk or network might.
    let part = s3.object_path(&format!("damaged/{id}/part-000001"));
    let mut bytes = std::fs::read(&part).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&part, bytes).unwrap();

    let backup = format!("{url}/{id}");
    let out = cairn(&["backup", "verify", &backup], &env);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("part-000001") && err.contains("crc32"),
        "{err}"
    );

    let target = tempfile::tempdir().unwrap();
    let dir = target.path().join("node1");
    let out = restore_one(&backup, &dir, &env);
    assert!(!out.status.success());
    assert!(
        holds_nothing(&dir),
        "a refused restore must leave nothing to start from"
    );
}

#[test]
fn an_upload_killed_midway_never_looks_complete() {
    let s3 = S3Server::start();
    let env = s3.env();
    let (mut a, url) = one_node_backed_up(&s3, "killed");
    let port = a.node(1).port.to_string();

    // Freeze the object store, start a second backup, let a few parts through, then kill
    // the node that is uploading.
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args(["-s", sig, &s3.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -s {sig}");
    };
    let mut c = a.node(1).conn();
    redis::cmd("SET")
        .arg("newer")
        .arg("1")
        .query::<()>(&mut c)
        .unwrap();
    signal("STOP");
    let creator = std::process::Command::new(common::BIN)
        .args(["backup", "create", "--port", &port, "--to", &url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(20), "the backup to start", || {
        let info: String = redis::cmd("INFO").arg("backup").query(&mut c).ok()?;
        info.contains("backup_in_progress:1").then_some(())
    });
    signal("CONT");
    std::thread::sleep(Duration::from_millis(30));
    a.kill(1);
    let mut creator = creator;
    let _ = creator.wait();

    let listing = cairn_ok(&["backup", "list", &url], &env);
    let complete = listing
        .lines()
        .filter(|l| !l.contains("INCOMPLETE"))
        .count();
    assert_eq!(complete, 1, "only the first backup is complete:\n{listing}");
    // `latest` is the complete one and restores.
    let target = tempfile::tempdir().unwrap();
    let out = restore_one(&format!("{url}/latest"), &target.path().join("n1"), &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether a data dir is missing or empty: what a refused restore leaves.
fn holds_nothing(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut entries| entries.next().is_none())
}
