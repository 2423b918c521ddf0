#!/usr/bin/env bash
# Checks the Helm chart and the plain manifests in config/ without a cluster or a helm binary:
# lint, offline renders through the Helm v4 SDK, Kubernetes 1.32-1.37 schema validation, RBAC,
# values schema, admission policy CEL, and drift of config/ (regenerate it with
# `.venv/bin/python e2e/chart/render_manifests.py`). Needs .venv from scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

py=.venv/bin/python
if [ ! -x "$py" ]; then
  echo "check-chart: $py missing; run scripts/setup.sh first" >&2
  exit 1
fi
"$py" e2e/chart/render_manifests.py --check
"$py" e2e/chart/test_chart.py "$@"
