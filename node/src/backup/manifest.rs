//! The manifest: what a backup holds and how to check it. JSON, so a user can read it
//! without cairn.

use std::collections::BTreeMap;

use cairn_raft::types::NodeInfo;
use serde::{Deserialize, Serialize};

/// Bumped when the layout of parts or manifest changes incompatibly.
pub const FORMAT: u32 = 1;
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub tool_version: String,
    /// `YYYYMMDDTHHMMSSmmmZ-<index>`: sorts by creation time.
    pub id: String,
    /// `--cluster-name` of the cluster that made it.
    pub cluster: String,
    /// The node that streamed it.
    pub node: u64,
    pub created_at: String,
    pub created_at_ms: u64,
    /// The log id the snapshot is at.
    pub index: u64,
    pub term: u64,
    /// The members at that index.
    pub membership: BTreeMap<u64, NodeInfo>,
    /// The snapshot file: its size and crc32 before compression.
    pub snapshot_bytes: u64,
    pub snapshot_crc32: u32,
    pub compression: String,
    pub encryption: Option<Encryption>,
    /// Bytes stored (the sum of the parts).
    pub stored_bytes: u64,
    pub parts: Vec<Part>,
    /// How long the upload took.
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Encryption {
    /// `AES-256-GCM`: each part is `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`, with
    /// the associated data `cairn-backup/<id>/<part number>`.
    pub algorithm: String,
    /// The first 16 hex digits of the key's SHA-256, to tell a wrong key from damage.
    pub key_sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Part {
    pub name: String,
    /// Stored size and crc32 (of the stored, possibly encrypted, bytes).
    pub bytes: u64,
    pub crc32: u32,
}

impl Manifest {
    /// Refuses a manifest this version cannot read, or one that does not add up.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.format != FORMAT {
            anyhow::bail!(
                "backup {} has format {} (this cairn reads format {FORMAT})",
                self.id,
                self.format
            );
        }
        let sum: u64 = self.parts.iter().map(|p| p.bytes).sum();
        if sum != self.stored_bytes {
            anyhow::bail!(
                "backup {}: manifest parts add up to {sum} bytes, it says {}",
                self.id,
                self.stored_bytes
            );
        }
        Ok(())
    }
}

/// A new backup's id for a snapshot at `index`, made at `ms` (unix ms).
pub fn backup_id(ms: u64, index: u64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default();
    format!("{}-{index}", at.format("%Y%m%dT%H%M%S%3fZ"))
}

pub fn part_name(n: usize) -> String {
    format!("part-{n:06}")
}

pub fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time() {
        let a = backup_id(1_700_000_000_000, 99);
        let b = backup_id(1_700_000_000_001, 5);
        assert_eq!(a, "20231114T221320000Z-99");
        assert!(a < b);
    }
}
