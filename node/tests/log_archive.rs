//! Goal: the continuous log archive loses no acknowledged write older than a second when
//! every node and disk is lost, across a change of leader and an object store that dies
//! mid-upload; restores to a time undo a FLUSHALL key by key; a damaged segment stops a
//! restore with its name and the last consistent index.
//! Method: a real S3-compatible server (s3s-fs, which checks signatures) on loopback; one
//! client pushes numbered elements to a list and records when each was acknowledged; the
//! cluster is rebuilt with `cairn backup restore URL [--to-time T]` and compared with that
//! record.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::backup::{cairn, cairn_ok, S3Server};
use common::{info_num, unix_ms, wait_for, Cluster};
use redis::Commands;

/// Restores `url` (with `more` flags) into every node of a new cluster of `n`, all from one
/// `cairn backup restore` (one download and replay), and starts it.
fn restore_cluster(url: &str, n: usize, more: &[&str], env: &[(String, String)]) -> Cluster {
    let mut b = Cluster::unstarted(n, &[]);
    let dirs: Vec<String> = b
        .nodes
        .iter()
        .map(|n| n.data_dir.to_str().unwrap().to_string())
        .collect();
    let ids: Vec<String> = b.nodes.iter().map(|n| n.id.to_string()).collect();
    let mut args = vec!["backup", "restore", url, "--initial-cluster", &b.spec];
    for (dir, id) in dirs.iter().zip(&ids) {
        args.extend(["--data-dir", dir.as_str(), "--id", id.as_str()]);
    }
    args.extend(more);
    let out = cairn_ok(&args, env);
    assert!(out.contains("restored backup"), "{out}");
    assert_eq!(
        out.matches("copied the restored state").count(),
        n - 1,
        "{out}"
    );
    b.env = env.to_vec();
    b.launch();
    b
}

fn archive_flags(url: &str) -> Vec<String> {
    vec!["--archive-to".into(), url.into()]
}

#[test]
fn every_write_acknowledged_a_second_before_losing_every_node_is_restored() {
    let mut s3 = S3Server::start();
    let env = s3.env();
    let url = s3.url("rpo");
    // Encrypted: the segments are sealed with the backup key, as the backups are.
    let scratch = tempfile::tempdir().unwrap();
    let key_file = scratch.path().join("backup.key");
    std::fs::write(&key_file, "22".repeat(32)).unwrap();
    let key_file = key_file.to_str().unwrap();
    let mut flags = archive_flags(&url);
    flags.extend(["--backup-key-file".to_string(), key_file.to_string()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut a = Cluster::unstarted(3, &flags);
    a.env = env.clone();
    a.launch();
    let leader = a.leader();
    let port = a.node(leader).port.to_string();
    cairn_ok(&["backup", "create", "--port", &port, "--to", &url], &[]);

    // One client pushes 0, 1, 2, ... and notes when each was acknowledged. Meanwhile the
    // leader is killed, and later the object store dies mid-upload and comes back.
    let mut acked: Vec<(u64, i64)> = Vec::new();
    // Numbers whose push got no reply (the node died): maybe applied, then pushed again.
    let mut unsure = std::collections::HashSet::new();
    let mut next = 0u64;
    let mut conn: Option<redis::Connection> = None;
    let started = Instant::now();
    let mut killed_leader = false;
    let mut s3_down = false;
    let mut s3_back = false;
    while started.elapsed() < Duration::from_secs(14) {
        let t = started.elapsed();
        if !killed_leader && t > Duration::from_secs(4) {
            a.kill(leader);
            killed_leader = true;
            conn = None;
        }
        if !s3_down && t > Duration::from_secs(8) {
            s3.kill();
            s3_down = true;
        }
        if s3_down && !s3_back && t > Duration::from_secs(10) {
            s3.restart();
            s3_back = true;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                let alive = a.nodes.iter().find(|n| n.id != leader).unwrap();
                conn = alive.try_conn();
                match conn.as_mut() {
                    Some(c) => c,
                    None => continue,
                }
            }
        };
        match c.rpush::<_, _, i64>("log", next) {
            Ok(_) => {
                acked.push((next, unix_ms()));
                next += 1;
            }
            Err(_) => {
                unsure.insert(next);
                conn = None;
            }
        }
    }
    // Every node and its data dir lost at once.
    let lost_at = unix_ms();
    let survivors: Vec<u64> = a.nodes.iter().map(|n| n.id).collect();
    for id in survivors {
        a.kill(id);
    }
    drop(a);
    assert!(acked.len() > 200, "only {} writes", acked.len());

    let listing = cairn_ok(&["backup", "list", &url], &env);
    assert!(listing.contains("archive  indexes="), "{listing}");
    assert!(!listing.contains("GAP"), "{listing}");

    let without_key = cairn(&["backup", "verify", &url], &env);
    assert!(
        !without_key.status.success(),
        "an encrypted archive verified without its key"
    );
    let b = restore_cluster(&url, 3, &["--key-file", key_file], &env);
    let mut c = b.node(b.leader()).conn();
    let log: Vec<u64> = c.lrange("log", 0, -1).unwrap();
    let mut seen = std::collections::HashSet::new();
    let dups: Vec<u64> = log.iter().copied().filter(|v| !seen.insert(*v)).collect();
    // Only a number pushed again after a push without a reply may appear twice.
    for d in &dups {
        assert!(unsure.contains(d), "{d} restored twice: {dups:?}");
    }
    let newest_restored = acked.iter().rev().find(|(v, _)| seen.contains(v));
    eprintln!(
        "acked {} pushes, restored {} elements, {} repeated; newest restored push acked {} ms before the loss",
        acked.len(),
        log.len(),
        dups.len(),
        newest_restored.map_or(-1, |(_, at)| lost_at - at)
    );
    let missing: Vec<u64> = acked
        .iter()
        .filter(|(v, at)| lost_at - at > 1000 && !seen.contains(v))
        .map(|(v, _)| *v)
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged more than 1 s before the loss but not restored: {missing:?} (restored {} of {})",
        log.len(),
        acked.len()
    );
}

