//! Goal: a follower whose wall clock is wrong serves TTL keys as the leader's clock says:
//! a key is neither gone early nor visible late there, and TTL/PTTL agree with the leader's.
//! (Expiry follows the leader's clock: followers read with the time their read-index round
//! brought back.)
//! Method: three real nodes, each with libfaketime (Debian's `faketime`) preloaded and its
//! own offset file; once a leader is known, one follower's wall clock moves 30 s ahead, then
//! 30 s behind; keys with a 2.5 s TTL are written through the leader and read on the
//! skewed follower before and after their deadline.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{unix_ms, wait_for, Cluster};

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

fn set_offset(file: &Path, secs: i64) {
    std::fs::write(file, format!("{secs:+}\n")).unwrap();
}

/// The node's TIME in ms since the epoch.
fn node_time_ms(c: &mut redis::Connection) -> i64 {
    let (s, us): (i64, i64) = redis::cmd("TIME").query(c).unwrap();
    s * 1000 + us / 1000
}

#[test]
fn a_skewed_follower_expires_keys_by_the_leaders_clock() {
    if !Path::new(LIBFAKETIME).exists() {
        assert!(
            std::env::var("CI").is_err(),
            "libfaketime is missing (apt-get install faketime); CI must have it"
        );
        eprintln!("skipped: no libfaketime");
        return;
    }
    let mut cluster = Cluster::unstarted(3, &[]);
    let clocks: Vec<PathBuf> = (1..=3)
        .map(|i| cluster.dir.path().join(format!("clock{i}")))
        .collect();
    for (i, file) in clocks.iter().enumerate() {
        set_offset(file, 0);
        cluster.env = vec![
            ("LD_PRELOAD".into(), LIBFAKETIME.into()),
            ("FAKETIME_TIMESTAMP_FILE".into(), file.display().to_string()),
            ("FAKETIME_CACHE_DURATION".into(), "1".into()),
            ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
        ];
        cluster.spawn(i as u64 + 1);
    }
    let leader = cluster.wait_leader(Duration::from_secs(20));
    let follower = cluster.follower();
    let mut at_leader = cluster.node(leader).conn();
    let mut at_follower = cluster.node(follower).conn();

    for skew in [30i64, -30] {
        set_offset(&clocks[(follower - 1) as usize], skew);
        wait_for(
            Duration::from_secs(10),
            "the follower's clock to move",
            || {
                let off = node_time_ms(&mut at_follower) - unix_ms();
                ((off - skew * 1000).abs() < 1000).then_some(())
            },
        );
        let key = format!("k{skew}");
        let written = Instant::now();
        redis::cmd("SET")
            .arg(&key)
            .arg("v")
            .arg("PX")
            .arg(2500)
            .query::<()>(&mut at_leader)
            .unwrap();
        // Before the deadline: there, with the leader's idea of the time left.
        let got: Option<String> = redis::cmd("GET").arg(&key).query(&mut at_follower).unwrap();
        let pttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query(&mut at_follower)
            .unwrap();
        if written.elapsed() < Duration::from_millis(2000) {
            assert_eq!(
                got.as_deref(),
                Some("v"),
                "gone early on a {skew:+} s follower"
            );
            assert!(
                (0..=2500).contains(&pttl),
                "PTTL {pttl} on a {skew:+} s follower"
            );
        }
        // After it: gone, although the follower's clock says otherwise.
        std::thread::sleep(Duration::from_millis(2500).saturating_sub(written.elapsed()));
        std::thread::sleep(Duration::from_millis(300));
        let got: Option<String> = redis::cmd("GET").arg(&key).query(&mut at_follower).unwrap();
        assert_eq!(got, None, "visible late on a {skew:+} s follower");
    }
}
