#!/usr/bin/env bash
# Quick start without a cluster: builds the operator and the agent, renders the sample PtpConfigs
# for a few example nodes (the ptp-configmap the operator would write), then shows this machine's
# interfaces as the agent discovers them over ethtool netlink. (The local netns lab with a software
# grandmaster and the agent running ptp4l joins this script with the agent runtime.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --locked -p ptp-operator -p ptp-agent
echo "# ptp-operator render -f config/samples -f config/examples/nodes.yaml" >&2
target/debug/ptp-operator render -f config/samples -f config/examples/nodes.yaml
echo >&2
echo "# ptp-agent nics --all" >&2
target/debug/ptp-agent nics --all
