//! Goal: our log store and state machine meet openraft's storage contract.
//! Method: openraft's own conformance suite, each case on a fresh data dir.
#![allow(clippy::unwrap_used)]

use cairn_raft::store::{LogStore, StateMachine, Store};
use cairn_raft::types::StorageError;
use cairn_raft::TypeConfig;
use openraft::testing::{StoreBuilder, Suite};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        Ok((dir, store.log, store.sm))
    }
}

#[test]
fn openraft_conformance_suite() {
    if let Err(e) = Suite::test_all(Builder) {
        panic!("conformance suite failed: {e}");
    }
}
