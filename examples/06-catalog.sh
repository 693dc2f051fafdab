#!/usr/bin/env bash
# Browses the catalog: every metric with its label, then every version of
# one metric, then which definitions version is served and how the last hot
# reload went.
#
#   ./examples/06-catalog.sh [METRIC]   (default: revenue)
set -euo pipefail
ACCORD_URL="${ACCORD_URL:-http://127.0.0.1:8080}"
# With access policies, send a token: ACCORD_TOKEN=$(accord token --role analyst)
auth=()
if [ -n "${ACCORD_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $ACCORD_TOKEN"); fi
base="${ACCORD_URL%/}"
metric="${1:-revenue}"
fetch() { curl --silent --show-error --fail-with-body ${auth[@]+"${auth[@]}"} "$base$1"; }

echo "== metrics (GET /v1/catalog)"
if command -v jq >/dev/null; then
  fetch /v1/catalog | jq -r '.metrics[] | "\(.name)@\(.version)\t\(.type)\t\(.label // "")"'
else
  fetch /v1/catalog; echo
fi

echo "== $metric (GET /v1/catalog/metrics/$metric)"
fetch "/v1/catalog/metrics/$metric"; echo

echo "== status (GET /v1/catalog/status)"
fetch /v1/catalog/status; echo
