#!/usr/bin/env bash
# Downloads revenue and orders by region and month as CSV (Accept: text/csv)
# into a file, and shows the response headers: X-Accord-Cache says whether
# the result came from the cache, X-Accord-Sql-Hash which SQL produced it.
#
#   ./examples/03-csv-download.sh [OUTPUT.csv]   (default: revenue_by_region.csv)
set -euo pipefail
ACCORD_URL="${ACCORD_URL:-http://127.0.0.1:8080}"
# With access policies, send a token: ACCORD_TOKEN=$(accord token --role analyst)
auth=()
if [ -n "${ACCORD_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $ACCORD_TOKEN"); fi
out="${1:-revenue_by_region.csv}"

curl --silent --show-error --fail-with-body ${auth[@]+"${auth[@]}"} \
  -H 'Content-Type: application/json' \
  -H 'Accept: text/csv' \
  --dump-header - \
  --output "$out" \
  --data '{
    "metrics": ["revenue", "orders"],
    "dimensions": ["customers.region", "metric_time:month"],
    "order_by": ["customers.region", "metric_time:month"]
  }' \
  "${ACCORD_URL%/}/v1/query"

echo "wrote $out:"
head -n 5 "$out"
