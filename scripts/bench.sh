#!/usr/bin/env bash
# Side-by-side throughput: Debian's redis-server (no persistence; appendfsync always) and a
# local 3-node cairn cluster (leader and a follower), with redis-benchmark, in one run.
#
#   scripts/bench.sh [-n REQUESTS] [-c CLIENTS]
#
# Prints a Markdown table with requests/s and the ratio of each to plain redis-server.
# Installs redis-server and redis-tools from Debian if they are missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n=200000
c=50
while getopts "n:c:" opt; do
  case "$opt" in n) n="$OPTARG" ;; c) c="$OPTARG" ;; *) exit 2 ;; esac
done

if ! command -v redis-benchmark >/dev/null || ! command -v redis-server >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  CAIRN_CLUSTER_DIR="$work/cairn" CAIRN_BASE_PORT=17379 CAIRN_BASE_RAFT_PORT=27379 \
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

# rps PORT TEST PIPELINE: the SET runs fill the keyspace that the GET runs then read (hits).
rps() {
  if [ "$2" = set ] && [ "$3" = 1 ]; then redis-cli -p "$1" flushall >/dev/null; fi
  redis-benchmark -p "$1" -t "$2" -n "$n" -c "$c" -P "$3" -r 100000 --csv -q 2>/dev/null \
    | awk -F'","' 'NR>1 {print $2; exit}' | tr -d '"'
}

start_redis 17300 --appendonly no
start_redis 17301 --appendonly yes --appendfsync always
CAIRN_CLUSTER_DIR="$work/cairn" CAIRN_BASE_PORT=17379 CAIRN_BASE_RAFT_PORT=27379 \
  "$root/scripts/cluster.sh" up >"$work/cluster.log"
# The nodes may still be settling right after start-up: ask again for a few seconds.
leader=""
for _ in $(seq 1 50); do
  leader="$("$root/target/release/cairn" status --port 17379 2>/dev/null | awk '/^leader:/ {print $2}')" || true
  [ -n "$leader" ] && [ "$leader" != 0 ] && break
  sleep 0.1
done
[ -n "$leader" ] || { echo "no leader on the benchmark cluster" >&2; exit 1; }
leader_port=$((17379 + leader - 1))
follower_port=$((17379 + (leader % 3)))

declare -A result
targets=("redis:17300" "redis-fsync-always:17301" "cairn-leader:$leader_port" "cairn-follower:$follower_port")
for t in "${targets[@]}"; do
  name="${t%%:*}"; port="${t##*:}"
  for test in set get; do
    for p in 1 16; do
      result["$name,$test,$p"]="$(rps "$port" "$test" "$p")"
    done
  done
done

echo "redis-benchmark -t set,get -n $n -c $c -r 100000; $(nproc) cores; $(date -u +%Y-%m-%d)"
echo
echo "| target | SET P1 | GET P1 | SET P16 | GET P16 |"
echo "|---|---|---|---|---|"
for t in "${targets[@]}"; do
  name="${t%%:*}"
  row="| $name |"
  for col in "set,1" "get,1" "set,16" "get,16"; do
    v="${result[$name,$col]}"; base="${result[redis,$col]}"
    ratio="$(awk -v a="$v" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
    row="$row ${v} (${ratio}×) |"
  done
  echo "$row"
done
echo
for col in "set,1" "set,16"; do
  v="${result[cairn-leader,$col]}"; base="${result[redis-fsync-always,$col]}"
  awk -v a="$v" -v b="$base" -v c="$col" 'BEGIN { printf "cairn leader vs redis appendfsync always, %s: %.2f×\n", c, a / b }'
done

echo
echo "disk after the run (sled data dir and snapshots of each cairn node; $(redis-cli -p "$leader_port" dbsize) keys):"
for i in 1 2 3; do
  echo "  node $i: $(du -sh "$work/cairn/node$i" | cut -f1) ($(du -sh "$work/cairn/node$i/snapshots" 2>/dev/null | cut -f1) snapshots)"
done
