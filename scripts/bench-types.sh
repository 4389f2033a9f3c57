#!/usr/bin/env bash
# HyperLogLog, geo and stream throughput side by side in one run, with one client loop for every
# target (cairn-load): Debian's redis-server (no persistence; and appendfsync always, the
# durability cairn gives) and a local 3-node cairn cluster (its leader and a follower).
#
#   scripts/bench-types.sh [-n REQUESTS] [-c CLIENTS] [-r KEYSPACE]
#
# Each target gets PFADD (every request adds its key to one HyperLogLog), GEOADD (a point
# per key; the set grows to KEYSPACE points), GEOSEARCH (100 km around a key's point,
# nearest 10), XADD (one stream grows by REQUESTS entries) and XREADGROUP+XACK (a consumer
# group's workers, one per client, each cycle reading one new entry and acknowledging it:
# two round trips, counted as one), unpipelined. Prints a Markdown table of requests/s with the ratio to plain
# redis-server. Everything shares this machine's cores: see `nproc`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n=100000
c=50
r=100000
while getopts "n:c:r:" opt; do
  case "$opt" in n) n="$OPTARG" ;; c) c="$OPTARG" ;; r) r="$OPTARG" ;; *) exit 2 ;; esac
done

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
(cd "$root" && cargo build --release -q -p cairn-node --bin cairn -p cairn-bench --bin cairn-load)
load="$root/target/release/cairn-load"

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  CAIRN_CLUSTER_DIR="$work/cairn" CAIRN_BASE_PORT=17479 CAIRN_BASE_RAFT_PORT=27479 \
    "$root/scripts/cluster.sh" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

start_redis() { # port, extra args...
  local port="$1"; shift
  mkdir -p "$work/redis$port"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$work/redis$port" --save '' "$@" \
    --daemonize no >"$work/redis$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "redis-server on $port did not start" >&2; exit 1
}

start_redis 17400 --appendonly no
start_redis 17401 --appendonly yes --appendfsync always
CAIRN_CLUSTER_DIR="$work/cairn" CAIRN_BASE_PORT=17479 CAIRN_BASE_RAFT_PORT=27479 \
  "$root/scripts/cluster.sh" up >"$work/cluster.log"
leader=""
for _ in $(seq 1 50); do
  leader="$("$root/target/release/cairn" status --port 17479 2>/dev/null | awk '/^leader:/ {print $2}')" || true
  [ -n "$leader" ] && [ "$leader" != 0 ] && break
  sleep 0.1
done
[ -n "$leader" ] || { echo "no leader on the benchmark cluster" >&2; exit 1; }
leader_port=$((17479 + leader - 1))
follower_port=$((17479 + (leader % 3)))

# rps TARGET OP: requests/s from cairn-load (errors fail the run).
rps() {
  local out
  out="$("$load" --target "$1" --op "$2" --clients "$c" --requests "$n" --keyspace "$r")"
  if [ "$(echo "$out" | awk '{print $7}')" != 0 ]; then
    echo "errors from $1 $2: $out" >&2; exit 1
  fi
  echo "$out" | awk '{print $3}'
}

declare -A result
targets=("redis:resp://127.0.0.1:17400" "redis-fsync-always:resp://127.0.0.1:17401"
  "cairn-leader:resp://127.0.0.1:$leader_port" "cairn-follower:resp://127.0.0.1:$follower_port")
ops=(pfadd geoadd geosearch xadd xreadgroup)
for t in "${targets[@]}"; do
  name="${t%%:*}"; target="${t#*:}"
  port="${target##*:}"
  # Each target starts with its own stream (the followers' is the leader's: delete it).
  redis-cli -p "$port" del stream >/dev/null
  for op in "${ops[@]}"; do
    if [ "$op" = xreadgroup ]; then
      redis-cli -p "$port" xgroup create stream g 0 >/dev/null
    fi
    result["$name,$op"]="$(rps "$target" "$op")"
  done
  # The same data on every target: the HLL, the geo set, the stream and what is pending.
  result["$name,count"]="$(redis-cli -p "$port" pfcount hll) / $(redis-cli -p "$port" zcard geo) / $(redis-cli -p "$port" xlen stream) / $(redis-cli -p "$port" xpending stream g | head -1)"
done

echo "cairn-load -c $c -n $n -r $r, unpipelined (PFADD, GEOADD, GEOSEARCH BYRADIUS 100 km COUNT 10, XADD, XREADGROUP COUNT 1 + XACK);"
echo "$(nproc) cores shared by every server and the client; $(date -u +%Y-%m-%d)"
echo
echo "| target | PFADD | GEOADD | GEOSEARCH | XADD | XREADGROUP+XACK | PFCOUNT / ZCARD / XLEN / pending after |"
echo "|---|---|---|---|---|---|---|"
for t in "${targets[@]}"; do
  name="${t%%:*}"
  row="| $name |"
  for op in "${ops[@]}"; do
    v="${result[$name,$op]}"; base="${result[redis,$op]}"
    ratio="$(awk -v a="$v" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "-" }')"
    row="$row ${v} (${ratio}) |"
  done
  echo "$row ${result[$name,count]} |"
done
