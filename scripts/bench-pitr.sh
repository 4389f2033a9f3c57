#!/usr/bin/env bash
# Recovery time from the log archive: a 3-node cluster with ~MIB of data is backed up, then
# takes SETs for SECONDS while shipping its log (--archive-to), and is lost entirely. The
# clock then runs from `cairn backup restore URL` (the backup plus every archived entry)
# until the new 3-node cluster answers with the data, and until every node has caught up.
#
#   scripts/bench-pitr.sh [-m MIB] [-d SECONDS] [-c CLIENTS]   (defaults 1024, 600, 4)
#
# Release build; the archive and backup go to a local directory. The keyspace is 16 KiB
# values (as scripts/bench-backup.sh); the load is redis-benchmark SETs of 100-byte values
# on 100k keys. One `cairn backup restore` builds the three data dirs (one download and
# replay; the other two are copied from the first's snapshot). Prints a Markdown table.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mib=1024
secs=600
clients=4
while getopts "m:d:c:" opt; do
  case "$opt" in m) mib="$OPTARG" ;; d) secs="$OPTARG" ;; c) clients="$OPTARG" ;; *) exit 2 ;; esac
done
command -v redis-benchmark >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools >/dev/null
}
cargo build --release -q -p cairn-node --manifest-path "$root/Cargo.toml"
cairn="$root/target/release/cairn"

work="$(mktemp -d)"
pids=()
cleanup() {
  status=$?
  [ "$status" = 0 ] || tail -n 20 "$work"/*.log >&2 || true
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

base=18579
dest="file://$work/dest"
spec="1=127.0.0.1:$base@$((base + 10)),2=127.0.0.1:$((base + 1))@$((base + 11)),3=127.0.0.1:$((base + 2))@$((base + 12))"
start_cluster() { # dir-prefix [extra flags...]
  local prefix="$1"
  shift
  for i in 1 2 3; do
    "$cairn" serve --id "$i" --data-dir "$work/$prefix$i" --initial-cluster "$spec" \
      --check-interval-secs 0 --log-level warn "$@" >>"$work/$prefix$i.log" 2>&1 &
    pids+=($!)
  done
}
leader_port() {
  for i in 0 1 2; do
    if redis-cli -p $((base + i)) info replication 2>/dev/null | grep -q '^role:master'; then
      echo $((base + i))
      return 0
    fi
  done
  return 1
}
wait_leader() {
  for _ in $(seq 1 600); do
    leader_port >/dev/null && return 0
    sleep 0.05
  done
  echo "no leader" >&2
  return 1
}
field() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v k="$3" '$1 == k {print $2}'; }

start_cluster node --archive-to "$dest"
wait_leader
port=$(leader_port)
keys=$((mib * 64)) # 16 KiB each
python3 - "$keys" <<'PY' | redis-cli -p "$port" --pipe >"$work/load.log"
import os, sys
n = int(sys.argv[1])
text = (b"the quick brown fox jumps over the lazy dog " * 200)[:8192]
out = sys.stdout.buffer
for i in range(n):
    key = b"key:%d" % i
    value = os.urandom(4096).hex().encode() + text
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value))
PY
"$cairn" backup create --port "$port" --to "$dest" >/dev/null
backup_index=$("$cairn" backup list "$dest" | sed -nE 's/.* index=([0-9]+) .*/\1/p' | tail -1)
echo "loaded $(redis-cli -p "$port" dbsize) keys, backup at index $backup_index; load for $secs s" >&2

timeout "$secs" redis-benchmark -p "$port" -t set -c "$clients" -n 2000000000 -r 100000 -d 100 -q \
  >"$work/bench.log" 2>&1 || true
for _ in $(seq 1 200); do
  [ "$(field "$port" archive archive_lag_entries)" = 0 ] && break
  sleep 0.1
done
archived=$(field "$port" archive archive_last_index)
dbsize=$(redis-cli -p "$port" dbsize)
"$cairn" backup list "$dest" | head -1 >&2
for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
echo "cluster lost at index $archived ($dbsize keys, $((archived - backup_index)) entries archived after the backup, $(((archived - backup_index) / secs)) entries/s)" >&2

now() { date +%s.%N; }
t0=$(now)
"$cairn" backup restore "$dest" --initial-cluster "$spec" --data-dir "$work/new1" --id 1 \
  --data-dir "$work/new2" --id 2 --data-dir "$work/new3" --id 3 >"$work/restore.out"
t1=$(now)
start_cluster new
wait_leader
for _ in $(seq 1 1200); do
  [ "$(redis-cli -p "$(leader_port)" dbsize 2>/dev/null)" = "$dbsize" ] && break
  sleep 0.05
done
t2=$(now)
caught_up() {
  for i in 0 1 2; do
    [ "$(field $((base + i)) replication cairn_applied_index 2>/dev/null || echo 0)" -ge "$archived" ] || return 1
  done
}
for _ in $(seq 1 2400); do
  caught_up && break
  sleep 0.05
done
t3=$(now)
cat "$work/restore.out" >&2
python3 - "$t0" "$t1" "$t2" "$t3" "$mib" "$((archived - backup_index))" "$secs" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:5])
mib, entries, secs = sys.argv[5], sys.argv[6], sys.argv[7]
print(f"| step ({mib} MiB backup + {entries} archived entries from {secs} s of SETs) | seconds |")
print("|---|---|")
print(f"| `cairn backup restore URL` (backup + replay + snapshot) into 3 data dirs | {t1 - t0:.1f} |")
print(f"| + start 3 nodes until a leader answers with every key | {t2 - t0:.1f} |")
print(f"| + until all 3 nodes have applied the last archived index | {t3 - t0:.1f} |")
PY
