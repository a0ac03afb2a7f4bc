"""What the DAG list, grid, graph, Gantt, code and details pages show, and the live JSON."""

from __future__ import annotations

import re
from datetime import timedelta

from millstream.model.states import DagRunState, TaskState
from millstream.services import mark, trigger
from millstream.store.records import DagRunRecord, TaskInstanceKey
from tests.integration.ui.conftest import Seeded
from tests.integration.ui.ui_helpers import DAY, UiEnv, run_query


def cells(html: str) -> dict[tuple[str, str], str]:
    """(task id, run id) -> data-state of every task cell of a grid page."""
    found = re.findall(r'<a class="cell st-(\w+)[^"]*" data-task-id="([^"]+)" '
                       r'data-run-id="([^"]+)" data-state="(\w+)"', html)
    result = {}
    for css_state, task_id, run_id, state in found:
        assert css_state == state  # the colour is the state
        result[(task_id, run_id.replace("&#43;", "+"))] = state
    return result


def row_of(page: str, dag_id: str) -> str:
    found = re.search(rf'<tr class="[^"]*" data-dag-id="{dag_id}">(.*?)</tr>', page, re.S)
    assert found is not None, dag_id
    return found.group(1)


def test_the_dag_list_filters_by_tag_search_and_status(ui: UiEnv) -> None:
    def ids(**params: object) -> list[str]:
        page = ui.get("viewer", "/dags", **params).text
        return re.findall(r'<tr class="[^"]*" data-dag-id="([^"]+)"', page)

    assert ids() == ["ui_etl", "ui_failing", "ui_paused"]
    assert ids(tags="ui") == ["ui_etl"]
    assert ids(tags=["ui", "ops"]) == []
    assert ids(search="FAIL") == ["ui_failing"]
    assert ids(search="data-team") == ["ui_etl"]  # owners are searched too
    assert ids(search="sales etl") == []
    assert ids(status="paused") == ["ui_paused"]
    assert ids(status="active") == ["ui_etl", "ui_failing"]
    assert ids(page_size=25, page=99) == ["ui_etl", "ui_failing", "ui_paused"]  # clamped
    page = ui.get("viewer", "/dags").text
    assert "1 DAG file failed to load" in page
    assert re.search(r'data-tag="etl"', page) and re.search(r'data-tag="other"', page)


def test_the_dag_list_shows_recent_runs_counts_and_next_run(ui: UiEnv, seeded: Seeded) -> None:
    page = ui.get("viewer", "/dags").text
    etl = row_of(page, "ui_etl")
    assert etl.count('class="dot st-success"') == 3 + 1  # three recent runs, one count
    assert 'title="3 success"' in etl
    assert "2026-01-03 00:00" in etl  # the last run's logical date
    # @daily: due at midnight, a day after its logical date (in the title)
    assert re.search(r'class="next-run" title="logical date \d{4}-\d\d-\d\d 00:00:00 UTC">'
                     r'\d{4}-\d\d-\d\d 00:00</span>', etl)
    failing = row_of(page, "ui_failing")
    assert 'title="1 failed"' in failing and 'class="dot st-failed"' in failing
    paused = row_of(page, "ui_paused")
    assert 'data-paused="true"' in paused and "never" in paused


def test_the_grid_colours_each_cell_by_its_task_instances_state(
        ui: UiEnv, seeded: Seeded) -> None:
    failed = seeded.failed_run
    page = ui.get("viewer", "/dags/ui_failing/grid").text
    assert cells(page) == {("start", failed): "success", ("explode", failed): "failed",
                           ("after", failed): "upstream_failed"}
    etl = cells(ui.get("viewer", "/dags/ui_etl/grid").text)
    assert len(etl) == 5 * len(seeded.etl_runs)
    assert set(etl.values()) == {"success"}
    first = seeded.etl_runs[0]
    store = ui.store()
    store.task_instances.set_state(
        store.task_instances.get(TaskInstanceKey("ui_etl", first, "transform.check")),
        TaskState.FAILED)
    store.task_instances.set_state(
        store.task_instances.get(TaskInstanceKey("ui_etl", first, "square", 1)),
        TaskState.FAILED)
    page = ui.get("viewer", "/dags/ui_etl/grid").text
    changed = cells(page)
    assert changed[("transform.check", first)] == "failed"
    assert changed[("square", first)] == "failed"  # one map index failed: the task shows it
    assert changed[("transform.double", first)] == "success"
    group = re.search(rf'data-group-id="transform" data-run-id="{re.escape(first)}" '
                      r'data-state="(\w+)"', page)
    assert group is not None and group.group(1) == "failed"  # a group shows its worst


