#!/usr/bin/env python3
"""Checks of charts/ptp-operator without a cluster or a helm binary: renders through the Helm v4
Go SDK (helm-python-sdk), lints strictly, validates the built-in kinds with kubernetes-validate
(strict) for Kubernetes 1.32-1.37, checks the custom resources structurally, compares the RBAC
rules with the intended ones, checks that values.schema.json rejects bad values, evaluates the
ValidatingAdmissionPolicy's CEL with cel-python, that config/ has not drifted from the chart, and
the opt-in kind suite's pieces that need no cluster (e2e/kind: run.sh refuses to run without
E2E_KIND=1, its Helm values fit the chart, check.py's comparisons).

Usage: .venv/bin/python e2e/chart/test_chart.py [-k SUBSTRING]
The last line is "N passed, M failed"; the exit status is 1 when anything failed.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import chartlib  # noqa: E402
import render_manifests  # noqa: E402
from chartlib import NAMESPACE, find, render, render_raw  # noqa: E402

KUBE_VERSIONS = ["1.32.0", "1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0"]
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
OPERATOR = "ptp-operator"
AGENT = "ptp-operator-agent"

ALL_ON = {
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}, "prometheusRule": {"enabled": True}},
    "networkPolicy": {
        "enabled": True,
        "ingressFrom": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "apiServer": {"cidrs": ["10.0.0.1/32"]},
    },
    "admissionPolicy": {"enabled": True},
}
VALUE_SETS = {
    "default": None,
    "replicas-2": {"operator": {"replicas": 2}},
    "capabilities": {"agent": {"privileged": False}},
    "all-toggles": ALL_ON,
    "custom": {
        "imagePullSecrets": [{"name": "regcred"}],
        "commonLabels": {"team": "timing"},
        "operator": {
            "image": {"repository": "registry.example.com/ptp/operator", "tag": "1.2.3", "pullPolicy": "Always"},
            "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
            "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
            "priorityClassName": "system-cluster-critical",
            "watchNamespaces": ["ptp-a", "ptp-b"],
            "logFormat": "json",
            "logLevel": "debug",
        },
        "agent": {
            "image": {"repository": "registry.example.com/ptp/agent", "tag": "1.2.3", "pullPolicy": "Never"},
            "nodeSelector": {"kubernetes.io/os": "linux", "ptp/capable": "true"},
            "tolerations": [{"key": "edge", "operator": "Equal", "value": "yes", "effect": "NoExecute"}],
            "updateStrategy": {"maxUnavailable": "10%"},
        },
    },
    "everything": {**ALL_ON, "operator": {"replicas": 2}, "agent": {"privileged": False, "capabilities": ["SYS_TIME"]}},
}

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def merge(base: dict | None, extra: dict) -> dict:
    out = copy.deepcopy(base or {})
    for k, v in extra.items():
        out[k] = merge(out.get(k), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def container(obj: dict) -> dict:
    (c,) = obj["spec"]["template"]["spec"]["containers"]
    return c


def env(obj: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(obj)["env"]}


def rule_set(rules: list[dict]) -> set:
    """Rules as a set of (apiGroup, resource, verb, resourceName or '') atoms; a non-resource URL
    rule as ("nonResourceURL", url, verb, '')."""
    atoms = set()
    for r in rules:
        if "nonResourceURLs" in r:
            assert set(r) == {"nonResourceURLs", "verbs"}, r
            atoms |= {("nonResourceURL", u, v, "") for u in r["nonResourceURLs"] for v in r["verbs"]}
            continue
        assert set(r) <= {"apiGroups", "resources", "verbs", "resourceNames"}, r
        for g in r["apiGroups"]:
            for res in r["resources"]:
                for v in r["verbs"]:
                    for n in r.get("resourceNames") or [""]:
                        atoms.add((g, res, v, n))
    return atoms


def atoms(group: str, resource: str, verbs: str, name: str = "") -> set:
    return {(group, resource, v, name) for v in verbs.split()}


# ---------------------------------------------------------------- chart metadata and lint


@test
def chart_metadata():
    meta = yaml.safe_load((chartlib.CHART_DIR / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2" and meta["name"] == "ptp-operator", meta
    assert meta["version"] == "0.1.0" and str(meta["appVersion"]) == "0.1.0", meta
    crds = sorted(p.name for p in (chartlib.CHART_DIR / "crds").glob("*.yaml"))
    assert crds == ["ptp.openshift.io_nodeptpdevices.yaml", "ptp.openshift.io_ptpconfigs.yaml"], crds


@test
def lint_strict_every_value_set():
    for label, values in VALUE_SETS.items():
        report = helm.lint(str(chartlib.CHART_DIR), values, strict=True, kube_version="v1.33.0", namespace=NAMESPACE)
        bad = [m for m in report["messages"] if m["severity"] >= 2]
        assert not bad and not report["errors"], f"{label}: {bad} {report['errors']}"


# ---------------------------------------------------------------- schema validation of manifests


@test
def builtin_kinds_validate_strictly_132_to_137():
    for label, values in VALUE_SETS.items():
        for obj in render(values):
            if obj["kind"] in CUSTOM_KINDS:
                continue
            for version in KUBE_VERSIONS:
                try:
                    kubernetes_validate.validate(obj, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    raise AssertionError(f"{label}: {obj['kind']}/{obj['metadata']['name']} on {version}: {e}") from e


@test
def validator_catches_mistakes():
    """kubernetes-validate really checks: a typo'd field and a wrong type fail."""
    dep = find(render(None), "Deployment")
    for mutate in (
        lambda d: d["spec"]["template"]["spec"].__setitem__("hostNetwrok", True),
        lambda d: d["spec"].__setitem__("replicas", "1"),
        lambda d: container(d)["securityContext"].__setitem__("readOnlyRootFileSystem", True),
    ):
        bad = copy.deepcopy(dep)
        mutate(bad)
        try:
            kubernetes_validate.validate(bad, "1.33.0", strict=True)
        except kubernetes_validate.ValidationError:
            continue
        raise AssertionError("kubernetes-validate accepted a broken Deployment")


@test
def every_object_is_namespaced_and_labelled():
    for label, values in VALUE_SETS.items():
        for obj in render(values):
            meta = obj["metadata"]
            if obj["kind"] in CLUSTER_SCOPED:
                assert "namespace" not in meta, (label, obj["kind"])
            elif obj["kind"] in ("Role", "RoleBinding") and meta["name"].endswith("-ptpconfigs"):
                assert meta["namespace"] in values["operator"]["watchNamespaces"], (label, meta)
            else:
                assert meta["namespace"] == NAMESPACE, (label, obj["kind"], meta)
            labels = meta["labels"]
            assert labels["app.kubernetes.io/instance"] == chartlib.RELEASE, labels
            assert labels["app.kubernetes.io/component"] in ("operator", "agent"), labels
            assert len(meta["name"]) <= 63 or obj["kind"] in CLUSTER_SCOPED, meta["name"]


