#!/usr/bin/env bash
# The client side of issue 15: the wxpay-client package's .wasm and glue (raw / gzip / brotli)
# beside WeChat's JS-SDK as npm ships it (`jweixin-module`), and their start-up time in headless
# Chromium (cold, and the median of repeats), measured in the same run.
# Builds the package (scripts/build-client.sh, after scripts/setup.sh when its tools are
# missing) and installs jweixin-module into $BENCH_PEERS_CACHE/jweixin (default
# ~/.cache/wxpay-bench-peers); both steps are skipped when already done.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="${BENCH_PEERS_CACHE:-$HOME/.cache/wxpay-bench-peers}"
JWEIXIN_VERSION=1.6.0
JWEIXIN="$CACHE/jweixin/node_modules/jweixin-module"

if ! bash scripts/build-client.sh >/dev/null; then
  bash scripts/setup.sh
  bash scripts/build-client.sh >/dev/null
fi
if [[ "$(node -p "require('$JWEIXIN/package.json').version" 2>/dev/null)" != "$JWEIXIN_VERSION" ]]; then
  mkdir -p "$CACHE/jweixin"
  npm install --prefix "$CACHE/jweixin" --no-save --no-fund --no-audit --loglevel=error "jweixin-module@$JWEIXIN_VERSION" >/dev/null
fi
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

echo "machine: $(nproc) cores, $(uname -sr); $(chromium --version 2>/dev/null | head -n1); load average $(cut -d' ' -f1-3 /proc/loadavg)"
node "$ROOT/bench/client/run.mjs" "$ROOT/js/dist/pkg" "$JWEIXIN" "${BENCH_CLIENT_RUNS:-5}"
node "$ROOT/bench/client/miniprogram.mjs" "$ROOT/js/dist/pkg" "${BENCH_MP_RUNS:-9}"

# How pay() learns the order is paid: status requests per payment and the time from the
# notification landing at the server to the page showing "paid" (H5 demo as WeChat's browser,
# demo server with its embedded simulator; the e2e harness's build and browser).
bash scripts/build-demo.sh >/dev/null
bash scripts/npm-deps.sh tests/e2e >/dev/null
cargo build -q --release -p wxpay-server --bin wxpay-server
E2E_SERVER_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/wxpay-server" \
  node "$ROOT/bench/client/confirm.mjs" "${BENCH_CONFIRM_RUNS:-20}" | tail -n 1
