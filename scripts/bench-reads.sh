#!/usr/bin/env bash
# Read throughput of a local 3-node cluster: GETs (linearizable, ReadIndex) sent to the
# leader alone, then spread over all three nodes at once, with redis-benchmark.
#
#   scripts/bench-reads.sh [-n REQUESTS] [-c CLIENTS] [-P PIPELINE]
#
# Prints a Markdown table with requests/s and the ratio of three nodes to the leader alone.
# Installs redis-tools from Debian if redis-benchmark is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n=300000
c=60
p=16
while getopts "n:c:P:" opt; do
  case "$opt" in n) n="$OPTARG" ;; c) c="$OPTARG" ;; P) p="$OPTARG" ;; *) exit 2 ;; esac
done
command -v redis-benchmark >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools >/dev/null
}

work="$(mktemp -d)"
export CAIRN_CLUSTER_DIR="$work/cairn" CAIRN_BASE_PORT=18379 CAIRN_BASE_RAFT_PORT=28379
cleanup() {
  "$root/scripts/cluster.sh" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$root/scripts/cluster.sh" up >"$work/cluster.log"
leader=""
for _ in $(seq 1 50); do
  leader="$("$root/target/release/cairn" status --port 18379 2>/dev/null | awk '/^leader:/ {print $2}')" || true
  [ -n "$leader" ] && [ "$leader" != 0 ] && break
  sleep 0.1
done
[ -n "$leader" ] && [ "$leader" != 0 ] || { echo "no leader" >&2; exit 1; }
leader_port=$((18379 + leader - 1))

# rps PORT REQUESTS CLIENTS: GETs of keys the preload wrote (hits).
rps() {
  redis-benchmark -p "$1" -t get -n "$2" -c "$3" -P "$p" -r 100000 --csv -q 2>/dev/null \
    | awk -F'","' 'NR>1 {print $2; exit}' | tr -d '"'
}
redis-benchmark -p "$leader_port" -t set -n 200000 -c 50 -P 16 -r 100000 -q >/dev/null 2>&1

one="$(rps "$leader_port" "$n" "$c")"
# The same total load, a third on each node, at the same time.
per=$((n / 3)); per_c=$((c / 3))
for i in 0 1 2; do
  rps $((18379 + i)) "$per" "$per_c" >"$work/rps$i" &
done
wait
three=0
for i in 0 1 2; do three=$(awk -v a="$three" -v b="$(cat "$work/rps$i")" 'BEGIN {print a + b}'); done

echo "| GETs (-c $c -P $p, n=$n) | requests/s | vs leader alone |"
echo "|---|---|---|"
echo "| leader alone | $one | 1.00× |"
awk -v t="$three" -v o="$one" 'BEGIN {printf "| all three nodes at once | %.0f | %.2f× |\n", t, t / o}'
