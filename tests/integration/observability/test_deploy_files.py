"""The Grafana dashboard and the Prometheus alert rules query only what millstream exports,
with labels those families have."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from millstream.observability import families
from millstream.observability.task_series import TaskTrySeries
from millstream.observability.user_metrics import prometheus_name

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy" / "grafana" / "millstream.json"
ALERTS = ROOT / "deploy" / "prometheus" / "millstream-alerts.yml"
EXAMPLE = ROOT / "examples" / "dags" / "pipeline_with_observability.py"
# The orchestration guide's metrics: each is a panel of the dashboard.
ARTICLE_PANELS = ("DAG Run Duration", "Task Success Rate", "Queue Latency", "Scheduler Heartbeat",
                  "Records Processed", "Data Freshness", "Error Rates", "SLA Compliance")
NAME = re.compile(r"\bmillstream_[A-Za-z0-9_]+")
SELECTOR = re.compile(r"\b(millstream_[A-Za-z0-9_]+)\{([^}]*)\}")
MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
SUFFIXES = ("_total", "_bucket", "_sum", "_count")


def example_names() -> set[str]:
    """What pipeline_with_observability's PipelineMetrics exports (see common/metrics.py)."""
    names: set[str] = set()
    kinds = {"counter": "counter", "gauge": "gauge", "timing": "histogram"}
    for kind, name in re.findall(r'emit_(counter|gauge|timing)\(\s*"([^"]+)"',
                                 EXAMPLE.read_text()):
        family = prometheus_name(name + ("_seconds" if kind == "timing" else ""), kinds[kind])
        suffixes = {"counter": ("_total",), "gauge": ("",),
                    "histogram": ("_bucket", "_sum", "_count")}[kinds[kind]]
        names.update(family + s for s in suffixes)
    return names


def exported() -> set[str]:
    return families.exported_names() | example_names()


def labels_of(sample_name: str) -> set[str] | None:
    """The label names of a built-in family's samples (None: task code's own metric)."""
    base = sample_name
    for suffix in SUFFIXES:
        base = base.removesuffix(suffix)
    for registry in (families.GROUPS.scheduler, families.GROUPS.worker,
                     families.GROUPS.triggerer):
        collector = registry._names_to_collectors.get(base) or \
            registry._names_to_collectors.get(sample_name)
        if collector is not None:
            extra = {"le"} if sample_name.endswith("_bucket") else set()
            names = (collector.label_names(base) if isinstance(collector, TaskTrySeries)
                     else collector._labelnames)
            return set(names) | {"component", "hostname"} | extra
    known = {"millstream_pool_slots": {"pool", "state"},
             "millstream_dag_import_errors": set(),
             "millstream_heartbeat_age_seconds": set()}
    if sample_name in known:
        return known[sample_name] | {"component", "hostname"}
    return None


def check_expression(expr: str, where: str) -> set[str]:
    names = set(NAME.findall(expr))
    assert names, f"{where}: no millstream metric in {expr!r}"
    missing = names - exported()
    assert not missing, f"{where}: {sorted(missing)} are not exported"
    for name, matchers in SELECTOR.findall(expr):
        known = labels_of(name)
        if known is not None:
            unknown = set(MATCHER.findall(matchers)) - known
            assert not unknown, f"{where}: {name} has no label {sorted(unknown)}"
    return names


def test_the_example_names_are_what_it_emits() -> None:
    assert "millstream_pipeline_extract_records_total" in example_names()
    assert "millstream_pipeline_data_freshness_minutes" in example_names()
    assert "millstream_pipeline_total_duration_seconds_bucket" in example_names()


def test_every_dashboard_query_names_an_exported_metric() -> None:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    titles = [p["title"] for p in panels]
    for title in ARTICLE_PANELS:
        assert title in titles
    used: set[str] = set()
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used |= check_expression(target["expr"], f"panel {panel['title']!r}")
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            check_expression(variable["definition"], f"variable {variable['name']}")
    # Every family millstream exports has a panel.
    charted = {re.sub(r"_(bucket|sum|count|total)$", "", n) for n in used}
    for family in exported():
        if not family.startswith("millstream_pipeline_"):
            assert re.sub(r"_(bucket|sum|count|total)$", "", family) in charted, family


def test_every_alert_rule_names_an_exported_metric() -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    found = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert rule["labels"]["severity"] in ("warning", "critical")
            check_expression(rule["expr"], f"alert {rule['alert']}")
            found[rule["alert"]] = rule["expr"]
    assert "millstream_heartbeat_age_seconds" in found["MillstreamSchedulerHeartbeatStale"]
    assert 'state="failed"' in found["MillstreamTaskFailureRateHigh"]
    assert "histogram_quantile(0.95" in found["MillstreamQueueLatencyP95High"]
