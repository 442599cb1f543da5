#!/usr/bin/env bash
# Runs the third-party SDK check: PyPI's `wechatpayv3` against `wxpay-sim serve`.
# Creates a venv (reused when present), installs wechatpayv3 (pinned), generates a test universe,
# starts the simulator on a free port and runs crates/wxpay-sim/tests/python/check_wechatpayv3.py.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SIM_VENV:-${WXPAY_VENV:-$HOME/.cache/wxpay-venv}}"
WORK="$(mktemp -d)"
SIM_PID=""
cleanup() {
  if [[ -n "$SIM_PID" ]]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
# Pinned: the version the check was written against (keep in step with scripts/setup.sh).
WECHATPAYV3_VERSION=2.0.4
"$VENV/bin/python" -c "import importlib.metadata as m; assert m.version('wechatpayv3') == '$WECHATPAYV3_VERSION'" 2>/dev/null \
  || "$VENV/bin/pip" install --quiet --disable-pip-version-check "wechatpayv3==$WECHATPAYV3_VERSION"

cargo build --quiet -p wxpay-sim --bin wxpay-sim --manifest-path "$ROOT/Cargo.toml"
SIM="$ROOT/target/debug/wxpay-sim"
"$SIM" init "$WORK/universe" >/dev/null
"$SIM" serve --config "$WORK/universe/sim.toml" --listen 127.0.0.1:0 --time-scale 0.001 --no-state --no-tls \
  >"$WORK/sim.out" 2>"$WORK/sim.err" &
SIM_PID=$!

BASE_URL=""
for _ in $(seq 1 100); do
  BASE_URL="$(sed -n 's/^wxpay-sim listening on //p' "$WORK/sim.out" | head -n1)"
  [[ -n "$BASE_URL" ]] && break
  sleep 0.1
done
if [[ -z "$BASE_URL" ]]; then
  echo "wxpay-sim did not start:" >&2
  cat "$WORK/sim.err" >&2
  exit 1
fi

"$VENV/bin/python" "$ROOT/crates/wxpay-sim/tests/python/check_wechatpayv3.py" "$BASE_URL" "$WORK/universe"
