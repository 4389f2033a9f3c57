//! Wall-clock skew for one node, with libfaketime (Debian's `faketime` package) preloaded
//! into the node's process. Each node reads its offset from a file of its own, re-read at
//! most once a second, so the nemesis moves a running node's clock by rewriting that file.
//! Monotonic clocks are left alone (`FAKETIME_DONT_FAKE_MONOTONIC`): Raft's timers and
//! tokio's keep real time, as on a machine whose NTP-disciplined wall clock is wrong.
//! Preloading needs a dynamically linked `cairn`; the nemesis checks that the skew took
//! (with TIME) and fails the run if not.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Where Debian puts the thread-safe build of the library.
const LIBRARIES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
];

/// The library to preload, or why there is none.
pub fn library() -> Result<PathBuf> {
    LIBRARIES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .with_context(|| {
            "the clock-skew fault needs libfaketime: apt-get install faketime".to_string()
        })
}

/// A node's offset file, in libfaketime's relative format (`+0`, `+12.5`, `-3`: seconds).
pub fn set_offset(file: &Path, offset_ms: i64) -> Result<()> {
    let text = format!("{:+.3}\n", offset_ms as f64 / 1000.0);
    std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))
}

/// The environment that makes a node's wall clock follow `file`.
pub fn env(library: &Path, file: &Path) -> Vec<(String, String)> {
    vec![
        ("LD_PRELOAD".into(), library.display().to_string()),
        ("FAKETIME_TIMESTAMP_FILE".into(), file.display().to_string()),
        ("FAKETIME_CACHE_DURATION".into(), "1".into()),
        ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
    ]
}

/// Checks that a node's TIME reply (`secs`, `micros`) is `expected_ms` off the harness's
/// clock, within a second; the observed offset in ms.
pub fn verify(secs: u64, micros: u64, expected_ms: i64) -> Result<i64> {
    let ours = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("reading the clock")?;
    let theirs_ms = i128::from(secs) * 1000 + i128::from(micros) / 1000;
    let observed = i64::try_from(theirs_ms - ours.as_millis() as i128).unwrap_or(i64::MAX);
    if (observed - expected_ms).abs() > 1000 {
        bail!(
            "the node's clock is {observed} ms off, not {expected_ms} ms: libfaketime did not \
             take (a statically linked cairn cannot preload it; build with `cargo build`)"
        );
    }
    Ok(observed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_written_in_seconds() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let f = dir.path().join("clock");
        set_offset(&f, 12_500)?;
        assert_eq!(std::fs::read_to_string(&f)?, "+12.500\n");
        set_offset(&f, -3_000)?;
        assert_eq!(std::fs::read_to_string(&f)?, "-3.000\n");
        Ok(())
    }

    #[test]
    fn verify_accepts_only_the_expected_offset() -> Result<()> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
        assert!(verify(now.as_secs() + 10, 0, 10_000).is_ok());
        assert!(verify(now.as_secs(), 0, 10_000).is_err());
        Ok(())
    }
}
