#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL cluster:
#   ./scripts/with-postgres.sh cargo test -p wxpay-server --lib postgres_engine
# Installs PostgreSQL from Debian's packages when initdb is missing, starts a cluster in a
# temporary folder listening on 127.0.0.1 only, exports WXPAY_TEST_POSTGRES_URL for the
# command, and stops and deletes the cluster when the command ends (or fails, or is
# interrupted). PostgreSQL refuses to run as root, so as root the cluster runs as the
# `postgres` user. No system service is used. Fails when PostgreSQL cannot be had.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 <command...>" >&2; exit 2; }

find_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  if command -v initdb >/dev/null; then dirname "$(command -v initdb)"; fi
}

PG_BIN=$(find_bin)
if [ -z "$PG_BIN" ]; then
  echo "initdb not found: installing PostgreSQL from Debian's packages" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  # Binaries only: no system cluster is created (and so none is started) by the package.
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $SUDO mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >&2
  PG_BIN=$(find_bin)
fi
if [ -z "$PG_BIN" ]; then
  echo "PostgreSQL could not be installed: no initdb" >&2
  exit 1
fi

# As root, the cluster belongs to the postgres user; otherwise to the caller.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  as_pg() { runuser -u postgres -- "$@"; }
  PG_USER=postgres
else
  as_pg() { "$@"; }
  PG_USER=$(id -un)
fi

# A free loopback port: the first that nothing answers on.
port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${WXPAY_PG_PORT:-}
if [ -z "$PORT" ]; then
  for candidate in $(seq $((54320 + RANDOM % 500)) 55400); do
    if port_is_free "$candidate"; then PORT=$candidate; break; fi
  done
fi
[ -n "$PORT" ] || { echo "no free port for PostgreSQL" >&2; exit 1; }

# The cluster's folder must be reachable by its owner: as root, /tmp rather than a TMPDIR
# under root's home.
BASE=${TMPDIR:-/tmp}
[ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$BASE" && BASE=/tmp
CLUSTER=$(mktemp -d "$BASE/wxpay-pg.XXXXXX")
chmod 755 "$CLUSTER"
if [ "$(id -u)" = 0 ]; then chown "$PG_USER" "$CLUSTER"; fi

cleanup() {
  local status=$?
  if [ -f "$CLUSTER/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$CLUSTER/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$CLUSTER"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_pg "$PG_BIN/initdb" -D "$CLUSTER/data" -U "$PG_USER" --auth=trust -E UTF8 --no-sync >/dev/null
# Loopback only, socket inside the cluster folder; enough connections for three servers
# and the test suite's pools.
as_pg "$PG_BIN/pg_ctl" -D "$CLUSTER/data" -l "$CLUSTER/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $CLUSTER -c max_connections=300" start >/dev/null
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$PG_USER" wxpay_test

export WXPAY_TEST_POSTGRES_URL="postgres://$PG_USER@127.0.0.1:$PORT/wxpay_test"
echo "$("$PG_BIN/postgres" --version) on 127.0.0.1:$PORT (cluster $CLUSTER)" >&2
"$@"
