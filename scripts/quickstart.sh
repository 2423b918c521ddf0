#!/usr/bin/env bash
# Quick start without a cluster: builds the operator and the agent, renders the sample PtpConfigs
# for a few example nodes (the ptp-configmap the operator would write), shows this machine's
# interfaces as the agent discovers them over ethtool netlink, then runs the local lab: a software
# grandmaster in one network namespace and the agent running ptp4l in another, printing the
# agent's openshift_ptp_* metrics (scripts/lab.sh; needs root, never adjusts this machine's clock).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --locked -p ptp-operator -p ptp-agent
echo "# ptp-operator render -f config/samples -f config/examples/nodes.yaml" >&2
target/debug/ptp-operator render -f config/samples -f config/examples/nodes.yaml
echo >&2
echo "# ptp-agent nics --all" >&2
target/debug/ptp-agent nics --all
echo >&2
echo "# scripts/lab.sh" >&2
exec scripts/lab.sh
