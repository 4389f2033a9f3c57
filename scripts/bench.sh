#!/usr/bin/env bash
# Side-by-side throughput in one run, with one client loop for every target (cairn-load):
# Debian's redis-server (no persistence; appendfsync always), a 3-member etcd (Debian's
# etcd-server) and a local 3-node cairn cluster (its leader and a follower).
#
#   scripts/bench.sh [-n REQUESTS] [-c CLIENTS] [-r KEYSPACE] [-d VALUE_BYTES]
#
# Each target gets SET then GET (the GETs read the keys the SETs wrote), unpipelined and with
# 16-deep pipelines (etcd: unpipelined only, its client calls are one per request). Prints a
# Markdown table of requests/s with the ratio to plain redis-server, and cairn's leader
# against etcd's leader for writes. Everything shares this machine's cores: see `nproc`.
# Installs redis-server, redis-tools, etcd-server and etcd-client from Debian if missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n=200000
c=50
r=100000
d=3
while getopts "n:c:r:d:" opt; do
  case "$opt" in n) n="$OPTARG" ;; c) c="$OPTARG" ;; r) r="$OPTARG" ;; d) d="$OPTARG" ;; *) exit 2 ;; esac
done

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v etcd >/dev/null || missing+=(etcd-server)
command -v etcdctl >/dev/null || missing+=(etcd-client)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
(cd "$root" && cargo build --release -q -p cairn-node --bin cairn -p cairn-bench --bin cairn-load)
load="$root/target/release/cairn-load"

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

start_etcd() { # three members on 127.0.0.1: clients on 12379/12381/12383
  local cluster="e1=http://127.0.0.1:12380,e2=http://127.0.0.1:12382,e3=http://127.0.0.1:12384"
  for i in 1 2 3; do
    local cport=$((12377 + 2 * i)) pport=$((12378 + 2 * i))
    etcd --name "e$i" --data-dir "$work/etcd$i" \
      --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
      --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
      --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token bench \
      >"$work/etcd$i.log" 2>&1 &
    pids+=($!)
  done
  for _ in $(seq 1 100); do
    if ETCDCTL_API=3 etcdctl --endpoints http://127.0.0.1:12379 endpoint status >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "etcd did not start" >&2; exit 1
}

# The client port of etcd's current leader.
etcd_leader() {
  ETCDCTL_API=3 etcdctl --endpoints http://127.0.0.1:12379,http://127.0.0.1:12381,http://127.0.0.1:12383 \
    endpoint status -w table 2>/dev/null | awk -F'|' '$6 ~ /true/ {gsub(/ |http:\/\/127.0.0.1:/, "", $2); print $2}'
}

start_redis 17300 --appendonly no
start_redis 17301 --appendonly yes --appendfsync always
start_etcd
CAIRN_CLUSTER_DIR="$work/cairn" CAIRN_BASE_PORT=17379 CAIRN_BASE_RAFT_PORT=27379 \
  "$root/scripts/cluster.sh" up >"$work/cluster.log"
leader=""
for _ in $(seq 1 50); do
  leader="$("$root/target/release/cairn" status --port 17379 2>/dev/null | awk '/^leader:/ {print $2}')" || true
  [ -n "$leader" ] && [ "$leader" != 0 ] && break
  sleep 0.1
done
[ -n "$leader" ] || { echo "no leader on the benchmark cluster" >&2; exit 1; }
leader_port=$((17379 + leader - 1))
follower_port=$((17379 + (leader % 3)))
etcd_port="$(etcd_leader)"
[ -n "$etcd_port" ] || { echo "no etcd leader" >&2; exit 1; }

# rps TARGET OP PIPELINE: requests/s from cairn-load.
rps() {
  "$load" --target "$1" --op "$2" --pipeline "$3" --clients "$c" --requests "$n" \
    --keyspace "$r" --value-size "$d" | awk '{print $3}'
}

declare -A result
targets=("redis:resp://127.0.0.1:17300" "redis-fsync-always:resp://127.0.0.1:17301"
  "cairn-leader:resp://127.0.0.1:$leader_port" "cairn-follower:resp://127.0.0.1:$follower_port"
  "etcd-leader:etcd://127.0.0.1:$etcd_port")
for t in "${targets[@]}"; do
  name="${t%%:*}"; target="${t#*:}"
  for p in 1 16; do
    if [ "$name" = etcd-leader ] && [ "$p" != 1 ]; then
      result["$name,set,$p"]="-"; result["$name,get,$p"]="-"; continue
    fi
    for op in set get; do
      result["$name,$op,$p"]="$(rps "$target" "$op" "$p")"
    done
  done
done

echo "cairn-load -c $c -n $n -r $r -d $d (SET then GET; P16: 16 requests per round trip);"
echo "$(nproc) cores shared by every server and the client; $(date -u +%Y-%m-%d)"
echo
echo "| target | SET P1 | GET P1 | SET P16 | GET P16 |"
echo "|---|---|---|---|---|"
for t in "${targets[@]}"; do
  name="${t%%:*}"
  row="| $name |"
  for col in "set,1" "get,1" "set,16" "get,16"; do
    v="${result[$name,$col]}"; base="${result[redis,$col]}"
    ratio="$(awk -v a="$v" -v b="$base" 'BEGIN { if (a != "-" && b > 0) printf "%.2f×", a / b; else print "-" }')"
    row="$row ${v} (${ratio}) |"
  done
  echo "$row"
done
echo
awk -v a="${result[cairn-leader,set,1]}" -v b="${result[etcd-leader,set,1]}" \
  'BEGIN { printf "cairn leader vs etcd leader, SET P1: %.1f×\n", a / b }'
awk -v a="${result[cairn-leader,get,1]}" -v b="${result[etcd-leader,get,1]}" \
  'BEGIN { printf "cairn leader vs etcd leader, GET P1 (both linearizable): %.1f×\n", a / b }'
echo
echo "disk after the run ($(redis-cli -p "$leader_port" dbsize) keys):"
for i in 1 2 3; do
  echo "  cairn node $i: $(du -sh "$work/cairn/node$i" | cut -f1)"
done
