#!/usr/bin/env bash
# The storage engine's figures, side by side with redis-server in one run:
#   1. collection writes at 10 and at 100,000 elements (LPUSH, RPUSH, HSET, SADD, ZADD) and
#      redis-benchmark's LRANGE_600, on redis-server and on cairn's leader;
#   2. memory and disk for 1,000,000 keys of 100 bytes (RSS of redis-server and of each cairn
#      node; cairn's data dir after a snapshot);
#   3. the longest SET while BGSAVE snapshots those 1,000,000 keys, against the longest SET of
#      the same load without it;
#   4. how long a restarted follower with them takes to serve reads.
#
#   scripts/bench-storage.sh [-k KEYS] [-n OPS]
#
# Everything shares this machine's cores. Installs redis-server and redis-tools if missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keys=1000000
ops=50000
while getopts "k:n:" opt; do
  case "$opt" in k) keys="$OPTARG" ;; n) ops="$OPTARG" ;; *) exit 2 ;; esac
done
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
(cd "$root" && cargo build --release -q -p cairn-node --bin cairn -p cairn-bench --bin cairn-load)
load="$root/target/release/cairn-load"
cairn="$root/target/release/cairn"

work="$(mktemp -d)"
redis_pid=""
export CAIRN_CLUSTER_DIR="$work/cairn" CAIRN_BASE_PORT=17479 CAIRN_BASE_RAFT_PORT=27479
cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
  "$root/scripts/cluster.sh" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/redis"
redis-server --port 17400 --bind 127.0.0.1 --dir "$work/redis" --save '' --appendonly no \
  --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
"$root/scripts/cluster.sh" up >"$work/cluster.log"
leader=""
for _ in $(seq 1 50); do
  leader="$("$cairn" status --port 17479 2>/dev/null | awk '/^leader:/ {print $2}')" || true
  [ -n "$leader" ] && [ "$leader" != 0 ] && break
  sleep 0.1
done
[ -n "$leader" ] || { echo "no leader" >&2; exit 1; }
leader_port=$((17479 + leader - 1))
follower=$((leader % 3 + 1))
follower_port=$((17479 + follower - 1))

# rb PORT ARGS...: requests/s of one redis-benchmark run (50 clients).
rb() {
  local port="$1"; shift
  redis-benchmark -p "$port" -c 50 --csv -q "$@" 2>/dev/null | awk -F'","' 'NR>1 {print $2; exit}' | tr -d '"'
}

# fill PORT TYPE KEY N: a collection of N elements, pipelined.
fill() {
  local port="$1" type="$2" key="$3" n="$4"
  redis-cli -p "$port" del "$key" >/dev/null
  seq 1 "$n" | awk -v t="$type" -v k="$key" '{
    if (t == "list") print "RPUSH " k " e" $1;
    else if (t == "hash") print "HSET " k " f" $1 " v";
    else if (t == "set") print "SADD " k " m" $1;
    else print "ZADD " k " " $1 " m" $1 }' | redis-cli -p "$port" --pipe >/dev/null
}

echo "## Collection writes at 10 and at 100,000 elements ($ops writes, 50 clients)"
echo
echo "| command | redis @10 | redis @100k | cairn @10 | cairn @100k | cairn 100k/10 |"
echo "|---|---|---|---|---|---|"
for spec in "LPUSH:list:LPUSH big e" "RPUSH:list:RPUSH big e" \
  "HSET:hash:HSET big f__rand_int__ v" "SADD:set:SADD big m__rand_int__" \
  "ZADD:zset:ZADD big __rand_int__ m__rand_int__"; do
  name="${spec%%:*}"; rest="${spec#*:}"; type="${rest%%:*}"; cmd="${rest#*:}"
  row="| $name |"
  declare -A r=()
  for target in "redis:17400" "cairn:$leader_port"; do
    t="${target%%:*}"; port="${target#*:}"
    for size in 10 100000; do
      fill "$port" "$type" big "$size"
      # shellcheck disable=SC2086
      r["$t,$size"]="$(rb "$port" -n "$ops" -r 1000000000 $cmd)"
    done
  done
  ratio="$(awk -v a="${r[cairn,100000]}" -v b="${r[cairn,10]}" 'BEGIN { printf "%.2f", a / b }')"
  echo "$row ${r[redis,10]} | ${r[redis,100000]} | ${r[cairn,10]} | ${r[cairn,100000]} | $ratio |"
