"""A DAG's charts page: SVG bars per run, lines per task, a calendar of days."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from millstream.services import trigger
from tests.integration.ui.conftest import Seeded
from tests.integration.ui.ui_helpers import UiEnv


def test_the_charts_draw_each_run_task_and_day(ui: UiEnv, seeded: Seeded) -> None:
    page = ui.get("viewer", "/dags/ui_etl/charts").text
    assert 'aria-current="page">Charts</a>' in page
    bars = re.findall(r'<rect class="bar st-(\w+)" data-run-id="([^"]+)"', page)
    assert [run_id.replace("&#43;", "+") for _, run_id in bars] == list(seeded.etl_runs)
    assert {state for state, _ in bars} == {"success"}
    tasks = re.findall(r'<g class="series series-\d" data-task-id="([^"]+)">', page)
    assert 1 <= len(tasks) <= 8 and set(tasks) <= {"extract", "transform.double",
                                                   "transform.check", "square", "load"}
    # the seeded runs are for 2026-01-01 to -03: days long before the calendar's half year
    days = re.findall(r'<rect class="day st-(\w+)" data-day="([\d-]+)"', page)
    assert len(days) > 26 * 7 - 7 and {state for state, _ in days} == {"none"}


def test_the_calendar_shows_a_recent_run_s_day(ui: UiEnv) -> None:
    store = ui.store()
    now = datetime.now(UTC)
    run = trigger.trigger_run(store, "ui_failing", who="tests", now=now, run_id="today")
    page = ui.get("viewer", "/dags/ui_failing/charts").text
    day = run.logical_date.date().isoformat()
    found = re.search(rf'<rect class="day st-(\w+)" data-day="{day}" data-state="(\w+)"', page)
    assert found is not None and found.group(1) == "queued"
    assert "1 queued" in page
