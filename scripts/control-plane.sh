#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for tests and the quick start: etcd, kube-apiserver and
# kube-controller-manager built from the Kubernetes Go modules by tools/k8s/build.sh.
#
#   scripts/control-plane.sh up     build the binaries if needed (cached), start, wait for /readyz
#   scripts/control-plane.sh down   stop what `up` started (by PID) and remove its state
#   scripts/control-plane.sh env    print the exports (KUBECONFIG, PATH with kubectl)
#   scripts/control-plane.sh status say whether it runs
#
# State lives in $PTP_CLUSTER_DIR (default: .cluster/ in the repository, git-ignored): a throw-away CA,
# serving and client certificates, the service-account signing key, etcd's data, logs, pids, the admin
# kubeconfig (.cluster/kubeconfig) and kubectl (.cluster/bin/kubectl). Everything listens on 127.0.0.1 on
# free ports chosen at start. `up --watch-pid PID` stops the control plane when process PID exits (the
# Rust test harness uses it so a test binary never leaves one behind).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${PTP_CLUSTER_DIR:-$ROOT/.cluster}
CMD=${1:-}
shift || true
WATCH_PID=
while [ $# -gt 0 ]; do
  case $1 in
    --watch-pid) WATCH_PID=$2; shift 2 ;;
    *) echo "control-plane.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# Only what the tests need (no kubelets run): owner-reference GC, namespace deletion, ServiceAccounts
# and their tokens, kube-root-ca.crt, aggregated ClusterRoles, ValidatingAdmissionPolicy type checks.
KCM_CONTROLLERS=garbage-collector-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller,clusterrole-aggregation-controller,validatingadmissionpolicy-status-controller

say() { printf 'control-plane: %s\n' "$*" >&2; }

