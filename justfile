# Recipes for development. The README's two commands do not need `just`; `scripts/setup.sh`
# installs it into .venv (`.venv/bin/just`).

default:
    @just --list

# Build every crate (debug).
build:
    cargo build --workspace --all-targets --locked

# Run every check and test (the README's test command).
test:
    scripts/test.sh

# Formatting and clippy, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# Regenerate the CRD YAML in config/crd and charts/ptp-operator/crds from the Rust types.
crdgen:
    cargo run -q --locked -p ptp-api --bin crdgen

# Regenerate the plain manifests in config/ (RBAC, Deployment, DaemonSet) from the chart, and the CRDs.
manifests: crdgen
    .venv/bin/python e2e/chart/render_manifests.py

# The chart checks: render with several value sets, strict lint, kubernetes-validate, RBAC, schema.
check-chart:
    scripts/check-chart.sh

# The local end-to-end suite (root): the real binaries, the API-server double, ptp4l in a netns lab.
e2e-local:
    cargo build --locked --workspace --bins
    cargo test --locked -p ptp-e2e-local -- --nocapture

# Preview the ptp-configmap for manifests: just render -f config/samples -f nodes.yaml
render *ARGS:
    cargo run -q --locked -p ptp-operator -- render {{ARGS}}

# Quick start without a cluster (the README's first command).
quickstart:
    scripts/quickstart.sh

# Build both container images with docker or podman (needs a container engine; none on the dev VMs).
images TAG="dev":
    #!/usr/bin/env bash
    set -euo pipefail
    engine=$(command -v docker || command -v podman || true)
    if [ -z "$engine" ] || ! "$engine" info >/dev/null 2>&1; then
      echo "just images: no working docker or podman engine on this machine" >&2; exit 1
    fi
    "$engine" build -f Dockerfile.operator -t ptp-operator:{{TAG}} .
    "$engine" build -f Dockerfile.daemon -t ptp-agent:{{TAG}} .

# Opt-in kind end-to-end suite (needs kind, kubectl, helm, docker or podman): E2E_KIND=1 just e2e-kind
e2e-kind:
    e2e/kind/run.sh
