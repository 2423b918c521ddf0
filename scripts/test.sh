#!/usr/bin/env bash
# Runs every check and test of the project: formatting, clippy, the whole workspace's tests,
# CRD drift, the justfile, the Helm chart and the plain manifests generated from it. Installs its prerequisites first (scripts/setup.sh).
# PTP_REQUIRE_ROOT_TESTS=1 turns the skip of a root-only test into a failure (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "prerequisites"
scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked --no-fail-fast

step "CRDs match the Rust types"
cargo run -q --locked -p ptp-api --bin crdgen -- --check

step "justfile parses"
.venv/bin/just --summary >/dev/null

step "Helm chart and plain manifests"
scripts/check-chart.sh

printf '\nall checks passed\n'
