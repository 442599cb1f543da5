#!/usr/bin/env bash
# Installs what a fresh machine lacks for building and testing the toolkit. Idempotent:
# every step checks first and skips what is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

export WXPAY_TOOLS="${WXPAY_TOOLS:-$HOME/.cache/wasm-tools}"
export PATH="$WXPAY_TOOLS/bin:$PATH"

# 1. The wasm32 target (rust-toolchain.toml names it, but rustup does not auto-install here).
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown || {
    echo "error: could not add the wasm32-unknown-unknown target; the wasm build and tests need it" >&2
    exit 1
  }
fi

# 2. wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in Cargo.lock.
WBG=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if [ -z "$WBG" ]; then
  echo "error: wasm-bindgen not found in Cargo.lock" >&2
  exit 1
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WBG" ]; then
  log "installing wasm-bindgen-cli $WBG (a few minutes, once per machine)"
  # Not --locked: the CLI's own lockfile pins a crate version the registry mirror lacks.
  cargo install --root "$WXPAY_TOOLS" wasm-bindgen-cli --version "$WBG" --force
fi

# 3. wasm-pack, which drives cargo build + wasm-bindgen in build-client.sh (always with
# --mode no-install, so it never downloads at build time). Pinned like the other tools.
WASM_PACK_VERSION=0.15.1
if [ "$(wasm-pack --version 2>/dev/null)" != "wasm-pack $WASM_PACK_VERSION" ]; then
  log "installing wasm-pack $WASM_PACK_VERSION (a few minutes, once per machine)"
  cargo install --root "$WXPAY_TOOLS" wasm-pack --version "$WASM_PACK_VERSION" --locked --force
fi

# 4. Debian packages: Chromium + ChromeDriver for browser tests, PostgreSQL for the shared-store tests.
need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
command -v brotli >/dev/null || need_apt+=(brotli)
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# 5. npm dependencies of the client package (TypeScript, binaryen's wasm-opt, playwright-core).
for dir in js; do
  if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules" ]; then
    log "npm ci in $dir"
    bash scripts/npm-deps.sh "$dir"
  fi
done

# 6. Python venv with the third-party SDK used to cross-check the simulator.
# wechatpayv3 is pinned to the version the checks were written against (2.0.4): a new
# release must not change what the simulator is checked with without a review.
VENV="${WXPAY_VENV:-$HOME/.cache/wxpay-venv}"
WECHATPAYV3_VERSION=2.0.4
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import importlib.metadata as m, cryptography; assert m.version('wechatpayv3') == '$WECHATPAYV3_VERSION'" 2>/dev/null; then
  log "creating the Python venv for third-party checks"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "wechatpayv3==$WECHATPAYV3_VERSION" cryptography
fi

# 6. cargo-deny for the dependency checks that work offline (licenses, bans, sources).
if ! command -v cargo-deny >/dev/null; then
  log "installing cargo-deny (a few minutes, once per machine)"
  cargo install --root "$WXPAY_TOOLS" cargo-deny --locked
fi

log "ready"
