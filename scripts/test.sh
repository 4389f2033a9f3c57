#!/usr/bin/env bash
# Runs every check and test of the project, as CI does. Installs what the tests need.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

command -v cargo >/dev/null || { echo "cargo is needed: install Rust from rustup.rs" >&2; exit 1; }

# Debian packages the tests use: the Docker end-to-end test drives docker-compose, and the
# image carries the CA bundle. (The Docker engine itself comes with the machine.)
missing=()
command -v docker-compose >/dev/null || missing+=(docker-compose)
# redis-cli: the TLS test runs `redis-cli --tls` as users do.
command -v redis-cli >/dev/null || missing+=(redis-tools)
# redis-server: the reference that differential tests compare replies and bytes with.
command -v redis-server >/dev/null || missing+=(redis-server)
# libfaketime: the clock-skew test and the chaos harness's skew fault move a node's clock.
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] || missing+=(faketime)
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
# prometheus and promtool: the alert rules' unit tests and the test that runs a real
# Prometheus against a cluster (deploy/monitoring).
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing Debian packages: ${missing[*]} (the Docker test will skip outside CI)" >&2
  fi
fi

# redis-py: the cluster-client test runs its RedisCluster as users do.
python3 -c 'import redis.cluster' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check 'redis>=5.3,<9'

# The backup tests run a real S3-compatible server that checks request signatures.
command -v s3s-fs >/dev/null || [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" ] ||
  cargo install --locked s3s-fs@0.14.1 --features binary

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
scripts/validate-manifests.sh
scripts/monitoring.sh check
# Integration tests start several 3-node clusters; two at a time suit a 2-core machine.
cargo test --workspace --locked -- --test-threads "${CAIRN_TEST_THREADS:-2}"
scripts/chaos.sh --smoke # chaos smoke (~2 min): each workload 20 s under kill (+partition with netns)
# The docker backend once, on the image the Compose test built (where Docker runs).
if docker image inspect cairn:test >/dev/null 2>&1; then
  scripts/chaos.sh --runs 1 --duration 20 --backend docker --image cairn:test --nemesis kill,partition
fi
