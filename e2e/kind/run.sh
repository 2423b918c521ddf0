#!/usr/bin/env bash
# Opt-in end-to-end suite on a kind cluster: builds (or reuses) the two images, creates a kind
# cluster (one control plane, two workers), loads the images, installs charts/ptp-operator with
# Helm, labels the workers for config/samples, applies the samples and checks that the operator
# Deployment is available, an agent is ready on every node, ptp-configmap equals what
# `ptp-operator render` computes from the same samples and nodes, every node has a NodePtpDevice
# with a status, and that deleting the samples empties every key. Deletes the cluster at the end.
#
#   E2E_KIND=1 just e2e-kind        (or E2E_KIND=1 e2e/kind/run.sh)
#
# Environment (see e2e/kind/README.md): E2E_KIND=1 (required), KIND_CLUSTER (default ptp-e2e),
# E2E_SKIP_BUILD=1 (reuse ptp-operator:e2e and ptp-agent:e2e), E2E_KEEP=1 (keep the cluster),
# E2E_TIMEOUT (seconds per wait, default 300), KIND_NODE_IMAGE (kindest/node image).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/e2e/kind
CLUSTER=${KIND_CLUSTER:-ptp-e2e}
TIMEOUT=${E2E_TIMEOUT:-300}
NAMESPACE=openshift-ptp
RELEASE=ptp-operator
CONFIGMAP=ptp-configmap
TAG=e2e
# config/samples/software-lab.yaml: its interface and its profile's name in the ConfigMap.
LAB_INTERFACE=veth-lab1
LAB_PROFILE=software-lab_lab-slave

ENGINE=""         # docker or podman, the one `just images` uses
PODMAN=0          # 1 when ENGINE is podman (also podman behind a `docker` command)
IMAGES=()         # the two image names as ENGINE knows them
WORK=""           # scratch directory: kubeconfig, kubectl output, the render
CREATED=0         # 1 once this run started creating the cluster
OPERATOR=""       # deployment.apps/<name>
AGENT=""          # daemonset.apps/<name>
CLOCK_NODE=""     # worker labelled for the hardware samples
LAB_NODE=""       # worker labelled for the software-lab sample
CURRENT_STEP=""
STEP_START=0
TIMINGS=()

