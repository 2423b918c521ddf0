#!/usr/bin/env bash
# The whole product on one machine, as a user runs it on a cluster: a real control plane
# (scripts/control-plane.sh), the CRDs and the chart's RBAC (config/), `ptp-operator run` and
# `ptp-agent run` (API mode) each with its ServiceAccount's token, a software grandmaster (ptp4l)
# in a network namespace, the node `ptp-lab-node` and the sample PtpConfig for it applied with
# kubectl. Prints `kubectl get ptpcfg,npd` until the node is LOCKED, then cleans everything up
# (also on Ctrl-C). Needs root (network namespaces) and Go (the control plane's first build).
#
#   scripts/cluster-lab.sh            run, show the state every 5 s for LAB_SECONDS (default 60)
#   scripts/cluster-lab.sh --check    exit 0 as soon as the node is LOCKED, 1 if not within LAB_SECONDS
#
# Nothing here can adjust this machine's clock: ptp4l and the agent run without CAP_SYS_TIME.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
check=
[ "${1:-}" = "--check" ] && check=1
seconds=${LAB_SECONDS:-60}
# shellcheck source=scripts/lab-common.sh
. scripts/lab-common.sh
# root, ptp4l, Go or the cached control plane, ...: all named at once, before any build
# (scripts/quickstart.sh installs the Debian packages first: scripts/setup.sh --lab)
require_lab_prerequisites cluster-lab cluster
require_no_sys_time cluster-lab

dir=$(mktemp -d /tmp/ptp-cluster-lab.XXXXXX)
gm=ptplab-gm-$$
pids=()
export PTP_CLUSTER_DIR=${PTP_CLUSTER_DIR:-$dir/cluster}
cluster_started=
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip link del veth-lab1 2>/dev/null || true
  ip netns del "$gm" 2>/dev/null || true
  if [ -n "$cluster_started" ]; then scripts/control-plane.sh down || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
bin=${CARGO_TARGET_DIR:-target}/debug
say() { printf '\n# %s\n' "$*"; }

if [ -z "${PTP_LAB_NO_BUILD:-}" ]; then # scripts/test.sh runs it on the binaries its tests built
  say "building ptp-operator and ptp-agent (cargo build --workspace --bins: about 10 minutes the first time on 2 cores)"
  cargo build --locked --workspace --bins || { echo "cluster-lab: build failed" >&2; exit 1; }
fi
[ -x "$bin"/ptp-operator ] && [ -x "$bin"/ptp-agent ] || { echo "cluster-lab: build failed" >&2; exit 1; }

say "control plane (scripts/control-plane.sh up)"
if ! scripts/control-plane.sh status 2>/dev/null; then
  scripts/control-plane.sh up
  cluster_started=1
fi
eval "$(scripts/control-plane.sh env)"
server=$(cat "$PTP_CLUSTER_DIR/server")

say "kubectl apply: CRDs, namespace, the chart's RBAC and ServiceAccounts, node ptp-lab-node"
kubectl apply --server-side -f config/crd >/dev/null
kubectl wait --for=condition=Established -f config/crd >/dev/null
kubectl apply -f config/manager/namespace.yaml -f config/rbac >/dev/null
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: ptp-lab-node
  labels: {kubernetes.io/os: linux, kubernetes.io/hostname: ptp-lab-node}
EOF

token_kubeconfig() { # service-account file
  local token
  token=$(kubectl -n openshift-ptp create token "$1" --duration=2h)
  cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: $server, certificate-authority: $PTP_CLUSTER_DIR/pki/ca.crt}
users:
- name: $1
  user: {token: $token}
contexts:
- name: lab
  context: {cluster: lab, user: $1, namespace: openshift-ptp}
current-context: lab
EOF
}
token_kubeconfig ptp-operator "$dir/operator.kubeconfig"
token_kubeconfig ptp-operator-agent "$dir/agent.kubeconfig"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

say "ptp-operator run (as ServiceAccount ptp-operator)"
KUBECONFIG=$dir/operator.kubeconfig POD_NAMESPACE=openshift-ptp WATCH_NAMESPACES=openshift-ptp "$bin"/ptp-operator run \
  --metrics-addr "127.0.0.1:$(free_port)" --health-addr "127.0.0.1:$(free_port)" >"$dir/operator.log" 2>&1 &
pids+=($!)

say "software grandmaster (ptp4l -S) in netns $gm, veth-lab1 on this host for the agent"
ip netns add "$gm"
ip link add veth-lab1 type veth peer name veth-gm
ip link set veth-gm netns "$gm"
ip -n "$gm" link set lo up
ip -n "$gm" link set veth-gm up
ip link set veth-lab1 up
start_grandmaster "$gm" veth-gm "$dir"

say "ptp-agent run (API mode, as ServiceAccount ptp-operator-agent, node ptp-lab-node, no CAP_SYS_TIME)"
KUBECONFIG=$dir/agent.kubeconfig NODE_NAME=ptp-lab-node POD_NAMESPACE=openshift-ptp PTP_INCLUDE_SOFTWARE=1 \
  "${nosystime[@]}" "$bin"/ptp-agent run --run-dir "$dir/run" \
  --metrics-addr "127.0.0.1:$(free_port)" --health-addr "127.0.0.1:$(free_port)" >"$dir/agent.log" 2>&1 &
pids+=($!)

say "kubectl apply -n openshift-ptp -f config/samples/software-lab.yaml"
kubectl apply -n openshift-ptp -f config/samples/software-lab.yaml

state() { kubectl -n openshift-ptp get npd ptp-lab-node -o 'jsonpath={.status.clockState}' 2>/dev/null || true; }
start=$SECONDS
locked_at=
while [ $((SECONDS - start)) -lt "$seconds" ]; do
  if [ "$(state)" = LOCKED ] && [ -z "$locked_at" ]; then
    locked_at=$((SECONDS - start))
    say "ptp-lab-node LOCKED ${locked_at} s after the PtpConfig was applied"
    [ -n "$check" ] && break
  fi
  if [ -z "$check" ]; then
    say "after $((SECONDS - start)) s: kubectl get ptpcfg,npd -n openshift-ptp"
    kubectl get ptpcfg,npd -n openshift-ptp || true
    sleep 5
  else
    sleep 0.5
  fi
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "cluster-lab: a process exited early; logs:" >&2
      tail -n 20 "$dir"/operator.log "$dir"/agent.log "$dir"/gm.log >&2
      exit 1
    fi
  done
done
say "kubectl get ptpcfg,npd -n openshift-ptp"
kubectl get ptpcfg,npd -n openshift-ptp
if [ -z "$locked_at" ]; then
  echo "cluster-lab: ptp-lab-node not LOCKED within ${seconds} s; agent log:" >&2
  tail -n 30 "$dir/agent.log" >&2
  exit 1
fi
