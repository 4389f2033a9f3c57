#!/usr/bin/env bash
# A follower that lost its data dir rejoins a local 3-node cluster holding KEYS keys of 100
# bytes: the time from its restart until it holds every key (DBSIZE through READONLY), first
# while the leader has no snapshot yet (catch-up from the log), then after a SAVE (catch-up
# by snapshot). It never votes while it catches up (node/src/cluster/amnesia.rs).
#
#   scripts/bench-rejoin.sh [-k KEYS]
#
# Everything shares this machine's cores. Installs redis-tools if redis-cli is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keys=1000000
while getopts "k:" opt; do
  case "$opt" in k) keys="$OPTARG" ;; *) exit 2 ;; esac
done
command -v redis-cli >/dev/null ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools >/dev/null; }
(cd "$root" && cargo build --release -q -p cairn-node --bin cairn -p cairn-bench --bin cairn-load)
cairn="$root/target/release/cairn"
load="$root/target/release/cairn-load"

work="$(mktemp -d)"
base=17579
raft_base=27579
export CAIRN_CLUSTER_DIR="$work/cairn" CAIRN_BASE_PORT=$base CAIRN_BASE_RAFT_PORT=$raft_base
# No snapshot until asked: the first rejoin must come from the log alone.
export CAIRN_SNAPSHOT_THRESHOLD=100000000
cleanup() {
  "$root/scripts/cluster.sh" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$root/scripts/cluster.sh" up >"$work/cluster.log"

leader_port() {
  local l=""
  for _ in $(seq 1 100); do
    l="$("$cairn" status --port "$base" 2>/dev/null | awk '/^leader:/ {print $2}')" || true
    [ -n "$l" ] && [ "$l" != 0 ] && { echo $((base + l - 1)); return; }
    sleep 0.1
  done
  echo "no leader" >&2; exit 1
}
lp="$(leader_port)"
"$load" --target "resp://127.0.0.1:$lp" --op set --sequential --requests "$keys" --keyspace "$keys" \
  --value-size 100 --pipeline 32 --clients 16 >/dev/null
echo "loaded $keys keys of 100 bytes through the leader (port $lp)"

spec="$(for i in 1 2 3; do printf '%s=127.0.0.1:%s@%s,' "$i" $((base + i - 1)) $((raft_base + i - 1)); done)"
# rejoin ID: kill node ID, delete its data dir, restart it; prints the time until it holds
# every key.
rejoin() {
  local id="$1" port=$((base + $1 - 1))
  kill -9 "$(cat "$work/cairn/node$id.pid")"
  rm -rf "$work/cairn/node$id"
  local started
  started="$(date +%s%N)"
  "$cairn" serve --id "$id" --data-dir "$work/cairn/node$id" --initial-cluster "${spec%,}" \
    >>"$work/cairn/node$id.log" 2>&1 &
  echo $! >"$work/cairn/node$id.pid"
  local n=0
  for _ in $(seq 1 1200); do
    n="$(printf 'READONLY\r\nDBSIZE\r\n' | redis-cli -p "$port" 2>/dev/null | tail -1)" || true
    [ "$n" = "$keys" ] && break
    sleep 0.1
  done
  local ms=$(( ($(date +%s%N) - started) / 1000000 ))
  if [ "$n" = "$keys" ]; then echo "  node $id holds all $keys keys ${ms} ms after its restart"
  else echo "  node $id holds $n of $keys keys after ${ms} ms (gave up)"; fi
  grep -E "started without data|voting again|installed snapshot" "$work/cairn/node$id.log" |
    tail -3 | sed 's/^/    /'
}

lid=$((lp - base + 1))
f1=$((lid % 3 + 1))
f2=$((f1 % 3 + 1))
[ "$f2" = "$lid" ] && f2=$((f2 % 3 + 1))
echo
echo "## Rejoin after a lost data dir, no snapshot yet (the log only)"
rejoin "$f1"
echo
echo "## Rejoin after a lost data dir, after SAVE on the leader (snapshot)"
redis-cli -p "$lp" save >/dev/null
rejoin "$f2"
