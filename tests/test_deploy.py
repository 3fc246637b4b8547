"""deploy/: the Grafana dashboard and the Prometheus alerts use only metrics the server
exports (a renamed metric would leave a blank panel or an alert that never fires); the
Dockerfile, compose file and Kubernetes manifests keep their promises."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from notes_bff.config import Settings
from notes_bff.metrics import Metrics

DEPLOY = Path(__file__).parent.parent / "deploy"
METRIC = re.compile(r"\bnotes_bff_[a-z0-9_]+")
SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
}


def _exported() -> set[str]:
    """Every sample name the server's metrics expose."""
    return {
        family.name + suffix
        for family in Metrics().registry.collect()
        for suffix in SAMPLE_SUFFIXES[family.type]
    }


def test_dashboard_queries_use_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    expressions = [target["expr"] for panel in panels for target in panel["targets"]]
    assert len(expressions) >= len(panels) > 20
    used = {name for expr in expressions for name in METRIC.findall(expr)}
    assert used and used <= _exported(), used - _exported()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_alert_rules_use_exported_metrics() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {
        "NotesBffHighErrorRatio",
        "NotesBffSlowOperation",
        "NotesBffReadinessFlapping",
        "NotesBffRedisDegraded",
        "NotesBffSlowConsumers",
        "NotesBffFanOutLag",
    } <= {alert["alert"] for alert in alerts}
    for alert in alerts:
        assert alert["labels"]["severity"] in {"page", "ticket"}
        assert alert["annotations"]["summary"]
        used = set(METRIC.findall(alert["expr"]))
        assert used and used <= _exported(), (alert["alert"], used - _exported())


# The deployment files (Dockerfile, compose, Kubernetes): what they promise, checked where it
# can be here, and with the tools when they are installed: the manifests against Kubernetes'
# schemas (kubernetes-validate), the Dockerfile's lint (hadolint), the compose file against
# the compose specification (check-jsonschema), HAProxy's configuration check (haproxy -c),
# kustomize's build (kubectl kustomize).
# Not checked here: that the image builds and the compose file runs (no Docker daemon).
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose"
SETTING = re.compile(r"\bNOTES_BFF_[A-Z0-9_]+")
REDIS_TOPOLOGIES = {
    "NOTES_BFF_REDIS_URL",
    "NOTES_BFF_REDIS_CLUSTER_NODES",
    "NOTES_BFF_REDIS_SENTINELS",
}


def _manifests() -> dict[str, dict[str, Any]]:
    """The Kubernetes objects that kustomization.yaml applies, by kind."""
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    objects = [
        doc
        for name in kustomization["resources"]
        for doc in yaml.safe_load_all((KUBERNETES / name).read_text())
    ]
    return {obj["kind"]: obj for obj in objects}


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((COMPOSE / "compose.yaml").read_text()))


def test_deploy_files_name_only_real_settings() -> None:
    known = {f"NOTES_BFF_{name.upper()}" for name in Settings.model_fields}
    for path in [DEPLOY / "Dockerfile", *COMPOSE.iterdir(), *KUBERNETES.iterdir()]:
        used = set(SETTING.findall(path.read_text()))
        assert used <= known, (path.name, used - known)


