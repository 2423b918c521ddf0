#!/usr/bin/env bash
# Fails when one of the ways the project builds in debug (the scripts, the justfile, CI) would build
# a dependency other than `cargo test --workspace` builds it: each difference is another copy of that
# crate and of everything above it (k8s-openapi, kube-client, ...) in target/. Compares cargo's unit
# graphs (what each invocation would build, with features and, recursively, dependencies), which
# needs the nightly toolchain (`--unit-graph` is unstable); without it, it warns and exits 0.
# crates/workspace-hack asks for the union of the features: add to it what this names.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "check-features: SKIPPED (needs the nightly toolchain for --unit-graph)" >&2
  exit 0
fi
units() { # cargo arguments -> "name@version mode features identity" of every dependency unit
  cargo +nightly "$@" --locked --unit-graph -Z unstable-options | python3 scripts/unit_identities.py | sort -u
}
reference=$(units test --workspace --no-run)
failed=
check() {
  local built differ
  built=$(units "$@")
  differ=$(grep -vxF -f <(printf '%s\n' "$reference") <<<"$built" | sed 's/^/  /' || true)
  if [ -n "$differ" ]; then
    printf '`cargo %s` builds these dependencies other than `cargo test --workspace` (features, or those of a dependency):\n%s\n' "$*" "$differ" >&2
    failed=1
  fi
}
check build --workspace --bins
check build --workspace --all-targets
check build -p ptp-operator -p ptp-agent
check build -p ptp-operator
check build -p ptp-api --bin crdgen
check test -p ptp-e2e-local --no-run
check test --workspace --lib --no-run
if [ -n "$failed" ]; then
  echo "check-features: add the features named above to crates/workspace-hack/Cargo.toml" >&2
  exit 1
fi
echo "check-features: the debug builds of the scripts share every dependency with cargo test --workspace"