#[test]
fn a_flushall_is_undone_by_restoring_to_just_before_it() {
    let s3 = S3Server::start();
    let env = s3.env();
    let url = s3.url("pitr");
    let flags = archive_flags(&url);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut a = Cluster::unstarted(1, &flags);
    a.env = env.clone();
    a.launch();
    let mut c = a.node(1).conn();
    for i in 0..200 {
        let _: () = c.set(format!("before-backup:{i}"), i).unwrap();
    }
    let port = a.node(1).port.to_string();
    cairn_ok(&["backup", "create", "--port", &port, "--to", &url], &[]);
    // After the backup, one write per entry: the restore must replay them.
    for i in 0..300 {
        let _: () = c.set(format!("after-backup:{i}"), i).unwrap();
        let _: () = c.hset("h", i, i * 2).unwrap();
        if i % 100 == 99 {
            // Longer than the archive's cadence: these writes span several segments.
            std::thread::sleep(Duration::from_millis(700));
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    let before_flush = chrono::DateTime::from_timestamp_millis(unix_ms()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    for i in 0..50 {
        let _: () = c.set(format!("after-flush:{i}"), i).unwrap();
    }
    wait_for(Duration::from_secs(20), "the archive to catch up", || {
        (info_num(&mut c, "archive", "archive_lag_entries") == 0
            && info_num(&mut c, "archive", "archive_uploads_ok") > 0)
            .then_some(())
    });
    drop(c);
    drop(a);

    let verify = cairn_ok(&["backup", "verify", &url], &env);
    assert!(verify.contains("every checksum matches"), "{verify}");
    assert!(verify.contains("keyspace"), "{verify}");

    let t = before_flush.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let b = restore_cluster(&url, 1, &["--to-time", &t], &env);
    let mut c = b.node(1).conn();
    for i in 0..200 {
        let v: Option<i64> = c.get(format!("before-backup:{i}")).unwrap();
        assert_eq!(v, Some(i), "before-backup:{i}");
    }
    for i in 0..300 {
        let v: Option<i64> = c.get(format!("after-backup:{i}")).unwrap();
        assert_eq!(v, Some(i), "after-backup:{i}");
        let h: Option<i64> = c.hget("h", i).unwrap();
        assert_eq!(h, Some(i * 2), "h {i}");
    }
    let after: Option<i64> = c.get("after-flush:0").unwrap();
    assert_eq!(after, None, "a write after the target time was restored");
    let keys: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(keys, 501);
    drop(c);
    drop(b);

    // Without a target: everything archived, the FLUSHALL and what followed included.
    let b = restore_cluster(&url, 1, &[], &env);
    let mut c = b.node(1).conn();
    let keys: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(keys, 50);
    drop(c);
    drop(b);

    // A damaged segment among those replayed after the backup: named, with the last index
    // a restore can reach.
    let listing = cairn_ok(&["backup", "list", &url], &env);
    let backup_index: u64 = listing
        .split_whitespace()
        .find_map(|w| w.strip_prefix("index="))
        .unwrap()
        .parse()
        .unwrap();
    let listing = std::fs::read_dir(s3.object_path("pitr/archive")).unwrap();
    let mut segments: Vec<_> = listing
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name[..20].parse::<u64>().unwrap() > backup_index
        })
        .collect();
    segments.sort();
    assert!(segments.len() >= 2, "{segments:?}");
    let victim = &segments[segments.len() / 2];
    let mut bytes = std::fs::read(victim).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0xff;
    std::fs::write(victim, bytes).unwrap();
    let name = victim.file_name().unwrap().to_str().unwrap().to_string();
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("n1");
    let dir = dir.to_str().unwrap();
    let args = ["backup", "restore", &url, "--data-dir", dir, "--id", "1"];
    let mut args = args.to_vec();
    args.extend(["--initial-cluster", "1=127.0.0.1:1@2"]);
    let out = cairn(&args, &env);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&name) && err.contains("last consistent point"),
        "{err}"
    );
    assert!(
        !std::path::Path::new(dir).join("wal").exists(),
        "a failed restore left a data dir"
    );
    args.push("--stop-at-damage");
    let out = cairn_ok(&args, &env);
    assert!(out.contains("the state at log index"), "{out}");
    let reached: u64 = name[..20].parse::<u64>().unwrap() - 1;
    assert!(out.contains(&format!("log index {reached} in")), "{out}");
    let out = cairn(&["backup", "verify", &url], &env);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&name));
}

