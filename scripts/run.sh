#!/usr/bin/env bash
# Builds the client package and starts the wxpay-server demo (--demo: SQLite file,
# in-process wxpay-sim with a generated test universe, the H5 demo); prints the URL.
# The demo runs only when asked for: without --demo the server needs a [merchant] section.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-client.sh
bash scripts/build-demo.sh   # examples/h5/dist, served at /
exec cargo run --release -p wxpay-server -- --demo "$@"
