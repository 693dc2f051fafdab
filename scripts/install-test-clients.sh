#!/usr/bin/env bash
# Installs the real PostgreSQL clients that tests/pg_wire.rs drives against
# accord's Postgres wire endpoint. Idempotent: each step is skipped when its
# client is already there, so running it on every test run costs seconds.
#
#   apt:  psql + pgbench (postgresql-client), pgjdbc (libpostgresql-jdbc-java),
#         a JDK when there is no javac
#   pip:  psycopg2-binary, psycopg[binary] (3), sqlalchemy (2), pandas
#   npm:  pg, into tests/pg_clients/node_modules
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[install-test-clients] %s\n' "$*" >&2; }

APT_UPDATED=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    log "no apt-get: install $* by hand"
    return 0
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    apt-get update -qq >/dev/null || log "apt-get update failed"
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || log "apt-get install $* failed"
}

need_apt=()
command -v psql >/dev/null && command -v pgbench >/dev/null || need_apt+=(postgresql-client)
[ -f /usr/share/java/postgresql.jar ] || need_apt+=(libpostgresql-jdbc-java)
command -v javac >/dev/null || need_apt+=(default-jdk-headless)
if [ "${#need_apt[@]}" -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt_install "${need_apt[@]}"
fi

PY="${PYTHON:-python3}"
if command -v "$PY" >/dev/null; then
  if ! "$PY" -c 'import psycopg2, psycopg, sqlalchemy, pandas' 2>/dev/null; then
    log "pip install psycopg2-binary psycopg[binary] sqlalchemy pandas"
    "$PY" -m pip install -q --disable-pip-version-check \
      'psycopg2-binary>=2.9' 'psycopg[binary]>=3.1' 'sqlalchemy>=2.0' 'pandas>=2.0' \
      || log "pip install failed"
  fi
else
  log "no $PY: the Python client tests will fail and say so"
fi

if command -v npm >/dev/null; then
  if [ ! -d tests/pg_clients/node_modules/pg ]; then
    log "npm install pg (tests/pg_clients)"
    (cd tests/pg_clients && npm install --silent --no-audit --no-fund) || log "npm install failed"
  fi
else
  log "no npm: the node client test will fail and say so"
fi
log "done"
