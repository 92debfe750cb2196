#!/usr/bin/env bash
# Makes sure a Chromium is installed for the web UI's browser tests:
# Debian's chromium package, installed with apt-get when it is missing and
# this runs as root. Prints what it found; fails under CI=true when there is
# none afterwards (the tests would fail anyway, this says why first).
set -euo pipefail

find_chromium() {
  for c in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}

if path=$(find_chromium); then
  echo "chromium: $path ($("$path" --version 2>/dev/null || echo "version unknown"))"
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing: installing Debian's chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
if path=$(find_chromium); then
  echo "chromium: $path"
  exit 0
fi
if [ "${CI:-}" = "true" ]; then
  echo "FAIL: no chromium and it could not be installed (apt-get install chromium); the web UI's browser tests need it" >&2
  exit 1
fi
echo "chromium: not installed; the web UI's browser tests will skip (apt-get install chromium)"
