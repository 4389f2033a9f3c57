//! Goal: replicas prove they hold the same keyspace, and a replica whose data was changed
//! behind the log's back is found and stops serving reads.
//! Method: `CAIRN CHECK` on a healthy cluster reports every node consistent; then a follower
//! saves a snapshot, is stopped, and one value in that snapshot file is rewritten offline
//! (with valid checksums, as a bug or an operator could): it restarts from the edited file,
//! the next check must flag it, its reads are refused, and the other nodes stay consistent.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{wait_for, Cluster};
use redis::Commands;

fn cairn_check(c: &mut redis::Connection) -> String {
    redis::cmd("CAIRN").arg("CHECK").query(c).unwrap()
}

#[test]
fn check_finds_a_replica_edited_behind_the_logs_back() {
    let mut cluster = Cluster::start(3, &["--check-interval-secs", "1"]);
    let leader = cluster.leader();
    let mut c = cluster.node(leader).conn();
    for i in 0..200 {
        let _: () = c.set(format!("k{i}"), format!("value {i}")).unwrap();
    }
    let report = cairn_check(&mut c);
    assert!(report.contains("result: consistent"), "{report}");
    assert_eq!(report.matches(": ok").count(), 3, "{report}");

    // Rewrite one value on a stopped follower, directly in its snapshot file.
    let victim = cluster.follower();
    {
        let mut vc = cluster.node(victim).conn();
        redis::cmd("SAVE").query::<()>(&mut vc).unwrap();
    }
    cluster.kill(victim);
    let verify = || {
        std::process::Command::new(common::BIN)
            .arg("verify")
            .arg("--data-dir")
            .arg(&cluster.node(victim).data_dir)
            .output()
            .unwrap()
    };
    let healthy = verify();
    assert!(
        healthy.status.success(),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    assert!(String::from_utf8_lossy(&healthy.stdout).contains("matches its digest"));
    common::edit_snapshot(&cluster.node(victim).data_dir, |key, value| {
        if key.ends_with(b"k7") {
            let last = value.len() - 1;
            value[last] ^= 0x01; // "value 7" becomes "value 6"
        }
    });
    // The edited file is well formed: offline verification passes (only the other
    // replicas can tell).
    assert!(verify().status.success());

    cluster.spawn(victim);
    let node = cluster.node(victim);
    wait_for(
        Duration::from_secs(20),
        "the edited replica to report it",
        || {
            let mut vc = node.try_conn()?;
            let info: String = redis::cmd("INFO").arg("replication").query(&mut vc).ok()?;
            info.contains("cairn_consistency:diverged").then_some(())
        },
    );

    // It refuses reads, even local (READONLY) ones; the others serve them.
    let mut vc = node.conn();
    let err = vc.get::<_, Option<String>>("k7").unwrap_err();
    assert!(err.to_string().contains("consistency check"), "{err}");
    redis::cmd("READONLY").query::<()>(&mut vc).unwrap();
    assert!(vc.get::<_, Option<String>>("k7").is_err());
    let v: String = c.get("k7").unwrap();
    assert_eq!(v, "value 7");

    // A check round names it; writes through it still work.
    let report = cairn_check(&mut c);
    assert!(
        report.contains(&format!("node {victim}: MISMATCH")),
        "{report}"
    );
    assert!(report.contains("result: INCONSISTENT"), "{report}");
    // `cairn check` prints the same and fails.
    let out = std::process::Command::new(common::BIN)
        .args(["check", "--port", &cluster.node(leader).port.to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("node {victim}: MISMATCH")), "{text}");
    let _: () = vc.set("still", "writable").unwrap();
    let metrics = common::http_get(node.http_port, "/metrics").unwrap().1;
    assert!(
        metrics.contains("cairn_raft{field=\"consistent\"} 0"),
        "{metrics}"
    );

    // CAIRN REPAIR on the diverged replica: it leaves the cluster, exits to be restarted,
    // comes back empty, rejoins from the leader's snapshot, and is consistent again.
    let wrong = redis::cmd("CAIRN")
        .arg("REPAIR")
        .arg(leader)
        .query::<String>(&mut vc)
        .unwrap_err();
    assert!(wrong.to_string().contains("send it to node"), "{wrong}");
    let answer: String = redis::cmd("CAIRN").arg("REPAIR").query(&mut vc).unwrap();
    assert!(answer.starts_with("OK rebuilding"), "{answer}");
    let status = cluster.wait_exit(victim, Duration::from_secs(20));
    assert_eq!(status.code(), Some(75), "exit code asks for a restart");
    cluster.spawn(victim); // what the supervisor does
    wait_for(
        Duration::from_secs(60),
        "the rebuilt node to be a voter again",
        || {
            let list: String = redis::cmd("CAIRN").arg("MEMBERS").query(&mut c).ok()?;
            list.lines()
                .any(|l| l.starts_with(&format!("id={victim} ")) && l.contains(" voter"))
                .then_some(())
        },
    );
    let report = wait_for(Duration::from_secs(30), "a consistent check", || {
        let r = redis::cmd("CAIRN")
            .arg("CHECK")
            .query::<String>(&mut c)
            .ok()?;
        r.contains("result: consistent").then_some(r)
    });
    assert_eq!(report.matches(": ok").count(), 3, "{report}");
    assert_eq!(
        common::local_get(cluster.node(victim), "k7").as_deref(),
        Some("value 7")
    );
    assert_eq!(
        common::local_get(cluster.node(victim), "still").as_deref(),
        Some("writable")
    );
}

/// A restarted follower with a big keyspace, behind the leader, catches up while a writer keeps
/// the leader busy, several times over, and is never declared diverged (a start-up audit that
/// ran beside raft once did that: found by `crash_durability`).
#[test]
fn a_follower_catching_up_at_start_is_not_declared_corrupt() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let mut c = cluster.node(leader).conn();
    // 200k keys: a scan long enough (~0.1 s) that the leader's appends land in the middle.
    for chunk in 0..200 {
        let mut mset = redis::cmd("MSET");
        for i in 0..1000 {
            mset.arg(format!("pre{chunk}-{i}")).arg(i);
        }
        mset.query::<()>(&mut c).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, written) = (stop.clone(), written.clone());
        let mut c = cluster.node(leader).conn();
        std::thread::spawn(move || {
            // Bounded by count and by the stop flag.
            for i in 1..=200_000u64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if c.set::<_, _, ()>(format!("live{i}"), i).is_ok() {
                    written.store(i, Ordering::Relaxed);
                }
            }
        })
    };
    let victim = cluster.follower();
    for round in 0..4 {
        cluster.kill(victim);
        std::thread::sleep(Duration::from_millis(400));
        cluster.spawn(victim);
        let target = written.load(Ordering::Relaxed);
        let node = cluster.node(victim);
        wait_for(
            Duration::from_secs(30),
            "the restarted follower to catch up",
            || {
                // A replica that declared itself corrupt refuses reads: fail with why.
                let log = node.log_text();
                assert!(
                    !log.contains("does not match its digest"),
                    "round {round}: {log}"
                );
                common::local_get(node, &format!("live{target}")).map(|_| ())
            },
        );
        let mut vc = node.conn();
        let state = common::info_field(&mut vc, "replication", "cairn_consistency");
        assert_ne!(state, "diverged", "round {round}");
        let log = node.log_text();
        assert!(
            !log.contains("does not match its digest"),
            "round {round}: {log}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(written.load(Ordering::Relaxed) > 0);
}
