#!/usr/bin/env bash
# One wasm module of the client package: `wasm-pack build` (cargo build, then wasm-bindgen
# --target web) in one of the two flavours, with nothing downloaded (--mode no-install: the
# wasm-bindgen CLI matching Cargo.lock must be on PATH; scripts/setup.sh installs both).
# Used by build-client.sh and bench-boundary.sh, so the package and the measurements are built
# the same way.
#
#   scripts/wasm-pack-build.sh <compat|modern> <cargo features> <out dir> <out name> [<raw copy>]
#
#   compat  the mini-program flavour: no reference-types / multi-value (iOS WeChat rejects
#           them). Rust's std is precompiled with both on, so the linker would still declare
#           them and wasm-bindgen would then emit its externref glue; the linker is told the
#           exact feature list instead (wasm-opt later validates the code against it and
#           wasm-inspect.mjs checks the final module). Own target dir, as the flags differ.
#   modern  Rust's default wasm features.
#
# wasm-opt is not run here (--no-opt): the build uses npm binaryen's after its own edits.
# <raw copy>: where to copy the module as the linker wrote it (with its name section), for
# check-no-private-key.mjs.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
[ $# -ge 4 ] || { echo "usage: wasm-pack-build.sh <compat|modern> <features> <out dir> <out name> [raw copy]" >&2; exit 2; }
FLAVOUR=$1 FEATURES=$2 OUT=$3 NAME=$4 RAW=${5:-}

export WXPAY_TOOLS="${WXPAY_TOOLS:-$HOME/.cache/wasm-tools}"
export PATH="$WXPAY_TOOLS/bin:$PATH"
command -v wasm-pack >/dev/null || { echo "wasm-pack not on PATH (run scripts/setup.sh)" >&2; exit 1; }

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# What iOS WeChat accepts, as declared by Rust 1.95's defaults minus the two it rejects.
MP_FEATURES=bulk-memory,bulk-memory-opt,call-indirect-overlong,mutable-globals,nontrapping-fptoint,sign-ext
case "$FLAVOUR" in
  compat)
    export RUSTFLAGS="-C target-feature=-reference-types,-multivalue -C link-arg=--no-check-features -C link-arg=--features=$MP_FEATURES"
    export CARGO_TARGET_DIR="$TARGET_DIR/wasm-mp"
    ;;
  modern)
    unset RUSTFLAGS
    export CARGO_TARGET_DIR="$TARGET_DIR"
    ;;
  *) echo "flavour must be compat or modern" >&2; exit 2 ;;
esac

case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
# wasm-pack prints progress on stderr; keep errors, drop the "failed to get wasm-pack version"
# warning (the crates API is not reachable from every machine; harmless).
wasm-pack --quiet build crates/wxpay-wasm --mode no-install --target web --no-opt --no-pack --no-gitignore \
  --profile wasm-release --out-dir "$OUT" --out-name "$NAME" \
  -- --no-default-features --features "$FEATURES" 2> >(grep -v 'failed to get wasm-pack version' >&2)
if [ -n "$RAW" ]; then
  mkdir -p "$(dirname "$RAW")"
  cp "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/wxpay_wasm.wasm" "$RAW"
fi
