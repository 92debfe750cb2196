#!/usr/bin/env bash
# Builds mcpproxy's container image: a static binary (CGO_ENABLED=0) in an
# empty image (deploy/kubernetes/Dockerfile: FROM scratch) with the build
# host's CA bundle, so that HTTPS upstreams verify. No registry is needed.
# Usage: scripts/build-image.sh [TAG]        (default mcpproxy:dev)
#        BINARY=/path/to/mcpproxy scripts/build-image.sh TAG   (use a built binary)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-mcpproxy:dev}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
if [ -n "${BINARY:-}" ]; then
  cp "$BINARY" "$ctx/mcpproxy"
else
  CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$ctx/mcpproxy" ./cmd/mcpproxy
fi
bundle=/etc/ssl/certs/ca-certificates.crt
if [ -f "$bundle" ]; then cp "$bundle" "$ctx/ca-certificates.crt"; else : >"$ctx/ca-certificates.crt"; fi
cp deploy/kubernetes/Dockerfile "$ctx/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null
echo "$tag"