def test_the_grid_pages_through_older_runs(ui: UiEnv, seeded: Seeded) -> None:
    store = ui.store()
    for day in range(3, 15):
        moment = DAY + timedelta(days=day)
        run = trigger.NewRun(
            DagRunRecord("ui_failing", f"manual__{day:02d}", moment, moment, moment),
            ())
        trigger.add_run(store, run, "tests", DAY)
    page = ui.get("viewer", "/dags/ui_failing/grid", runs=10).text
    shown = re.findall(r'class="run-bar st-\w+ bar-h\d+" data-run-id="([^"]+)"', page)
    assert shown == [f"manual__{day:02d}" for day in range(5, 15)]  # oldest left
    older = re.search(r'id="older-runs" href="([^"]+)"', page)
    assert older is not None
    page = ui.client("viewer").get(older.group(1).replace("&amp;", "&")).text
    shown = re.findall(r'data-run-id="([^"]+)" data-state', page)
    assert shown[0] == seeded.failed_run and shown[1:3] == ["manual__03", "manual__04"]
    assert 'id="older-runs"' not in page


def test_grid_and_run_states_as_json_for_live_updates(ui: UiEnv, seeded: Seeded) -> None:
    data = ui.get("viewer", "/ui/api/dags/ui_failing/grid").json()
    (only,) = data["runs"]
    assert (only["run_id"], only["state"]) == (seeded.failed_run, "failed")
    # the only run's bar against an axis topped by the round duration at or above its own
    assert 4 <= only["bar"] <= 10
    assert data["cells"]["explode"] == {seeded.failed_run: "failed"}
    assert data["active"] is False
    states = ui.get("viewer", "/ui/api/dags/ui_etl/states", run_id=seeded.etl_runs[0]).json()
    assert (states["state"], states["active"]) == ("success", False)
    assert states["nodes"]["transform"] == "success" and states["nodes"]["load"] == "success"
    assert sorted((i["task_id"], i["map_index"]) for i in states["instances"]
                  if i["task_id"] == "square") == [("square", 0), ("square", 1), ("square", 2)]
    store = ui.store()
    mark.mark_run(store, "ui_etl", seeded.etl_runs[0], DagRunState.FAILED, "tests", DAY)
    again = ui.get("viewer", "/ui/api/dags/ui_etl/grid").json()
    assert {r["run_id"]: r["state"] for r in again["runs"]}[seeded.etl_runs[0]] == "failed"


def test_the_graph_draws_every_task_and_group(ui: UiEnv, seeded: Seeded) -> None:
    run = seeded.etl_runs[0]
    page = ui.get("viewer", f"/dags/ui_etl/graph?{run_query(run)}").text
    nodes = dict(re.findall(r'<g class="node[^"]*" data-(?:task|group)-id="([^"]+)" '
                            r'data-state="(\w+)"', page))
    assert nodes == {"extract": "success", "transform": "success", "square": "success",
                     "load": "success"}  # the group is collapsed: one node
    edges = set(re.findall(r'data-source="([^"]+)" data-target="([^"]+)"', page))
    assert edges == {("extract", "transform"), ("extract", "square"), ("transform", "load")}
    assert re.search(r'<text class="edge-label"[^>]*>fan out</text>', page)  # a Label
    opened = ui.get("viewer", f"/dags/ui_etl/graph?{run_query(run, expand='transform')}").text
    nodes = dict(re.findall(r'<g class="node[^"]*" data-task-id="([^"]+)" data-state="(\w+)"',
                            opened))
    assert set(nodes) == {"extract", "transform.double", "transform.check", "square", "load"}
    assert 'class="group-box-g" data-group-id="transform"' in opened
    edges = set(re.findall(r'data-source="([^"]+)" data-target="([^"]+)"', opened))
    assert ("transform.double", "transform.check") in edges
    # edges into and out of the open group reach the tasks inside it
    assert ("extract", "transform.double") in edges and ("transform.check", "load") in edges
    assert ("extract", "transform") not in edges
    # the mapped task shows its count, and every node its duration in the run
    assert re.search(r'>square <tspan class="map-count">\[3\]</tspan>', opened)
    assert len(re.findall(r'<tspan class="node-duration">[^<]+</tspan>', opened)) == 5
    assert 'id="zoom-fit"' in opened and 'data-width="' in opened
    failing = ui.get("viewer", "/dags/ui_failing/graph").text  # the latest run by default
    assert 'data-task-id="explode" data-state="failed"' in failing


def test_the_gantt_chart_has_a_bar_per_try(ui: UiEnv, seeded: Seeded) -> None:
    page = ui.get("viewer", f"/dags/ui_failing/gantt?{run_query(seeded.failed_run)}").text
    bars = re.findall(r'data-task-id="([^"]+)" data-try="(\d+)" data-state="(\w+)"', page)
    assert sorted(bars) == [("explode", "1", "failed"), ("start", "1", "success")]


def test_code_and_details(ui: UiEnv) -> None:
    code = ui.get("viewer", "/dags/ui_etl/code").text
    assert "bash_command=&#34;echo loading {{ ds }} n={{ params.n }}&#34;" in code
    assert '<span class="ln">1</span>' in code
    details = ui.get("viewer", "/dags/ui_etl/details").text
    assert "How many rows" in details and "<code>3</code>" in details
    assert 'id="task-transform.double"' in details and "DecoratedPythonOperator" not in details
