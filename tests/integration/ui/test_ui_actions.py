"""Trigger, clear, mark and pause from the pages: confirmation first, audited under the user."""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlsplit

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import TaskInstanceKey
from tests.integration.ui.conftest import Seeded
from tests.integration.ui.ui_helpers import UiEnv, form_fields, run_query


def test_trigger_queues_a_run_with_the_conf_and_audits_it(ui: UiEnv) -> None:
    form = ui.get("op", "/dags/ui_etl/trigger?view=json")
    assert form.status_code == 200
    assert '"n": 3' in html.unescape(form.text)  # the conf starts from the params' defaults
    response = ui.post("op", "/dags/ui_etl/trigger",
                       {"conf": '{"n": 7}', "logical_date": "2026-02-01", "run_id": ""},
                       csrf_from="/dags/ui_etl/trigger")
    assert response.status_code == 303
    run_id = parse_qs(urlsplit(response.headers["location"]).query)["run_id"][0]
    assert run_id == "manual__2026-02-01T00:00:00+00:00"
    store = ui.store()
    run = store.runs.get("ui_etl", run_id)
    assert run is not None
    assert (run.state, run.conf, run.run_type) == (DagRunState.QUEUED, {"n": 7}, "manual")
    assert {ti.task_id for ti in store.task_instances.for_run("ui_etl", run_id)} == {
        "extract", "transform.double", "transform.check", "square", "load"}
    latest = store.audit.list("ui_etl", limit=1)[0]
    assert (latest.event, latest.who, latest.run_id) == ("trigger", "op", run_id)
    page = ui.client("op").get(response.headers["location"])
    assert page.status_code == 200 and '"n": 7' in html.unescape(page.text)


def test_bad_trigger_input_shows_the_form_again_and_creates_nothing(
        ui: UiEnv, seeded: Seeded) -> None:
    cases = [
        ({"conf": "{not json"}, "Conf is not valid JSON"),
        ({"conf": "[1, 2]"}, "Conf must be a JSON object"),
        ({"conf": '{"n": -5}'}, "Conf does not fit the DAG&#39;s params"),
        ({"conf": "{}", "logical_date": "yesterday"}, "Logical date &#39;yesterday&#39;"),
        ({"conf": "{}", "run_id": seeded.etl_runs[0]}, "already has a run"),
    ]
    for data, message in cases:
        response = ui.post("op", "/dags/ui_etl/trigger", data, csrf_from="/dags/ui_etl/trigger")
        assert response.status_code == 400, data
        assert message in response.text, (data, response.text[-3000:])
        assert 'id="trigger-form"' in response.text  # the form, with what was typed
    assert len(ui.store().runs.list("ui_etl")) == len(seeded.etl_runs)


def test_clearing_a_task_asks_first_then_clears_it_and_its_downstream(
        ui: UiEnv, seeded: Seeded) -> None:
    run = seeded.etl_runs[1]
    confirm = ui.get("op", f"/dags/ui_etl/clear?{run_query(run, task_id='transform.double')}")
    assert confirm.status_code == 200
    listed = sorted(set(confirm.text.split('data-task-id="')[1:]))
    assert [item.split('"')[0] for item in listed] == ["load", "transform.check",
                                                       "transform.double"]
    store = ui.store()
    assert all(ti.state is TaskState.SUCCESS for ti in store.task_instances.for_run("ui_etl", run))
    fields = form_fields(confirm.text, "confirm-form")
    response = ui.post("op", "/dags/ui_etl/clear", fields)
    assert response.status_code == 303
    states = {ti.label: ti.state for ti in store.task_instances.for_run("ui_etl", run)}
    assert states["transform.double"] is TaskState.NONE
    assert states["transform.check"] is TaskState.NONE and states["load"] is TaskState.NONE
    assert states["extract"] is TaskState.SUCCESS and states["square[0]"] is TaskState.SUCCESS
    cleared_run = store.runs.get("ui_etl", run)
    assert cleared_run is not None and cleared_run.state is DagRunState.QUEUED
    audit = store.audit.list("ui_etl", limit=1)[0]
    assert (audit.event, audit.who, audit.run_id) == ("clear", "op", run)


