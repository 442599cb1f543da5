#!/usr/bin/env bash
# Benchmarks wxpay-server against the in-process wxpay-sim (release build): orders/s for
# create + pay and notifications/s processed, at concurrency 1 and 32, with p50/p99 latency,
# and the simulator's own prepay cost beside them. Not a test; prints a table.
#   BENCH_OPS_1 / BENCH_OPS_32 set the operation counts (defaults 200 / 1280).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p wxpay-server --example bench
echo "machine: $(nproc) cores; $(uname -sr)"
exec target/release/examples/bench