done
redis-cli -p 17400 del big >/dev/null; redis-cli -p "$leader_port" del big >/dev/null
lr_redis="$(redis-benchmark -p 17400 -c 50 -n 20000 -t lpush,lrange_600 --csv -q 2>/dev/null | awk -F'","' '/LRANGE_600/ {print $2}' | tr -d '"')"
lr_cairn="$(redis-benchmark -p "$leader_port" -c 50 -n 20000 -t lpush,lrange_600 --csv -q 2>/dev/null | awk -F'","' '/LRANGE_600/ {print $2}' | tr -d '"')"
echo
awk -v a="$lr_cairn" -v b="$lr_redis" 'BEGIN { printf "LRANGE_600 (redis-benchmark, 50 clients): redis %s/s, cairn leader %s/s: %.2f×\n", b, a, a / b }'
redis-cli -p 17400 flushall >/dev/null; redis-cli -p "$leader_port" flushall >/dev/null

echo
echo "## $keys keys of 100 bytes"
for target in "resp://127.0.0.1:17400" "resp://127.0.0.1:$leader_port"; do
  "$load" --target "$target" --op set --sequential --requests "$keys" --keyspace "$keys" \
    --value-size 100 --pipeline 32 --clients 16 >/dev/null
done
sleep 2
echo
echo "| | keys | RSS |"
echo "|---|---|---|"
echo "| redis-server | $(redis-cli -p 17400 dbsize) | $(( $(ps -o rss= -p "$redis_pid") / 1024 )) MiB |"
for i in 1 2 3; do
  pid="$(cat "$work/cairn/node$i.pid")"
  echo "| cairn node $i | $(redis-cli -p $((17479 + i - 1)) dbsize) | $(( $(ps -o rss= -p "$pid") / 1024 )) MiB |"
done
echo
redis-cli -p "$leader_port" info memory | tr -d '\r' | grep -E '^used_memory:' || true

echo
echo "## The longest SET during BGSAVE ($keys keys), cairn leader, 20 clients"
base="$("$load" --target "resp://127.0.0.1:$leader_port" --op set --requests 60000 --keyspace "$keys" --value-size 100 --clients 20)"
"$load" --target "resp://127.0.0.1:$leader_port" --op set --requests 60000 --keyspace "$keys" \
  --value-size 100 --clients 20 >"$work/during.txt" &
lp=$!
sleep 1
started="$(date +%s%N)"
redis-cli -p "$leader_port" bgsave >/dev/null
for _ in $(seq 1 600); do
  [ "$(redis-cli -p "$leader_port" info persistence | tr -d '\r' | awk -F: '/^rdb_bgsave_in_progress/ {print $2}')" = 0 ] && break
  sleep 0.1
done
saved_ms=$(( ($(date +%s%N) - started) / 1000000 ))
wait "$lp"
echo
echo "| load | requests/s | p50 ms | p99 ms | max ms |"
echo "|---|---|---|---|---|"
echo "$base" | awk '{printf "| SET alone | %s | %s | %s | %s |\n", $3, $4, $5, $6}'
awk '{printf "| SET during BGSAVE | %s | %s | %s | %s |\n", $3, $4, $5, $6}' "$work/during.txt"
echo
echo "BGSAVE took about ${saved_ms} ms (until rdb_bgsave_in_progress went back to 0)."
sleep 2
echo
echo "data dir of each node after the snapshot (dataset: $(redis-cli -p "$leader_port" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}') bytes as cairn counts it):"
for i in 1 2 3; do
  echo "  node $i: $(du -sh "$work/cairn/node$i" | cut -f1) (snapshots $(du -sh "$work/cairn/node$i/snapshots" | cut -f1), log $(du -sh "$work/cairn/node$i/wal" | cut -f1))"
done

echo
echo "## Restart of follower $follower with $keys keys"
redis-cli -p "$follower_port" save >/dev/null
kill -9 "$(cat "$work/cairn/node$follower.pid")"
sleep 0.5
started="$(date +%s%N)"
spec="$(for i in 1 2 3; do printf '%s=127.0.0.1:%s@%s,' "$i" $((17479 + i - 1)) $((27479 + i - 1)); done)"
"$cairn" serve --id "$follower" --data-dir "$work/cairn/node$follower" \
  --initial-cluster "${spec%,}" >>"$work/cairn/node$follower.log" 2>&1 &
echo $! >"$work/cairn/node$follower.pid"
for _ in $(seq 1 1200); do
  [ "$(redis-cli -p "$follower_port" dbsize 2>/dev/null)" = "$keys" ] && break
  sleep 0.05
done
echo
echo "serving reads (all $keys keys) $(( ($(date +%s%N) - started) / 1000000 )) ms after the restart"
grep -E "loaded the current snapshot" "$work/cairn/node$follower.log" | tail -1 | sed 's/^/  /'
