#!/usr/bin/env bash
# Backup and restore throughput for a ~1 GiB keyspace, to a local directory and to a local
# S3-compatible server (s3s-fs), side by side with `tar | zstd` of the data dir as the
# reference (the same compression level, one thread).
#
#   scripts/bench-backup.sh [-m MIB]      (default 1024)
#
# One node (release build); the keyspace is 16 KiB values, half random hex and half a
# repeated text (about 2.5:1 for zstd), written with redis-cli --pipe. Prints a Markdown
# table: seconds and MB/s of snapshot bytes for each step.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mib=1024
while getopts "m:" opt; do
  case "$opt" in m) mib="$OPTARG" ;; *) exit 2 ;; esac
done
command -v redis-cli >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools >/dev/null
}
command -v zstd >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zstd >/dev/null
}
s3s="${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs"
[ -x "$s3s" ] || cargo install --locked s3s-fs@0.14.1 --features binary
cargo build --release -q -p cairn-node --manifest-path "$root/Cargo.toml"
cairn="$root/target/release/cairn"

work="$(mktemp -d)"
pids=()
cleanup() {
  status=$?
  [ "$status" = 0 ] || tail -n 20 "$work/node.log" "$work/load.log" >&2 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=18479
# The node uploads with its own environment: give it the S3 server's credentials.
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 \
  AWS_ENDPOINT="http://127.0.0.1:$((port + 2))" AWS_ALLOW_HTTP=true
"$cairn" serve --id 1 --data-dir "$work/node" --initial-cluster "1=127.0.0.1:$port@$((port + 1))" \
  --check-interval-secs 0 --log-level warn >"$work/node.log" 2>&1 &
pids+=($!)
mkdir -p "$work/s3/bench"
"$s3s" --host 127.0.0.1 --port $((port + 2)) --access-key bench --secret-key bench-secret \
  "$work/s3" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  [ "$(redis-cli -p $port set ready 1 2>/dev/null)" = OK ] && break
  sleep 0.1
done

keys=$((mib * 64)) # 16 KiB each
python3 - "$keys" <<'PY' | redis-cli -p $port --pipe >"$work/load.log"
import os, sys
n = int(sys.argv[1])
text = (b"the quick brown fox jumps over the lazy dog " * 200)[:8192]
out = sys.stdout.buffer
for i in range(n):
    key = b"key:%d" % i
    value = os.urandom(4096).hex().encode() + text
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value))
PY
echo "loaded $(redis-cli -p $port dbsize) keys" >&2

now() { date +%s.%N; }
mbps() { python3 -c "import sys; b,s=float(sys.argv[1]),float(sys.argv[2]); print(f'{s:.1f} s | {b/s/1e6:.0f} MB/s')" "$1" "$2"; }
field() { awk -v k="$1:" '$1 == k {print $2}'; }

# A snapshot first, so each backup below measures the stream itself (the node builds a
# fresh snapshot only when something was applied since).
"$cairn" backup create --port $port --to "file://$work/warm" >/dev/null
snap_bytes=$("$cairn" backup list "file://$work/warm" | sed -E 's/.*snapshot=([0-9]+).*/\1/')

declare -A t
for dest in "file://$work/dir" "s3://bench/backups"; do
  start=$(now)
  "$cairn" backup create --port $port --to "$dest" >"$work/created"
  t["create $dest"]=$(python3 -c "print($(now) - $start)")
  start=$(now)
  "$cairn" backup restore "$dest/latest" --data-dir "$work/restored-$RANDOM" --id 1 \
    --initial-cluster "1=127.0.0.1:1@2" >/dev/null
  t["restore $dest"]=$(python3 -c "print($(now) - $start)")
done
stored=$(field stored_bytes <"$work/created")

kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
start=$(now)
tar -C "$work/node" -cf - . | zstd -1 -T1 -q -o "$work/ref.tar.zst"
t_tar=$(python3 -c "print($(now) - $start)")
mkdir "$work/untar"
start=$(now)
zstd -d -q -c "$work/ref.tar.zst" | tar -C "$work/untar" -xf -
t_untar=$(python3 -c "print($(now) - $start)")
dir_bytes=$(du -sb "$work/node" | cut -f1)

echo "keyspace: $keys keys of 16 KiB; snapshot $snap_bytes bytes, stored $stored bytes (zstd); data dir $dir_bytes bytes"
echo
echo "| step | time | throughput (snapshot bytes/s; data-dir bytes/s for tar) |"
echo "|---|---|---|"
for dest in "file://$work/dir" "s3://bench/backups"; do
  name=${dest%%:*}
  echo "| backup create → $name | $(mbps "$snap_bytes" "${t["create $dest"]}") |"
  echo "| backup restore ← $name | $(mbps "$snap_bytes" "${t["restore $dest"]}") |"
done
echo "| reference: tar \| zstd -1 of the data dir ($dir_bytes bytes) | $(mbps "$dir_bytes" "$t_tar") |"
echo "| reference: zstd -d \| tar -x | $(mbps "$dir_bytes" "$t_untar") |"
