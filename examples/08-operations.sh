#!/usr/bin/env bash
# Liveness, readiness (the warehouse answers) and the first Prometheus
# metrics. /readyz answers 503 problem+json while the warehouse is down.
set -uo pipefail
ACCORD_URL="${ACCORD_URL:-http://127.0.0.1:8080}"
base="${ACCORD_URL%/}"

echo "== GET /healthz"
curl --silent --show-error --write-out '  (HTTP %{http_code})\n' "$base/healthz"
echo "== GET /readyz"
curl --silent --show-error --write-out '  (HTTP %{http_code})\n' "$base/readyz"
echo "== GET /metrics (first lines)"
metrics="$(curl --silent --show-error "$base/metrics")"
grep -m 12 '^accord_' <<<"$metrics"
