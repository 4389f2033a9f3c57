#!/usr/bin/env bash
# GET throughput and latency of a local 3-node cluster with the hot-value cache on and off,
# on a hot working set and a uniform one; then time-to-warm after a restart.
#
#   scripts/bench-value-cache.sh [-k KEYS] [-n REQUESTS] [-c CLIENTS] [-P PIPELINE] [-m MB]
#                                [-r REPEATS]
#
# For each setting (--value-cache-mb MB, then 0): a fresh cluster, KEYS keys of 100 bytes
# written with redis-benchmark, then GETs at the leader: hot (1,000 keys) and uniform (all
# KEYS), each REPEATS times: the median requests/s, redis-benchmark's p50 and p99 (ms) of
# the last repeat, and the leader's CPU time per GET (from /proc), the steadier figure on a
# shared machine.
# Time-to-warm: a follower is restarted (SIGTERM, start) and GETs of the hot set are sent to
# it in batches of 5,000 from the moment it answers; each batch's requests/s against the same
# batches just before the restart.
# Installs redis-tools from Debian if redis-benchmark is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keys=200000
n=400000
c=32
p=8
mb=64
reps=3
while getopts "k:n:c:P:m:r:" opt; do
  case "$opt" in
    k) keys="$OPTARG" ;; n) n="$OPTARG" ;; c) c="$OPTARG" ;; P) p="$OPTARG" ;; m) mb="$OPTARG" ;;
    r) reps="$OPTARG" ;;
    *) exit 2 ;;
  esac
done
command -v redis-benchmark >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools >/dev/null
}
work="$(mktemp -d)"
base=19379
export CAIRN_CLUSTER_DIR="$work/cairn" CAIRN_BASE_PORT=$base CAIRN_BASE_RAFT_PORT=29379
cleanup() {
  "$root/scripts/cluster.sh" clean >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
bin="$root/target/release/cairn"

leader_port() {
  local l=""
  for _ in $(seq 1 100); do
    l="$("$bin" status --port "$base" 2>/dev/null | awk '/^leader:/ {print $2}')" || true
    [ -n "$l" ] && [ "$l" != 0 ] && break
    sleep 0.1
  done
  echo $((base + l - 1))
}

# get PORT RANGE REQUESTS: "rps p50 p99" from redis-benchmark's CSV.
get() {
  redis-benchmark -p "$1" -t get -r "$2" -n "$3" -c "$c" -P "$p" --csv 2>/dev/null |
    tr -d '"' | awk -F, 'NR==2 {print $2, $5, $7}'
}

# cpu PID: user+system CPU seconds the process has used.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }
median() { tr ' ' '\n' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

echo "| value cache | working set | GET/s (median of $reps) | p50 ms | p99 ms | leader CPU µs per GET (median) |"
echo "|---|---|---|---|---|---|"
for setting in "$mb" 0; do
  CAIRN_VALUE_CACHE_MB="$setting" "$root/scripts/cluster.sh" up >"$work/up.log"
  lp="$(leader_port)"
  lpid="$(cat "$work/cairn/node$((lp - base + 1)).pid")"
  redis-benchmark -p "$lp" -t set -r "$keys" -n $((keys * 2)) -d 100 -c 16 -P 32 -q >/dev/null 2>&1
  for ws in hot:1000 uniform:"$keys"; do
    all_rps=(); all_cpu=(); p50=""; p99=""
    for _ in $(seq 1 "$reps"); do
      c0="$(cpu "$lpid")"
      read -r rps p50 p99 <<<"$(get "$lp" "${ws#*:}" "$n")"
      c1="$(cpu "$lpid")"
      all_rps+=("$rps")
      all_cpu+=("$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN {printf "%.2f", (b - a) * 1e6 / n}')")
    done
    echo "| ${setting} MiB | ${ws%%:*} (${ws#*:} keys) | $(echo "${all_rps[*]}" | median) | $p50 | $p99 | $(echo "${all_cpu[*]}" | median) |"
  done
  if [ "$setting" = "$mb" ]; then
    # Time-to-warm on a follower.
    follower=1
    [ "$lp" = "$base" ] && follower=2
    fp=$((base + follower - 1))
    before=()
    for i in 1 2 3; do before+=("$(get "$fp" 1000 5000 | cut -d' ' -f1)"); done
    kill -TERM "$(cat "$work/cairn/node$follower.pid")"
    for _ in $(seq 1 100); do kill -0 "$(cat "$work/cairn/node$follower.pid")" 2>/dev/null || break; sleep 0.1; done
    CAIRN_VALUE_CACHE_MB="$setting" "$root/scripts/cluster.sh" up >"$work/up2.log"
    start=$(date +%s.%N)
    for _ in $(seq 1 100); do redis-cli -p "$fp" ping >/dev/null 2>&1 && break; sleep 0.05; done
    after=()
    for i in 1 2 3 4 5 6; do
      r="$(get "$fp" 1000 5000 | cut -d' ' -f1)"
      after+=("$(awk -v now="$(date +%s.%N)" -v t0="$start" -v r="$r" 'BEGIN {printf "%.1fs:%s", now - t0, r}')")
    done
    warm_line="time-to-warm (follower $follower, hot set, GET/s per 5,000-request batch): before restart ${before[*]}; after (seconds since restart:GET/s) ${after[*]}"
  fi
  "$root/scripts/cluster.sh" clean >/dev/null
done
echo
echo "$warm_line"
