#!/usr/bin/env bash
# wxpay beside the SDKs merchants use today, in one run, as one table (issue 15):
#   rows 1-4  sign a v3 request, verify a response, verify + decrypt a 1 KiB notification, build
#             the signed wx.requestPayment parameters: wxpay-core, PyPI `wechatpayv3`, npm
#             `wechatpay-node-v3`, and OpenSSL (`openssl speed`) as the floor;
#   row 5     place a JSAPI order at wxpay-sim and return the client parameters, at concurrency 1
#             and 32: wxpay-server's API, wxpay-core + the upstream client as a library, and a
#             minimal merchant loop on each SDK against the same simulator;
#   row 6     notifications processed per second into SQLite: wxpay-server against a minimal
#             notify handler on each SDK (WAL, synchronous=FULL).
# Implementations run back to back in rounds (BENCH_PEERS_ROUNDS, default 3, for rows 1-4 and
# BENCH_PEERS_LOAD_ROUNDS, default 4, for rows 5-6). Rows 1-4 are counted per second of CPU
# time (as openssl speed counts) with ratios taken within a round; rows 5-6 per second of wall
# time, best round against best round (bench/peers/table.py says why). Every
# implementation's output is checked with wxpay-core (bench_peers check) before it is reported.
#
# Installs what is missing, idempotently: a venv with wechatpayv3 in $BENCH_PEERS_CACHE
# (default ~/.cache/wxpay-bench-peers) and bench/peers/node/node_modules from its lockfile.
# Knobs: BENCH_PEERS_MICRO_SECS (per row and round, default 1), BENCH_PEERS_SECS (rows 5-6 per
# level and round, default 1.5). Raw lines and the table are kept in target/bench-peers/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="${BENCH_PEERS_CACHE:-$HOME/.cache/wxpay-bench-peers}"
VENV="$CACHE/venv"
NODE_DIR="$ROOT/bench/peers/node"
MICRO_SECS="${BENCH_PEERS_MICRO_SECS:-1}"
SECS="${BENCH_PEERS_SECS:-1.5}"
ROUNDS="${BENCH_PEERS_ROUNDS:-3}"
LOAD_ROUNDS="${BENCH_PEERS_LOAD_ROUNDS:-4}"
# Pinned: the versions the harness was written against.
WECHATPAYV3_VERSION=2.0.4

say() { printf '== [%3ds] %s\n' "$SECONDS" "$*" >&2; }

# ---------------------------------------------------------------------------- install
install_peers() {
  for tool in python3 node npm openssl; do
    command -v "$tool" >/dev/null || { echo "bench-peers: $tool is needed" >&2; exit 1; }
  done
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    say "installing python3-venv"
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  fi
  if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating $VENV"
    mkdir -p "$CACHE"
    python3 -m venv "$VENV"
  fi
  if ! "$VENV/bin/python" -c "import importlib.metadata as m; assert m.version('wechatpayv3') == '$WECHATPAYV3_VERSION'" 2>/dev/null; then
    say "installing wechatpayv3 $WECHATPAYV3_VERSION"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "wechatpayv3==$WECHATPAYV3_VERSION"
  fi
  # npm ci only when the lockfile or Node changed since the last install (better-sqlite3
  # compiles SQLite when no prebuilt binary can be fetched: about 2 minutes on 2 cores).
  local stamp want
  stamp="$NODE_DIR/node_modules/.bench-peers-stamp"
  want="$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1) $(node --version)"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    say "installing wechatpay-node-v3 and better-sqlite3 (npm ci)"
    # node-gyp builds against the installed Node's headers instead of downloading them.
    if [[ -f /usr/include/node/node.h ]]; then export npm_config_nodedir=/usr; fi
    (cd "$NODE_DIR" && npm ci --no-fund --no-audit --loglevel=error >/dev/null)
    echo "$want" >"$stamp"
  fi
}

# ---------------------------------------------------------------------------- processes
# Under target/ rather than /tmp: a shared machine's /tmp may be swept during a run.
mkdir -p "$ROOT/target/bench-peers"
WORK="$(mktemp -d "$ROOT/target/bench-peers/run.XXXXXX")"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME PATTERN CMD...: runs CMD in the background, waits for a line matching
# "PATTERN URL" on its stdout and sets URL (not a subshell: PIDS must keep the process).
start() {
  local name=$1 pattern=$2 pid
  shift 2
  URL=""
  # Emptied here, not only by the child's redirection: a peer restarted under the same name
  # must not be found listening at the URL its predecessor printed.
  : >"$WORK/$name.out"
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 300); do
    URL="$(sed -n "s/^$pattern //p" "$WORK/$name.out" | head -n1)"
    [[ -n "$URL" ]] && return
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench-peers: $name did not start:" >&2
  cat "$WORK/$name.err" >&2
  exit 1
}

stop_last() {
  local pid="${PIDS[-1]}"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset 'PIDS[-1]'
}

