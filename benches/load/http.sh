#!/usr/bin/env bash
# HTTP load test of `accord serve`: requests/s and p50/p99 latency of a
# cached POST /v1/query against GET /healthz on the same server in the same
# run (the ratio is what to compare; this machine is noisy), and of an
# uncached query (cache disabled) on the embedded DuckDB demo.
#
#   bash benches/load/http.sh            # 10 s per case, 16 connections
#   DURATION=30s CONNECTIONS=32 bash benches/load/http.sh
#
# Traffic goes to loopback only. Installs wrk (Debian) when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The same target directory as README's commands (cargo's default).
target="${CARGO_TARGET_DIR:-target}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
PROFILE="${PROFILE:-dev}"

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build -q --profile "$PROFILE"
bin="$target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/accord"

work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" demo init --scale 10 --warehouse "duckdb://$work/demo.duckdb" >/dev/null

serve() { # port, duckdb file, extra args...
  local port=$1 db=$2; shift 2
  "$bin" serve --http-addr "127.0.0.1:$port" --warehouse "duckdb://$db" \
    --pg-addr off --no-reload --log warn "$@" >"$work/serve-$port.log" 2>&1 &
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
    sleep 0.2
  done
  echo "server on $port did not start" >&2; cat "$work/serve-$port.log" >&2; exit 1
}
# Cached server: one copy of the demo DuckDB file per server (one DuckDB
# instance per file per process).
cp "$work/demo.duckdb" "$work/demo2.duckdb"
serve 18091 "$work/demo.duckdb"
serve 18092 "$work/demo2.duckdb" --cache-ttl 0

body='{"metrics": ["revenue", "orders", "average_order_value"], "dimensions": ["customers.region", "metric_time:month"]}'
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
curl -sf http://127.0.0.1:18091/v1/query -H 'content-type: application/json' -d "$body" >/dev/null # warm the cache

run() { # name url [script]
  local name=$1 url=$2 script=${3:-}
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency ${script:+-s "$script"} "$url")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local errors
  errors=$(awk '/Non-2xx/ {print $4}' <<<"$out")
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rps" "$p50" "$p99" "${errors:-0}"
  echo "$rps" >"$work/$name.rps"
}

echo -e "case\treq/s\tp50\tp99\tnon-2xx"
run healthz http://127.0.0.1:18091/healthz
run query_cached http://127.0.0.1:18091/v1/query "$work/post.lua"
run query_uncached http://127.0.0.1:18092/v1/query "$work/post.lua"
ratio=$(awk -v a="$(cat "$work/query_cached.rps")" -v b="$(cat "$work/healthz.rps")" 'BEGIN {printf "%.2f", a/b}')
echo "cached query / healthz throughput ratio: $ratio (profile $PROFILE, $CONNECTIONS connections, $DURATION)"
