#!/usr/bin/env bash
# Checks README's promise that its two commands share one build: after
# `bash scripts/test.sh` has built everything, what `cargo run -- serve`
# needs must already be built, in the same target directory and with the
# same features, so nothing (above all DuckDB's C++) compiles again.
#
# Run after scripts/test.sh (CI does). Exits 1 naming every package
# `cargo run` would have rebuilt.
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
if rebuilt:
    print("README promises one build, but `cargo run` would compile again after the tests:")
    for p in rebuilt:
        print("  " + p)
    sys.exit(1)
'
elapsed=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
echo "one build: \`cargo run -- serve\` after the tests compiled nothing (${elapsed} s)"
