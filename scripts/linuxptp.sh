#!/usr/bin/env bash
# linuxptp 4.2 built from Debian trixie's source package, for tests that compare against a second
# linuxptp version (the machine has Debian bookworm's 3.1.1 in /usr/sbin).
#
#   scripts/linuxptp.sh          fetch (if needed), check the sha256, build; print the directory
#                                that holds ptp4l, pmc, phc2sys, ts2phc (last line of stdout)
#
# Cache: $PTP_LINUXPTP_CACHE (default ~/.cache/ptp-operator/linuxptp-4.2). Idempotent: a finished
# build (`ptp4l -v` prints 4.2) is reused. Fetching adds a temporary `deb-src` entry for suite
# `trixie` (same URI and key as the machine's Debian entry), runs `apt-get update` and
# `apt-get source --download-only linuxptp=<trixie's 4.2-N>`, then removes the entry again (also on failure)
# and refreshes the lists. Only the upstream tarball is needed; its sha256 is checked, not apt's
# exit code (the .dsc may answer 404). When it cannot be fetched or built the script says so loudly
# on stderr and exits 0 with nothing built: tests that need 4.2 then skip loudly.
set -euo pipefail

VERSION=4.2
TARBALL=linuxptp_${VERSION}.orig.tar.gz
SHA256=70e38e5d2764e0217443da6f14e8846fe401a472293ac138d8419c07a665447a
CACHE=${PTP_LINUXPTP_CACHE:-$HOME/.cache/ptp-operator/linuxptp-$VERSION}
BUILD=$CACHE/linuxptp-$VERSION
SOURCES=/etc/apt/sources.list.d/ptp-operator-trixie-src.sources

loud() {
  echo "linuxptp.sh: ######## $* ########" >&2
  echo "linuxptp.sh: ######## linuxptp $VERSION NOT built; tests needing it will skip ########" >&2
  exit 0
}

built() { [ -x "$BUILD/ptp4l" ] && [ -x "$BUILD/pmc" ] && "$BUILD/ptp4l" -v 2>&1 | grep -q "^$VERSION"; }

if built; then
  echo "$BUILD"
  exit 0
fi

mkdir -p "$CACHE"
have_tarball() { [ -f "$CACHE/$TARBALL" ] && echo "$SHA256  $CACHE/$TARBALL" | sha256sum -c --status; }

if ! have_tarball; then
  rm -f "$CACHE/$TARBALL"
  [ "$(id -u)" = 0 ] || loud "fetching needs root (a temporary apt source entry); run as root once"
  URI=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  KEY=$(awk '/^Signed-By:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  URI=${URI:-http://deb.debian.org/debian}
  KEY=${KEY:-/usr/share/keyrings/debian-archive-keyring.gpg}
  cleanup_source() {
    if [ -f "$SOURCES" ]; then
      rm -f "$SOURCES"
      apt-get update -qq >/dev/null 2>&1 || true
    fi
  }
  trap cleanup_source EXIT
  printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: %s\n' "$URI" "$KEY" >"$SOURCES"
  apt-get update -qq >/dev/null 2>&1 || echo "linuxptp.sh: apt-get update reported errors (going on)" >&2
  # `linuxptp/trixie` makes apt look for the installed binary's version; name trixie's exactly.
  DEBVER=$(apt-cache showsrc linuxptp 2>/dev/null | awk '/^Version:/ {print $2}' | grep "^$VERSION-" | head -1 || true)
  # The .dsc or .debian.tar.xz may be missing (404): apt exits non-zero after fetching the tarball.
  (cd "$CACHE" && apt-get source --download-only "linuxptp=${DEBVER:-$VERSION-1}" >/dev/null 2>&1) || true
  cleanup_source
  trap - EXIT
  have_tarball || loud "could not fetch $TARBALL with sha256 $SHA256 from $URI (trixie deb-src)"
fi

rm -rf "$BUILD"
tar -C "$CACHE" -xzf "$CACHE/$TARBALL" || loud "could not unpack $CACHE/$TARBALL"
make -C "$BUILD" -j2 >"$CACHE/build.log" 2>&1 || loud "build failed, see $CACHE/build.log"
built || loud "built, but $BUILD/ptp4l -v does not print $VERSION"
echo "$BUILD"
