#!/usr/bin/env python3
"""Assertions of the kind e2e suite (e2e/kind/run.sh) on `kubectl get ... -o json` output.

Each subcommand prints what it found and exits 0, or prints every problem and exits 1, so that
run.sh can poll it until the cluster converges:

  check.py configmap NODES CONFIGMAP RENDERED  one key per node, each value equal (as a string) to
                                               the `ptp-operator render -o json` output
  check.py empty NODES CONFIGMAP               one key per node, every value `[]`
  check.py devices NODES CONFIGMAP DEVICES     one NodePtpDevice per node, each with a status
                                               (lastUpdateTime, devices) and appliedProfiles equal
                                               to the profiles of its ConfigMap key
  check.py process DEVICES NODE PROFILE PROCESS STATE
                                               the node's NodePtpDevice lists that process of that
                                               profile in that state

NODES is `kubectl get nodes -o json`, CONFIGMAP `kubectl get configmap ptp-configmap -o json`,
DEVICES `kubectl get nodeptpdevices -o json`. Standard library only.
"""

from __future__ import annotations

import json
import sys

sys.dont_write_bytecode = True


def node_names(nodes: dict) -> list[str]:
    return sorted(item["metadata"]["name"] for item in nodes.get("items", []))


def profile_names(value: str) -> list[str]:
    """Names of the profiles in one ConfigMap value (a JSON list of profiles)."""
    return sorted(p.get("name", "") for p in json.loads(value))


def key_problems(data: dict, nodes: list[str]) -> list[str]:
    problems = []
    missing = sorted(set(nodes) - set(data))
    extra = sorted(set(data) - set(nodes))
    if missing:
        problems.append(f"no key for nodes {missing}")
    if extra:
        problems.append(f"keys that are no node: {extra}")
    return problems


def value_difference(node: str, live: str, expected: str) -> str:
    """Explains how two ConfigMap values differ (the first differing profile field)."""
    try:
        live_profiles, expected_profiles = json.loads(live), json.loads(expected)
    except json.JSONDecodeError as e:
        return f"{node}: value is not JSON ({e}): {live!r}"
    if live_profiles == expected_profiles:
        return f"{node}: same JSON, different text:\n  live:     {live}\n  rendered: {expected}"
    live_names = [p.get("name") for p in live_profiles]
    expected_names = [p.get("name") for p in expected_profiles]
    if live_names != expected_names:
        return f"{node}: profiles {live_names}, rendered {expected_names}"
    for got, want in zip(live_profiles, expected_profiles):
        for field in sorted(set(got) | set(want)):
            if got.get(field) != want.get(field):
                return (
                    f"{node}: profile {want.get('name')!r} field {field!r}: "
                    f"live {json.dumps(got.get(field))}, rendered {json.dumps(want.get(field))}"
                )
    return f"{node}: values differ"


def configmap_problems(nodes: list[str], configmap: dict, rendered: dict) -> list[str]:
    data = configmap.get("data") or {}
    expected = rendered.get("data") or {}
    problems = key_problems(data, nodes)
    if sorted(expected) != nodes:
        problems.append(f"the render has keys {sorted(expected)}, the cluster nodes {nodes}")
    for node in nodes:
        if node in data and node in expected and data[node] != expected[node]:
            problems.append(value_difference(node, data[node], expected[node]))
    return problems


def empty_problems(nodes: list[str], configmap: dict) -> list[str]:
    data = configmap.get("data") or {}
    problems = key_problems(data, nodes)
    problems += [f"{node}: {data[node]}" for node in nodes if node in data and data[node] != "[]"]
    return problems


def device_problems(nodes: list[str], configmap: dict, devices: dict) -> list[str]:
    data = configmap.get("data") or {}
    items = devices.get("items", [])
    names = [d["metadata"]["name"] for d in items]
    problems = []
    if sorted(names) != nodes:
        problems.append(f"NodePtpDevices {sorted(names)}, nodes {nodes}")
    for device in items:
        name = device["metadata"]["name"]
        status = device.get("status") or {}
        if not status.get("lastUpdateTime"):
            problems.append(f"{name}: no status.lastUpdateTime yet")
        reported = status.get("devices")
        count = status.get("deviceCount")
        if not reported:
            problems.append(f"{name}: no status.devices yet (deviceCount {count})")
        elif count != len(reported) or not all(d.get("name") for d in reported):
            problems.append(f"{name}: deviceCount {count} for devices {[d.get('name') for d in reported]}")
        if name in data:
            applied = sorted(status.get("appliedProfiles") or [])
            wanted = profile_names(data[name])
            if applied != wanted:
                problems.append(f"{name}: appliedProfiles {applied}, ConfigMap key has {wanted}")
    return problems


def process_problems(devices: dict, node: str, profile: str, process: str, state: str) -> list[str]:
    for device in devices.get("items", []):
        if device["metadata"]["name"] != node:
            continue
        processes = (device.get("status") or {}).get("processes") or []
        for p in processes:
            if p.get("profile") == profile and p.get("process") == process and p.get("state") == state:
                return []
        seen = [f"{p.get('process')}/{p.get('profile')}: {p.get('state')} ({p.get('restarts', 0)} restarts)" for p in processes]
        return [f"{node}: no {process} of {profile} in state {state}; processes: {seen or 'none'}"]
    return [f"no NodePtpDevice {node}"]


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def summary(nodes: list[str], configmap: dict) -> str:
    data = configmap.get("data") or {}
    return "\n".join(f"  {node}: {profile_names(data[node]) if node in data else '(no key)'}" for node in nodes)


def main(argv: list[str]) -> int:
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    if command == "configmap" and len(args) == 3:
        nodes, configmap = node_names(load(args[0])), load(args[1])
        problems = configmap_problems(nodes, configmap, load(args[2]))
        ok = f"ptp-configmap equals the render, one key per node:\n{summary(nodes, configmap)}"
    elif command == "empty" and len(args) == 2:
        nodes, configmap = node_names(load(args[0])), load(args[1])
        problems = empty_problems(nodes, configmap)
        ok = f"ptp-configmap has one key per node, every value []: {nodes}"
    elif command == "devices" and len(args) == 3:
        nodes, configmap, devices = node_names(load(args[0])), load(args[1]), load(args[2])
        problems = device_problems(nodes, configmap, devices)
        counts = {d["metadata"]["name"]: (d.get("status") or {}).get("deviceCount") for d in devices.get("items", [])}
        ok = f"one NodePtpDevice per node with a status; devices per node: {counts}"
    elif command == "process" and len(args) == 5:
        problems = process_problems(load(args[0]), *args[1:])
        ok = f"{args[1]}: {args[3]} of {args[2]} is {args[4]}"
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if problems:
        print("\n".join(problems))
        return 1
    print(ok)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