# inputs_for RATE: how many prepared inputs a timed run at up to RATE per second needs.
inputs_for() { awk -v s="$SECS" -v rate="$1" 'BEGIN { printf "%d", (s + 1) * rate }'; }

RESULTS="$WORK/results.jsonl"
# record ROUND CMD...: runs CMD, keeps its JSON lines tagged with the round.
record() {
  local round=$1
  shift
  "$@" | sed -n "s/^{/{\"round\":$round,/p" | tee -a "$RESULTS" | python3 -c "$PROGRESS" >&2
}
PROGRESS='
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    print("   %-20s %-18s %12.0f ops/s" % (d["impl"], d["row"], d["ops_per_s"]))
'


openssl_round() {
  local round=$1 rsa aes sha
  rsa="$(openssl speed -mr -seconds 1 rsa2048 2>/dev/null | awk -F: '/^\+F2:/{print $4, $5}')"
  aes="$(openssl speed -mr -seconds 1 -bytes 1024 -evp aes-256-gcm 2>/dev/null | awk -F: '/^\+F:/{print $4}')"
  sha="$(openssl speed -mr -seconds 1 -bytes "$NOTIFY_LEN" -evp sha256 2>/dev/null | awk -F: '/^\+F:/{print $4}')"
  read -r sign verify <<<"$rsa"
  [[ -n "$sign" && -n "$verify" && -n "$aes" && -n "$sha" ]] || { echo "bench-peers: openssl speed gave no numbers" >&2; exit 1; }
  for pair in "rsa_sign $sign" "rsa_verify $verify" "aes_gcm_bytes $aes" "sha256_bytes $sha"; do
    read -r row value <<<"$pair"
    echo "{\"impl\":\"openssl\",\"row\":\"$row\",\"ops_per_s\":$value}"
  done
}

# ---------------------------------------------------------------------------- run
started=$SECONDS
install_peers
say "building (release): wxpay-sim, wxpay-server, bench_peers"
cargo build --quiet --release -p wxpay-sim --bin wxpay-sim
cargo build --quiet --release -p wxpay-server --bin wxpay-server --example bench_peers
BIN="$ROOT/target/release"
BENCH="$BIN/examples/bench_peers"
PY="$VENV/bin/python $ROOT/bench/peers/python/peers.py"
NODE="node $NODE_DIR/peers.js"
export RUST_LOG=warn

U="$WORK/universe"
"$BIN/wxpay-sim" init "$U" >/dev/null
# Logins for the server's payers go through code2Session; lift the simulator's per-minute cap.
sed -i 's/^login_rate_limit_per_minute = .*/login_rate_limit_per_minute = 1000000/' "$U/sim.toml"
"$BENCH" fixtures "$U" "$WORK/fx"
FX="$WORK/fx/fixtures.json"
NOTIFY_LEN="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["message_len"]["notify"])' "$FX")"

say "rows 1-4: $ROUNDS rounds of ${MICRO_SECS}s per row"
for r in $(seq 1 "$ROUNDS"); do
  record "$r" "$BENCH" micro "$U" "$FX" "$MICRO_SECS"
  record "$r" $PY micro "$FX" "$MICRO_SECS"
  record "$r" $NODE micro "$FX" "$MICRO_SECS"
  record "$r" openssl_round "$r"
done

start sim "wxpay-sim listening on" "$BIN/wxpay-sim" serve --config "$U/sim.toml" --listen 127.0.0.1:0 --no-state --no-tls
SIM="$URL"
# Every loop pays as one payer. The simulator, like WeChat, refuses an openid it never issued
# for the app, so the payer's openid is issued first, through a login code for the mini-program.
APPID="$(python3 -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["merchant"]["miniprogram"]["appid"])' "$U/merchant.toml")"
curl -fsS -X POST "$SIM/__sim/login/code" -H 'content-type: application/json' \
  -d "{\"appid\":\"$APPID\",\"openid\":\"oBenchPeersPayer0001\"}" >/dev/null
server_env=(
  WXPAY_SERVER__PORT=0 WXPAY_WORKER__ENABLED=false WXPAY_LIMITS__LOGIN_PER_MINUTE=1000000
  WXPAY_LIMITS__ORDERS_PER_MINUTE=1000000 WXPAY_LIMITS__PAY_PER_MINUTE=1000000
  WXPAY_UPSTREAM__BASE_URL="$SIM" WXPAY_UPSTREAM__OPEN_API_BASE_URL="$SIM"
)
start server "wxpay-server listening on" env "${server_env[@]}" \
  WXPAY_DATABASE__URL="sqlite://$WORK/server.db" "$BIN/wxpay-server" "$U/merchant.toml"
SERVER="$URL"
# The same server with its ledger fsynced on every commit, on the same database file (SQLite
# WAL serves both processes): orders for its row-6 runs are created through the first one.
start full "wxpay-server listening on" env "${server_env[@]}" WXPAY_DATABASE__SYNCHRONOUS=full \
  WXPAY_DATABASE__URL="sqlite://$WORK/server.db" "$BIN/wxpay-server" "$U/merchant.toml"
