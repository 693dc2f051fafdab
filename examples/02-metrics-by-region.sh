#!/usr/bin/env bash
# Several metrics by customer region and order channel in the first half of
# 2025 (the demo data covers 2025): EU and NA only, phone orders excluded,
# enterprise customers excluded (a `where` expression), biggest revenue
# first, top 10.
#
# Decimal values (revenue) come back as JSON strings so no digit is lost.
set -euo pipefail
ACCORD_URL="${ACCORD_URL:-http://127.0.0.1:8080}"
# With access policies, send a token: ACCORD_TOKEN=$(accord token --role analyst)
auth=()
if [ -n "${ACCORD_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $ACCORD_TOKEN"); fi

curl --silent --show-error --fail-with-body ${auth[@]+"${auth[@]}"} \
  -H 'Content-Type: application/json' \
  --data '{
    "metrics": ["revenue", "orders", "average_order_value", "active_customers"],
    "dimensions": ["customers.region", "orders.channel"],
    "filters": [
      {"dimension": "customers.region", "op": "in", "values": ["EU", "NA"]},
      {"dimension": "orders.channel", "op": "neq", "values": ["phone"]}
    ],
    "where": "customers.segment <> '"'"'enterprise'"'"'",
    "time_range": {"start": "2025-01-01", "end": "2025-07-01"},
    "order_by": [{"field": "revenue", "desc": true}, "customers.region"],
    "limit": 10
  }' \
  "${ACCORD_URL%/}/v1/query"
echo
