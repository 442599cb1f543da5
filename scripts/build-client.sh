#!/usr/bin/env bash
# Builds the client npm package (wxpay-client) into js/dist/pkg. Idempotent; no downloads
# beyond `npm ci` when js/node_modules is missing.
#
#   1. wasm (web flavour: Rust defaults) and wasm (mini-program flavour: no reference-types,
#      no multivalue; separate target dir so the two never invalidate each other)
#   2. wasm-bindgen --target web for both (the same glue serves web, bundler, slim and node)
#   3. wasm-opt -Oz from npm binaryen (Debian's 108 miscompiles wasm-bindgen output)
#   4. mini-program glue patch (CommonJS + ESM for uni-app), .wasm.br
#   5. tsc (ESM entries + CommonJS mini-program entry), package assembly from pkg-template/
#   6. CI checks: mini-program wasm features/exports, forbidden JS in miniprogram_dist,
#      no private-key code in the wasm, size budgets.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1;34m[build-client]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[build-client] error:\033[0m %s\n' "$*" >&2; exit 1; }

export WXPAY_TOOLS="${WXPAY_TOOLS:-$HOME/.cache/wasm-tools}"
export PATH="$WXPAY_TOOLS/bin:$PATH"
WBG=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
[ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $WBG" ] ||
  die "wasm-bindgen $WBG not on PATH (run scripts/setup.sh)"

JS="$ROOT/js"
if [ ! -d "$JS/node_modules" ]; then
  log "npm ci in js/"
  (cd "$JS" && npm ci --no-fund --no-audit --loglevel=error)
fi
WASM_OPT="$JS/node_modules/.bin/wasm-opt"
[ -x "$WASM_OPT" ] || die "npm binaryen missing: $WASM_OPT"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
GEN="$JS/src/wasm"          # generated glue the TypeScript compiles against (gitignored)
rm -rf "$GEN" "$JS/build"
mkdir -p "$GEN/web" "$GEN/qr" "$GEN/mp" "$GEN/mp-cjs" "$JS/build"
MP_TARGET_DIR="$TARGET_DIR/wasm-mp"
CRATE=wxpay_wasm

mkdir -p "$JS/build/web-raw" "$JS/build/qr-raw" "$JS/build/mp-raw"
log "cargo build (web flavour: main module, then the lazily loaded QR module)"
cargo build -q -p wxpay-wasm --target wasm32-unknown-unknown --profile wasm-release --no-default-features --features api
cp "$TARGET_DIR/wasm32-unknown-unknown/wasm-release/$CRATE.wasm" "$JS/build/web-raw/$CRATE.wasm"
cargo build -q -p wxpay-wasm --target wasm32-unknown-unknown --profile wasm-release --no-default-features --features qr
cp "$TARGET_DIR/wasm32-unknown-unknown/wasm-release/$CRATE.wasm" "$JS/build/qr-raw/wxpay_qr.wasm"
log "cargo build (mini-program flavour: -reference-types,-multivalue)"
RUSTFLAGS="-C target-feature=-reference-types,-multivalue" CARGO_TARGET_DIR="$MP_TARGET_DIR" \
  cargo build -q -p wxpay-wasm --target wasm32-unknown-unknown --profile wasm-release --no-default-features --features api
WEB_RAW="$JS/build/web-raw/$CRATE.wasm"
MP_RAW="$MP_TARGET_DIR/wasm32-unknown-unknown/wasm-release/$CRATE.wasm"


# std was precompiled with reference-types/multivalue, so the linked module still declares
# them; drop the declaration (wasm-opt below re-validates the code without them).
node "$JS/tools/wasm-edit.mjs" "$MP_RAW" "$JS/build/mp-raw/$CRATE.wasm" \
  --drop-feature reference-types --drop-feature multivalue

log "wasm-bindgen $WBG"
wasm-bindgen --target web --out-dir "$JS/build/bindgen-web" "$WEB_RAW"
wasm-bindgen --target web --out-dir "$JS/build/bindgen-qr" "$JS/build/qr-raw/wxpay_qr.wasm"
wasm-bindgen --target web --out-dir "$JS/build/bindgen-mp" "$JS/build/mp-raw/$CRATE.wasm"
# iOS WeChat refuses modules exporting globals; wasm-bindgen's runtime exports two unused ones.
node "$JS/tools/wasm-edit.mjs" "$JS/build/bindgen-mp/${CRATE}_bg.wasm" "$JS/build/bindgen-mp/${CRATE}_bg.edited.wasm" \
  --drop-global-exports --glue "$JS/build/bindgen-mp/$CRATE.js"

log "wasm-opt -Oz (binaryen $("$WASM_OPT" --version | awk '{print $3}'))"
"$WASM_OPT" -Oz --converge "$JS/build/bindgen-web/${CRATE}_bg.wasm" -o "$GEN/web/${CRATE}_bg.wasm"
"$WASM_OPT" -Oz --converge "$JS/build/bindgen-qr/wxpay_qr_bg.wasm" -o "$GEN/qr/wxpay_qr_bg.wasm"
cp "$JS/build/bindgen-qr/wxpay_qr.js" "$JS/build/bindgen-qr/wxpay_qr.d.ts" "$GEN/qr/"
"$WASM_OPT" -Oz --converge "$JS/build/bindgen-mp/${CRATE}_bg.edited.wasm" -o "$GEN/mp/${CRATE}_bg.wasm"
cp "$JS/build/bindgen-web/$CRATE.js" "$JS/build/bindgen-web/$CRATE.d.ts" "$GEN/web/"

log "mini-program glue patch"
node "$JS/tools/patch-mp-glue.mjs" "$JS/build/bindgen-mp/$CRATE.js" "$GEN/mp-cjs/$CRATE.js" cjs
node "$JS/tools/patch-mp-glue.mjs" "$JS/build/bindgen-mp/$CRATE.js" "$GEN/mp/$CRATE.js" esm
node "$JS/tools/glue-dts.mjs" "$JS/build/bindgen-mp/$CRATE.d.ts" "$GEN/mp-cjs/$CRATE.d.ts"
cp "$GEN/mp-cjs/$CRATE.d.ts" "$GEN/mp/$CRATE.d.ts"
node -e '
  const fs = require("node:fs"), zlib = require("node:zlib");
  const [src, dst] = process.argv.slice(1);
  fs.writeFileSync(dst, zlib.brotliCompressSync(fs.readFileSync(src), {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_GENERIC } }));
' "$GEN/mp/${CRATE}_bg.wasm" "$GEN/mp/${CRATE}_bg.wasm.br"

log "tsc"
(cd "$JS" && node_modules/.bin/tsc -p tsconfig.esm.json && node_modules/.bin/tsc -p tsconfig.mp.json)

log "assemble js/dist/pkg"
node "$JS/tools/assemble.mjs"

log "checks"
PKG="$JS/dist/pkg"
node "$JS/tools/wasm-inspect.mjs" "$PKG/miniprogram_dist/${CRATE}_bg.wasm.br" --mp ||
  die "the mini-program wasm breaks iOS WeChat's rules"
node "$JS/tools/wasm-inspect.mjs" "$PKG/esm/wasm/web/${CRATE}_bg.wasm"
node "$JS/tools/check-package.mjs" "$PKG"

log "sizes"
node "$JS/tools/sizes.mjs" "$PKG"
log "done: $PKG"
