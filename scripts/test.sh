#!/usr/bin/env bash
# Runs every mcpproxy test: formatting, vet, unit tests and the end-to-end
# tests against real MCP servers and the real Docker engine.
#
# The tests build what they need themselves (the conformance reference server,
# the fixture server, local Docker images) and cache it under
# ${MCPPROXY_TEST_CACHE:-$TMPDIR/mcpproxy-testcache}. Steps that need ../shared
# (the node peers and the conformance suite) skip with a message when it is
# missing, except under CI=true, where they fail instead, as does a missing
# Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test"
# -p 2: the machine has 2 cores and the end-to-end tests start real servers
# and containers; packages run at most two at a time.
go test -count=1 -p 2 -timeout 45m "$@" ./...