@test
def custom_resources_are_well_formed():
    objs = render(ALL_ON)
    services = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Service"}
    assert set(services) == {f"{OPERATOR}-metrics", f"{AGENT}-metrics"}, services
    monitors = [o for o in objs if o["kind"] == "ServiceMonitor"]
    assert len(monitors) == 2
    for sm in monitors:
        assert sm["apiVersion"] == "monitoring.coreos.com/v1"
        assert sm["metadata"]["labels"]["release"] == "prom"
        spec = sm["spec"]
        assert set(spec) == {"selector", "namespaceSelector", "endpoints"}, spec
        assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        # the selector picks exactly one Service, which has the scraped port
        picked = [
            s for s in services.values() if spec["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
        ]
        assert len(picked) == 1, picked
        ports = {p["name"]: p for p in picked[0]["spec"]["ports"]}
        (ep,) = spec["endpoints"]
        assert ep["port"] in ports and ep["path"] == "/metrics", ep
        # metrics.secure (default): HTTPS with Prometheus' ServiceAccount token
        assert ep["scheme"] == "https", ep
        assert ep["bearerTokenFile"] == "/var/run/secrets/kubernetes.io/serviceaccount/token", ep
        assert ep["tlsConfig"] == {"insecureSkipVerify": True}, ep
        assert re.fullmatch(r"\d+[smh]", ep["interval"]) and re.fullmatch(r"\d+[smh]", ep["scrapeTimeout"]), ep
        # the Service selects the pods of the same component
        component = sm["metadata"]["labels"]["app.kubernetes.io/component"]
        workload = find(objs, "Deployment" if component == "operator" else "DaemonSet")
        pod_labels = workload["spec"]["template"]["metadata"]["labels"]
        assert picked[0]["spec"]["selector"].items() <= pod_labels.items()
        port_names = {p["name"]: p["containerPort"] for p in container(workload)["ports"]}
        assert port_names[ports["metrics"]["targetPort"]] == (8080 if component == "operator" else 9091)

    rule = find(objs, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    (group,) = rule["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {"PtpClockNotLocked", "PtpOffsetHigh", "PtpProcessDown", "PtpProcessRestarting"}, alerts
    assert alerts["PtpClockNotLocked"]["expr"] == "openshift_ptp_clock_state != 1"
    assert alerts["PtpOffsetHigh"]["expr"] == "abs(openshift_ptp_offset_ns) > 100"
    assert alerts["PtpClockNotLocked"]["for"] == alerts["PtpOffsetHigh"]["for"] == "5m"
    assert "openshift_ptp_process_status" in alerts["PtpProcessDown"]["expr"]
    assert "openshift_ptp_process_restart_count" in alerts["PtpProcessRestarting"]["expr"]
    for name, r in alerts.items():
        assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, r
        assert r["labels"]["severity"] in ("info", "warning", "critical")
        assert r["expr"].count("(") == r["expr"].count(")") and r["expr"].count("[") == r["expr"].count("]")
        for text in r["annotations"].values():
            # Prometheus templates survive Helm's templating
            assert text.count("{{") == text.count("}}"), text
        assert "{{ $labels.node }}" in r["annotations"]["description"], r
    custom = render(merge(ALL_ON, {"metrics": {"prometheusRule": {"offsetThresholdNs": 250, "for": "10m"}}}))
    alerts = {r["alert"]: r for r in find(custom, "PrometheusRule")["spec"]["groups"][0]["rules"]}
    assert alerts["PtpOffsetHigh"]["expr"] == "abs(openshift_ptp_offset_ns) > 250"
    assert alerts["PtpOffsetHigh"]["for"] == "10m"


@test
def optional_objects_are_off_by_default():
    # The admission policy is `auto`: an offline render does not know the cluster's API versions
    # (see admission_policy_auto_follows_the_cluster).
    kinds = sorted({o["kind"] for o in render(None)})
    assert kinds == sorted(
        ["ClusterRole", "ClusterRoleBinding", "DaemonSet", "Deployment", "Role", "RoleBinding", "ServiceAccount"]
    ), kinds
    kinds = {o["kind"] for o in render(ALL_ON)}
    assert {
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
        "NetworkPolicy",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    } <= kinds, kinds


# ---------------------------------------------------------------- RBAC


OPERATOR_PTPCONFIG_RULES = (
    atoms("ptp.openshift.io", "ptpconfigs", "get list watch")
    | atoms("ptp.openshift.io", "ptpconfigs/status", "get patch update")
    | atoms("", "events", "create patch")
    | atoms("events.k8s.io", "events", "create patch")
)
OPERATOR_NAMESPACE_RULES = (
    atoms("ptp.openshift.io", "nodeptpdevices", "get list watch create delete")
    | atoms("", "configmaps", "create")
    | atoms("", "configmaps", "get list watch update patch", "ptp-configmap")
    | atoms("coordination.k8s.io", "leases", "get create update")
)
METRICS_AUTH_RULES = atoms("authentication.k8s.io", "tokenreviews", "create") | atoms(
    "authorization.k8s.io", "subjectaccessreviews", "create"
)
METRICS_READER_RULES = {("nonResourceURL", "/metrics", "get", "")}
READER = f"{OPERATOR}-metrics-reader"
AGENT_CONFIGMAP_RULES = atoms("", "configmaps", "get", "ptp-configmap") | atoms("", "configmaps", "list watch")
AGENT_RENDER_RULES = atoms("ptp.openshift.io", "ptpconfigs", "get list watch") | atoms("", "nodes", "get list watch")
AGENT_RULES = (
    atoms("ptp.openshift.io", "nodeptpdevices", "get")
    | atoms("ptp.openshift.io", "nodeptpdevices/status", "get patch")
    | atoms("", "events", "create patch")
    | atoms("events.k8s.io", "events", "create patch")
)


def check_bindings(objs: list[dict]) -> None:
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs if o["kind"] in ("Role", "ClusterRole")}
    for b in (o for o in objs if o["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        ref = b["roleRef"]
        ns = b["metadata"].get("namespace") if ref["kind"] == "Role" else None
        assert (ref["kind"], ns, ref["name"]) in roles, b
        if ref["name"] == READER:
            continue  # metrics.readers: Prometheus' ServiceAccounts, checked in metrics_readers
        (subject,) = b["subjects"]
        sa = OPERATOR if b["metadata"]["labels"]["app.kubernetes.io/component"] == "operator" else AGENT
        assert subject == {"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}, subject
    sas = {o["metadata"]["name"] for o in objs if o["kind"] == "ServiceAccount"}
    assert sas == {OPERATOR, AGENT}, sas
    assert find(objs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == OPERATOR
    assert find(objs, "DaemonSet")["spec"]["template"]["spec"]["serviceAccountName"] == AGENT


@test
def rbac_rules_are_exactly_the_listed_ones():
    objs = render(None)
    check_bindings(objs)
    cluster = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ClusterRole"}
    assert set(cluster) == {OPERATOR, AGENT, READER}, cluster
    assert rule_set(cluster[OPERATOR]["rules"]) == (
        atoms("", "nodes", "get list watch") | OPERATOR_PTPCONFIG_RULES | METRICS_AUTH_RULES
    )
    # the agent's cluster-wide rights: the reviews of who reads its /metrics, and reading what it
    # renders its own node from (profileSource api)
    assert rule_set(cluster[AGENT]["rules"]) == METRICS_AUTH_RULES | AGENT_RENDER_RULES
    assert rule_set(cluster[READER]["rules"]) == METRICS_READER_RULES
    bindings = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ClusterRoleBinding"}
    assert set(bindings) == {OPERATOR, AGENT}, "no reader binding without metrics.readers"
    roles = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Role"}
    assert set(roles) == {OPERATOR, AGENT}, roles
    assert rule_set(roles[OPERATOR]["rules"]) == OPERATOR_NAMESPACE_RULES
    assert rule_set(roles[AGENT]["rules"]) == AGENT_RULES
    # config/ carries the same rules
    for rel, sa in (("config/rbac/operator.yaml", OPERATOR), ("config/rbac/agent.yaml", AGENT)):
        docs = list(yaml.safe_load_all((chartlib.ROOT / rel).read_text()))
        got = set().union(*(rule_set(d["rules"]) for d in docs if d["kind"] in ("Role", "ClusterRole")))
        if sa == AGENT:
            want = AGENT_RULES | METRICS_AUTH_RULES | AGENT_RENDER_RULES
        else:
            want = (
                OPERATOR_NAMESPACE_RULES
                | OPERATOR_PTPCONFIG_RULES
                | atoms("", "nodes", "get list watch")
                | METRICS_AUTH_RULES
                | METRICS_READER_RULES
            )
        assert got == want, rel


@test
def rbac_without_secure_metrics():
    objs = render({"metrics": {"secure": False}})
    check_bindings(objs)
    cluster = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ClusterRole"}
    assert set(cluster) == {OPERATOR, AGENT}, "no reader role"
    assert rule_set(cluster[OPERATOR]["rules"]) == atoms("", "nodes", "get list watch") | OPERATOR_PTPCONFIG_RULES
    assert rule_set(cluster[AGENT]["rules"]) == AGENT_RENDER_RULES
    # The agent's other modes read no PtpConfig nor Node; `configmap` reads the ConfigMap.
    for source, namespaced in (("configmap", AGENT_CONFIGMAP_RULES), ("file", set())):
        objs = render({"metrics": {"secure": False}, "agent": {"profileSource": source}})
        check_bindings(objs)
        cluster = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ClusterRole"}
        assert set(cluster) == {OPERATOR}, f"{source}: the agent has no ClusterRole"
        assert [o["metadata"]["name"] for o in objs if o["kind"] == "ClusterRoleBinding"] == [OPERATOR]
        assert rule_set(find(objs, "Role", AGENT, NAMESPACE)["rules"]) == AGENT_RULES | namespaced, source


@test
def metrics_readers():
    readers = [{"name": "prometheus-k8s", "namespace": "monitoring"}, {"name": "vmagent", "namespace": "vm"}]
    objs = render({"metrics": {"readers": readers}})
    check_bindings(objs)
    binding = find(objs, "ClusterRoleBinding", READER)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": READER}
    assert binding["subjects"] == [{"kind": "ServiceAccount", **r} for r in readers]
    assert not [o for o in render({"metrics": {"readers": readers}, "rbac": {"create": False}}) if "Role" in o["kind"]]


@test
def rbac_with_watch_namespaces_uses_roles():
    objs = render({"operator": {"watchNamespaces": ["ptp-a", "ptp-b"]}})
    check_bindings(objs)
    cluster = find(objs, "ClusterRole", OPERATOR)
    assert rule_set(cluster["rules"]) == atoms("", "nodes", "get list watch") | METRICS_AUTH_RULES
    for ns in ("ptp-a", "ptp-b"):
        role = find(objs, "Role", f"{OPERATOR}-ptpconfigs", ns)
        assert rule_set(role["rules"]) == OPERATOR_PTPCONFIG_RULES
        find(objs, "RoleBinding", f"{OPERATOR}-ptpconfigs", ns)
    assert rule_set(find(objs, "Role", OPERATOR, NAMESPACE)["rules"]) == OPERATOR_NAMESPACE_RULES
    assert env(find(objs, "Deployment"))["WATCH_NAMESPACES"] == "ptp-a,ptp-b"
    # The agent reads the PtpConfigs of the same namespaces, through Roles too.
    assert rule_set(find(objs, "ClusterRole", AGENT)["rules"]) == METRICS_AUTH_RULES | atoms("", "nodes", "get list watch")
    for ns in ("ptp-a", "ptp-b"):
        role = find(objs, "Role", f"{AGENT}-ptpconfigs", ns)
        assert rule_set(role["rules"]) == atoms("ptp.openshift.io", "ptpconfigs", "get list watch")
        find(objs, "RoleBinding", f"{AGENT}-ptpconfigs", ns)
    assert env(find(objs, "DaemonSet"))["WATCH_NAMESPACES"] == "ptp-a,ptp-b"


@test
def configmap_can_be_turned_off_with_self_rendering_agents():
    assert "WRITE_CONFIGMAP" not in env(find(render(None), "Deployment")), "written by default"
    off = find(render({"operator": {"writeConfigMap": False}}), "Deployment")
    assert env(off)["WRITE_CONFIGMAP"] == "false"
    for source in ("configmap", "file"):
        try:
            render_raw({"operator": {"writeConfigMap": False}, "agent": {"profileSource": source}})
        except helm.HelmError as e:
            assert "operator.writeConfigMap false needs agent.profileSource api" in str(e), e
        else:
            raise AssertionError(f"writeConfigMap false with profileSource {source} rendered")


@test
def rbac_can_be_turned_off():
    kinds = {o["kind"] for o in render({"rbac": {"create": False}})}
    assert not kinds & {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}, kinds


# ---------------------------------------------------------------- workloads


@test
def deployment_is_locked_down():
    dep = find(render(None), "Deployment", OPERATOR)
    pod = dep["spec"]["template"]["spec"]
    assert dep["spec"]["replicas"] == 1
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    c = container(dep)
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod and "priorityClassName" not in pod
    assert c["image"] == "quay.io/ptp-operator-rs/ptp-operator:0.1.0" and c["imagePullPolicy"] == "IfNotPresent"
    assert c["args"] == ["run"] and "command" not in c
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    e = env(dep)
    assert e["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert e["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert e["LEADER_ELECT"] == "true"
    assert e["AGENT_NODE_SELECTOR"] == "kubernetes.io/os=linux"
    assert e["WATCH_NAMESPACES"] == ""
    assert e["LOG_FORMAT"] == "text"
    assert "RUST_LOG" not in e
    assert (e["METRICS_AUTH"], e["METRICS_TLS"]) == ("tokenreview", "self-signed")
    assert "volumes" not in pod and "volumeMounts" not in c
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    sel = dep["spec"]["selector"]["matchLabels"]
    assert sel.items() <= dep["spec"]["template"]["metadata"]["labels"].items()


@test
def deployment_follows_values():
    objs = render(VALUE_SETS["custom"])
    dep = find(objs, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    c = container(dep)
    assert c["image"] == "registry.example.com/ptp/operator:1.2.3" and c["imagePullPolicy"] == "Always"
    # Helm merges maps: the default kubernetes.io/os stays unless set to null
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "node-role.kubernetes.io/control-plane": ""}
    assert pod["tolerations"] == VALUE_SETS["custom"]["operator"]["tolerations"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    e = env(dep)
    assert e["LOG_FORMAT"] == "json" and e["RUST_LOG"] == "debug"
    assert e["AGENT_NODE_SELECTOR"] == "kubernetes.io/os=linux,ptp/capable=true"
    only = find(render({"agent": {"nodeSelector": {"kubernetes.io/os": None, "ptp": "yes"}}}), "Deployment")
    assert env(only)["AGENT_NODE_SELECTOR"] == "ptp=yes"
    assert dep["metadata"]["labels"]["team"] == "timing"
    two = find(render(VALUE_SETS["replicas-2"]), "Deployment")
    assert two["spec"]["replicas"] == 2 and env(two)["LEADER_ELECT"] == "true"
    off = find(render({"operator": {"leaderElection": False}}), "Deployment")
    assert env(off)["LEADER_ELECT"] == "false"
    digest = "@sha256:" + "a" * 64
    pinned = find(render({"operator": {"image": {"repository": "r/op", "tag": digest, "pullPolicy": "Always"}}}), "Deployment")
    assert container(pinned)["image"] == "r/op" + digest


@test
def daemonset_has_what_linuxptp_needs():
    ds = find(render(None), "DaemonSet", AGENT)
    pod = ds["spec"]["template"]["spec"]
    c = container(ds)
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod["priorityClassName"] == "system-node-critical"
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert c["args"] == ["run", "--run-dir", "/var/run/ptp", "--profile-source", "api"], "the agent renders its own node by default"
    assert c["image"] == "quay.io/ptp-operator-rs/ptp-agent:0.1.0"
    e = env(ds)
    assert e["NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert e["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert (e["METRICS_AUTH"], e["METRICS_TLS"]) == ("tokenreview", "self-signed")
    assert "METRICS_TLS_CERT" not in e and "METRICS_TLS_KEY" not in e
    assert c["securityContext"]["privileged"] is True
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": 9091, "health": 8081}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert volumes["config"]["configMap"] == {"name": "ptp-configmap", "optional": True}
    assert mounts["config"]["mountPath"] == "/etc/linuxptp" and mounts["config"]["readOnly"] is True
    assert volumes["run-dir"]["hostPath"] == {"path": "/var/run/ptp", "type": "DirectoryOrCreate"}
    assert mounts["run-dir"]["mountPath"] == "/var/run/ptp"
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
    assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()


@test
def daemonset_with_explicit_capabilities():
    ds = find(render(VALUE_SETS["capabilities"]), "DaemonSet")
    sc = container(ds)["securityContext"]
    assert sc["privileged"] is False and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["SYS_TIME", "NET_ADMIN", "NET_RAW", "SYS_NICE", "NET_BIND_SERVICE"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    ds = find(render(VALUE_SETS["everything"]), "DaemonSet")
    assert container(ds)["securityContext"]["capabilities"]["add"] == ["SYS_TIME"]


@test
def daemonset_follows_values():
    ds = find(render(VALUE_SETS["custom"]), "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    c = container(ds)
    assert c["image"] == "registry.example.com/ptp/agent:1.2.3" and c["imagePullPolicy"] == "Never"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "ptp/capable": "true"}
    assert pod["tolerations"] == VALUE_SETS["custom"]["agent"]["tolerations"]
    assert ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == "10%"
    ds = find(render({"agent": {"runDir": "/run/ptp-lab"}}), "DaemonSet")
    assert container(ds)["args"] == ["run", "--run-dir", "/run/ptp-lab", "--profile-source", "api"]
    assert env(ds)["WATCH_NAMESPACES"] == ""
    assert "PTP_INCLUDE_SOFTWARE" not in env(ds)
    software = find(render({"agent": {"includeSoftwareTimestamping": True}}), "DaemonSet")
    assert env(software)["PTP_INCLUDE_SOFTWARE"] == "true"
    file_mode = find(render({"agent": {"profileSource": "file"}}), "DaemonSet")
    assert container(file_mode)["args"] == ["run", "--run-dir", "/var/run/ptp", "--profile", "/etc/linuxptp/$(NODE_NAME)", "--report-status"]
    assert "WATCH_NAMESPACES" not in env(file_mode)
    configmap_mode = find(render({"agent": {"profileSource": "configmap"}}), "DaemonSet")
    assert container(configmap_mode)["args"] == ["run", "--run-dir", "/var/run/ptp", "--profile-source", "configmap"]
    assert {"name": "run-dir", "hostPath": {"path": "/run/ptp-lab", "type": "DirectoryOrCreate"}} in ds["spec"]["template"]["spec"]["volumes"]


@test
def network_policy():
    np = find(render(ALL_ON), "NetworkPolicy")
    spec = np["spec"]
    dep = find(render(ALL_ON), "Deployment")
    assert spec["podSelector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (ing,) = spec["ingress"]
    assert {p["port"] for p in ing["ports"]} == {8080, 8081}
    assert ing["from"] == ALL_ON["networkPolicy"]["ingressFrom"]
    api, dns = spec["egress"]
    assert {p["port"] for p in api["ports"]} == {443, 6443} and api["to"] == [{"ipBlock": {"cidr": "10.0.0.1/32"}}]
    assert {p["port"] for p in dns["ports"]} == {53}
    open_np = find(render({"networkPolicy": {"enabled": True, "allowDNS": False}}), "NetworkPolicy")
    assert "from" not in open_np["spec"]["ingress"][0] and len(open_np["spec"]["egress"]) == 1
    assert "to" not in open_np["spec"]["egress"][0]


@test
def metrics_endpoints_follow_metrics_values():
    # a Secret's certificate instead of self-signed ones, mounted into both pods
    objs = render({"metrics": {"tlsSecretName": "ptp-metrics-tls"}})
    for workload in (find(objs, "Deployment"), find(objs, "DaemonSet")):
        e, c, pod = env(workload), container(workload), workload["spec"]["template"]["spec"]
        assert (e["METRICS_AUTH"], e["METRICS_TLS"]) == ("tokenreview", "files"), e
        assert (e["METRICS_TLS_CERT"], e["METRICS_TLS_KEY"]) == ("/etc/ptp-metrics-tls/tls.crt", "/etc/ptp-metrics-tls/tls.key")
        assert {"name": "metrics-tls", "mountPath": "/etc/ptp-metrics-tls", "readOnly": True} in c["volumeMounts"]
        assert {"name": "metrics-tls", "secret": {"secretName": "ptp-metrics-tls"}} in pod["volumes"]
    # plain HTTP, open: the former behaviour
    objs = render(merge(ALL_ON, {"metrics": {"secure": False, "tlsSecretName": "ignored"}}))
    for workload in (find(objs, "Deployment"), find(objs, "DaemonSet")):
        e = env(workload)
        assert (e["METRICS_AUTH"], e["METRICS_TLS"]) == ("none", "off"), e
        assert "METRICS_TLS_CERT" not in e
        assert all(v["name"] != "metrics-tls" for v in workload["spec"]["template"]["spec"].get("volumes", []))
    for sm in (o for o in objs if o["kind"] == "ServiceMonitor"):
        (ep,) = sm["spec"]["endpoints"]
        assert ep["scheme"] == "http" and "bearerTokenFile" not in ep and "tlsConfig" not in ep, ep
    # a verified certificate for Prometheus
    tls = {"ca": {"secret": {"name": "ptp-ca", "key": "ca.crt"}}, "serverName": "ptp-operator-metrics.openshift-ptp.svc"}
    objs = render(merge(ALL_ON, {"metrics": {"serviceMonitor": {"tlsConfig": tls}}}))
    for sm in (o for o in objs if o["kind"] == "ServiceMonitor"):
        assert sm["spec"]["endpoints"][0]["tlsConfig"] == {"insecureSkipVerify": True, **tls}
    notes = render_raw(None)["ptp-operator/templates/NOTES.txt"]
    assert f"--clusterrole={READER}" in notes, notes


@test
def notes_tell_what_to_do_next():
    notes = render_raw(None)["ptp-operator/templates/NOTES.txt"]
    for needle in ("kubectl get ptpcfg", "get npd", "PtpConfig", "config/samples/", "pod-security.kubernetes.io/enforce=privileged"):
        assert needle in notes, needle


# ---------------------------------------------------------------- values.schema.json


BAD_VALUES = {
    "agent.profileSource not api, configmap or file": {"agent": {"profileSource": "volume"}},
    "replicas 3": {"operator": {"replicas": 3}},
    "replicas 0": {"operator": {"replicas": 0}},
    "replicas as string": {"operator": {"replicas": "1"}},
    "replicas 2 without leader election": {"operator": {"replicas": 2, "leaderElection": False}},
    "leaderElection yes": {"operator": {"leaderElection": "yes"}},
    "unknown top-level key": {"replica": 2},
    "unknown operator key": {"operator": {"replica": 2}},
    "unknown agent key": {"agent": {"hostNetwork": False}},
    "unknown image key": {"agent": {"image": {"digest": "x"}}},
    "bad pullPolicy": {"operator": {"image": {"pullPolicy": "Sometimes"}}},
    "bad logFormat": {"operator": {"logFormat": "xml"}},
    "watchNamespaces not a list": {"operator": {"watchNamespaces": "a,b"}},
    "bad namespace name": {"operator": {"watchNamespaces": ["Not_A_Namespace"]}},
    "maxUnavailable 0": {"agent": {"updateStrategy": {"maxUnavailable": 0}}},
    "maxUnavailable 150%": {"agent": {"updateStrategy": {"maxUnavailable": "150%"}}},
    "no capabilities without privileged": {"agent": {"privileged": False, "capabilities": []}},
    "CAP_ prefix": {"agent": {"capabilities": ["CAP_SYS_TIME"]}},
    "privileged as string": {"agent": {"privileged": "true"}},
    "includeSoftwareTimestamping as string": {"agent": {"includeSoftwareTimestamping": "yes"}},
    "relative runDir": {"agent": {"runDir": "var/run/ptp"}},
    "toleration with bad operator": {"agent": {"tolerations": [{"operator": "Any"}]}},
    "nodeSelector value not a string": {"agent": {"nodeSelector": {"a": 1}}},
    "offset threshold 0": {"metrics": {"prometheusRule": {"offsetThresholdNs": 0}}},
    "bad alert duration": {"metrics": {"prometheusRule": {"for": "five minutes"}}},
    "bad severity": {"metrics": {"prometheusRule": {"severity": "page"}}},
    "unknown serviceMonitor key": {"metrics": {"serviceMonitor": {"enable": True}}},
    "bad api server port": {"networkPolicy": {"apiServer": {"ports": [70000]}}},
    "bad validationAction": {"admissionPolicy": {"validationActions": ["Reject"]}},
    "Deny with Warn": {"admissionPolicy": {"validationActions": ["Deny", "Warn"]}},
    "bad failurePolicy": {"admissionPolicy": {"failurePolicy": "Retry"}},
    "bad configMapName": {"configMapName": "Ptp_ConfigMap"},
    "admissionPolicy.enabled yes": {"admissionPolicy": {"enabled": "yes"}},
    "metrics.secure as string": {"metrics": {"secure": "true"}},
    "bad tlsSecretName": {"metrics": {"tlsSecretName": "TLS_Secret"}},
    "reader without namespace": {"metrics": {"readers": [{"name": "prometheus"}]}},
    "reader with a bad name": {"metrics": {"readers": [{"name": "Prometheus", "namespace": "monitoring"}]}},
    "unknown reader key": {"metrics": {"readers": [{"name": "p", "namespace": "m", "kind": "User"}]}},
    "tlsConfig not a map": {"metrics": {"serviceMonitor": {"tlsConfig": "insecure"}}},
}


def keys_of(values: dict) -> set:
    out = set()
    for k, v in values.items():
        out.add(k)
        if isinstance(v, dict):
            out |= keys_of(v)
    return out


@test
def schema_rejects_bad_values():
    c = chartlib.chart()
    accepted = []
    for label, values in BAD_VALUES.items():
        merged = c.merge_values(copy.deepcopy(values))
        try:
            c.validate_schema(merged)
        except helm.HelmError as e:
            # rejected for the right reason: the message names one of the keys
            if not any(k in str(e) for k in keys_of(values)):
                accepted.append(f"{label} (rejected for another reason: {e})")
        else:
            accepted.append(label)
            continue
        try:
            render_raw(values)
        except helm.HelmError:
            pass
        else:
            accepted.append(f"{label} (render)")
    assert not accepted, f"accepted: {accepted}"


@test
def schema_accepts_the_value_sets():
    c = chartlib.chart()
    for label, values in VALUE_SETS.items():
        c.validate_schema(c.merge_values(copy.deepcopy(values)))
    for extra in ({"agent": {"updateStrategy": {"maxUnavailable": "100%"}}}, {"operator": {"replicas": 2, "leaderElection": True}}):
        c.validate_schema(c.merge_values(extra))


@test
def values_yaml_documents_the_privileges():
    text = (chartlib.CHART_DIR / "values.yaml").read_text()
    readme = (chartlib.CHART_DIR / "README.md").read_text()
    for needle in ("CAP_SYS_TIME", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_NICE", "CAP_NET_BIND_SERVICE", "/dev/ptp"):
        assert needle in text and needle in readme, needle
    assert "helm install ptp-operator charts/ptp-operator -n openshift-ptp --create-namespace" in readme
    # every value is in the README's table (free-form maps as a whole)
    free_form = {"resources", "nodeSelector", "tolerations", "affinity", "annotations", "labels", "podAnnotations",
                 "podLabels", "commonLabels", "image", "serviceAccount", "cidrs", "ports", "tlsConfig"}
    missing = []

    def walk(prefix: str, node: dict) -> None:
        for k, v in node.items():
            path = f"{prefix}{k}"
            if isinstance(v, dict) and v and k not in free_form:
                walk(path + ".", v)
            elif f"`{path}" not in readme and f"`.{k}`" not in readme:
                missing.append(path)

    walk("", yaml.safe_load(text))
    assert not missing, f"not in charts/ptp-operator/README.md: {missing}"


# ---------------------------------------------------------------- admission policy (CEL)


def vap(objs: list[dict]) -> dict:
    return find(objs, "ValidatingAdmissionPolicy")


def cel_eval(expression: str, activation: dict):
    import celpy

    env = celpy.Environment()
    program = env.program(env.compile(expression))
    return program.evaluate({k: celpy.json_to_cel(v) for k, v in activation.items()})


def admission_request(user: str, extra: dict | None, name: str) -> dict:
    user_info = {"username": user, "groups": ["system:serviceaccounts", "system:authenticated"]}
    if extra is not None:
        user_info["extra"] = extra
    obj = {"apiVersion": "ptp.openshift.io/v1", "kind": "NodePtpDevice", "metadata": {"name": name, "namespace": NAMESPACE}}
    return {
        "request": {"operation": "UPDATE", "userInfo": user_info, "name": name, "namespace": NAMESPACE},
        "object": obj,
        "oldObject": obj,
    }


@test
def admission_policy_shape():
    objs = render(ALL_ON)
    policy = vap(objs)
    binding = find(objs, "ValidatingAdmissionPolicyBinding")
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    (rule,) = spec["matchConstraints"]["resourceRules"]
    assert rule == {
        "apiGroups": ["ptp.openshift.io"],
        "apiVersions": ["v1"],
        "operations": ["UPDATE"],
        "resources": ["nodeptpdevices", "nodeptpdevices/status"],
    }
    assert spec["matchConstraints"]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}}
    (cond,) = spec["matchConditions"]
    assert f"system:serviceaccount:{NAMESPACE}:{AGENT}" in cond["expression"]
    (validation,) = spec["validations"]
    assert validation["reason"] == "Forbidden"


@test
def admission_policy_auto_follows_the_cluster():
    """`auto` (the default) renders the policy when the cluster serves
    admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy. The Helm SDK renders offline
    without the cluster's API versions, so the check is replaced by `true` in a copy of the
    chart to see the `auto` branch taken; true and false force it."""
    import shutil

    has = '.Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"'
    helpers = (chartlib.CHART_DIR / "templates" / "_helpers.tpl").read_text()
    assert helpers.count(has) == 1, "the auto check asks for the kind, not only the group/version"
    values = yaml.safe_load((chartlib.CHART_DIR / "values.yaml").read_text())
    assert values["admissionPolicy"]["enabled"] == "auto"

    def kinds(objs):
        return {o["kind"] for o in objs} & {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}

    assert kinds(render(None)) == set(), "offline, the cluster's API versions are unknown"
    assert kinds(render({"admissionPolicy": {"enabled": "auto"}})) == set()
    assert kinds(render({"admissionPolicy": {"enabled": False}})) == set()
    assert len(kinds(render({"admissionPolicy": {"enabled": True}}))) == 2
    with tempfile.TemporaryDirectory() as tmp:
        copy_dir = Path(tmp) / "ptp-operator"
        shutil.copytree(chartlib.CHART_DIR, copy_dir)
        (copy_dir / "templates" / "_helpers.tpl").write_text(helpers.replace(has, "true"))
        served = helm.Chart.load(str(copy_dir))

        def render_served(v):
            out = served.render(values=v, name=chartlib.RELEASE, namespace=NAMESPACE)
            return [d for path, text in out.items() if not path.endswith("NOTES.txt") for d in yaml.safe_load_all(text) if d]

        assert len(kinds(render_served(None))) == 2, "auto with the API served"
        assert kinds(render_served({"admissionPolicy": {"enabled": False}})) == set(), "false forces it off"
        notes = served.render(values=None, name=chartlib.RELEASE, namespace=NAMESPACE)["ptp-operator/templates/NOTES.txt"]
        assert "ValidatingAdmissionPolicy" not in notes
    notes = render_raw(None)["ptp-operator/templates/NOTES.txt"]
    assert "any agent may update every NodePtpDevice" in notes, notes


@test
def config_manifests_include_the_admission_policy():
    docs = list(yaml.safe_load_all((chartlib.ROOT / "config/admission/agent-own-node.yaml").read_text()))
    assert [d["kind"] for d in docs if d] == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    header = (chartlib.ROOT / "config/admission/agent-own-node.yaml").read_text()
    assert "-f config/admission" in header


@test
def admission_policy_cel():
    try:
        import celpy  # noqa: F401
    except ImportError:
        raise AssertionError("cel-python is not installed in .venv (pip install cel-python==0.5.0)")
    spec = vap(render(ALL_ON))["spec"]
    (cond,) = spec["matchConditions"]
    (validation,) = spec["validations"]
    key = "authentication.kubernetes.io/node-name"
    agent = f"system:serviceaccount:{NAMESPACE}:{AGENT}"
    cases = [
        # (description, user, extra, object name, matches, allowed)
        ("own node", agent, {key: ["worker-0"]}, "worker-0", True, True),
        ("other node", agent, {key: ["worker-0"]}, "worker-1", True, False),
        ("no extra", agent, None, "worker-0", True, False),
        ("extra without node name", agent, {"authentication.kubernetes.io/pod-name": ["p"]}, "worker-0", True, False),
        ("empty node name list", agent, {key: []}, "worker-0", True, False),
        ("two node names", agent, {key: ["worker-1", "worker-0"]}, "worker-1", True, False),
        ("operator is not restricted", f"system:serviceaccount:{NAMESPACE}:{OPERATOR}", None, "worker-1", False, None),
        ("agent SA of another namespace", f"system:serviceaccount:other:{AGENT}", {key: ["w"]}, "x", False, None),
        ("a user", "kubernetes-admin", None, "worker-1", False, None),
    ]
    failures = []
    for desc, user, extra, name, matches, allowed in cases:
        act = admission_request(user, extra, name)
        got_match = bool(cel_eval(cond["expression"], act))
        if got_match != matches:
            failures.append(f"{desc}: matchCondition {got_match}, want {matches}")
            continue
        if matches:
            got = bool(cel_eval(validation["expression"], act))
            if got != allowed:
                failures.append(f"{desc}: validation {got}, want {allowed}")
            if not got:
                msg = str(cel_eval(validation["messageExpression"], act))
                if name not in msg:
                    failures.append(f"{desc}: message {msg!r}")
    assert not failures, failures


# ---------------------------------------------------------------- config/ drift


@test
def config_manifests_match_the_chart():
    problems = render_manifests.check()
    assert not problems, "config/ drifted from the chart (run e2e/chart/render_manifests.py):\n" + "\n".join(problems)


@test
def drift_is_detected():
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel in render_manifests.manifests():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(chartlib.ROOT / rel, root / rel)
        assert render_manifests.check(root) == []
        daemonset = root / "config/agent/daemonset.yaml"
        daemonset.write_text(daemonset.read_text().replace("system-node-critical", "system-cluster-critical"))
        (root / "config/rbac/agent.yaml").unlink()
        problems = render_manifests.check(root)
        assert len(problems) == 2 and "system-node-critical" in problems[1 if "agent.yaml" in problems[0] else 0], problems


@test
def config_manifests_validate():
    for rel in render_manifests.manifests():
        for obj in yaml.safe_load_all((chartlib.ROOT / rel).read_text()):
            assert "helm.sh/chart" not in json.dumps(obj), rel
            for version in KUBE_VERSIONS:
                kubernetes_validate.validate(obj, version, strict=True)


# ---------------------------------------------------------------- images (no engine needed)


def dockerfile_stages(name: str) -> list[dict]:
    """The stages of a Dockerfile: base image, alias and instructions (continuations joined)."""
    text = (chartlib.ROOT / name).read_text().replace("\\\n", " ")
    stages: list[dict] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            base, _, alias = rest.partition(" AS ")
            stages.append({"base": base.strip(), "alias": alias.strip(), "lines": []})
        else:
            stages[-1]["lines"].append((word.upper(), rest.strip()))
    return stages


def instruction(stage: dict, word: str) -> list[str]:
    return [rest for w, rest in stage["lines"] if w == word]


@test
def dockerfiles_fit_the_chart_and_the_workspace():
    rust_version = re.search(r'rust-version = "([0-9.]+)"', (chartlib.ROOT / "Cargo.toml").read_text()).group(1)
    dep = find(render(None), "Deployment", OPERATOR)
    ds = find(render(None), "DaemonSet", AGENT)
    for name, binary, workload in [("Dockerfile.operator", "ptp-operator", dep), ("Dockerfile.daemon", "ptp-agent", ds)]:
        stages = dockerfile_stages(name)
        build, runtime = stages[0], stages[-1]
        assert build["alias"] == "build" and build["base"].startswith(f"rust:{rust_version}-"), (name, build["base"])
        (cargo,) = [r for r in instruction(build, "RUN") if "cargo build" in r]
        assert f"--release --locked -p {binary}" in cargo, cargo
        assert instruction(runtime, "COPY")[-1] == f"--from=build /{binary} /usr/local/bin/{binary}", name
        assert instruction(runtime, "ENTRYPOINT") == [f'["/usr/local/bin/{binary}"]'], name
        # The chart passes only args: the entrypoint must be the binary, and args start with "run".
        c = container(workload)
        assert "command" not in c and c["args"][0] == "run", name
    operator_runtime = dockerfile_stages("Dockerfile.operator")[-1]
    assert operator_runtime["base"].startswith("gcr.io/distroless/static"), "a minimal image for a static binary"
    (user,) = instruction(operator_runtime, "USER")
    assert user.split(":")[0] == str(dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"]), user
    operator_build = dockerfile_stages("Dockerfile.operator")[0]
    assert "alpine" in operator_build["base"], "musl: a static binary"
    agent_stages = dockerfile_stages("Dockerfile.daemon")
    agent_runtime = agent_stages[-1]
    assert agent_runtime["base"].startswith("debian:") and agent_runtime["base"].endswith("-slim")
    (apt,) = [r for r in instruction(agent_runtime, "RUN") if "apt-get install" in r]
    for package in ("chrony", "ethtool", "iproute2"):
        assert re.search(rf"\b{package}\b", apt), f"the agent image needs {package}"
    # linuxptp 4.2 (haProfiles needs it), built from the tarball scripts/linuxptp.sh checks, first
    # on PATH (/usr/local/sbin) for the agent and for timemaster's children.
    (linuxptp,) = [st for st in agent_stages if st["alias"] == "linuxptp"]
    sha = re.search(r"^SHA256=([0-9a-f]{64})$", (chartlib.ROOT / "scripts" / "linuxptp.sh").read_text(), re.M).group(1)
    (add,) = instruction(linuxptp, "ADD")
    assert f"--checksum=sha256:{sha}" in add and "linuxptp_4.2.orig.tar.gz" in add, add
    assert "--from=linuxptp /opt/linuxptp/sbin/ /usr/local/sbin/" in instruction(agent_runtime, "COPY")
    ignored = (chartlib.ROOT / ".dockerignore").read_text().split()
    assert "target" in ignored and ".git" in ignored, "the build context leaves out target/ and .git"


# ---------------------------------------------------------------- e2e/kind, without a cluster


KIND_DIR = chartlib.ROOT / "e2e" / "kind"


@test
def kind_suite_script_parses():
    r = subprocess.run(["bash", "-n", str(KIND_DIR / "run.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@test
def kind_suite_refuses_to_run_without_opt_in():
    """Without E2E_KIND=1, run.sh exits 2 with a message, runs none of its tools, creates nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        stubs, scratch, calls = Path(tmp, "bin"), Path(tmp, "tmp"), Path(tmp, "calls")
        stubs.mkdir()
        scratch.mkdir()
        for tool in ("kind", "kubectl", "helm", "docker", "podman", "just", "cargo", "python3"):
            stub = stubs / tool
            stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\n')
            stub.chmod(0o755)
        base = {k: v for k, v in os.environ.items() if k != "E2E_KIND"}
        base.update(PATH=f"{stubs}{os.pathsep}{os.environ.get('PATH', '')}", TMPDIR=str(scratch))
        for value in (None, "", "0", "true", "yes"):
            env = base if value is None else {**base, "E2E_KIND": value}
            r = subprocess.run(
                ["bash", str(KIND_DIR / "run.sh")], env=env, cwd=tmp, capture_output=True, text=True, timeout=60
            )
            assert r.returncode == 2, (value, r.returncode, r.stdout, r.stderr)
            assert r.stdout == "" and "E2E_KIND=1" in r.stderr, (value, r.stdout, r.stderr)
        assert not calls.exists(), calls.read_text()
        assert list(scratch.iterdir()) == []


@test
def kind_suite_values_fit_the_chart():
    values = yaml.safe_load((KIND_DIR / "values.yaml").read_text())
    c = chartlib.chart()
    c.validate_schema(c.merge_values(copy.deepcopy(values)))
    objs = render(values)
    dep, ds = find(objs, "Deployment", OPERATOR), find(objs, "DaemonSet", AGENT)
    assert container(dep)["image"] == "ptp-operator:e2e" and container(ds)["image"] == "ptp-agent:e2e"
    assert container(dep)["imagePullPolicy"] == container(ds)["imagePullPolicy"] == "Never"
    # kind nodes share the host's kernel: no agent process may adjust the host's clock.
    sc = container(ds)["securityContext"]
    assert sc["privileged"] is False and sc["capabilities"]["add"] == ["NET_ADMIN", "NET_RAW", "SYS_NICE", "NET_BIND_SERVICE"]
    # run.sh finds both by these labels, and execs into the container named agent.
    for obj, component in ((dep, "operator"), (ds, "agent")):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == chartlib.RELEASE
        assert labels["app.kubernetes.io/component"] == component
    assert container(ds)["name"] == "agent"
    script = (KIND_DIR / "run.sh").read_text()
    for needle in (f"RELEASE={chartlib.RELEASE}\n", f"NAMESPACE={NAMESPACE}\n", "TAG=e2e\n"):
        assert needle in script, needle
    cluster = yaml.safe_load((KIND_DIR / "cluster.yaml").read_text())
    assert [n["role"] for n in cluster["nodes"]] == ["control-plane", "worker", "worker"]


@test
def kind_suite_checks_compare_what_they_should():
    spec = importlib.util.spec_from_file_location("kind_check", KIND_DIR / "check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    nodes = ["a", "b"]
    profiles = [{"name": "cfg_p", "interface": "eth0", "ptp4lOpts": "-2"}]
    value = json.dumps(profiles, separators=(",", ":"))
    rendered = {"data": {"a": "[]", "b": value}}
    assert check.configmap_problems(nodes, copy.deepcopy(rendered), rendered) == []
    (problem,) = check.configmap_problems(nodes, {"data": {"a": "[]", "b": value.replace("-2", "-s")}}, rendered)
    assert problem.startswith("b: ") and "ptp4lOpts" in problem, problem
    (problem,) = check.configmap_problems(nodes, {"data": {"a": "[]", "b": json.dumps(profiles)}}, rendered)
    assert "same JSON, different text" in problem, problem
    assert check.configmap_problems(nodes, {"data": {"a": "[]"}}, rendered) == ["no key for nodes ['b']"]
    assert check.empty_problems(nodes, {"data": {"a": "[]", "b": "[]"}}) == []
    assert check.empty_problems(nodes, rendered) == [f"b: {value}"]

    def device(name: str, applied: list[str]) -> dict:
        status = {"lastUpdateTime": "2025-01-01T00:00:00Z", "devices": [{"name": "eth0"}], "deviceCount": 1}
        return {"metadata": {"name": name}, "status": {**status, "appliedProfiles": applied}}

    assert check.device_problems(nodes, rendered, {"items": [device("a", []), device("b", ["cfg_p"])]}) == []
    problems = check.device_problems(nodes, rendered, {"items": [device("a", []), {"metadata": {"name": "b"}}]})
    assert len(problems) == 3, problems  # no lastUpdateTime, no devices, profiles not applied
    assert check.device_problems(nodes, rendered, {"items": [device("a", [])]}) == ["NodePtpDevices ['a'], nodes ['a', 'b']"]
    running = {"items": [{"metadata": {"name": "b"}, "status": {"processes": [
        {"profile": "cfg_p", "process": "ptp4l", "state": "Running", "restarts": 0}]}}]}
    assert check.process_problems(running, "b", "cfg_p", "ptp4l", "Running") == []
    assert check.process_problems(running, "b", "cfg_p", "phc2sys", "Running")
    assert check.process_problems(running, "a", "cfg_p", "ptp4l", "Running") == ["no NodePtpDevice a"]


def main(argv: list[str]) -> int:
    only = argv[1] if len(argv) == 2 and argv[0] == "-k" else None
    passed = failed = 0
    for fn in TESTS:
        if only and only not in fn.__name__:
            continue
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}")
            if not isinstance(e, AssertionError):
                traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {fn.__name__}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
