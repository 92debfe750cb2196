#!/usr/bin/env bash
# Runs every mcpproxy test: prerequisites, formatting, vet, cross-builds,
# static checks, unit tests and the end-to-end tests against real MCP
# servers and the real Docker engine, the race detector, and the Kubernetes
# step.
#
# The tests build what they need themselves (the conformance reference server,
# the fixture server, local Docker images) and cache it under
# ${MCPPROXY_TEST_CACHE:-$TMPDIR/mcpproxy-testcache}. A missing prerequisite
# is named with its fix first; locally the tests that need it then skip with
# a message, under CI=true the run fails.
#
# Each step is a block of its own: add a step as a new block.
set -euo pipefail
cd "$(dirname "$0")/.."

ci=false
case "${CI:-}" in 1|true|TRUE|True) ci=true ;; esac
step() { echo "== $*"; }

# ---- prerequisites: each missing one named with the fix.
step prerequisites
missing=()
want_go=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
have_go=$(go env GOVERSION 2>/dev/null | sed 's/^go//' || true)
if [ -z "$have_go" ]; then
  missing+=("go: not found (install Go $want_go or newer)")
elif [ "$(printf '%s\n%s\n' "$want_go" "$have_go" | sort -V | head -1)" != "$want_go" ]; then
  missing+=("go $have_go is older than go.mod's $want_go (install Go $want_go or newer)")
fi
if ! command -v docker >/dev/null; then
  missing+=("docker: the CLI is not on PATH (apt-get install docker.io; the isolation tests need the engine)")
elif ! docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; then
  missing+=("docker: the engine does not answer (start it: service docker start, or set DOCKER_HOST)")
fi
if ! command -v node >/dev/null; then
  missing+=("node: not found (apt-get install nodejs; Node 20 runs the reference servers and the conformance suite)")
elif [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 20 ]; then
  missing+=("node $(node --version) is older than 20 (install Node 20)")
fi
shared=${MCPPROXY_SHARED:-$(cd .. && pwd)/shared}
[ -d "$shared" ] || missing+=("$shared: the shared folder beside the repository is missing (set MCPPROXY_SHARED to where it is)")
if [ ${#missing[@]} -gt 0 ]; then
  printf '  missing: %s\n' "${missing[@]}"
  if $ci; then
    echo "CI=true: every prerequisite is required"; exit 1
  fi
  echo "  (the tests that need these skip)"
fi

# -p: packages tested at once. The end-to-end tests start real servers and
# containers; one package per CPU keeps them from starving each other.
cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 2)
[ "$cpus" -ge 1 ] || cpus=1

step gofmt
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

step go vet
go vet ./...

# ---- platforms: the binary builds for linux, darwin and windows, amd64 and
# arm64 (the stdio shim and the probe are Linux-only by build tag).
step cross-builds
for target in linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
  GOOS=${target%/*} GOARCH=${target#*/} go build -o /dev/null ./cmd/mcpproxy
done
GOOS=darwin GOARCH=arm64 go build ./...

# ---- static checks, pinned. staticcheck must be clean except the MCP SDK's
# deprecations: the SDK deprecates roots, sampling and logging (SEP-2577)
# and ClientCapabilities.Roots, which mcpproxy keeps forwarding for the
# clients that use them during the deprecation window.
step staticcheck
# go run reports the modules it fetches on a clean machine ("go: downloading
# …") on stderr, which is not a finding.
not_fetching() { grep -v -e '^go: downloading ' -e '^go: finding ' || true; }
sc_out=$( (go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... 2>&1 || true) | not_fetching)
sc_left=$(printf '%s\n' "$sc_out" | grep -v -e '^$' -e '^exit status ' -e 'is deprecated:.*(SA1019)$' || true)
sc_sdk=$(printf '%s\n' "$sc_out" | grep '(SA1019)$' | grep -v 'modelcontextprotocol/go-sdk' || true)
if [ -n "$sc_left$sc_sdk" ]; then
  printf '%s\n%s\n' "$sc_left" "$sc_sdk"; exit 1
fi
# deadcode: nothing is reachable only from tests. The roots are the
# programs: the proxy, the probe and shim it embeds, and the fixture servers
# the tests build.
step deadcode
dc_out=$( (go run golang.org/x/tools/cmd/deadcode@v0.42.0 ./cmd/... ./internal/doctor/probebin ./internal/shim/shimbin \
  ./internal/testutil/hostile ./internal/testutil/mcpfixture 2>&1 || echo "deadcode failed (exit $?)") | not_fetching)
if [ -n "$dc_out" ]; then
  echo "$dc_out"; exit 1
fi

# ---- ui (issue 11): the web UI's browser tests (internal/httpapi/ui) drive
# a headless Chromium through chromedp. Debian's chromium is installed when it
# is missing (root, apt-get); without it those tests skip, and under CI=true
# they fail.
step chromium
./scripts/install-chromium.sh

step go test
# The Kubernetes tests (TestKube*) need the test cluster and run in the kube
# step below.
go test -count=1 -p "$cpus" -timeout 45m -skip '^TestKube' "$@" ./...

# ---- race detector on the packages whose tests are affordable under it
# (their own logic, in-process servers; the end-to-end packages would take
# most of CI's time under -race).
step go test -race
go test -race -count=1 -p "$cpus" -timeout 15m ./internal/upstream ./internal/fastpath ./internal/process \
  ./internal/isolation ./internal/config ./internal/telemetry ./internal/index ./internal/logging ./internal/trust \
  ./internal/proxy ./internal/docker

# ---- kube (issue 12): the one-node test cluster of ../shared/k8s is built
# (once per machine), started, used by every TestKube* test and torn down;
# see scripts/kube-test.sh. Locally it skips saying what is missing; under
# CI=true it always runs and a failure fails the run.
step kube
./scripts/kube-test.sh
