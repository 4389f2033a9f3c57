#!/usr/bin/env bash
# Validates the Kubernetes manifests in deploy/k8s strictly (misspelt fields fail) against a
# current Kubernetes version, offline, with kubernetes-validate from PyPI.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v kubernetes-validate >/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check kubernetes-validate
fi
# Every manifest but kustomization files (not API objects). kubernetes-validate has no schema
# for the Prometheus Operator's kinds (ServiceMonitor, PrometheusRule): it warns and skips
# them; scripts/monitoring.sh checks the PrometheusRule's rules with promtool instead.
mapfile -t files < <(find "$root/deploy/k8s" -name '*.yaml' ! -name 'kustomization.yaml' | sort)
kubernetes-validate --strict --quiet "${files[@]}"
echo "manifests valid: ${#files[@]} files"
# The rendered base and overlays too (patches can only be checked once applied), where
# kubectl is at hand.
if command -v kubectl >/dev/null; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
  for dir in "$root/deploy/k8s/base" "$root"/deploy/k8s/overlays/*/; do
    name="$(basename "$dir")"
    kubectl kustomize "$dir" > "$out/$name.yaml"
    kubernetes-validate --strict --quiet "$out/$name.yaml"
    echo "kustomize build valid: $name"
  done
fi
