#!/usr/bin/env bash
# Incremental rebuild after touching one file (a planner file, a REST
# handler, the Postgres endpoint's handler), before and after the
# workspace split, measured back to back on this machine:
#   bash scripts/bench-rebuild.sh [BEFORE_REV]
# BEFORE_REV (default da6ce89, the last single-crate commit) is checked out
# into a temporary worktree. Each side gets its own target directory (both
# have a package named `accord`), warmed by one full build first; then the
# file is touched and `cargo build --no-default-features` timed
# (dev profile, the edit loop; DuckDB is not part of it either way), three
# times. Prints a markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
before_rev="${1:-da6ce89}"
root="$(pwd)"
base="${BENCH_REBUILD_DIR:-${TMPDIR:-/tmp}/accord-rebuild}"
mkdir -p "$base"
wt="$base/before"
if [ ! -d "$wt" ]; then
  git worktree add --detach "$wt" "$before_rev" >/dev/null
fi

measure() { # dir target-dir file
  local dir="$1" target="$2" file="$3" times=()
  (cd "$dir" && CARGO_TARGET_DIR="$target" cargo build --no-default-features -q)
  for _ in 1 2 3; do
    touch "$dir/$file"
    local t0 t1
    t0=$(date +%s.%N)
    (cd "$dir" && CARGO_TARGET_DIR="$target" cargo build --no-default-features -q)
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc)")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 2p
}

row() { # label before-file after-file
  local before after ratio
  before=$(measure "$wt" "$base/target-before" "$2")
  after=$(measure "$root" "$base/target-after" "$3")
  ratio=$(echo "scale=2; $after / $before" | bc)
  echo "| $1 | \`$2\` → \`$3\` | ${before} s | ${after} s | ${ratio} |"
}

echo "| file touched | path before → after | one crate ($before_rev) | workspace ($(git rev-parse --short HEAD)) | after / before |"
echo "| --- | --- | --- | --- | --- |"
row "a planner file" src/planner/build.rs crates/planner/src/planner/build.rs
row "a REST handler" src/server/handlers.rs crates/rest/src/handlers.rs
row "a Postgres endpoint file" src/pgwire/handler.rs crates/pgwire/src/handler.rs
