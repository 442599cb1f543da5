#!/usr/bin/env bash
# Runs every test of the toolkit, installing what a fresh machine lacks first.
#   ./scripts/test.sh            everything
#   ./scripts/test.sh --quick    Rust lints and tests only (no browser, no Python, no npm)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

export WXPAY_TOOLS="${WXPAY_TOOLS:-$HOME/.cache/wasm-tools}"
export PATH="$WXPAY_TOOLS/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() {
  local name=$1; shift
  local start=$SECONDS
  printf '\n\033[1;34m==> %s\033[0m\n' "$name"
  "$@"
  printf '\033[1;32m<== %s (%ss)\033[0m\n' "$name" "$((SECONDS - start))"
}

if [ "$QUICK" = 0 ]; then
  step "setup" bash scripts/setup.sh
fi

step "rustfmt" cargo fmt --all --check
step "clippy" cargo clippy --workspace --all-targets --all-features -- -D warnings
if [ "$QUICK" = 0 ] || command -v cargo-deny >/dev/null; then
  # Licenses, bans and sources only: advisories need the advisory database from the network.
  # cargo deny reads every target's crates (windows-sys too), which a build on this host never
  # fetched: a fresh machine must fetch them first, or --offline fails.
  step "dependencies: licenses, bans, sources (cargo deny)" \
    bash -c 'cargo fetch --locked --quiet && cargo deny --offline check licenses bans sources'
fi

# The core stays sans-I/O: none of these may appear in its normal dependency tree, on any target.
core_deps_check() {
  local bad
  for target in x86_64-unknown-linux-gnu wasm32-unknown-unknown; do
    bad=$(cargo tree -p wxpay-core -e normal --target "$target" --prefix none --format '{p}' \
      | awk '{print $1}' | sort -u | grep -Ex 'tokio|reqwest|sqlx|sqlx-core|rusqlite|libsqlite3-sys|axum|hyper|wasm-bindgen|aws-lc-rs|aws-lc-sys' || true)
    if [ -n "$bad" ]; then
      echo "wxpay-core ($target) must not depend on: $bad" >&2
      return 1
    fi
  done
  echo "wxpay-core's normal dependency tree is free of I/O, async, wasm-bindgen and private-key crates"
}
step "core dependency boundaries" core_deps_check
step "core builds for wasm32" cargo build -p wxpay-core --target wasm32-unknown-unknown

step "cargo test (native)" cargo test --workspace --all-features
# The store suite on PostgreSQL and several servers on one database. with-postgres.sh
# installs PostgreSQL when missing and fails when it cannot: this step never skips.
postgres_tests() {
  # The PostgreSQL tests are #[ignore]d in plain runs; here they run, and fail without the server.
  cargo test -p wxpay-server --all-features --lib store:: -- --include-ignored &&
    cargo test -p wxpay-server --all-features --test multi_instance -- --include-ignored
}
step "PostgreSQL: store suite and multi-instance servers" bash scripts/with-postgres.sh bash -c \
  "$(declare -f postgres_tests); postgres_tests"
# Without features the core verifies with the pure-Rust `rsa` crate, as in the browser.
step "core tests without optional features" cargo test -p wxpay-core

core_wasm_tests() {
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test -p wxpay-core --target wasm32-unknown-unknown --lib --test vectors_v2 --test vectors_v3 --test on_wasm
}

if [ "$QUICK" = 0 ]; then
  # Every suite is required: a missing script fails the run instead of skipping the suite.
  suite() {
    local name=$1 script=$2
    [ -f "$script" ] || { echo "missing test suite script: $script" >&2; exit 1; }
    step "$name" bash "$script"
  }
  step "core tests on wasm32 (Node via wasm-bindgen-test)" core_wasm_tests
  suite "client package (wasm + TypeScript, Chromium, mini-program runtime)" scripts/test-client.sh
  suite "uni-app example built for mp-weixin and H5 with DCloud's CLI" scripts/test-uniapp.sh
  suite "end to end: H5 demo in headless Chromium against wxpay-server + wxpay-sim" scripts/test-e2e.sh
  suite "simulator against a third-party SDK (wechatpayv3)" scripts/sim-thirdparty.sh
fi

printf '\n\033[1;32mall tests passed\033[0m\n'
