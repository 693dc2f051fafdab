#!/usr/bin/env bash
# Compiles a query to Snowflake SQL without running it (POST /v1/compile).
# The response also says what each result column means, which models the
# SQL scans and the SQL's hash. Other dialects: duckdb, postgres, mysql,
# sqlite, bigquery, redshift, databricks, trino, clickhouse.
#
#   ./examples/05-compile-snowflake.sh [DIALECT]   (default: snowflake)
set -euo pipefail
ACCORD_URL="${ACCORD_URL:-http://127.0.0.1:8080}"
# With access policies, send a token: ACCORD_TOKEN=$(accord token --role analyst)
auth=()
if [ -n "${ACCORD_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $ACCORD_TOKEN"); fi
dialect="${1:-snowflake}"

response="$(curl --silent --show-error --fail-with-body ${auth[@]+"${auth[@]}"} \
  -H 'Content-Type: application/json' \
  --data '{
    "metrics": ["net_revenue", "refund_rate"],
    "dimensions": ["customers.segment", "metric_time:quarter"],
    "time_range": {"start": "2025-04-01"}
  }' \
  "${ACCORD_URL%/}/v1/compile?dialect=${dialect}")"

if command -v jq >/dev/null; then
  jq -r '.sql' <<<"$response"
  jq -c '{dialect, sql_hash, models, columns: [.columns[].name]}' <<<"$response"
else
  echo "$response"
fi
