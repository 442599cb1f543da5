#!/usr/bin/env bash
# Builds the H5 demo (examples/h5 → examples/h5/dist, which wxpay-server serves at / in its
# demo, --demo). Builds the client package first when js/dist/pkg is missing.
# Idempotent; installs npm dependencies only when node_modules is absent.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1;34m[build-demo]\033[0m %s\n' "$*"; }

if [ ! -f js/dist/pkg/package.json ]; then
  log "client package missing: scripts/build-client.sh"
  bash scripts/build-client.sh
fi
bash scripts/npm-deps.sh examples/h5
log "vite build → examples/h5/dist"
(cd examples/h5 && node_modules/.bin/vite build --logLevel warn)
log "done: examples/h5/dist"
