#!/usr/bin/env bash
# Runs every test accord has, on a fresh machine or an old one.
#
# Idempotent: installs what cargo does not fetch (real protocol clients the
# tests drive), starts the local PostgreSQL and MariaDB when they are down,
# then runs cargo's tests. CI runs this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

# No target directory of its own: cargo's default (./target, or whatever
# CARGO_TARGET_DIR says), the one `cargo run -- serve` builds into, so
# README's two commands share one build and DuckDB's C++ compiles once.
export ACCORD_TEST_POSTGRES_URL="${ACCORD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export ACCORD_TEST_MYSQL_URL="${ACCORD_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}"

log() { printf '[test.sh] %s\n' "$*" >&2; }

# Local servers the warehouse tests use. Only started when they are local
# and down; a URL pointing elsewhere is the caller's business.
start_services() {
  if [[ "$ACCORD_TEST_POSTGRES_URL" == *"@127.0.0.1:5432/"* ]] && command -v pg_ctlcluster >/dev/null; then
    if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
      log "starting PostgreSQL"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    fi
  fi
  if [[ "$ACCORD_TEST_MYSQL_URL" == *"@127.0.0.1:3306/"* ]] && [ -x /usr/sbin/mariadbd ]; then
    if ! (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; then
      log "starting MariaDB"
      start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    fi
  fi
  for i in $(seq 1 30); do
    if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; then
      return 0
    fi
    sleep 1
  done
  log "warning: PostgreSQL or MariaDB is still not reachable; the tests that need them will fail and say so"
}

start_services
bash scripts/install-test-clients.sh || log "warning: installing the Postgres test clients failed; tests/pg_wire.rs will say which is missing"
log "running cargo test (target dir ${CARGO_TARGET_DIR:-./target})"
cargo test --no-fail-fast "$@"
