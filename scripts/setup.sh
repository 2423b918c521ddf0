#!/usr/bin/env bash
# Installs what the tests and the local lab need on a fresh Debian machine: linuxptp, ethtool and
# iproute2 from apt (when root), and .venv with the Python tools of scripts/requirements.txt.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in linuxptp ethtool iproute2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: WARNING: ${missing[*]} not installed and not root; tests that need them will skip" >&2
  fi
fi

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
