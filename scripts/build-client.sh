#!/usr/bin/env bash
# Builds the client npm package (wxpay-client) into js/dist/pkg. Idempotent; no downloads
# beyond `npm ci` when js/node_modules is missing.
#
#   1. `wasm-pack build --mode no-install` (scripts/wasm-pack-build.sh): cargo build + wasm-bindgen
#      --target web, compat flavour (no reference-types, no multivalue; own target dir): the
#      main module and a separate QR module (desktop flow only); optionally a "modern" web
#      module. The same glue serves web, bundler, slim and node.
#   2. mini-program post-processing of wasm-pack's output: exported globals dropped, wasm-opt -Oz
#      from npm binaryen (Debian's 108 miscompiles wasm-bindgen output), glue patch (CommonJS +
#      ESM for uni-app), .wasm.br, wasm2js fallback (js/tools/README.md explains each step)
#   3. tsc (ESM entries + CommonJS mini-program entry), package assembly from pkg-template/
#   4. CI checks: mini-program wasm features/exports, forbidden JS in miniprogram_dist,
#      no private-key code in the wasm (dependency graph before the build, function names of
#      the linked modules after it), size budgets.
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
command -v wasm-pack >/dev/null || die "wasm-pack not on PATH (run scripts/setup.sh)"

JS="$ROOT/js"
if [ ! -d "$JS/node_modules" ]; then
  log "npm ci in js/"
  bash "$ROOT/scripts/npm-deps.sh" "$JS"
fi
WASM_OPT="$JS/node_modules/.bin/wasm-opt"
[ -x "$WASM_OPT" ] || die "npm binaryen missing: $WASM_OPT"

GEN="$JS/src/wasm"          # generated glue the TypeScript compiles against (gitignored)
rm -rf "$GEN" "$JS/build"
mkdir -p "$GEN/web" "$GEN/qr" "$GEN/mp" "$GEN/mp-cjs" "$JS/build"
CRATE=wxpay_wasm

# Which module the web entries ship:
#   compat (default): the mini-program flavour (no reference-types / multivalue, no exported
#     globals) with wasm-bindgen's unpatched web glue. One module for every engine (old iOS
#     Safari included), and the one that fits the size budget (60 KB gzip);
#   modern: Rust's default features (externref table), measured at ~0.4 KB gzip over budget.
WEB_FLAVOUR="${WXPAY_WEB_FLAVOUR:-compat}"
case "$WEB_FLAVOUR" in compat | modern) ;; *) die "WXPAY_WEB_FLAVOUR must be compat or modern" ;; esac
mkdir -p "$JS/build/raw"

# No private-key code in the wasm (1/2): wxpay-core's `private-key` / `aws-lc` features and the
# aws-lc crates must not be in wxpay-wasm's wasm32 dependency graph, whatever its features. The
# same query with the feature forced on must see it, or the grep has gone blind.
private_key_deps() { # extra cargo tree args
  cargo tree -q -p wxpay-wasm --target wasm32-unknown-unknown -e features --prefix none --all-features "$@" |
    grep -E 'aws-lc-(rs|sys)|wxpay-core feature "(private-key|aws-lc)"' | sort -u
}
found=$(private_key_deps) && die "private-key code in wxpay-wasm's wasm32 dependencies:
$found"
private_key_deps --features wxpay-core/private-key >/dev/null ||
  die "the private-key dependency check cannot see wxpay-core/private-key even when forced on"
log "no private-key crates or features in wxpay-wasm's wasm32 dependency graph"

log "wasm-pack build (compat flavour): main module, then the lazily loaded QR module"
bash "$ROOT/scripts/wasm-pack-build.sh" compat api "$JS/build/bindgen-mp" "$CRATE" "$JS/build/raw/$CRATE.wasm"
bash "$ROOT/scripts/wasm-pack-build.sh" compat qr "$JS/build/bindgen-qr" wxpay_qr "$JS/build/raw/wxpay_qr.wasm"
# (2/2): the linked modules, which still have their function names, contain none of it.
node "$JS/tools/check-no-private-key.mjs" "$JS/build/raw/$CRATE.wasm" "$JS/build/raw/wxpay_qr.wasm" ||
  die "private-key code in the wasm"
if [ "$WEB_FLAVOUR" = modern ]; then
  log "wasm-pack build (modern web flavour: Rust's default wasm features)"
  bash "$ROOT/scripts/wasm-pack-build.sh" modern api "$JS/build/bindgen-web" "$CRATE"
fi

# iOS WeChat refuses modules exporting globals; wasm-bindgen's runtime exports two unused ones.
drop_global_exports() { # <out dir> <stem>
  node "$JS/tools/wasm-edit.mjs" "$1/${2}_bg.wasm" "$1/${2}_bg.edited.wasm" --drop-global-exports --glue "$1/$2.js"
}
drop_global_exports "$JS/build/bindgen-mp" "$CRATE"
drop_global_exports "$JS/build/bindgen-qr" wxpay_qr

# --zero-filled-memory / --low-memory-unused are sound here: the module defines its own
# memory (zeroed at instantiation) and Rust places nothing below 1 MiB's stack.
OPT=(-Oz --converge --zero-filled-memory --low-memory-unused --strip-producers)
log "wasm-opt ${OPT[*]} (binaryen $("$WASM_OPT" --version | awk '{print $3}'))"
"$WASM_OPT" "${OPT[@]}" "$JS/build/bindgen-mp/${CRATE}_bg.edited.wasm" -o "$GEN/mp/${CRATE}_bg.wasm"
"$WASM_OPT" "${OPT[@]}" "$JS/build/bindgen-qr/wxpay_qr_bg.edited.wasm" -o "$GEN/qr/wxpay_qr_bg.wasm"
cp "$JS/build/bindgen-qr/wxpay_qr.js" "$JS/build/bindgen-qr/wxpay_qr.d.ts" "$GEN/qr/"
if [ "$WEB_FLAVOUR" = modern ]; then
  "$WASM_OPT" "${OPT[@]}" "$JS/build/bindgen-web/${CRATE}_bg.wasm" -o "$GEN/web/${CRATE}_bg.wasm"
  cp "$JS/build/bindgen-web/$CRATE.js" "$JS/build/bindgen-web/$CRATE.d.ts" "$GEN/web/"
else
  cp "$GEN/mp/${CRATE}_bg.wasm" "$GEN/web/"
  cp "$JS/build/bindgen-mp/$CRATE.js" "$JS/build/bindgen-mp/$CRATE.d.ts" "$GEN/web/"
fi

log "wasm2js fallback (uni-app App without WebAssembly)"
mkdir -p "$GEN/w2j"
"$JS/node_modules/.bin/wasm2js" "$GEN/mp/${CRATE}_bg.wasm" -Oz -o "$JS/build/w2j-raw.js"
node "$JS/tools/w2j-module.mjs" "$JS/build/w2j-raw.js" "$GEN/w2j/wxpay_wasm_w2j.js" "$GEN/w2j/wxpay_wasm_w2j.d.ts"

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
node "$JS/tools/wasm-inspect.mjs" "$PKG/esm/wasm/web/${CRATE}_bg.wasm" $( [ "$WEB_FLAVOUR" = compat ] && echo --mp )
node "$JS/tools/wasm-inspect.mjs" "$PKG/esm/wasm/qr/wxpay_qr_bg.wasm" --mp
node "$JS/tools/check-package.mjs" "$PKG"

log "sizes"
node "$JS/tools/sizes.mjs" "$PKG"
log "done: $PKG"
