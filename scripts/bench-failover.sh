#!/usr/bin/env bash
# Failover time on a local 3-node cluster: SIGKILL the leader, time until a write through a
# follower is acknowledged; repeated (default 20 trials). Uses its own ports and data dir.
#
#   scripts/bench-failover.sh [TRIALS] [extra cairn serve flags are taken from CAIRN_* env]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
trials="${1:-20}"
work="$(mktemp -d)"
export CAIRN_CLUSTER_DIR="$work" CAIRN_BASE_PORT=18379 CAIRN_BASE_RAFT_PORT=28379
trap '"$root/scripts/cluster.sh" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$root/scripts/cluster.sh" up >/dev/null
echo "election timeout ${CAIRN_ELECTION_TIMEOUT_MIN_MS:-250}-${CAIRN_ELECTION_TIMEOUT_MAX_MS:-450} ms, heartbeat ${CAIRN_HEARTBEAT_MS:-50} ms"
python3 "$root/scripts/failover_probe.py" --trials "$trials" --base-port 18379 \
  --dir "$work" --cluster-sh "$root/scripts/cluster.sh"
