//! Goal: SAVE, BGSAVE and LASTSAVE behave as Redis's do, on cairn's snapshots: SAVE answers
//! once a snapshot holding every applied write is on disk, BGSAVE starts one in the
//! background, LASTSAVE moves forward, and INFO persistence reports changes since the last
//! save, a save in progress and the last status.
//! Method: one node of a 3-node cluster (a follower: each node snapshots its own state),
//! real `redis` connections, bounded waits.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{cmd, err_text, info_field, info_num, unix_ms, wait_for, Cluster};
use redis::{Commands, Value};

#[test]
fn save_bgsave_and_lastsave() {
    let cluster = Cluster::start(3, &[]);
    let mut c = cluster.node(cluster.follower()).conn();

    // No snapshot yet: LASTSAVE is about the node's start.
    let first: i64 = cmd("LASTSAVE", &[]).query(&mut c).unwrap();
    assert!((unix_ms() / 1000 - first).abs() < 60, "{first}");

    for i in 0..100 {
        let _: () = c.set(format!("k{i}"), i).unwrap();
    }
    assert!(info_num(&mut c, "persistence", "rdb_changes_since_last_save") > 0);

    // SAVE: on disk, covering every write so far.
    std::thread::sleep(Duration::from_millis(1100));
    let ok: String = cmd("SAVE", &[]).query(&mut c).unwrap();
    assert_eq!(ok, "OK");
    let saved: i64 = cmd("LASTSAVE", &[]).query(&mut c).unwrap();
    assert!(saved > first, "LASTSAVE {saved} after SAVE, {first} before");
    assert_eq!(
        info_num(&mut c, "persistence", "rdb_changes_since_last_save"),
        0
    );
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_bgsave_status"),
        "ok"
    );

    // BGSAVE: started, then done.
    let _: () = c.set("later", "x").unwrap();
    let started: String = cmd("BGSAVE", &[]).query(&mut c).unwrap();
    assert_eq!(started, "Background saving started");
    wait_for(Duration::from_secs(30), "the background save", || {
        (info_num(&mut c, "persistence", "rdb_bgsave_in_progress") == 0
            && info_num(&mut c, "persistence", "rdb_changes_since_last_save") == 0)
            .then_some(())
    });
    let ok: String = cmd("BGSAVE", &["SCHEDULE"]).query(&mut c).unwrap();
    assert_eq!(ok, "Background saving started");

    // Bad input: Redis's errors, and the connection goes on.
    assert!(err_text(cmd("BGSAVE", &["NOW"]).query::<Value>(&mut c)).contains("syntax error"));
    assert!(err_text(cmd("LASTSAVE", &["x"]).query::<Value>(&mut c)).contains("wrong number"));
    let v: String = c.get("later").unwrap();
    assert_eq!(v, "x");
}
