//! Goal: our log stores and state machine meet openraft's storage contract.
//! Method: openraft's own conformance suite, each case on a fresh data dir, once with the
//! sled log and once with the segmented log.
#![allow(clippy::unwrap_used)]

use cairn_raft::store::{wal, LogStore, StateMachine, Store};
use cairn_raft::types::StorageError;
use cairn_raft::TypeConfig;
use openraft::testing::{StoreBuilder, Suite};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 16 << 20).unwrap();
        Ok((dir, store.log, store.sm))
    }
}

struct WalBuilder;

impl StoreBuilder<TypeConfig, wal::LogStore, StateMachine, tempfile::TempDir> for WalBuilder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, wal::LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 16 << 20).unwrap();
        let log = wal::LogStore::open(&dir.path().join("wal")).unwrap();
        Ok((dir, log, store.sm))
    }
}

#[test]
fn openraft_conformance_suite() {
    if let Err(e) = Suite::test_all(Builder) {
        panic!("conformance suite failed: {e}");
    }
}

#[test]
fn openraft_conformance_suite_on_the_segmented_log() {
    if let Err(e) = Suite::test_all(WalBuilder) {
        panic!("conformance suite failed: {e}");
    }
}
