#!/usr/bin/env bash
# Runs every check and test of the project, as CI does. Installs what the tests need.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

command -v cargo >/dev/null || { echo "cargo is needed: install Rust from rustup.rs" >&2; exit 1; }

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Integration tests start several 3-node clusters; two at a time suit a 2-core machine.
cargo test --workspace -- --test-threads "${CAIRN_TEST_THREADS:-2}"
