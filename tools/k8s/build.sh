#!/usr/bin/env bash
# Builds the pinned Kubernetes test binaries into a cache outside the work tree and prints their directory.
#   tools/k8s/build.sh            build what is missing (a cold build takes about 7 minutes on 2 cores, more on a busy machine), print the dir
#   tools/k8s/build.sh --dir      print the cache dir only (no build)
# Cache: ${PTP_K8S_CACHE:-$HOME/.cache/ptp-operator}/k8s-v<version>/{etcd,kube-apiserver,kube-controller-manager,kubectl}
set -euo pipefail
cd "$(dirname "$0")"

K8S_VERSION=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' go.mod)
ETCD_VERSION=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' go.mod)
CACHE_ROOT=${PTP_K8S_CACHE:-$HOME/.cache/ptp-operator}
DIR="$CACHE_ROOT/k8s-$K8S_VERSION"
BINS=(etcd kube-apiserver kube-controller-manager kubectl)

if [ "${1:-}" = "--dir" ]; then echo "$DIR"; exit 0; fi

missing=()
for b in "${BINS[@]}"; do [ -x "$DIR/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then echo "$DIR"; exit 0; fi

command -v go >/dev/null || { echo "tools/k8s: go is not installed; cannot build ${missing[*]}" >&2; exit 3; }

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
commit=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" 2>/dev/null | sed -n 's/.*"Hash": *"\([0-9a-f]\{40\}\)".*/\1/p' | head -1)
[ -n "$commit" ] || commit=0000000000000000000000000000000000000000
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor \
 -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date \
 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
etcd_ldflags="-s -w"

mkdir -p "$DIR.tmp"
# The Go build cache of these four binaries is several GB and is never used again once they are cached:
# keep it beside them and remove it after a successful build (GOCACHE set by the caller is respected).
if [ -z "${GOCACHE:-}" ]; then
  export GOCACHE="$DIR.tmp/gocache"
  own_gocache=1
fi
echo "tools/k8s: building ${missing[*]} (Kubernetes $K8S_VERSION, etcd $ETCD_VERSION) into $DIR" >&2
echo "tools/k8s: a cold build takes about 7 minutes on 2 cores (more on a busy machine); progress follows every 30 s" >&2

build_one() {
  local name=$1 pkgpath=$2 flags=$3 start=$SECONDS
  echo "tools/k8s: [$name] go build $pkgpath" >&2
  # -v names each package as it is compiled: count them (.count) for the heartbeat below and pass
  # everything else (compiler errors) through
  : >"$DIR.tmp/$name.count"
  go build -trimpath -v -ldflags "$flags" -o "$DIR.tmp/$name" "$pkgpath" 2> >(while IFS= read -r line; do
      case $line in *' '*) echo "$line" >&2 ;; *) echo >>"$DIR.tmp/$name.count" ;; esac
    done) &
  local pid=$!
  while kill -0 $pid 2>/dev/null; do
    sleep 30 & wait $! || true
    kill -0 $pid 2>/dev/null &&
      echo "tools/k8s: [$name] $(wc -l <"$DIR.tmp/$name.count") packages compiled, $((SECONDS - start)) s" >&2
  done
  wait $pid
  rm -f "$DIR.tmp/$name.count"
  echo "tools/k8s: [$name] done in $((SECONDS - start)) s" >&2
}

for b in "${missing[@]}"; do
  case $b in
    etcd) build_one etcd go.etcd.io/etcd/server/v3 "$etcd_ldflags" ;;
    *) build_one "$b" "k8s.io/kubernetes/cmd/$b" "$ldflags" ;;
  esac
  mv "$DIR.tmp/$b" "$DIR.tmp/$b.done"
done
mkdir -p "$DIR"
for b in "${missing[@]}"; do mv "$DIR.tmp/$b.done" "$DIR/$b"; done
if [ -n "${own_gocache:-}" ]; then chmod -R u+w "$GOCACHE" 2>/dev/null || true; rm -rf "$GOCACHE"; fi
rmdir "$DIR.tmp" 2>/dev/null || true
echo "$DIR"
