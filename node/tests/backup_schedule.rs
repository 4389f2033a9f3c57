//! Goal: `--backup-to` on a local directory takes backups on schedule from exactly one node,
//! keeps exactly `--backup-keep` of them, reports its status in INFO, and a backup restores.
//! Method: a 3-node cluster with a 1 s interval and keep 2; wait for several backups.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::backup::cairn_ok;
use common::{wait_for, Cluster};

fn info_field(c: &mut redis::Connection, key: &str) -> Option<String> {
    let info: String = redis::cmd("INFO").arg("backup").query(c).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_string())
}

#[test]
fn scheduled_backups_to_a_directory_keep_exactly_n() {
    let store = tempfile::tempdir().unwrap();
    let url = format!("file://{}", store.path().display());
    let cluster = Cluster::start(
        3,
        &[
            "--backup-to",
            &url,
            "--backup-interval",
            "1s",
            "--backup-keep",
            "2",
        ],
    );
    let leader = cluster.leader();
    let mut c = cluster.node(leader).conn();
    for i in 0..100 {
        redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query::<()>(&mut c)
            .unwrap();
    }
    wait_for(Duration::from_secs(60), "4 scheduled backups", || {
        let n: u64 = info_field(&mut c, "backup_ok_count")?.parse().ok()?;
        (n >= 4).then_some(())
    });
    assert_eq!(
        info_field(&mut c, "backup_last_error").as_deref(),
        Some("none")
    );
    assert!(
        info_field(&mut c, "backup_last_bytes")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    // Only the leader takes scheduled backups.
    for id in (1..=3).filter(|id| *id != leader) {
        let mut f = cluster.node(id).conn();
        assert_eq!(info_field(&mut f, "backup_ok_count").as_deref(), Some("0"));
    }
    // Retention runs after each verified backup: wait for it to settle at exactly 2.
    let complete = wait_for(Duration::from_secs(20), "retention to keep 2", || {
        let listing = cairn_ok(&["backup", "list", &url], &[]);
        let n = listing.lines().filter(|l| l.contains("created=")).count();
        (n == 2 && !listing.contains("INCOMPLETE")).then_some(listing)
    });
    let dirs = std::fs::read_dir(store.path()).unwrap().count();
    assert!(dirs <= 3, "{dirs} backup dirs left:\n{complete}");

    let verified = cairn_ok(&["backup", "verify", &format!("{url}/latest")], &[]);
    let words: Vec<&str> = verified.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "entries")
        .expect("an entry count");
    let entries: u64 = words[at - 1].parse().unwrap();
    assert!(
        entries >= 100,
        "{entries} entries in the backup of 100 keys"
    );
    assert!(
        verified.contains("keyspace: matches its digest"),
        "{verified}"
    );
}
