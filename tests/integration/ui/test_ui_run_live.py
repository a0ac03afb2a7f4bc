"""The run page while its run is live: one state everywhere, real tries and times, and rows
refreshed from the page's own template."""

from __future__ import annotations

import re
from datetime import timedelta

from millstream.model.states import DagRunState, TaskState
from millstream.services import trigger
from millstream.store.records import TaskInstanceKey
from tests.integration.ui.ui_helpers import DAY, UiEnv

STARTED = DAY + timedelta(hours=1)


def run_states(page: str) -> list[str]:
    """The run's state in the page's header and in its Run panel."""
    return re.findall(r'class="run-state" data-state="(\w+)"', page)


def test_a_queued_run_shows_queued_in_the_header_and_the_panel(ui: UiEnv) -> None:
    store = ui.store()
    run = trigger.trigger_run(store, "ui_failing", who="tests", now=DAY, run_id="live_1")
    page = ui.get("viewer", "/dags/ui_failing/run", run_id=run.run_id).text
    assert run_states(page) == ["queued", "queued"]
    assert 'data-active="true"' in page

    live = ui.get("viewer", "/ui/api/dags/ui_failing/run", run_id=run.run_id).json()
    assert (live["state"], live["active"], live["count"]) == ("queued", True, 3)
    assert live["fields"]["start_date"] == "\u2013"
    # the rows are the page's own rows
    body = re.search(r'<tbody id="ti-rows">(.*?)</tbody>', page, re.S)
    assert body is not None and body.group(1).strip() == live["rows_html"].strip()


def test_the_live_rows_show_each_instance_s_try_and_times(ui: UiEnv) -> None:
    store = ui.store()
    run = trigger.trigger_run(store, "ui_failing", who="tests", now=DAY, run_id="live_2")
    run = store.runs.set_state(run, DagRunState.RUNNING, start_date=STARTED)
    ti = store.task_instances.get(TaskInstanceKey("ui_failing", run.run_id, "start", -1))
    assert ti is not None
    for state in (TaskState.SCHEDULED, TaskState.QUEUED):
        ti = store.task_instances.set_state(ti, state)
    store.task_instances.set_state(ti, TaskState.RUNNING, try_number=1,
                                   start_date=STARTED + timedelta(seconds=2))

    live = ui.get("viewer", "/ui/api/dags/ui_failing/run", run_id=run.run_id).json()
    assert (live["state"], live["active"]) == ("running", True)
    assert live["fields"]["start_date"] == "2026-01-01 01:00:00"
    row = re.search(r'<tr data-task-id="start".*?</tr>', live["rows_html"], re.S)
    assert row is not None
    assert 'data-state="running"' in row.group(0)
    assert re.search(r'class="ti-try">1\b', row.group(0))
    assert "2026-01-01 01:00:02" in row.group(0)
    # the state holder cell keeps its own look: only the badge inside it is coloured
    assert 'class="ti-state" data-task-id="start"' in row.group(0)

    page = ui.get("viewer", "/dags/ui_failing/run", run_id=run.run_id).text
    assert run_states(page) == ["running", "running"]


def test_a_finished_run_is_not_followed(ui: UiEnv) -> None:
    failed = ui.get("viewer", "/dags/ui_failing/grid").text
    run_id = re.search(r'data-run-id="([^"]+)"', failed)
    assert run_id is not None
    page = ui.get("viewer", "/dags/ui_failing/run", run_id=run_id.group(1)).text
    assert run_states(page) == ["failed", "failed"] and 'data-active="false"' in page
    live = ui.get("viewer", "/ui/api/dags/ui_failing/run", run_id=run_id.group(1)).json()
    assert (live["state"], live["active"]) == ("failed", False)


def test_the_live_run_endpoint_names_a_missing_run(ui: UiEnv) -> None:
    response = ui.get("viewer", "/ui/api/dags/ui_failing/run", run_id="nope")
    assert response.status_code == 404 and "no run &#39;nope&#39;" in response.text
