#!/usr/bin/env bash
# What mistakes look like: RFC 9457 problem details
# (Content-Type: application/problem+json) with a stable `code`, the request
# `field` at fault and `suggestions`. This script expects the errors, so it
# does not stop on them.
set -uo pipefail
ACCORD_URL="${ACCORD_URL:-http://127.0.0.1:8080}"
# With access policies, send a token: ACCORD_TOKEN=$(accord token --role analyst)
auth=()
if [ -n "${ACCORD_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $ACCORD_TOKEN"); fi
base="${ACCORD_URL%/}"

show() {
  echo "== $1"
  shift
  curl --silent --show-error --include ${auth[@]+"${auth[@]}"} "$@"
  echo
}

show "a misspelt metric (422 unknown_metric, suggests \"revenue\")" \
  -H 'Content-Type: application/json' \
  --data '{"metrics": ["revenu"], "dimensions": ["customers.region"]}' \
  "$base/v1/query"

show "a dimension the metric cannot reach (422 unreachable_dimension)" \
  -H 'Content-Type: application/json' \
  --data '{"metrics": ["signups"], "dimensions": ["orders.status"]}' \
  "$base/v1/query"

show "an unknown request field (422 invalid_request)" \
  -H 'Content-Type: application/json' \
  --data '{"metrics": ["revenue"], "group": ["customers.region"]}' \
  "$base/v1/query"

show "a representation the server cannot produce (406 not_acceptable)" \
  -H 'Content-Type: application/json' -H 'Accept: application/xml' \
  --data '{"metrics": ["revenue"]}' \
  "$base/v1/query"

show "an unknown dialect (422 unknown_dialect)" \
  -H 'Content-Type: application/json' \
  --data '{"metrics": ["revenue"]}' \
  "$base/v1/compile?dialect=oracle"
