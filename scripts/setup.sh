#!/usr/bin/env bash
# Installs what the tests and the local lab need on a fresh Debian machine: linuxptp, chrony, ethtool
# and iproute2 from apt (when root), and .venv with the Python tools of scripts/requirements.txt.
# chrony is installed for its chronyd binary only: its service is kept from starting (it would
# adjust this machine's clock); the tests run chronyd themselves with -x.
# Idempotent: a second run only checks.
#
#   scripts/setup.sh         everything the tests need
#   scripts/setup.sh --lab   only the Debian packages the lab and the quick start need (no venv, no
#                            linuxptp 4.2 build): what scripts/quickstart.sh runs first
#   scripts/setup.sh --node  everything, and what images and a real node need: buildah, debootstrap,
#                            containerd, runc, the CNI plugins (scripts/images.sh, e2e/node/run.sh);
#                            containerd's own service is kept from starting (the suite runs its own)
set -euo pipefail
cd "$(dirname "$0")/.."
lab_only=
packages=(linuxptp chrony ethtool iproute2)
case ${1:-} in
  --lab) lab_only=1 ;;
  --node) packages+=(buildah debootstrap containerd runc containernetworking-plugins) ;;
  "") ;;
  *) echo "setup: unknown argument $1 (scripts/setup.sh [--lab | --node])" >&2; exit 2 ;;
esac

missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    # No service may start from the install (policy-rc.d 101: "action forbidden"); the file is ours
    # only when there was none.
    policy=/usr/sbin/policy-rc.d
    own_policy=
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    if [ -n "$own_policy" ]; then rm -f "$policy"; fi
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      systemctl disable --now chrony.service containerd.service >/dev/null 2>&1 || true
    fi
  else
    echo "setup: WARNING: ${missing[*]} not installed and not root; tests that need them will skip" >&2
  fi
fi

[ -z "$lab_only" ] || exit 0

venv=.venv
req=scripts/requirements.txt
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/.requirements"; then
  echo "setup: creating $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  cp "$req" "$venv/.requirements"
fi

# linuxptp 4.2 beside Debian's 3.1.1, for the tests that run both (built once into a cache; says
# so loudly and goes on when it cannot be fetched or built: those tests then skip loudly).
if [ "$(id -u)" = 0 ]; then
  scripts/linuxptp.sh >/dev/null
else
  echo "setup: WARNING: not root: linuxptp 4.2 not fetched (apt); tests that need it will skip" >&2
fi