FULL="$URL"

say "row 5: orders at $SIM, $LOAD_ROUNDS rounds of ${SECS}s per level"
for r in $(seq 1 "$LOAD_ROUNDS"); do
  for c in 1 32; do
    record "$r" "$BENCH" order-server "$U" "$SERVER" "$SIM" "$c" "$SECS" "$(inputs_for 1000)"
    record "$r" "$BENCH" order-lib "$U" "$SIM" "$c" "$SECS" "L${r}C${c}N"
    record "$r" $PY order "$SIM" "$FX" "$c" "$SECS" "Y${r}C${c}"
    record "$r" $NODE order "$SIM" "$FX" "$c" "$SECS" "J${r}C${c}"
  done
done

# Row 6. Inputs are signed just before each run (the server refuses a timestamp 5 minutes
# old); each run gets enough for SECS at a rate well above what was measured here.
paid_in() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from orders where state=\"SUCCESS\"").fetchone()[0])' "$1"; }
notify_run() { # IMPL ROUND C URL FILE DB
  local impl=$1 round=$2 c=$3 url=$4 file=$5 db=$6 before after acked
  before="$(paid_in "$db")"
  record "$round" "$BENCH" notify "$impl" "$url" "$file" "$c" "$SECS"
  after="$(paid_in "$db")"
  acked="$(tail -n1 "$RESULTS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ops"])')"
  # Every acknowledged notification must be in the ledger (the warm-up ones count too).
  if (( after - before < acked )); then
    echo "bench-peers: $impl acknowledged $acked notifications but only $((after - before)) orders are paid" >&2
    exit 1
  fi
}
N_FAST="$(inputs_for 1200)"
N_FSYNC="$(inputs_for 800)"
say "row 6: notifications, $LOAD_ROUNDS rounds of ${SECS}s per level"
for r in $(seq 1 "$LOAD_ROUNDS"); do
  for c in 1 32; do
    "$BENCH" make-notifications "$U" "$WORK/n-server.jsonl" "$N_FAST" "S${r}C${c}" "$SERVER" "$SIM"
    notify_run ours-server "$r" "$c" "$SERVER/notify/v3/pay" "$WORK/n-server.jsonl" "$WORK/server.db"

    "$BENCH" make-notifications "$U" "$WORK/n-full.jsonl" "$N_FSYNC" "F${r}C${c}" "$SERVER" "$SIM"
    notify_run ours-server-full "$r" "$c" "$FULL/notify/v3/pay" "$WORK/n-full.jsonl" "$WORK/server.db"

    for peer in py node; do
      "$BENCH" make-notifications "$U" "$WORK/n-$peer.jsonl" "$N_FSYNC" "${peer^^}${r}C${c}N"
      db="$WORK/$peer-$r-$c.db"
      if [[ $peer == py ]]; then
        start "$peer" listening $PY serve-notify "$FX" "$WORK/n-$peer.jsonl" "$db"
        notify_run wechatpayv3 "$r" "$c" "$URL" "$WORK/n-$peer.jsonl" "$db"
      else
        start "$peer" listening $NODE serve-notify "$FX" "$WORK/n-$peer.jsonl" "$db"
        notify_run wechatpay-node-v3 "$r" "$c" "$URL" "$WORK/n-$peer.jsonl" "$db"
      fi
      stop_last
    done
  done
done

say "checking every implementation's output with wxpay-core"
"$BENCH" check "$U" "$FX" "$RESULTS" >"$WORK/checked.jsonl"

cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
{
  echo "machine: $(nproc) cores ($cpu), $(free -g | awk '/^Mem:/{print $2}') GiB, $(uname -sr); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "versions: $(rustc --version | cut -d' ' -f1-2); wechatpayv3 $WECHATPAYV3_VERSION on Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())') (cryptography $("$VENV/bin/python" -c 'import cryptography; print(cryptography.__version__)'), $("$VENV/bin/python" -c 'from cryptography.hazmat.backends.openssl.backend import backend as b; print(b.openssl_version_text())'));"
  echo "          wechatpay-node-v3 $(node -p 'require(process.argv[1]).version' "$NODE_DIR/node_modules/wechatpay-node-v3/package.json") on Node $(node --version) (OpenSSL $(node -p process.versions.openssl)); $(openssl version | cut -d' ' -f1-2) CLI"
  echo "run: rows 1-4 ${ROUNDS}x${MICRO_SECS}s per cell, rows 5-6 ${LOAD_ROUNDS}x${SECS}s per cell; $((SECONDS - started)) s in all"
} >"$WORK/machine.txt"
stamp="$(date +%Y%m%d-%H%M%S)"
cp "$WORK/checked.jsonl" "$ROOT/target/bench-peers/$stamp.jsonl"
echo
python3 "$ROOT/bench/peers/table.py" "$WORK/checked.jsonl" "$FX" "$WORK/machine.txt" | tee "$ROOT/target/bench-peers/$stamp.txt"