log() { printf '    %s\n' "$*"; }
die() {
  printf 'e2e/kind: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------- preflight

require_opt_in() {
  if [ "${E2E_KIND:-}" != 1 ]; then
    cat >&2 <<'EOF'
e2e/kind: opt-in suite, not run. It creates a kind cluster and needs kind, kubectl, helm, cargo,
python3 and a working docker or podman. Run it with E2E_KIND=1, e.g. `E2E_KIND=1 just e2e-kind`.
EOF
    exit 2
  fi
}

just_command() {
  command -v just 2>/dev/null || { [ -x "$ROOT/.venv/bin/just" ] && echo "$ROOT/.venv/bin/just"; } || true
}

require_tools() {
  local missing=() tool
  for tool in kind kubectl helm cargo python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ "${E2E_SKIP_BUILD:-}" != 1 ] && [ -z "$(just_command)" ]; then
    missing+=("just (or .venv/bin/just from scripts/setup.sh)")
  fi
  ENGINE=$(command -v docker || command -v podman || true)
  if [ -z "$ENGINE" ]; then
    missing+=("docker or podman")
  fi
  if ((${#missing[@]})); then
    die "missing: $(printf '%s, ' "${missing[@]}" | sed 's/, $//')"
  fi
  if ! [[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]]; then
    die "E2E_TIMEOUT must be a number of seconds, not \"$TIMEOUT\""
  fi
  if ! "$ENGINE" info >/dev/null 2>&1; then
    die "$ENGINE is installed but its engine does not answer (\`$ENGINE info\` failed)"
  fi
  local version
  version=$("$ENGINE" --version 2>/dev/null || true)
  if [[ "$version" == *[Pp]odman* ]]; then
    PODMAN=1
    # kind picks docker first when both exist; use the engine that holds the images.
    export KIND_EXPERIMENTAL_PROVIDER=${KIND_EXPERIMENTAL_PROVIDER:-podman}
    IMAGES=("localhost/ptp-operator:$TAG" "localhost/ptp-agent:$TAG")
  else
    IMAGES=("ptp-operator:$TAG" "ptp-agent:$TAG")
  fi
  log "engine $ENGINE; images ${IMAGES[*]}; cluster $CLUSTER"
}

# ---------------------------------------------------------------- steps

build_images() {
  if [ "${E2E_SKIP_BUILD:-}" = 1 ]; then
    local image
    for image in "${IMAGES[@]}"; do
      "$ENGINE" image inspect "$image" >/dev/null 2>&1 \
        || die "E2E_SKIP_BUILD=1 but $ENGINE has no image $image; build it with: just images $TAG"
    done
    log "reusing ${IMAGES[*]}"
  else
    "$(just_command)" images "$TAG"
  fi
  # The expected ConfigMap comes from `ptp-operator render` on this machine.
  cargo build -q --locked -p ptp-operator
}

create_cluster() {
  local clusters
  clusters=$(kind get clusters 2>/dev/null || true)
  if grep -qx "$CLUSTER" <<<"$clusters"; then
    die "a kind cluster named $CLUSTER already exists: delete it (kind delete cluster --name $CLUSTER) or set KIND_CLUSTER"
  fi
  local args=(create cluster --name "$CLUSTER" --config "$HERE/cluster.yaml" --kubeconfig "$KUBECONFIG" --wait 180s)
  if [ -n "${KIND_NODE_IMAGE:-}" ]; then
    args+=(--image "$KIND_NODE_IMAGE")
  fi
  CREATED=1
  kind "${args[@]}"
  kubectl wait --for=condition=Ready nodes --all --timeout="${TIMEOUT}s"
  kubectl get nodes -o wide
}

load_images() {
  local image
  if [ "$PODMAN" = 1 ]; then
    # `kind load docker-image` only asks docker; podman's images go through an archive.
    for image in "${IMAGES[@]}"; do
      "$ENGINE" save -o "$WORK/image.tar" "$image"
      kind load image-archive "$WORK/image.tar" --name "$CLUSTER"
    done
  elif ! kind load docker-image "${IMAGES[@]}" --name "$CLUSTER"; then
    # Docker's containerd image store can hand kind an index with content it does not have
    # ("content digest ... not found", kubernetes-sigs/kind#3795): load one platform instead.
    log "kind load docker-image failed; retrying with docker save --platform and kind load image-archive"
    local platform
    for image in "${IMAGES[@]}"; do
      platform=$("$ENGINE" image inspect -f '{{.Os}}/{{.Architecture}}' "$image")
      "$ENGINE" save --platform "$platform" -o "$WORK/image.tar" "$image"
      kind load image-archive "$WORK/image.tar" --name "$CLUSTER"
    done
  fi
  rm -f "$WORK/image.tar"
}

install_chart() {
  kubectl create namespace "$NAMESPACE"
  # The agents are hostNetwork pods with hostPath volumes (see the chart's NOTES.txt).
  kubectl label namespace "$NAMESPACE" pod-security.kubernetes.io/enforce=privileged
  local args=(install "$RELEASE" charts/ptp-operator --namespace "$NAMESPACE" --values "$HERE/values.yaml")
  if [ "$PODMAN" = 1 ]; then
    args+=(--set operator.image.repository=localhost/ptp-operator --set agent.image.repository=localhost/ptp-agent)
  fi
  helm "${args[@]}"
  kubectl wait --for=condition=Established --timeout=60s \
    crd/ptpconfigs.ptp.openshift.io crd/nodeptpdevices.ptp.openshift.io
  OPERATOR=$(one_object deployment operator)
  AGENT=$(one_object daemonset agent)
  log "operator $OPERATOR, agent $AGENT"
}

wait_operator() {
  kubectl -n "$NAMESPACE" rollout status "$OPERATOR" --timeout="${TIMEOUT}s"
  kubectl -n "$NAMESPACE" wait "$OPERATOR" --for=condition=Available --timeout=60s
}

wait_agents() {
  kubectl -n "$NAMESPACE" rollout status "$AGENT" --timeout="${TIMEOUT}s"
  wait_for "$TIMEOUT" "a ready agent on every node" agents_ready_everywhere
  kubectl -n "$NAMESPACE" get pods -o wide -l "app.kubernetes.io/instance=$RELEASE"
}

# One worker for the hardware samples (ordinary clock and boundary clock at priority 4; t-bc at
# priority 5 loses on it), one for the software-lab sample; the control plane gets nothing.
# kind workers have no node-role.kubernetes.io/worker label of their own.
label_nodes() {
  local names workers
  names=$(kubectl get nodes -l '!node-role.kubernetes.io/control-plane' -o jsonpath='{.items[*].metadata.name}')
  read -r -a workers <<<"$names"
  if [ "${#workers[@]}" != 2 ]; then
    die "expected two worker nodes, found: ${names:-none}"
  fi
  CLOCK_NODE=${workers[0]}
  LAB_NODE=${workers[1]}
  kubectl label node "$CLOCK_NODE" --overwrite \
    node-role.kubernetes.io/worker= ptp/boundary-clock=true ptp/tbc=true
  kubectl label node "$LAB_NODE" --overwrite ptp.example.com/lab=true
  kubectl get nodes -L node-role.kubernetes.io/worker,ptp/boundary-clock,ptp/tbc,ptp.example.com/lab
}

# The software-lab profile runs ptp4l on veth-lab1: create the pair in the lab node's network
# namespace from its agent pod (host network, NET_ADMIN), so that ptp4l starts and keeps running.
add_lab_interface() {
  local pods pod
  pods=$(kubectl -n "$NAMESPACE" get pods -o name \
    -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=agent" \
    --field-selector "spec.nodeName=$LAB_NODE,status.phase=Running")
  pod=${pods%%$'\n'*}
  if [ -z "$pod" ]; then
    die "no running agent pod on $LAB_NODE"
  fi
  kubectl -n "$NAMESPACE" exec "$pod" -c agent -- sh -c \
    "ip link show $LAB_INTERFACE >/dev/null 2>&1 || ip link add $LAB_INTERFACE type veth peer name veth-lab0
     ip link set veth-lab0 up && ip link set $LAB_INTERFACE up && ip -brief link show $LAB_INTERFACE"
}

prepare_nodes() {
  label_nodes
  add_lab_interface
}

apply_samples() {
  kubectl -n "$NAMESPACE" apply -f config/samples/
  kubectl -n "$NAMESPACE" get ptpconfigs
}

# The expected ConfigMap: `ptp-operator render` of the same samples and the cluster's nodes.
check_configmap() {
  kubectl get nodes -o json >"$WORK/nodes.json"
  cargo run -q --locked -p ptp-operator -- render -f config/samples -f "$WORK/nodes.json" -o json >"$WORK/rendered.json"
  wait_for "$TIMEOUT" "ptp-configmap to equal the render" configmap_matches_render
}

check_devices() {
  wait_for "$TIMEOUT" "a NodePtpDevice with a status per node, profiles applied" devices_match_configmap
  wait_for "$TIMEOUT" "ptp4l of $LAB_PROFILE running on $LAB_NODE" lab_ptp4l_runs
  kubectl get nodeptpdevices -A
  # Expected on kind: $CLOCK_NODE has no ens1f0, so its ptp4l crash-loops and its agent turns
  # not ready (/readyz) until the samples are deleted; printed, not asserted.
  kubectl -n "$NAMESPACE" get "$AGENT" -o wide
}

delete_samples() {
  kubectl -n "$NAMESPACE" delete -f config/samples/ --wait=true --timeout="${TIMEOUT}s"
  wait_for "$TIMEOUT" "every ptp-configmap key to become []" configmap_all_empty
  wait_for "$TIMEOUT" "every agent to drop its profiles" devices_match_configmap
  wait_for "$TIMEOUT" "a ready agent on every node again" agents_ready_everywhere
  kubectl get nodeptpdevices -A
}

# ---------------------------------------------------------------- checks (polled by wait_for)

agents_ready_everywhere() {
  local nodes status
  nodes=$(kubectl get nodes -o name | grep -c .) || return 1
  status=$(kubectl -n "$NAMESPACE" get "$AGENT" \
    -o jsonpath='{.status.desiredNumberScheduled} {.status.numberReady} {.status.updatedNumberScheduled}') || return 1
  echo "$nodes nodes; agent DaemonSet desired/ready/up-to-date: $status"
  [ "$status" = "$nodes $nodes $nodes" ]
}

fetch_configmap() {
  kubectl -n "$NAMESPACE" get configmap "$CONFIGMAP" -o json >"$WORK/configmap.json"
}

configmap_matches_render() {
  fetch_configmap || return 1
  python3 "$HERE/check.py" configmap "$WORK/nodes.json" "$WORK/configmap.json" "$WORK/rendered.json"
}

configmap_all_empty() {
  fetch_configmap || return 1
  python3 "$HERE/check.py" empty "$WORK/nodes.json" "$WORK/configmap.json"
}

devices_match_configmap() {
  fetch_configmap || return 1
  kubectl -n "$NAMESPACE" get nodeptpdevices -o json >"$WORK/devices.json" || return 1
  python3 "$HERE/check.py" devices "$WORK/nodes.json" "$WORK/configmap.json" "$WORK/devices.json"
}

lab_ptp4l_runs() {
  kubectl -n "$NAMESPACE" get nodeptpdevices -o json >"$WORK/devices.json" || return 1
  python3 "$HERE/check.py" process "$WORK/devices.json" "$LAB_NODE" "$LAB_PROFILE" ptp4l Running
}

# ---------------------------------------------------------------- helpers

# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 3 s until it succeeds; on timeout prints
# its last output and fails.
wait_for() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout)) out=$WORK/wait.out
  log "waiting up to ${timeout}s for $what"
  until "$@" >"$out" 2>&1; do
    if ((SECONDS >= deadline)); then
      sed 's/^/    | /' "$out" >&2
      die "timed out after ${timeout}s waiting for $what"
    fi
    sleep 3
  done
  sed 's/^/    /' "$out"
}

# one_object KIND COMPONENT: the one object of the release with that component label, as kind/name.
one_object() {
  local names
  names=$(kubectl -n "$NAMESPACE" get "$1" -o name \
    -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=$2")
  if [ "$(grep -c . <<<"$names" || true)" != 1 ]; then
    die "expected one $1 with component $2, found: ${names:-none}"
  fi
  echo "$names"
}

step() {
  CURRENT_STEP=$1
  STEP_START=$SECONDS
  shift
  printf '\n==> %s\n' "$CURRENT_STEP"
  "$@"
  local took=$((SECONDS - STEP_START))
  TIMINGS+=("$(printf '%5ds  %s' "$took" "$CURRENT_STEP")")
  printf '<== %s (%ds)\n' "$CURRENT_STEP" "$took"
  CURRENT_STEP=""
}

diagnostics() {
  echo "---- diagnostics ----"
  kubectl get nodes --show-labels
  kubectl -n "$NAMESPACE" get all -o wide
  kubectl -n "$NAMESPACE" get ptpconfigs,nodeptpdevices
  kubectl -n "$NAMESPACE" get configmap "$CONFIGMAP" -o yaml
  kubectl -n "$NAMESPACE" get nodeptpdevices -o yaml
  kubectl -n "$NAMESPACE" get events --sort-by=.lastTimestamp | tail -n 40
  if [ -n "$OPERATOR" ]; then
    kubectl -n "$NAMESPACE" logs "$OPERATOR" --tail=100
  fi
  kubectl -n "$NAMESPACE" logs -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=agent" \
    --prefix --tail=60 --max-log-requests=10
  echo "---- end of diagnostics ----"
}

print_timings() {
  if ((${#TIMINGS[@]} == 0)); then
    return 0
  fi
  echo
  echo "timings:"
  printf '  %s\n' "${TIMINGS[@]}"
}

on_exit() {
  local rc=$?
  set +e
  if [ "$rc" != 0 ] && [ -n "$CURRENT_STEP" ]; then
    echo "e2e/kind: FAILED in step \"$CURRENT_STEP\" after $((SECONDS - STEP_START))s" >&2
    TIMINGS+=("$(printf '%5ds  %s (FAILED)' "$((SECONDS - STEP_START))" "$CURRENT_STEP")")
    if [ "$CREATED" = 1 ]; then
      diagnostics >&2
    fi
  fi
  local keep=0
  if [ "$CREATED" = 1 ] && [ "${E2E_KEEP:-}" = 1 ]; then
    keep=1
  elif [ "$CREATED" = 1 ]; then
    step "delete kind cluster $CLUSTER" kind delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG"
  fi
  print_timings
  if [ "$keep" = 1 ]; then
    echo "E2E_KEEP=1: kept cluster $CLUSTER; use it with: export KUBECONFIG=$KUBECONFIG"
    echo "  delete it with: kind delete cluster --name $CLUSTER && rm -r $WORK"
  else
    rm -rf "$WORK"
  fi
  if [ "$rc" = 0 ]; then
    echo "e2e/kind: passed in ${SECONDS}s"
  else
    echo "e2e/kind: FAILED (exit $rc) after ${SECONDS}s" >&2
  fi
  exit "$rc"
}

main() {
  require_opt_in
  cd "$ROOT"
  require_tools
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/ptp-e2e-kind.XXXXXX")
  export KUBECONFIG=$WORK/kubeconfig
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  step "build images" build_images
  step "create kind cluster $CLUSTER" create_cluster
  step "load images" load_images
  step "helm install" install_chart
  step "operator Deployment available" wait_operator
  step "agent DaemonSet ready on every node" wait_agents
  step "label workers, lab interface" prepare_nodes
  step "apply config/samples" apply_samples
  step "ptp-configmap equals ptp-operator render" check_configmap
  step "NodePtpDevices" check_devices
  step "delete samples: every key []" delete_samples
}

main "$@"
