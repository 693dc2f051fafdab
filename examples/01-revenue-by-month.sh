#!/usr/bin/env bash
# Gross revenue by month, oldest first, as JSON.
#
#   ./examples/01-revenue-by-month.sh
#   ACCORD_URL=http://127.0.0.1:9090 ./examples/01-revenue-by-month.sh
set -euo pipefail
ACCORD_URL="${ACCORD_URL:-http://127.0.0.1:8080}"
# With access policies, send a token: ACCORD_TOKEN=$(accord token --role analyst)
auth=()
if [ -n "${ACCORD_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $ACCORD_TOKEN"); fi

curl --silent --show-error --fail-with-body ${auth[@]+"${auth[@]}"} \
  -H 'Content-Type: application/json' \
  --data '{
    "metrics": ["revenue"],
    "dimensions": ["metric_time:month"],
    "order_by": ["metric_time:month"]
  }' \
  "${ACCORD_URL%/}/v1/query"
echo
