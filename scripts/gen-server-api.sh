#!/usr/bin/env bash
# The client's types of the merchant server's API (js/src/core/server-api.ts) come from the
# server's own OpenAPI document, printed by `cargo run -p wxpay-server --example openapi`
# (no server, no network).
#   scripts/gen-server-api.sh           regenerate the checked-in file
#   scripts/gen-server-api.sh --check   fail when it differs from the document (test-client.sh)
# The document is also left in target/wxpay-openapi.json for js/test/server-api.test.mjs.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
MODE=${1:-}
case "$MODE" in "" | --check) ;; *) echo "usage: gen-server-api.sh [--check]" >&2; exit 2 ;; esac
DOC="${CARGO_TARGET_DIR:-$ROOT/target}/wxpay-openapi.json"
mkdir -p "$(dirname "$DOC")"
cargo run -q -p wxpay-server --example openapi > "$DOC.tmp"
mv "$DOC.tmp" "$DOC"
node js/tools/openapi-ts.mjs "$DOC" js/src/core/server-api.ts $MODE