#[test]
fn retention_keeps_the_archive_after_the_oldest_kept_backup() {
    let store = tempfile::tempdir().unwrap();
    let url = format!("file://{}", store.path().display());
    let flags = [
        "--archive-to",
        &url,
        "--backup-to",
        &url,
        "--backup-interval",
        "1s",
        "--backup-keep",
        "2",
    ];
    let a = Cluster::start(1, &flags);
    let mut c = a.node(1).conn();
    let mut i = 0u64;
    // Writes go on while backups are taken and pruned, so the archive grows past each one.
    let (oldest, first) = wait_for(Duration::from_secs(90), "retention of the archive", || {
        for _ in 0..50 {
            let _: () = c.set(format!("k{i}"), i).unwrap();
            i += 1;
        }
        let listing = cairn_ok(&["backup", "list", &url], &[]);
        let kept: Vec<u64> = listing
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("index=")?.parse().ok())
            .collect();
        let first: u64 = listing
            .split_whitespace()
            .find_map(|w| w.strip_prefix("indexes=")?.split("..").next()?.parse().ok())?;
        let done = info_num(&mut c, "backup", "backup_ok_count") >= 4 && first > 1;
        (done && kept.len() == 2).then(|| (kept[0], first))
    });
    // Segments before the oldest kept backup are gone; those after it stay, so a restore
    // from that backup can replay forward.
    assert!(
        first <= oldest + 1,
        "archive starts at {first}, oldest backup at {oldest}"
    );
    let to = (oldest + 1).to_string();
    drop(c);
    // Stopped first: its schedule would otherwise go on pruning (a backup a second, two
    // kept) and could delete the backup and segments the restore is reading.
    drop(a);
    let b = restore_cluster(&url, 1, &["--to-index", &to], &[]);
    let mut c = b.node(1).conn();
    let keys: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert!(keys > 0);
}
