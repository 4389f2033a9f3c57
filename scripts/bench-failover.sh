#!/usr/bin/env bash
# Leader changes on a local 3-node cluster, each repeated (default 20 trials):
#   kill      SIGKILL the leader; time until a write through a follower is acknowledged
#   term      SIGTERM the leader (it hands over first); longest write of a steady writer
#   transfer  CAIRN TRANSFER-LEADER; longest write of a steady writer
# Uses its own ports and data dir.
#
#   scripts/bench-failover.sh [TRIALS] [FAULTS...]   (default: kill term transfer; CAIRN_* env
#                                                     flags are passed to the nodes)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
trials="${1:-20}"
shift || true
faults=("$@")
[ ${#faults[@]} -gt 0 ] || faults=(kill term transfer)
work="$(mktemp -d)"
export CAIRN_CLUSTER_DIR="$work" CAIRN_BASE_PORT=18379 CAIRN_BASE_RAFT_PORT=28379
trap '"$root/scripts/cluster.sh" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$root/scripts/cluster.sh" up >/dev/null
echo "election timeout ${CAIRN_ELECTION_TIMEOUT_MIN_MS:-250}-${CAIRN_ELECTION_TIMEOUT_MAX_MS:-450} ms, heartbeat ${CAIRN_HEARTBEAT_MS:-50} ms; $(nproc) cores shared by the nodes and the probe"
for fault in "${faults[@]}"; do
  echo "== $fault"
  python3 "$root/scripts/failover_probe.py" --trials "$trials" --base-port 18379 \
    --dir "$work" --cluster-sh "$root/scripts/cluster.sh" --fault "$fault"
done
