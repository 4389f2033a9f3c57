#!/usr/bin/env bash
# Cache workload, side by side: redis-server with allkeys-lru and a local 3-node cairn cluster
# with allkeys-lru, each with maxmemory set to hold the same share of the key space.
#
#   scripts/bench-cache.sh [-k KEYS] [-n OPS] [-w WARMUP] [-c CLIENTS] [-s SHARE_PERCENT]
#
# The workload (node/examples/cache_bench.rs): every key SET once (pipelined), then WARMUP and
# then OPS operations, 90% GET / 10% SET, keys drawn from a Zipf distribution (theta 0.99),
# 100-byte values, CLIENTS connections to the server (cairn: the leader). Both servers get
# exactly the same operations. maxmemory: each server's used_memory with SHARE_PERCENT of
# KEYS loaded (measured first, then flushed), so both hold about that many keys.
# Prints a Markdown table: hit ratio, operations per second, evicted keys, keys held at the end.
# Installs redis-server and redis-tools from Debian if they are missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keys=1000000
ops=1000000
warmup=500000
clients=32
share=20
while getopts "k:n:w:c:s:" opt; do
  case "$opt" in
    k) keys="$OPTARG" ;; n) ops="$OPTARG" ;; w) warmup="$OPTARG" ;;
    c) clients="$OPTARG" ;; s) share="$OPTARG" ;; *) exit 2 ;;
  esac
done

if ! command -v redis-cli >/dev/null || ! command -v redis-server >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --release -q -p cairn-node --bin cairn --example cache_bench)
bench="$CARGO_TARGET_DIR/release/examples/cache_bench"

work="$(mktemp -d)"
redis_pid=""
cluster() {
  CAIRN_CLUSTER_DIR="$work/cairn" CAIRN_BASE_PORT=17479 CAIRN_BASE_RAFT_PORT=27479 \
    "$root/scripts/cluster.sh" "$@"
}
cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
  cluster down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

field() { # port section name
  redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v k="$3" '$1 == k {print $2}'
}

# maxmemory_for PORT: the used_memory of SHARE% of KEYS keys, loaded and then flushed, so
# each server's maxmemory holds that many keys by its own measure.
maxmemory_for() {
  local port="$1" used
  "$bench" --port "$port" --keys $((keys * share / 100)) --clients 8 --prefill-only >/dev/null
  used="$(field "$port" memory used_memory)"
  redis-cli -p "$port" flushall >/dev/null
  echo "$used"
}

# run PORT NAME [STATS_PORT...]: the workload against the server on PORT, one table row;
# evicted_keys summed over the STATS_PORTs (cairn: every node, since whichever node led at
# the time evicted), PORT's if none are given.
run() {
  local port="$1" name="$2" out
  shift 2
  local stats_ports=("${@:-$port}")
  out="$("$bench" --port "$port" --keys "$keys" --ops "$ops" --warmup "$warmup" \
    --clients "$clients" --prefill)"
  local hit rps evicted used max size
  hit="$(echo "$out" | awk -F= '$1 == "hit_ratio" {print $2}')"
  rps="$(echo "$out" | awk -F= '$1 == "ops_per_sec" {print $2}')"
  evicted=0
  for p in "${stats_ports[@]}"; do
    evicted=$((evicted + $(field "$p" stats evicted_keys)))
  done
  used="$(field "$port" memory used_memory)"
  max="$(field "$port" memory maxmemory)"
  size="$(redis-cli -p "$port" dbsize)"
  echo "| $name | $hit | $rps | $evicted | $size | $used / $max |"
  echo "$rps" >"$work/rps-$name"
}

redis-server --port 17400 --bind 127.0.0.1 --dir "$work" --save '' --appendonly no \
  --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 50); do redis-cli -p 17400 ping >/dev/null 2>&1 && break; sleep 0.1; done
redis_max="$(maxmemory_for 17400)"
redis-cli -p 17400 config set maxmemory "$redis_max" maxmemory-policy allkeys-lru >/dev/null

cluster up >"$work/cluster.log"
leader=""
for _ in $(seq 1 50); do
  leader="$("$root/target/release/cairn" status --port 17479 2>/dev/null | awk '/^leader:/ {print $2}')" || true
  [ -n "$leader" ] && [ "$leader" != 0 ] && break
  sleep 0.1
done
[ -n "$leader" ] && [ "$leader" != 0 ] || { echo "no leader" >&2; exit 1; }
cairn_port=$((17479 + leader - 1))
cairn_max="$(maxmemory_for "$cairn_port")"
redis-cli -p "$cairn_port" config set maxmemory "$cairn_max" maxmemory-policy allkeys-lru >/dev/null

echo "Zipf 0.99 over $keys keys, 90% GET / 10% SET, 100-byte values, $clients clients,"
echo "maxmemory for $share% of the keys, $warmup warm-up and $ops measured operations."
echo
echo "| server | hit ratio | ops/s | evicted_keys | keys held | used_memory / maxmemory |"
echo "|---|---|---|---|---|---|"
run 17400 redis
run "$cairn_port" cairn 17479 17480 17481
end_leader="$("$root/target/release/cairn" status --port "$cairn_port" 2>/dev/null | awk '/^leader:/ {print $2}')" || true
echo
echo "cairn clients on node $leader, the leader at the start; leader at the end: node ${end_leader:-unknown}"
awk -v r="$(cat "$work/rps-redis")" -v c="$(cat "$work/rps-cairn")" \
  'BEGIN {printf "\ncairn / redis throughput: %.2f×\n", c / r}'
