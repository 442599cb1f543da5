#!/usr/bin/env bash
# End-to-end tests: the H5 demo in headless Chromium (system /usr/bin/chromium, driven by
# playwright-core; no browser download) against the wxpay-server demo (--demo), which
# each test file starts on a free port with a fresh SQLite file and the in-process simulator;
# and examples/miniprogram run in a simulated mini-program logic layer against the same server.
#
#   scripts/test-e2e.sh                 everything
#   scripts/test-e2e.sh wechat          only tests/e2e/wechat.test.mjs
#
# Screenshots of every step land in tests/artifacts/ (gitignored). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1;34m[test-e2e]\033[0m %s\n' "$*"; }

[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "Chromium not found at ${CHROMIUM:-/usr/bin/chromium} (scripts/setup.sh installs it)" >&2; exit 1; }

bash scripts/build-demo.sh
bash scripts/npm-deps.sh tests/e2e

log "cargo build -p wxpay-server"
cargo build -q -p wxpay-server --bin wxpay-server
export E2E_SERVER_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/wxpay-server"

mkdir -p tests/artifacts
files=(tests/e2e/*.test.mjs)
[ $# -gt 0 ] && files=("${@/#/tests/e2e/}") && files=("${files[@]/%/.test.mjs}")
log "node --test ${files[*]}"
# One file at a time: each starts its own server and browser, and the machine is small.
node --test --test-concurrency=1 --test-timeout=300000 "${files[@]}"
log "screenshots: tests/artifacts/"
