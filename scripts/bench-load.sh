#!/usr/bin/env bash
# Load on loopback: the merchant API's create + pay and the notification endpoint at
# concurrency 1, 8, 32 and 128 against the in-process simulator (release build, SQLite file),
# with throughput, p50/p99 and error counts, then the ledger check against the simulator
# (every order paid there is credited here exactly once, same transaction and amount).
# Bounded: at most BENCH_MAX_OPS operations per row (default 2 560), a few minutes in all.
#   BENCH_LEVELS=1,8,32,128 ./scripts/bench-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MAX=${BENCH_MAX_OPS:-2560}
LEVELS=${BENCH_LEVELS:-1,8,32,128}
export BENCH_LEVELS=$LEVELS BENCH_SIM_COST=0
for c in ${LEVELS//,/ }; do
  n=$((c == 1 ? 200 : 40 * c))
  [ "$n" -gt "$MAX" ] && n=$MAX
  export "BENCH_OPS_$c=${BENCH_OPS:-$n}"
done
cargo build -q --release -p wxpay-server --example bench
echo "machine: $(nproc) cores; $(uname -sr); levels $LEVELS"
exec target/release/examples/bench
