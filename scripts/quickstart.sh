#!/usr/bin/env bash
# Quick start: the whole product on this machine, as a user runs it on a cluster.
#
#   scripts/quickstart.sh               real control plane + operator + agent + software grandmaster
#                                       (scripts/cluster-lab.sh; root, and Go for the first build)
#   scripts/quickstart.sh --no-cluster  no control plane: render the samples for example nodes, list this
#                                       machine's NICs as the agent finds them, run the file-mode lab
#                                       (scripts/lab.sh)
#
# The first run builds the Kubernetes binaries (tools/k8s/build.sh: about 7 minutes on 2 cores, cached in
# ~/.cache/ptp-operator) and the Rust binaries; later runs start in about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--no-cluster" ]; then
  if command -v go >/dev/null || [ -x "$(tools/k8s/build.sh --dir)/kube-apiserver" ]; then
    exec scripts/cluster-lab.sh
  fi
  echo "quickstart: Go is not installed and no cached control plane exists: running the no-cluster path" >&2
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
