#!/usr/bin/env bash
# Gross revenue by month, oldest first, as JSON.
#
#   ./examples/01-revenue-by-month.sh
#   ACCORD_URL=http://127.0.0.1:9090 ./examples/01-revenue-by-month.sh
set -euo pipefail
ACCORD_URL="${ACCORD_URL:-http://127.0.0.1:8080}"

curl --silent --show-error --fail-with-body \
  -H 'Content-Type: application/json' \
  --data '{
    "metrics": ["revenue"],
    "dimensions": ["metric_time:month"],
    "order_by": ["metric_time:month"]
  }' \
  "${ACCORD_URL%/}/v1/query"
echo