def test_kubernetes_manifests() -> None:
    objects = _manifests()
    applied = set(yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"])
    assert applied == {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert objects["Service"]["spec"]["selector"].items() <= labels.items()
    assert (
        objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    )
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    [metric] = objects["HorizontalPodAutoscaler"]["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    [container] = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {
        e["configMapRef" if "configMapRef" in e else "secretRef"]["name"]
        for e in container["envFrom"]
    } == {
        objects["ConfigMap"]["metadata"]["name"],
        objects["Secret"]["metadata"]["name"],
    }
    # SIGKILL never comes before the preStop pause, the drain and the requests' grace.
    config = objects["ConfigMap"]["data"]
    [_, pause] = container["lifecycle"]["preStop"]["exec"]["command"]
    needed = int(pause) + int(config["NOTES_BFF_DRAIN_SECONDS"])
    needed += int(config["NOTES_BFF_GRACEFUL_TIMEOUT_SECONDS"])
    assert pod["spec"]["terminationGracePeriodSeconds"] > needed
    # Readiness has failed for good before the server stops accepting.
    probe = container["readinessProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] <= int(
        config["NOTES_BFF_DRAIN_SECONDS"]
    )
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    secrets = {**config, **objects["Secret"]["stringData"]}
    assert len(REDIS_TOPOLOGIES & set(secrets)) == 1
    assert all(not value for value in objects["Secret"]["stringData"].values())  # no known key


def test_kubernetes_manifests_match_the_api_schemas() -> None:
    validate = pytest.importorskip("kubernetes_validate", reason="the dev extra installs it")
    for name in yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]:
        for doc in yaml.safe_load_all((KUBERNETES / name).read_text()):
            validate.validate(doc, "1.32.0", strict=True)


def test_compose_runs_two_replicas_behind_a_websocket_balancer() -> None:
    services = _compose()["services"]
    replicas = [name for name, service in services.items() if "bff" in name]
    assert replicas == ["bff-1", "bff-2"]
    for name in replicas:
        service = services[name]
        environment = service["environment"]
        assert environment["NOTES_BFF_ENV"] == "production"
        assert len(REDIS_TOPOLOGIES & set(environment)) == 1
        assert "replicaSet=rs0" in environment["NOTES_BFF_MONGODB_URI"]
        assert (
            service["depends_on"]["mongodb-init"]["condition"] == "service_completed_successfully"
        )
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert "--replSet" in services["mongodb"]["command"]
    assert "rs.initiate" in " ".join(services["mongodb-init"]["command"])
    balancer = (COMPOSE / "haproxy.cfg").read_text()
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in services["lb"]["volumes"]
    for name in replicas:
        assert re.search(rf"^\s*server {name} {name}:8000 check", balancer, re.MULTILINE)
    assert "option httpchk GET /readyz" in balancer  # no traffic to a draining replica
    assert "timeout tunnel" in balancer  # upgraded websockets outlive the HTTP timeouts
    trusted = services["bff-1"]["environment"]["NOTES_BFF_TRUSTED_PROXIES"]
    address = services["lb"]["networks"]["backend"]["ipv4_address"]
    assert trusted == f"{address}/32"


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2
    [user] = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user.split(":")[0] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", text, re.MULTILINE)
    assert "embedded" not in text.replace("no embedded servers", "")
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert ignored[ignored.index("*") + 1 :] == ["!pyproject.toml", "!notes_bff/", "**/__pycache__"]


def _tool(name: str, where: str) -> str:
    # The virtualenv's own scripts first: `make test` runs .venv/bin/pytest without activating it.
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    path = shutil.which(name, path=search)
    if path is None:
        pytest.skip(f"{name} is not installed ({where})")
    return path


@pytest.mark.parametrize(
    ("tool", "where", "args"),
    [
        ("hadolint", "the dev extra", [str(DEPLOY / "Dockerfile")]),
        (
            "check-jsonschema",
            "the dev extra",
            ["--builtin-schema", "vendor.compose-spec", str(COMPOSE / "compose.yaml")],
        ),
        ("haproxy", "Debian's haproxy package", ["-c", "-f", str(COMPOSE / "haproxy.cfg")]),
        ("kubectl", "not a Python package", ["kustomize", str(KUBERNETES)]),
    ],
)
def test_deploy_files_pass_their_tools_checks(tool: str, where: str, args: list[str]) -> None:
    """hadolint's lint of the Dockerfile, the compose specification's schema, HAProxy's own
    configuration check, kustomize's build of the manifests."""
    result = subprocess.run(
        [_tool(tool, where), *args], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
