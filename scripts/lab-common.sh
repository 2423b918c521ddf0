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
