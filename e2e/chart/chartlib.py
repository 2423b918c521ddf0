"""Offline rendering of charts/ptp-operator through the Helm v4 Go SDK (helm-python-sdk).

Shared by render_manifests.py (the plain manifests in config/) and test_chart.py.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "charts" / "ptp-operator"
RELEASE = "ptp-operator"
NAMESPACE = "openshift-ptp"

_chart = None


def chart() -> Any:
    global _chart
    if _chart is None:
        _chart = helm.Chart.load(str(CHART_DIR))
    return _chart


def render_raw(values: dict | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE) -> dict[str, str]:
    """{template path: rendered text} for these values (no cluster contacted)."""
    return chart().render(values=copy.deepcopy(values) if values else None, name=name, namespace=namespace)


def objects(rendered: dict[str, str]) -> list[tuple[str, dict]]:
    """(template path, object) of every manifest in a render, NOTES.txt excluded, in path order."""
    out = []
    for path in sorted(rendered):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(rendered[path]):
            if doc is not None:
                out.append((path, doc))
    return out


def render(values: dict | None = None, **kw: Any) -> list[dict]:
    return [obj for _, obj in objects(render_raw(values, **kw))]


def find(objs: list[dict], kind: str, name: str | None = None, namespace: str | None = None) -> dict:
    hits = [
        o
        for o in objs
        if o["kind"] == kind
        and (name is None or o["metadata"]["name"] == name)
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]
    if len(hits) != 1:
        raise AssertionError(f"expected one {kind} {name or ''} {namespace or ''}, found {len(hits)}")
    return hits[0]
