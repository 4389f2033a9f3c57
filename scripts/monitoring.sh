#!/usr/bin/env bash
# cairn's Prometheus rules and Grafana dashboard (deploy/monitoring).
#
#   scripts/monitoring.sh check        promtool: the rules, their unit tests, the example
#                                      config; the PrometheusRule agrees with rules.yaml;
#                                      the dashboard is valid JSON with a query in each panel
#   scripts/monitoring.sh render       writes deploy/k8s/overlays/monitoring/prometheusrule.yaml
#                                      from rules.yaml
#   scripts/monitoring.sh prometheus   runs Prometheus on 127.0.0.1:9090 against the local
#                                      cluster of scripts/cluster.sh, with the rules loaded
#
# promtool and prometheus come with Debian's `prometheus` package (scripts/test.sh installs it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mon="$root/deploy/monitoring"
rule="$root/deploy/k8s/overlays/monitoring/prometheusrule.yaml"

# The PrometheusRule: rules.yaml's groups (its comments left out) under `spec:`.
render() {
  cat <<'HEAD'
# Made from deploy/monitoring/rules.yaml by `scripts/monitoring.sh render`: edit that file,
# then render again (CI fails while the two disagree).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: cairn
  labels:
    app.kubernetes.io/name: cairn
spec:
HEAD
  grep -v '^#' "$mon/rules.yaml" | sed 's/^/  /'
}

case "${1:-}" in
  check)
    promtool check rules "$mon/rules.yaml"
    (cd "$mon" && promtool test rules rules_test.yaml)
    promtool check config "$mon/prometheus.yml"
    if ! diff -u "$rule" <(render); then
      echo "prometheusrule.yaml is out of date: run scripts/monitoring.sh render" >&2
      exit 1
    fi
    python3 - "$mon/dashboard.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
names = {v["name"] for v in d["templating"]["list"]}
assert {"datasource", "cluster", "instance"} <= names, names
panels = [p for p in d["panels"] if p["type"] != "row"]
for p in panels:
    assert p["datasource"]["uid"] == "${datasource}", p["title"]
    assert p["targets"] and all(t["expr"] for t in p["targets"]), p["title"]
print(f"dashboard: {len(panels)} panels, each with a query on the $datasource variable")
PY
    ;;
  render)
    render > "$rule"
    echo "wrote $rule"
    ;;
  prometheus)
    mkdir -p "$root/.cluster/prometheus"
    exec prometheus --config.file="$mon/prometheus.yml" \
      --storage.tsdb.path="$root/.cluster/prometheus" --web.listen-address=127.0.0.1:9090
    ;;
  *)
    sed -n '2,13p' "$0" >&2
    exit 2
    ;;
esac
