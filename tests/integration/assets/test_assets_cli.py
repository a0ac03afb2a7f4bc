"""``millstream assets list|events`` over a store seeded directly, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from engine_helpers import Home

from millstream.store.asset_records import AssetRecord
from millstream.store.records import TaskInstanceKey

DAY = datetime(2026, 1, 1, tzinfo=UTC)
SALES = AssetRecord("warehouse.sales_fact", "warehouse.sales_fact")
ORPHAN = AssetRecord("s3://lake/[raw]/orders", "orders")


def _run(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "millstream.cli.main", *args],
                          env=home.process_env(), capture_output=True, text=True, timeout=60,
                          cwd=home.scratch)


def test_an_empty_store_says_there_is_nothing(home: Home) -> None:
    assert home.cli("assets", "list").stdout.strip() == (
        "no assets: no task has outlets and no DAG is scheduled on assets")
    assert home.cli("assets", "events").stdout.strip() == "no asset events"
    assert json.loads(home.cli("assets", "list", "--json").stdout) == []
    assert json.loads(home.cli("assets", "events", "--json").stdout) == []


def test_list_and_events_show_producers_consumers_and_the_latest_events(home: Home) -> None:
    store = home.store()
    with store.transaction():
        for dag_id in ("etl", "report", "retired"):
            store.dags.upsert(dag_id, f"/dags/{dag_id}.py", "{}", "v1", DAY)
        store.assets.set_references("etl", [], {"load": [SALES], "extract": [ORPHAN]}, DAY)
        store.assets.set_references("report", [SALES], {}, DAY)
        store.assets.set_references("retired", [SALES], {"old_load": [SALES]}, DAY)
        store.dags.deactivate_missing([], ["/dags/retired.py"])
        for i in range(3):
            store.assets.record_event(SALES.uri, DAY + timedelta(hours=i),
                                      TaskInstanceKey("etl", f"manual__{i}", "load", i - 1))

    listed = home.cli("assets", "list").stdout
    sales_line = next(line for line in listed.splitlines() if SALES.uri in line)
    assert "etl.load" in sales_line and "report" in sales_line
    assert "retired" not in listed  # a DAG gone from its file is neither producer nor consumer
    assert "2026-01-01T02:00:00+00:00 by etl.load[1]" in sales_line
    orphan_line = next(line for line in listed.splitlines() if "orders" in line)
    assert "s3://lake/[raw]/orders" in orphan_line  # brackets are text, not markup
    assert "etl.extract" in orphan_line and "never" in orphan_line

    rows = {row["uri"]: row for row in json.loads(home.cli("assets", "list", "--json").stdout)}
    assert rows[SALES.uri]["producing_tasks"] == ["etl.load"]
    assert rows[SALES.uri]["consuming_dags"] == ["report"]
    assert rows[SALES.uri]["last_event"]["source_run_id"] == "manual__2"
    assert rows[ORPHAN.uri]["last_event"] is None

    events = home.cli("assets", "events", "--limit", "2").stdout.splitlines()
    body = [line for line in events if SALES.uri in line]
    assert len(body) == 2
    assert "manual__2" in body[0] and "etl.load[1]" in body[0]
    assert "manual__1" in body[1] and "etl.load[0]" in body[1]
    only = json.loads(home.cli("assets", "events", "--asset", ORPHAN.uri, "--json").stdout)
    assert only == []
    assert home.cli("assets", "events", "--asset", ORPHAN.uri).stdout.strip() == (
        f"no asset events of {ORPHAN.uri}")

    bad = _run(home, "assets", "events", "--limit", "0")
    assert bad.returncode == 2 and "Invalid value for '--limit'" in bad.stderr
