#!/usr/bin/env bash
# Builds the cairn container image from a statically linked release binary.
#
#   scripts/build-image.sh [TAG]     (default tag: cairn:dev)
#
# The binary links glibc statically (+crt-static) and resolves hosts without NSS modules,
# so the image needs nothing but the binary, a CA bundle and a passwd entry (deploy/Dockerfile).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tag="${1:-cairn:dev}"
target=x86_64-unknown-linux-gnu

cd "$root"
RUSTFLAGS='-C target-feature=+crt-static' \
  cargo build --release --locked --target "$target" -p cairn-node --bin cairn

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "${CARGO_TARGET_DIR:-$root/target}/$target/release/cairn" "$ctx/cairn"
strip "$ctx/cairn" 2>/dev/null || true
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
else
  echo "no CA bundle at /etc/ssl/certs/ca-certificates.crt (apt-get install ca-certificates)" >&2
  exit 1
fi
printf 'root:x:0:0:root:/:/sbin/nologin\ncairn:x:10001:10001:cairn:/data:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\ncairn:x:10001:\n' >"$ctx/group"
mkdir "$ctx/data"
cp deploy/Dockerfile "$ctx/Dockerfile"
docker build -q -t "$tag" "$ctx"
echo "built $tag"
