#!/usr/bin/env bash
# The local lab, no cluster: a software-timestamping grandmaster (ptp4l) in network namespace
# ptplab-gm, and the agent in ptplab-node running the profile the operator renders for node
# `ptp-lab-node` from config/samples/software-lab.yaml, over a veth pair. Prints the agent's
# openshift_ptp_* metrics while it runs (LAB_SECONDS, default 20), then cleans everything up.
#
# Nothing here can adjust this machine's clock: ptp4l and the agent run without CAP_SYS_TIME
# (setpriv drops it from the inheritable and bounding sets, checked before anything starts), so
# every clock adjustment fails with EPERM; the profile also never steps the clock (no step
# thresholds). Its servo (linreg) still locks on the grandmaster, so the port reaches SLAVE.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "lab: needs root (network namespaces); skipping the lab" >&2
  exit 0
fi
seconds=${LAB_SECONDS:-20}
dir=$(mktemp -d /tmp/ptplab.XXXXXX)
gm=ptplab-gm-$$
node=ptplab-node-$$
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$gm" 2>/dev/null || true
  ip netns del "$node" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
# shellcheck source=scripts/lab-common.sh
. scripts/lab-common.sh
require_no_sys_time lab

bin=${CARGO_TARGET_DIR:-target}/debug
# cargo shows its progress: the first build takes minutes
cargo build --locked --workspace --bins
"$bin"/ptp-operator render -f config/samples/software-lab.yaml -f config/examples/nodes.yaml -o json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["ptp-lab-node"])' > "$dir/profiles.json"
echo "# profiles of node ptp-lab-node (from ptp-operator render):"
cat "$dir/profiles.json"

ip netns add "$gm"
ip netns add "$node"
ip link add veth-gm type veth peer name veth-lab1
ip link set veth-gm netns "$gm"
ip link set veth-lab1 netns "$node"
for ns in "$gm" "$node"; do ip -n "$ns" link set lo up; done
ip -n "$gm" link set veth-gm up
ip -n "$node" link set veth-lab1 up

start_grandmaster "$gm" veth-gm "$dir"
ip netns exec "$node" "${nosystime[@]}" "$bin"/ptp-agent run --profile "$dir/profiles.json" \
  --run-dir "$dir/run" --node-name ptp-lab-node --metrics-addr 127.0.0.1:9091 --health-addr 127.0.0.1:8081 \
  > "$dir/agent.log" 2>&1 &
pids+=($!)

fetch() {
  ip netns exec "$node" python3 -c '
import sys, urllib.request
try:
    print(urllib.request.urlopen("http://127.0.0.1:" + sys.argv[1] + sys.argv[2], timeout=2).read().decode())
except Exception as e:
    print("(not yet: %s)" % e)' "$1" "$2"
}
for ((t = 5; t <= seconds; t += 5)); do
  sleep 5
  echo
  echo "# after ${t}s: agent metrics (grandmaster in $gm, agent and ptp4l in $node)"
  fetch 9091 /metrics | grep '^openshift_ptp' || true
done
echo
echo "# readiness: $(fetch 8081 /readyz)"
echo "# last ptp4l lines the agent read:"
grep -a 'master offset' "$dir/agent.log" | tail -3 | sed 's/.*child_output: //' || true
