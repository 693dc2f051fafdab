#!/usr/bin/env bash
# Checks that ARCHITECTURE.md's crate table (between the crate-graph
# markers) lists exactly the workspace crates and, for each, exactly the
# workspace crates it depends on according to `cargo metadata`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --no-deps | python3 -c '
import json, re, sys
meta = json.load(sys.stdin)
names = {p["name"] for p in meta["packages"]}
actual = {
    p["name"]: sorted(d["name"] for d in p["dependencies"]
                      if d["name"] in names and d.get("kind") is None)
    for p in meta["packages"]
}
text = open("ARCHITECTURE.md").read()
block = text.split("<!-- crate-graph:start -->")[1].split("<!-- crate-graph:end -->")[0]
documented = {}
for line in block.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) != 3 or not cells[0].startswith("`"):
        continue
    uses = [] if cells[2] in ("—", "-", "") else [u.strip() for u in cells[2].split(",")]
    documented[cells[0].strip("`")] = sorted(uses)
problems = []
for name in sorted(set(actual) | set(documented)):
    if name not in documented:
        problems.append(f"{name}: a workspace crate missing from ARCHITECTURE.md")
    elif name not in actual:
        problems.append(f"{name}: in ARCHITECTURE.md but not a workspace crate")
    elif actual[name] != documented[name]:
        problems.append(f"{name}: ARCHITECTURE.md says it uses {documented[name]}, Cargo.toml says {actual[name]}")
if problems:
    print("ARCHITECTURE.md does not match the crate graph:", *problems, sep="\n  ")
    sys.exit(1)
print(f"ARCHITECTURE.md matches the crate graph ({len(actual)} crates)")
'
