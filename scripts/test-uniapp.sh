#!/usr/bin/env bash
# Builds the uni-app example (examples/uniapp) for mp-weixin and H5 with DCloud's real
# toolchain, then checks the output with examples/uniapp/check-build.mjs: the wasm core
# emitted by wxpay-client/vite, app.json, uni's conditional compilation, and that the
# mini-program code loads the core with WXWebAssembly and no bare global WebAssembly.
# Builds the client package first when js/dist/pkg is missing. Idempotent: npm dependencies
# are installed only when node_modules is absent or was installed from another
# package.json / package-lock.json. SKIP_UNIAPP_H5=1 builds mp-weixin only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1;34m[test-uniapp]\033[0m %s\n' "$*"; }
EX=examples/uniapp
t0=$SECONDS

if [ ! -f js/dist/pkg/package.json ]; then
  log "client package missing: scripts/build-client.sh"
  bash scripts/build-client.sh
fi

# npm dependencies, keyed on the manifest and the lockfile. `npm ci` first; this machine's npm
# writes lockfiles without the other platforms' optional rollup binaries, which `npm ci` then
# calls out of sync, so `npm install` (which honours the locked versions) is the fallback.
stamp="$EX/node_modules/.wxpay-install-stamp"
want="$(cat "$EX/package.json" "$EX/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$EX/node_modules/@dcloudio/vite-plugin-uni" ]; then
  log "npm dependencies up to date (skipping install)"
else
  log "installing npm dependencies in $EX"
  (cd "$EX" && { npm ci --no-fund --no-audit --loglevel=error 2>/dev/null ||
    npm install --no-fund --no-audit --loglevel=error; })
  echo "$want" >"$stamp"
fi
log "deps ready after $((SECONDS - t0))s"

mkdir -p "$EX/dist/logs"
build() { # platform npm-script
  local t=$SECONDS
  log "npm run $2 → $EX/dist/build/$1"
  rm -rf "$EX/dist/build/$1"
  if ! (cd "$EX" && npm run --silent "$2") >"$EX/dist/logs/$1.log" 2>&1; then
    cat "$EX/dist/logs/$1.log"
    log "FAILED: npm run $2"
    exit 1
  fi
  grep -v 'Unknown user config\|^$' "$EX/dist/logs/$1.log" | sed 's/^/    /' || true
  log "$1 built in $((SECONDS - t))s"
}

build mp-weixin build:mp-weixin
check_args=(--log "mp-weixin=$EX/dist/logs/mp-weixin.log")
if [ "${SKIP_UNIAPP_H5:-0}" != 1 ]; then
  build h5 build:h5
  check_args+=(--h5 --log "h5=$EX/dist/logs/h5.log")
fi

log "checking the output"
node "$EX/check-build.mjs" "${check_args[@]}"
log "done in $((SECONDS - t0))s"
