#!/usr/bin/env bash
# How structured values should cross the wasm boundary: JSON text (what the package ships)
# or JS objects through serde-wasm-bindgen (the `serde-boundary` feature of wxpay-wasm, built
# for this measurement only). Builds both modules exactly as the package's are built
# (scripts/wasm-pack-build.sh compat flavour, global exports dropped, npm binaryen wasm-opt
# with build-client.sh's flags), then prints their wasm and glue sizes (raw / gzip) and the
# time per call of formatParams and normaliseResult in headless Chromium, with the JSON
# boundary as the baseline of the same run. The figures in pkg-template/README.md come from it.
#
#   scripts/bench-boundary.sh [calls per round, default 10000]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export WXPAY_TOOLS="${WXPAY_TOOLS:-$HOME/.cache/wasm-tools}"
export PATH="$WXPAY_TOOLS/bin:$PATH"
[ -d js/node_modules ] || bash scripts/npm-deps.sh js
OUT="${CARGO_TARGET_DIR:-$ROOT/target}/bench-boundary"
rm -rf "$OUT"
mkdir -p "$OUT"
# Keep in step with OPT in build-client.sh.
OPT=(-Oz --converge --zero-filled-memory --low-memory-unused --strip-producers)
for variant in json:api serde:serde-boundary; do
  name=${variant%%:*}
  echo "[bench-boundary] building the $name boundary (features: ${variant#*:})"
  bash scripts/wasm-pack-build.sh compat "${variant#*:}" "$OUT/$name" wxpay_wasm
  node js/tools/wasm-edit.mjs "$OUT/$name/wxpay_wasm_bg.wasm" "$OUT/$name/edited.wasm" --drop-global-exports >/dev/null
  js/node_modules/.bin/wasm-opt "${OPT[@]}" "$OUT/$name/edited.wasm" -o "$OUT/$name/wxpay_wasm_bg.wasm"
done
node js/bench/boundary.mjs "$OUT" "${1:-10000}"