running() {
  [ -f "$DIR/pids" ] || return 1
  local pid
  while read -r _ pid; do kill -0 "$pid" 2>/dev/null || return 1; done <"$DIR/pids"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

certs() {
  local d=$DIR/pki
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ptp-test-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  # serving certificate for 127.0.0.1 / localhost and the in-cluster names
  cat >"$d/serving.ext" <<EOF
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth
EOF
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$d/apiserver.key" \
    -out "$d/apiserver.csr" 2>/dev/null
  openssl x509 -req -in "$d/apiserver.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
    -extfile "$d/serving.ext" -out "$d/apiserver.crt" 2>/dev/null
  # client certificates: the admin (system:masters) and the controller manager
  printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
  local who
  for who in "admin:/O=system:masters/CN=ptp-admin" "kcm:/CN=system:kube-controller-manager"; do
    openssl req -newkey rsa:2048 -nodes -subj "${who#*:}" -keyout "$d/${who%%:*}.key" \
      -out "$d/${who%%:*}.csr" 2>/dev/null
    openssl x509 -req -in "$d/${who%%:*}.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
      -extfile "$d/client.ext" -out "$d/${who%%:*}.crt" 2>/dev/null
  done
  # service-account token signing key
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

kubeconfig() { # name user-cert user-key server
  cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ptp-test
  cluster:
    server: $4
    certificate-authority: $DIR/pki/ca.crt
users:
- name: $1
  user:
    client-certificate: $2
    client-key: $3
contexts:
- name: ptp-test
  context: {cluster: ptp-test, user: $1}
current-context: ptp-test
EOF
}

start() { # name args...
  local name=$1
  shift
  setsid "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo "$name $!" >>"$DIR/pids"
}

wait_ready() {
  local url=$1 deadline=$((SECONDS + 300))
  until curl -fsS --max-time 5 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" \
    "$url/readyz" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      say "kube-apiserver not ready after 300 s; its log ends with:"
      tail -n 20 "$DIR/logs/kube-apiserver.log" >&2
      return 1
    fi
    if ! running; then
      say "a process exited during start-up:"
      tail -n 20 "$DIR"/logs/*.log >&2
      return 1
    fi
    sleep 0.2
  done
}

stop() {
  [ -f "$DIR/pids" ] || return 0
  local name pid
  # controller manager first, etcd last
  tac "$DIR/pids" | while read -r name pid; do
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

case $CMD in
  up)
    if running; then
      say "already running ($(cut -d' ' -f1 "$DIR/pids" | tr '\n' ' '); KUBECONFIG=$DIR/kubeconfig)"
      exit 0
    fi
    stop
    t0=$SECONDS
    BIN=$("$ROOT/tools/k8s/build.sh")
    rm -rf "$DIR"
    mkdir -p "$DIR/logs" "$DIR/bin" "$DIR/etcd"
    certs
    etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port); kcm_port=$(free_port)
    server=https://127.0.0.1:$api_port
    start etcd "$BIN/etcd" --name=ptp-test --data-dir="$DIR/etcd" --unsafe-no-fsync \
      --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
      --listen-peer-urls="http://127.0.0.1:$peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
      --initial-cluster="ptp-test=http://127.0.0.1:$peer_port" --log-level=warn
    start kube-apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$etcd_port" \
      --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
      --tls-cert-file="$DIR/pki/apiserver.crt" --tls-private-key-file="$DIR/pki/apiserver.key" \
      --client-ca-file="$DIR/pki/ca.crt" --authorization-mode=Node,RBAC \
      --service-account-issuer="$server" --service-account-key-file="$DIR/pki/sa.pub" \
      --service-account-signing-key-file="$DIR/pki/sa.key" --api-audiences="$server" \
      --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true --profiling=false \
      --endpoint-reconciler-type=none \
      --cert-dir="$DIR/pki/apiserver-certs"
    kubeconfig admin "$DIR/pki/admin.crt" "$DIR/pki/admin.key" "$server" >"$DIR/kubeconfig"
    kubeconfig kcm "$DIR/pki/kcm.crt" "$DIR/pki/kcm.key" "$server" >"$DIR/kcm.kubeconfig"
    ln -sf "$BIN/kubectl" "$DIR/bin/kubectl"
    wait_ready "$server"
    start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$DIR/kcm.kubeconfig" \
      --authentication-kubeconfig="$DIR/kcm.kubeconfig" --authorization-kubeconfig="$DIR/kcm.kubeconfig" \
      --bind-address=127.0.0.1 --secure-port="$kcm_port" --leader-elect=false \
      --service-account-private-key-file="$DIR/pki/sa.key" --root-ca-file="$DIR/pki/ca.crt" \
      --use-service-account-credentials=true --profiling=false \
      --controllers=$KCM_CONTROLLERS
    echo "$server" >"$DIR/server"
    if [ -n "$WATCH_PID" ]; then
      setsid bash -c "while kill -0 $WATCH_PID 2>/dev/null; do sleep 1; done; PTP_CLUSTER_DIR='$DIR' '$0' down" \
        >/dev/null 2>&1 </dev/null &
    fi
    say "up in $((SECONDS - t0)) s: $server (Kubernetes $("$BIN/kubectl" version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -1))"
    say "export KUBECONFIG=$DIR/kubeconfig PATH=$DIR/bin:\$PATH"
    ;;
  down)
    if [ -f "$DIR/pids" ]; then
      stop
      say "stopped"
    fi
    rm -rf "$DIR"
    ;;
  env)
    running || { say "not running (scripts/control-plane.sh up)"; exit 1; }
    echo "export KUBECONFIG=$DIR/kubeconfig"
    echo "export PATH=$DIR/bin:\$PATH"
    ;;
  status)
    if running; then say "running: $(cat "$DIR/server")"; else say "not running"; exit 1; fi
    ;;
  *)
    echo "usage: scripts/control-plane.sh up [--watch-pid PID] | down | env | status" >&2
    exit 2
    ;;
esac
