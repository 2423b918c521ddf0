#!/usr/bin/env bash
# Quick start: the whole product on this machine, as a user runs it on a cluster.
#
#   scripts/quickstart.sh               real control plane + operator + agent + software grandmaster
#                                       (scripts/cluster-lab.sh; root, and Go for the first build)
#   scripts/quickstart.sh --check       the same, exiting 0 as soon as the node is LOCKED (the tests run it)
#   scripts/quickstart.sh --no-cluster  no control plane: render the samples for example nodes, list this
#                                       machine's NICs as the agent finds them, run the file-mode lab
#                                       (scripts/lab.sh)
#   scripts/quickstart.sh --preflight   install and check the prerequisites only
#   scripts/quickstart.sh --node        the product as pods: images built here, a real kubelet with
#                                       containerd, helm install, the sample LOCKED, kept running until
#                                       Ctrl-C (e2e/node/run.sh with E2E_NODE_KEEP=1; root, Go)
#
# It first installs what the lab needs (scripts/setup.sh --lab: linuxptp, chrony, ethtool, iproute2 from
# Debian's packages, as root) and checks everything else (root, cargo, Go or the cached control plane,
# disk), naming what is missing before any build. The first run builds the Kubernetes binaries
# (tools/k8s/build.sh: about 7 minutes on 2 cores, cached in ~/.cache/ptp-operator) and the Rust
# binaries; later runs start in about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lab-common.sh
. scripts/lab-common.sh
mode=${1:-}
case $mode in
  "" | --check | --no-cluster | --preflight) ;;
  --node) E2E_NODE_KEEP=1 exec e2e/node/run.sh ;;
  *) echo "usage: scripts/quickstart.sh [--check | --no-cluster | --preflight | --node]" >&2; exit 2 ;;
esac

cluster=cluster
if [ "$mode" = --no-cluster ]; then
  cluster=
elif ! command -v go >/dev/null && [ ! -x "$(tools/k8s/build.sh --dir)/kube-apiserver" ]; then
  if [ "$mode" = --check ]; then
    echo "quickstart: --check needs the control plane: Go is not installed and no cached one exists" >&2
    exit 1
  fi
  echo "quickstart: Go is not installed and no cached control plane exists: running the no-cluster path" >&2
  cluster=
fi

echo "# prerequisites (scripts/setup.sh --lab)" >&2
if [ "$(id -u)" = 0 ]; then
  scripts/setup.sh --lab
fi
require_lab_prerequisites quickstart "$cluster"
if [ "$mode" = --preflight ]; then
  echo "quickstart: every prerequisite is here" >&2
  exit 0
fi

if [ -n "$cluster" ]; then
  exec scripts/cluster-lab.sh ${mode:+"$mode"}
fi
bin=${CARGO_TARGET_DIR:-target}/debug
# cargo's own progress (the first build takes about 10 minutes on 2 cores; it shares every
# artefact with scripts/test.sh, so after the tests it takes seconds)
echo "# cargo build --workspace --bins" >&2
cargo build --locked --workspace --bins
echo "# ptp-operator render -f config/samples -f config/examples/nodes.yaml" >&2
"$bin/ptp-operator" render -f config/samples -f config/examples/nodes.yaml
echo >&2
echo "# ptp-agent nics --all" >&2
"$bin/ptp-agent" nics --all
echo >&2
echo "# scripts/lab.sh" >&2
exec scripts/lab.sh
