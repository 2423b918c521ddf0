# shellcheck shell=bash
# What scripts/lab.sh and scripts/cluster-lab.sh share (sourced by both): starting programs
# without CAP_SYS_TIME, and the software grandmaster. The caller defines the array `pids` (what
# its cleanup kills).

# The command prefix that starts a program without CAP_SYS_TIME (inheritable and bounding sets).
nosystime=(setpriv --inh-caps -sys_time --bounding-set -sys_time)

# Exits 1, naming the caller $1, unless `nosystime` removes CAP_SYS_TIME (bit 25) from the
# effective, permitted and bounding sets of what it starts.
require_no_sys_time() {
  if "${nosystime[@]}" cat /proc/self/status | python3 -c '
import sys
caps = dict(l.split(":\t") for l in sys.stdin.read().splitlines() if l.startswith("Cap"))
sys.exit(0 if any(int(caps[k], 16) >> 25 & 1 for k in ("CapEff", "CapBnd", "CapPrm")) else 1)'; then
    echo "$1: cannot drop CAP_SYS_TIME here; refusing to run ptp4l" >&2
    exit 1
  fi
}

# Starts the software grandmaster (ptp4l -S, masterOnly, domain 0, L2) on interface $2 of network
# namespace $1 without CAP_SYS_TIME; its config and log (gm.conf, gm.log) go to directory $3.
start_grandmaster() {
  local ns=$1 iface=$2 dir=$3
  cat >"$dir/gm.conf" <<'CONF'
[global]
priority1 10
domainNumber 0
network_transport L2
time_stamping software
logSyncInterval 0
masterOnly 1
CONF
  ip netns exec "$ns" "${nosystime[@]}" ptp4l -i "$iface" -S -m -f "$dir/gm.conf" >"$dir/gm.log" 2>&1 &
  pids+=($!)
}

# Exits 1, naming the caller $1 and every missing prerequisite with the package that brings it,
# before anything is built: root, the lab's commands, cargo, and with $2 = cluster also what the
# control plane needs (curl, openssl, and Go unless the Kubernetes binaries are cached). Free disk
# below what a cold build takes is named too. scripts/setup.sh --lab installs the Debian packages.
require_lab_prerequisites() {
  local who=$1 mode=${2:-} missing=() cmd pkg need_kb free_kb
  [ "$(id -u)" = 0 ] ||
    missing+=("root: the lab creates network namespaces and veth pairs (run it with sudo)")
  local -a wanted=(ptp4l:linuxptp ip:iproute2 setpriv:util-linux python3:python3 cargo:"Rust (rustup)")
  [ "$mode" = cluster ] && wanted+=(curl:curl openssl:openssl)
  for cmd in "${wanted[@]}"; do
    pkg=${cmd#*:}
    cmd=${cmd%%:*}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd: not on PATH (Debian package: $pkg)")
  done
  # the Rust debug build takes about 3 GB, a cold Kubernetes build 4 GB more while it runs
  need_kb=$((3 * 1024 * 1024))
  if [ "$mode" = cluster ] && [ ! -x "$(tools/k8s/build.sh --dir)/kube-apiserver" ]; then
    command -v go >/dev/null 2>&1 ||
      missing+=("go: not on PATH and no cached control plane in $(tools/k8s/build.sh --dir) (Debian package: golang, Go 1.26 or later)")
    need_kb=$((7 * 1024 * 1024))
  fi
  free_kb=$(df -Pk . | awk 'NR==2{print $4}')
  [ "${free_kb:-0}" -ge "$need_kb" ] ||
    missing+=("disk: $((free_kb / 1024)) MiB free in $PWD, a first run needs about $((need_kb / 1024 / 1024)) GB")
  if ((${#missing[@]})); then
    {
      printf '\n%s: cannot start, missing:\n' "$who"
      printf '  - %s\n' "${missing[@]}"
      printf '%s: nothing was built or started\n' "$who"
    } >&2
    exit 1
  fi
}
