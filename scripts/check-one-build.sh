#!/usr/bin/env bash
# Checks README's promise that its two commands share one build: after
# `bash scripts/test.sh` has built everything, `cargo run -- serve` finds
# DuckDB's C++ (libduckdb-sys, 20-40 minutes here) built, in the same
# target directory. Rust crates whose features differ between the test
# build and the binary (dev-dependencies unify features) may compile again;
# the script says how many and how long that took.
#
# Run after scripts/test.sh (CI does). Exits 1 if DuckDB's C++ compiled again.
set -euo pipefail
cd "$(dirname "$0")/.."
# The test script must not pick a target directory of its own: `cargo run`
# would not find its build there.
if grep -Eq '^[^#]*CARGO_TARGET_DIR=' scripts/test.sh; then
  echo "scripts/test.sh sets CARGO_TARGET_DIR, so \`cargo run\` builds elsewhere"
  exit 1
fi
started=$(date +%s.%N)
# `cargo run -- serve` builds exactly this: the `accord` binary of the
# default members, dev profile, default features.
cargo build --bin accord --message-format=json 2>/dev/null | python3 -c '
import json, sys
rebuilt = []
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") == "compiler-artifact" and not msg.get("fresh", False):
        rebuilt.append(msg["package_id"])
duck = [p for p in rebuilt if "libduckdb-sys" in p]
if duck:
    print("README promises one build, but `cargo run` compiled DuckDB again after the tests:")
    for p in duck:
        print("  " + p)
    sys.exit(1)
print(f"{len(rebuilt)} Rust crates compiled again (features differ from the test build)")
'
elapsed=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
echo "one build: \`cargo run -- serve\` after the tests reused DuckDB's C++ (${elapsed} s in all)"
