"""Reads `cargo +nightly build --unit-graph -Z unstable-options` JSON on stdin and prints one line
per dependency unit that cargo would build: `name@version identity`, where identity covers what
cargo's artefact hash covers (features, profile settings, mode, target kind) and, recursively,
the identities of the unit's dependencies. Two invocations share a dependency's artefact exactly
when they print the same line for it. Used by scripts/check-features.sh."""

import hashlib
import json
import sys

graph = json.load(sys.stdin)
units = graph["units"]
memo = {}


def identity(index):
    if index in memo:
        return memo[index]
    unit = units[index]
    profile = unit["profile"]
    own = json.dumps(
        [
            unit["pkg_id"],
            unit["target"]["kind"],
            unit["target"]["name"],
            unit["mode"],
            profile["opt_level"],
            str(profile.get("debuginfo")),
            profile["panic"],
            str(profile.get("strip")),
            str(unit["platform"]),
            unit["features"],
        ]
    )
    deps = "".join(sorted(identity(d["index"]) for d in unit["dependencies"]))
    memo[index] = hashlib.sha256((own + deps).encode()).hexdigest()[:12]
    return memo[index]


for index, unit in enumerate(units):
    if unit["pkg_id"].startswith("path+") or unit["mode"] not in ("build", "check"):
        continue
    name = unit["pkg_id"].split("#")[-1]
    print(f"{name} {unit['mode']} {','.join(unit['features']) or '-'} {identity(index)}")