def test_clear_only_failed_of_a_failed_run(ui: UiEnv, seeded: Seeded) -> None:
    run = seeded.failed_run
    confirm = ui.get("op", f"/dags/ui_failing/clear?{run_query(run, only_failed=1)}")
    assert "2 task instances will be cleared" in confirm.text
    response = ui.post("op", "/dags/ui_failing/clear", form_fields(confirm.text, "confirm-form"))
    assert response.status_code == 303
    states = {ti.task_id: ti.state for ti in ui.store().task_instances.for_run("ui_failing", run)}
    assert states == {"start": TaskState.SUCCESS, "explode": TaskState.NONE,
                      "after": TaskState.NONE}


def test_marking_a_task_and_a_run(ui: UiEnv, seeded: Seeded) -> None:
    run = seeded.etl_runs[0]
    confirm = ui.get("op", f"/dags/ui_etl/mark?{run_query(run, task_id='load', state='failed')}")
    assert confirm.status_code == 200 and "Mark task" in confirm.text
    store = ui.store()
    key = TaskInstanceKey("ui_etl", run, "load")
    ti = store.task_instances.get(key)
    assert ti is not None and ti.state is TaskState.SUCCESS  # asking changed nothing
    assert ui.post("op", "/dags/ui_etl/mark",
                   form_fields(confirm.text, "confirm-form")).status_code == 303
    ti = store.task_instances.get(key)
    assert ti is not None and ti.state is TaskState.FAILED
    confirm = ui.get("admin", f"/dags/ui_etl/mark?{run_query(run, state='failed')}")
    assert ui.post("admin", "/dags/ui_etl/mark",
                   form_fields(confirm.text, "confirm-form")).status_code == 303
    marked = store.runs.get("ui_etl", run)
    assert marked is not None and marked.state is DagRunState.FAILED
    events = [(r.event, r.who) for r in store.audit.list("ui_etl", limit=2)]
    assert events == [("mark_run_failed", "admin"), ("mark_failed", "op")]


def test_a_mark_the_state_table_forbids_is_a_clear_409(ui: UiEnv, seeded: Seeded) -> None:
    run = seeded.etl_runs[0]
    data = {"run_id": run, "task_id": "load", "state": "success", "map_index": "-1"}
    response = ui.post("op", "/dags/ui_etl/mark", data, csrf_from="/dags/ui_etl/grid")
    assert response.status_code == 409
    assert "cannot change state from &#39;success&#39; to &#39;success&#39;" in response.text


def test_viewers_cannot_act(ui: UiEnv, seeded: Seeded) -> None:
    run = seeded.etl_runs[0]
    for path, data in [("/dags/ui_etl/pause", {"paused": "true"}),
                       ("/dags/ui_etl/trigger", {"conf": "{}"}),
                       ("/dags/ui_etl/clear", {"run_id": run}),
                       ("/dags/ui_etl/mark", {"run_id": run, "state": "failed"})]:
        response = ui.post("viewer", path, data, csrf_from="/dags")
        assert response.status_code == 403, path
        assert "needs the op role" in response.text
    assert len(ui.store().runs.list("ui_etl")) == len(seeded.etl_runs)
    grid = ui.get("viewer", "/dags/ui_etl/grid").text
    assert "trigger-button" not in grid and "disabled" in grid  # the toggle is inert


def test_pause_toggle_goes_back_to_the_page(ui: UiEnv) -> None:
    listing = ui.get("op", "/dags?tags=ui")
    toggle = form_fields(listing.text, "pause-ui_etl")
    assert toggle["paused"] == "true" and toggle["next"] == "/dags?tags=ui"
    response = ui.post("op", "/dags/ui_etl/pause", toggle)
    assert (response.status_code, response.headers["location"]) == (303, "/dags?tags=ui")
    store = ui.store()
    record = store.dags.get("ui_etl")
    assert record is not None and record.is_paused
    assert 'data-paused="true"' in ui.get("op", "/dags?tags=ui").text
    unpause = ui.post("op", "/dags/ui_etl/pause", {"paused": "false", "next": "https://evil.x"},
                      csrf_from="/dags")
    assert unpause.headers["location"] == "/dags"
    record = store.dags.get("ui_etl")
    assert record is not None and not record.is_paused
    assert [r.event for r in store.audit.list("ui_etl", limit=2)] == ["unpause", "pause"]
