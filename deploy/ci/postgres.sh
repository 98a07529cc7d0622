#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the test suite and print its SQLAlchemy URL.
#
#   export ASSISTANT_TEST_POSTGRES_URL="$(bash deploy/ci/postgres.sh)"     # then: pytest -m postgres
#   bash deploy/ci/postgres.sh stop                                         # stop it again
#
# Idempotent: installs Debian's server package only when missing (root: apt-get; otherwise it must be
# installed already), initialises the cluster once in $PG_DIR and starts it only if it is not running.
# Nothing listens beyond 127.0.0.1; the socket lives in $PG_DIR. The role may create databases, so
# each test module works in its own fresh database. Progress goes to stderr; stdout is only the URL.
set -euo pipefail

PG_PORT="${PG_PORT:-55432}"
PG_DIR="${PG_DIR:-/tmp/assistant-postgres-${PG_PORT}}"
PG_USER="${PG_USER:-assistant}"
PG_PASSWORD="${PG_PASSWORD:-assistant}"
PG_DB="${PG_DB:-assistant}"

say() { echo "postgres.sh: $*" >&2; }

pg_bindir() {
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$found" ] && command -v pg_ctl >/dev/null 2>&1; then found="$(dirname "$(command -v pg_ctl)")"; fi
  echo "$found"
}

# Commands run as the cluster owner: `postgres` when we are root (initdb refuses root), else ourselves.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

BIN="$(pg_bindir)"
if [ "${1:-start}" = stop ]; then
  [ -n "$BIN" ] && [ -f "$PG_DIR/data/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >&2
  exit 0
fi

if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  if [ "$(id -u)" != 0 ]; then
    say "PostgreSQL server binaries not found; install them (Debian: apt-get install -y postgresql)"; exit 1
  fi
  say "installing Debian's postgresql package"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  BIN="$(pg_bindir)"
fi

mkdir -p "$PG_DIR"
[ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"

if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
  say "initialising a cluster in $PG_DIR/data"
  pwfile="$PG_DIR/.pw"
  printf '%s\n' "$PG_PASSWORD" > "$pwfile"
  [ "$(id -u)" = 0 ] && chown postgres: "$pwfile"
  as_owner "$BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --pwfile="$pwfile" -A scram-sha-256 -E UTF8 \
    --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
fi

if ! as_owner "$BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
  say "starting on 127.0.0.1:$PG_PORT"
  as_owner "$BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" >/dev/null
fi

# The cluster's bootstrap superuser is $PG_USER; the database is created once.
export PGPASSWORD="$PG_PASSWORD"
if ! "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
  "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE \"$PG_DB\"" >&2
fi

echo "postgresql+psycopg://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/${PG_DB}"
