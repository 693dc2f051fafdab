#!/usr/bin/env bash
# Downloads sessions, orders and conversion rate by day as an Arrow IPC
# stream (Accept: application/vnd.apache.arrow.stream), the fastest way into
# pandas or polars. Python is not needed to run this script; it prints the
# one line that reads the file.
#
#   ./examples/04-arrow-download.sh [OUTPUT.arrow]   (default: funnel_by_day.arrow)
set -euo pipefail
ACCORD_URL="${ACCORD_URL:-http://127.0.0.1:8080}"
# With access policies, send a token: ACCORD_TOKEN=$(accord token --role analyst)
auth=()
if [ -n "${ACCORD_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $ACCORD_TOKEN"); fi
out="${1:-funnel_by_day.arrow}"

curl --silent --show-error --fail-with-body ${auth[@]+"${auth[@]}"} \
  -H 'Content-Type: application/json' \
  -H 'Accept: application/vnd.apache.arrow.stream' \
  --output "$out" \
  --data '{
    "metrics": ["sessions", "orders", "conversion_rate"],
    "dimensions": ["metric_time:day"],
    "order_by": ["metric_time:day"]
  }' \
  "${ACCORD_URL%/}/v1/query"

echo "wrote $out ($(wc -c < "$out") bytes). Read it with:"
echo "  polars:  python3 -c 'import polars as pl; print(pl.read_ipc_stream(\"$out\"))'"
echo "  pandas:  python3 -c 'import pyarrow as pa; print(pa.ipc.open_stream(open(\"$out\", \"rb\")).read_pandas())'"
