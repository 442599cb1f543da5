#!/usr/bin/env bash
# Every test of the client package: its types of the server's API against the server's
# OpenAPI document, the binding crate natively and in headless Chromium (wasm-bindgen-test),
# then the OPTIMISED npm package built by build-client.sh under `node --test` (node entry,
# simulated mini-program runtime, web entry in Chromium), then the examples built against the
# packed package (tests/examples).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1;34m[test-client]\033[0m %s\n' "$*"; }

export WXPAY_TOOLS="${WXPAY_TOOLS:-$HOME/.cache/wasm-tools}"
export PATH="$WXPAY_TOOLS/bin:$PATH"
if [ ! -d js/node_modules ]; then
  log "npm ci in js/"
  bash scripts/npm-deps.sh js
fi

log "server API types against the server's OpenAPI document (js/src/core/server-api.ts)"
bash scripts/gen-server-api.sh --check

log "wxpay-wasm unit tests (native)"
cargo test -p wxpay-wasm

log "build the package (optimised)"
bash scripts/build-client.sh

log "wxpay-wasm in headless Chromium (wasm-bindgen-test)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}" \
  cargo test -p wxpay-wasm --target wasm32-unknown-unknown

log "node --test on js/dist/pkg"
(cd js && node --test test/*.test.mjs)

log "examples with the packed package: miniprogram-ci packNpm, type-check against miniprogram-api-typings, H5 Vite build"
bash scripts/npm-deps.sh tests/examples
node --test tests/examples/*.test.mjs
