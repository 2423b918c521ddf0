#!/usr/bin/env bash
# Runs every check and test of the project: formatting, clippy, the whole workspace's tests (those
# that need Kubernetes against a real kube-apiserver + etcd + kube-controller-manager built from the
# Kubernetes Go modules), CRD drift, the justfile, the Helm chart and the plain manifests generated
# from it. Installs its prerequisites first (scripts/setup.sh) and prints the time of each phase.
# PTP_REQUIRE_ROOT_TESTS=1 turns the skip of a root-only test into a failure (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
phase_start=$SECONDS
phase_name=
free_disk() { df -Ph . 2>/dev/null | awk 'NR==2{print $4}'; }
step() {
  if [ -n "$phase_name" ]; then printf '<== %s: %d s (disk free: %s)\n' "$phase_name" $((SECONDS - phase_start)) "$(free_disk)"; fi
  phase_name=$*
  phase_start=$SECONDS
  printf '\n==> %s\n' "$*"
}
loud() {
  local bar
  bar=$(printf '!%.0s' $(seq 78))
  printf '\n%s\n!!! %s\n%s\n\n' "$bar" "$*" "$bar" >&2
}

# A clean run takes about 5 GB (target/, fuzz builds included), a cold Kubernetes build a few GB more
# while it runs: say so up front instead of failing in the linker.
free_kb=$(df -Pk . | awk 'NR==2{print $4}')
if [ "${free_kb:-0}" -lt $((10 * 1024 * 1024)) ]; then
  loud "only $(free_disk) free on $(df -P . | awk 'NR==2{print $6}'): a clean run needs about 10 GB with a cold Kubernetes build; it may fail with 'No space left on device'"
fi

step "prerequisites"
scripts/setup.sh

step "Kubernetes test binaries (tools/k8s; a cold build takes about 7 min on 2 cores, cached afterwards)"
cluster_started=
if ! command -v go >/dev/null; then
  loud "Go is not installed: the real control plane cannot be built; tests that need it are SKIPPED"
elif tools/k8s/build.sh >/dev/null; then
  step "control plane (scripts/control-plane.sh up)"
  export PTP_CLUSTER_DIR=${PTP_CLUSTER_DIR:-$PWD/target/test-cluster}
  if ! scripts/control-plane.sh status 2>/dev/null; then
    scripts/control-plane.sh up
    cluster_started=1
  fi
  # The binaries are here: a test that cannot reach the control plane is a failure, not a skip.
  export PTP_REQUIRE_CONTROL_PLANE=1
else
  loud "tools/k8s/build.sh failed: tests that need the real control plane would be skipped; failing"
  exit 1
fi
cleanup() { if [ -n "$cluster_started" ]; then scripts/control-plane.sh down || true; fi; }
trap cleanup EXIT

step "cargo fmt --check"
cargo fmt --all -- --check

step "one feature set for every debug build (scripts/check-features.sh)"
scripts/check-features.sh

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked --no-fail-fast

# PTP_TEST_REPEAT=N runs the tests N-1 times more, to find flaky tests: each run's failures are
# reported, and do not fail the script (the first run above gates).
repeat=${PTP_TEST_REPEAT:-1}
for ((run = 2; run <= repeat; run++)); do
  step "cargo test, run $run of $repeat (report only)"
  log=$(mktemp)
  if cargo test --workspace --locked --no-fail-fast >"$log" 2>&1; then
    echo "run $run: every test passed"
  else
    loud "run $run: FLAKY: $(grep -E '^test .* FAILED$' "$log" | sed 's/^test //; s/ \.\.\. FAILED$//' | tr '\n' ' ')"
    grep -E -A12 '^---- .* stdout ----$' "$log" | head -60 >&2 || true
  fi
  rm -f "$log"
done

step "fuzz every input that crosses a trust boundary (scripts/fuzz.sh, ${PTP_FUZZ_SECONDS:=15} s per target)"
# Bounded so that CI stays short; run scripts/fuzz.sh 600 for a real session. It warns loudly and
# exits 0 when nightly or cargo-fuzz is missing, non-zero on a crash (with the reproducer).
scripts/fuzz.sh "$PTP_FUZZ_SECONDS"

if [ -n "${PTP_CLUSTER_DIR:-}" ] && [ "$(id -u)" = 0 ]; then
  step "the quick start's preflight names what is missing before any build (PATH without ptp4l)"
  # /usr/sbin (ptp4l, ip) left out of PATH; ip and setpriv are also in /usr/bin
  nosbin=/usr/bin:/bin:$(dirname "$(command -v cargo)"):$(dirname "$(command -v python3)"):$(dirname "$(command -v go)")
  if out=$(PATH=$nosbin scripts/quickstart.sh --preflight 2>&1); then
    echo "$out" >&2
    echo "the quick start's preflight passed without ptp4l on PATH" >&2
    exit 1
  fi
  grep -q 'ptp4l: not on PATH (Debian package: linuxptp)' <<<"$out" ||
    { echo "$out" >&2; echo "the quick start's preflight did not name ptp4l" >&2; exit 1; }
  step "the quick start: operator + agent + grandmaster against the control plane (scripts/quickstart.sh --check)"
  PTP_LAB_NO_BUILD=1 LAB_SECONDS=120 scripts/quickstart.sh --check
elif [ "${PTP_REQUIRE_ROOT_TESTS:-}" = 1 ]; then
  echo "the quick start needs root and the control plane" >&2
  exit 1
else
  loud "the quick start (scripts/cluster-lab.sh) SKIPPED: needs root and the control plane"
fi

step "CRDs match the Rust types"
# the binary cargo test built (ptp-api has integration tests); `cargo run -p ptp-api --bin crdgen`
# would share every artefact too (crates/workspace-hack), but need not even link
"${CARGO_TARGET_DIR:-target}/debug/crdgen" --check

step "justfile parses"
.venv/bin/just --summary >/dev/null

step "Helm chart and plain manifests"
scripts/check-chart.sh

step "done"
printf '\nall checks passed in %d s\n' $((SECONDS - started))
