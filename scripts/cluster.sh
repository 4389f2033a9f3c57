#!/usr/bin/env bash
# A local 3-node cairn cluster on 127.0.0.1: RESP on 6379/6380/6381, peers on 16379/16380/16381,
# HTTP (/metrics, /healthz, /readyz) on 7379/7380/7381.
#
#   scripts/cluster.sh up       build (release) and start the cluster, wait for a leader
#   scripts/cluster.sh down     stop the nodes (SIGTERM, then SIGKILL after 10 s)
#   scripts/cluster.sh status   print the cluster as node 1 sees it
#   scripts/cluster.sh clean    stop and delete the data
#
# Data and logs go to $CAIRN_CLUSTER_DIR (default: .cluster/ in the repository).
# Ports can be moved with CAIRN_BASE_PORT (default 6379), CAIRN_BASE_RAFT_PORT (16379) and
# CAIRN_BASE_HTTP_PORT (7379).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${CAIRN_CLUSTER_DIR:-$root/.cluster}"
base="${CAIRN_BASE_PORT:-6379}"
raft_base="${CAIRN_BASE_RAFT_PORT:-16379}"
http_base="${CAIRN_BASE_HTTP_PORT:-7379}"
bin="$root/target/release/cairn"
nodes=(1 2 3)

spec() {
  local parts=()
  for i in "${nodes[@]}"; do
    parts+=("$i=127.0.0.1:$((base + i - 1))@$((raft_base + i - 1))")
  done
  (IFS=,; echo "${parts[*]}")
}

# Alive and not a zombie (a killed node whose parent has not reaped it still answers kill -0).
running() {
  [ -f "$dir/node$1.pid" ] || return 1
  local state
  state="$(ps -o stat= -p "$(cat "$dir/node$1.pid")" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "${state:0:1}" != Z ]
}

up() {
  command -v cargo >/dev/null || { echo "cargo is needed: install Rust from rustup.rs" >&2; exit 1; }
  (cd "$root" && cargo build --release -p cairn-node --bin cairn)
  mkdir -p "$dir"
  local cluster; cluster="$(spec)"
  for i in "${nodes[@]}"; do
    if running "$i"; then echo "node $i already running (pid $(cat "$dir/node$i.pid"))"; continue; fi
    "$bin" serve --id "$i" --data-dir "$dir/node$i" --initial-cluster "$cluster" \
      --http-port "$((http_base + i - 1))" >>"$dir/node$i.log" 2>&1 &
    echo $! >"$dir/node$i.pid"
    echo "node $i: pid $!, RESP 127.0.0.1:$((base + i - 1)), metrics http://127.0.0.1:$((http_base + i - 1))/metrics, log $dir/node$i.log"
  done
  for _ in $(seq 1 100); do
    if "$bin" status --port "$base" 2>/dev/null | grep -q '^leader: [1-9]'; then
      "$bin" status --port "$base"
      echo "ready: redis-cli -p $base"
      return 0
    fi
    sleep 0.2
  done
  echo "no leader after 20 s; see the logs in $dir" >&2
  exit 1
}

down() {
  for i in "${nodes[@]}"; do
    if running "$i"; then kill -TERM "$(cat "$dir/node$i.pid")"; fi
  done
  for i in "${nodes[@]}"; do
    for _ in $(seq 1 100); do running "$i" || break; sleep 0.1; done
    if running "$i"; then kill -KILL "$(cat "$dir/node$i.pid")"; fi
    rm -f "$dir/node$i.pid"
  done
  echo "stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) "$bin" status --port "$base" ;;
  clean) down; rm -rf "$dir" ;;
  *) echo "usage: $0 up|down|status|clean" >&2; exit 2 ;;
esac
