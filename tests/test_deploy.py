"""deploy/: the Grafana dashboard and the Prometheus alerts use only metrics the server
exports (a renamed metric would leave a blank panel or an alert that never fires)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

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
