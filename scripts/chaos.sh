#!/usr/bin/env bash
# A chaos campaign: cairn-chaos runs cycling workloads × fault mixes with consecutive seeds,
# then a summary (runs, failed runs, failed checks, availability). Exits non-zero if any run
# failed a check.
#
#   scripts/chaos.sh --runs N [--duration 60] [--backend netns|process|docker] [--bin PATH]
#                    [--image IMG] [--out DIR] [--seed S] [--nodes 3|5] [--harness PATH]
#                    [--nemesis LIST]   # one fault mix for every run instead of cycling
#                    [--workload W]     # one workload for every run instead of cycling
#   scripts/chaos.sh --smoke [--bin PATH]     # CI: each workload once, 20 s, kill+partition
#
# The backend defaults to netns where `ip netns add` works (root), else process; the process
# backend has no network, so its mixes leave partition and loss out. The docker backend runs
# the image given by --image (default cairn:dev, from scripts/build-image.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

runs=10
duration=60
backend=""
bin=""
out=""
seed="$(date +%s)"
nodes=3
smoke=0
harness=""
only_mix=""
only_workload=""
image="cairn:dev"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --duration) duration="${2%s}"; shift 2 ;;
    --backend) backend="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --image) image="$2"; shift 2 ;;
    --harness) harness="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --nodes) nodes="$2"; shift 2 ;;
    --nemesis) only_mix="$2"; shift 2 ;;
    --workload) only_workload="$2"; shift 2 ;;
    --smoke) smoke=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

target="${CARGO_TARGET_DIR:-$root/target}"
if [ -z "$harness" ]; then
  cargo build -q -p cairn-chaos
  harness="$target/debug/cairn-chaos"
fi
if [ -z "$bin" ]; then
  bin="$target/debug/cairn"
  [ -x "$bin" ] || cargo build -q -p cairn-node
fi
[ -x "$bin" ] || { echo "no cairn binary at $bin" >&2; exit 2; }

if [ -z "$backend" ]; then
  probe="cairn-chaos-$$-probe"
  if [ "$(id -u)" = 0 ] && ip netns add "$probe" 2>/dev/null; then
    ip netns del "$probe"
    backend=netns
  else
    backend=process
  fi
fi

workloads=(register counter list-append set register-nocas ttl fenced)
if [ "$backend" = netns ] || [ "$backend" = docker ]; then
  mixes=(kill pause partition restart partition,loss member kill,pause,partition,restart,loss,member)
else
  mixes=(kill pause restart member kill,pause,restart,member)
fi
[ -z "$only_mix" ] || mixes=("$only_mix")
[ -z "$only_workload" ] || workloads=("$only_workload")
if [ "$smoke" = 1 ]; then
  workloads=(register counter list-append set ttl fenced)
  if [ "$backend" = netns ]; then mixes=(kill,partition); else mixes=(kill); fi
  runs=6
  duration=20
fi
out="${out:-$target/chaos-runs/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
summary="$out/summary.tsv"
printf 'run\tseed\tworkload\tnemesis\tverdict\tops\tavail_outside\tfailed_checks\n' >"$summary"
echo "campaign: $runs runs of ${duration}s, backend $backend, $nodes nodes, seeds from $seed, out $out"

failed_runs=0
for ((i = 0; i < runs; i++)); do
  w="${workloads[$((i % ${#workloads[@]}))]}"
  m="${mixes[$(((i / ${#workloads[@]}) % ${#mixes[@]}))]}"
  s=$((seed + i))
  extra=()
  wl="$w"
  if [ "$w" = register-nocas ]; then wl=register; extra=(--no-cas); fi
  dir="$out/run-$(printf %03d "$i")-$w-${m//,/+}"
  set +e
  "$harness" run --nodes "$nodes" --duration "${duration}s" --nemesis "$m" --workload "$wl" \
    --seed "$s" --backend "$backend" --bin "$bin" --image "$image" --out "$dir" "${extra[@]}" \
    >"$dir.log" 2>&1
  rc=$?
  set -e
  verdict="$(tail -n 1 "$dir.log")"
  if [ -f "$dir/results.json" ]; then
    row="$(python3 - "$dir/results.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
a = r["availability"]["outside_faults"]
bad = ",".join(c["name"] for c in r["checks"] if c["verdict"] != "pass") or "-"
print(f'{r["ops"]["total"]}\t{"" if a is None else round(a, 4)}\t{bad}')
EOF
)"
  else
    row="0		harness-error"
  fi
  [ "$rc" = 0 ] || failed_runs=$((failed_runs + 1))
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$s" "$w" "$m" "$verdict" "$row" >>"$summary"
  echo "run $i: $w / $m / seed $s: $verdict"
done

python3 - "$summary" <<'EOF'
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
failed = [r for r in rows if r["failed_checks"] != "-"]
checks = collections.Counter(c for r in failed for c in r["failed_checks"].split(","))
avail = [float(r["avail_outside"]) for r in rows if r["avail_outside"]]
print(f"campaign: {len(rows)} runs, {len(failed)} with failed checks")
for name, n in checks.most_common():
    print(f"  {name}: {n} runs")
if avail:
    print(f"  availability outside faults: mean {sum(avail)/len(avail):.4f}, min {min(avail):.4f}")
by = collections.defaultdict(lambda: [0, 0])
for r in rows:
    by[(r["workload"], r["nemesis"])][0] += 1
    by[(r["workload"], r["nemesis"])][1] += r["failed_checks"] != "-"
for (w, m), (n, f) in sorted(by.items()):
    print(f"  {w:15} {m:36} {n} runs, {f} failed")
EOF
echo "$((runs - failed_runs)) passed, $failed_runs failed"
[ "$failed_runs" = 0 ]
