#!/usr/bin/env bash
# Several wxpay-server instances on one PostgreSQL database, beside one on SQLite: v3
# notifications per second and create + pay per second with 1, 2 and 3 instances (in one
# process, each its own state and database pool, requests sent to them in turn), at
# concurrency BENCH_CONCURRENCY (default 32), release build, the in-process simulator. After
# each row the ledger check: every order paid at the simulator is credited exactly once,
# same transaction and amount (the row fails otherwise). Runs beside a throwaway PostgreSQL
# cluster (scripts/with-postgres.sh). One table at the end.
#   BENCH_OPS=640 BENCH_CONCURRENCY=32 ./scripts/bench-instances.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${WXPAY_TEST_POSTGRES_URL:-}" ]; then
  exec bash scripts/with-postgres.sh bash "$0" "$@"
fi

C=${BENCH_CONCURRENCY:-32}
OPS=${BENCH_OPS:-640}
cargo build -q --release -p wxpay-server --example bench
OUT=$(mktemp -d "${TMPDIR:-/tmp}/bench-instances.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

# row <label> <instances> <postgres|sqlite>
row() {
  local label=$1 instances=$2 engine=$3 log="$OUT/$1.log"
  local env=(BENCH_LEVELS="$C" "BENCH_OPS_$C=$OPS" BENCH_SIM_COST=0 BENCH_APIS=v3 BENCH_INSTANCES="$instances")
  [ "$engine" = postgres ] && env+=(BENCH_POSTGRES_URL="$WXPAY_TEST_POSTGRES_URL")
  echo "== $label" >&2
  env "${env[@]}" target/release/examples/bench >"$log" 2>&1 || { cat "$log" >&2; return 1; }
  local pays notes ledger
  pays=$(awk '/^create\+pay miniprogram \(v3\)/ {for (i=1;i<=NF;i++) if ($i=="ops/s") print $(i-1)}' "$log")
  notes=$(awk '/^pay notification \(v3\)/ {for (i=1;i<=NF;i++) if ($i=="ops/s") print $(i-1)}' "$log")
  ledger=$(sed -n 's/^== ledger: \([0-9]*\) paid orders checked.*: \([0-9]*\) lost, \([0-9]*\) credited twice, \([0-9]*\) differing/\1 checked, \2 lost, \3 twice, \4 differing/p' "$log")
  printf '| %-23s | %9s | %16s | %-41s |\n' "$label" "$pays" "$notes" "$ledger" >>"$OUT/table"
}

row "SQLite, 1 instance" 1 sqlite
row "PostgreSQL, 1 instance" 1 postgres
row "PostgreSQL, 2 instances" 2 postgres
row "PostgreSQL, 3 instances" 3 postgres

echo
echo "machine: $(nproc) cores; $(uname -sr); concurrency $C; $OPS operations per cell; v3 API"
printf '| %-23s | %9s | %16s | %-41s |\n' "store" "pays/s" "notifications/s" "ledger check after the row"
printf '|%s|%s|%s|%s|\n' "-------------------------" "-----------" "------------------" "-------------------------------------------"
cat "$OUT/table"
