#!/usr/bin/env bash
# Installs a folder's npm dependencies from its lockfile when node_modules is absent.
# `npm ci` is tried first; this machine's npm writes lockfiles without the other platforms'
# optional packages (rollup/esbuild binaries), which `npm ci` then calls out of sync, so
# `npm install` (which still honours the locked versions) is the fallback.
set -euo pipefail
dir=${1:?usage: npm-deps.sh DIR}
[ -d "$dir/node_modules" ] && exit 0
cd "$dir"
echo "[npm-deps] installing npm dependencies in $dir"
npm ci --no-fund --no-audit --loglevel=error 2>/dev/null ||
  npm install --no-fund --no-audit --loglevel=error
