#!/usr/bin/env bash
# Quick start without a cluster: builds the operator and renders the sample PtpConfigs for a few
# example nodes, printing the ptp-configmap the operator would write. (The local netns lab with a
# software grandmaster and the agent joins this script when the agent lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --locked -p ptp-operator
echo "# ptp-operator render -f config/samples -f config/examples/nodes.yaml" >&2
exec target/debug/ptp-operator render -f config/samples -f config/examples/nodes.yaml
