"""``/dags/{dag_id}/dagRuns``: list, trigger with conf, get, mark, clear and delete runs."""

from __future__ import annotations

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import TaskInstanceKey
from tests.integration.api.api_helpers import ApiEnv


def test_trigger_creates_a_queued_run_with_its_tasks_and_audits_it(api: ApiEnv) -> None:
    response = api.post("op", "/dags/api_etl/dagRuns", json={
        "dag_run_id": "by_api", "logical_date": "2026-03-01T06:00:00+02:00",
        "conf": {"n": 7}, "note": "rerun for March"})
    assert response.status_code == 200
    body = response.json()
    assert (body["dag_run_id"], body["state"], body["run_type"], body["conf"], body["note"]) == (
        "by_api", "queued", "manual", {"n": 7}, "rerun for March")
    assert body["logical_date"] == "2026-03-01T04:00:00Z"
    # a manual run covers the last day complete at its logical date, as in Airflow
    assert (body["data_interval_start"], body["data_interval_end"]) == (
        "2026-02-28T00:00:00Z", "2026-03-01T00:00:00Z")
    store = api.store()
    run = store.runs.get("api_etl", "by_api")
    assert run is not None and run.state is DagRunState.QUEUED and run.conf == {"n": 7}
    assert sorted(ti.task_id for ti in store.task_instances.for_run("api_etl", "by_api")) == [
        "audit", "extract", "load", "transform"]
    audit = store.audit.list(limit=1)[0]
    assert (audit.event, audit.who, audit.dag_id, audit.run_id) == (
        "trigger", "op", "api_etl", "by_api")


def test_trigger_without_a_body_uses_now_and_a_generated_id(api: ApiEnv) -> None:
    response = api.post("admin", "/dags/api_etl/dagRuns", json={})
    assert response.status_code == 200
    body = response.json()
    assert body["dag_run_id"].startswith("manual__") and body["conf"] == {}


def test_trigger_checks_the_conf_against_the_params(api: ApiEnv) -> None:
    response = api.post("op", "/dags/api_etl/dagRuns", json={"conf": {"n": -1}})
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"].startswith("body.conf: ") and "'n'" in problem["detail"]
    assert problem["errors"] == [{"loc": "body.conf", "msg": problem["detail"][11:]}]
    not_an_object = api.post("op", "/dags/api_etl/dagRuns", json={"conf": [1, 2]})
    assert not_an_object.status_code == 422
    assert not_an_object.json()["detail"].startswith("body.conf: ")
    bad_date = api.post("op", "/dags/api_etl/dagRuns", json={"logical_date": "yesterday"})
    assert bad_date.status_code == 422
    assert bad_date.json()["detail"].startswith("body.logical_date: ")
    bad_id = api.post("op", "/dags/api_etl/dagRuns", json={"dag_run_id": "a/b"})
    assert bad_id.status_code == 422 and "body.dag_run_id" in bad_id.json()["detail"]
    assert api.store().runs.list("api_etl") == []


def test_trigger_conflicts_and_unknown_dags(api: ApiEnv) -> None:
    api.add_run("r1", day=0)
    same_id = api.post("op", "/dags/api_etl/dagRuns", json={"dag_run_id": "r1"})
    assert same_id.status_code == 409 and "'r1'" in same_id.json()["detail"]
    same_date = api.post("op", "/dags/api_etl/dagRuns",
                         json={"dag_run_id": "r2", "logical_date": "2026-01-01T00:00:00Z"})
    assert same_date.status_code == 409 and "logical date" in same_date.json()["detail"]
    assert api.post("op", "/dags/nope/dagRuns", json={}).status_code == 404
    assert api.post("viewer", "/dags/api_etl/dagRuns", json={}).status_code == 403
    assert [r.run_id for r in api.store().runs.list("api_etl")] == ["r1"]


def test_list_runs_filters_orders_and_pages(api: ApiEnv) -> None:
    for day in range(3):
        api.add_run(f"r{day}", day=day)
    api.add_run("o1", dag_id="api_other")
    api.patch("op", "/dags/api_etl/dagRuns/r1", json={"state": "failed"})

    def ids(path: str) -> tuple[list[str], int]:
        response = api.get("viewer", path)
        assert response.status_code == 200, response.text
        body = response.json()
        return [r["dag_run_id"] for r in body["dag_runs"]], body["total_entries"]

    assert ids("/dags/api_etl/dagRuns") == (["r2", "r1", "r0"], 3)
    assert ids("/dags/api_etl/dagRuns?order_by=logical_date") == (["r0", "r1", "r2"], 3)
    assert ids("/dags/api_etl/dagRuns?state=failed") == (["r1"], 1)
    assert ids("/dags/api_etl/dagRuns?state=queued&state=failed&limit=1&offset=1") == (
        ["r1"], 3)
    assert ids("/dags/~/dagRuns?order_by=logical_date") == (["r0", "o1", "r1", "r2"], 4)
    bad = api.get("viewer", "/dags/api_etl/dagRuns?state=sleeping")
    assert bad.status_code == 422 and bad.json()["detail"].startswith("query.state.0: ")
    assert api.get("viewer", "/dags/nope/dagRuns").status_code == 404


def test_get_run(api: ApiEnv) -> None:
    api.add_run("r1", conf={"n": 1})
    body = api.get("viewer", "/dags/api_etl/dagRuns/r1").json()
    assert (body["dag_id"], body["dag_run_id"], body["state"], body["conf"]) == (
        "api_etl", "r1", "queued", {"n": 1})
    missing = api.get("viewer", "/dags/api_etl/dagRuns/nope")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "DAG 'api_etl' has no run 'nope'"


def test_mark_run_success_finishes_its_tasks(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.RUNNING)
    response = api.patch("op", "/dags/api_etl/dagRuns/r1", json={"state": "success"})
    assert response.status_code == 200 and response.json()["state"] == "success"
    store = api.store()
    assert {ti.state for ti in store.task_instances.for_run("api_etl", "r1")} == {
        TaskState.SUCCESS}
    assert store.audit.list(limit=1)[0].event == "mark_run_success"
    bad = api.patch("op", "/dags/api_etl/dagRuns/r1", json={"state": "running"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("body.state: ")


def test_mark_run_failed_fails_started_tasks_and_skips_the_rest(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.RUNNING)
    response = api.patch("admin", "/dags/api_etl/dagRuns/r1", json={"state": "failed"})
    assert response.status_code == 200
    states = {ti.task_id: ti.state for ti in api.store().task_instances.for_run("api_etl", "r1")}
    assert states == {"extract": TaskState.FAILED, "transform": TaskState.SKIPPED,
                      "load": TaskState.SKIPPED, "audit": TaskState.SKIPPED}


def test_clear_run_resets_finished_tasks_and_requeues_the_run(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    for task_id, state in [("extract", TaskState.SUCCESS), ("audit", TaskState.SUCCESS),
                           ("transform", TaskState.FAILED)]:
        api.set_task("r1", task_id, state)
    api.set_task("r1", "load", TaskState.UPSTREAM_FAILED)
    api.patch("op", "/dags/api_etl/dagRuns/r1", json={"state": "failed"})
    dry = api.post("op", "/dags/api_etl/dagRuns/r1/clear",
                   json={"only_failed": True, "dry_run": True})
    assert dry.status_code == 200
    assert sorted(t["task_id"] for t in dry.json()["task_instances"]) == ["load", "transform"]
    assert api.store().runs.get("api_etl", "r1").state is DagRunState.FAILED  # type: ignore[union-attr]
    response = api.post("op", "/dags/api_etl/dagRuns/r1/clear", json={"only_failed": True})
    assert response.status_code == 200
    body = response.json()
    assert sorted(t["task_id"] for t in body["task_instances"]) == ["load", "transform"]
    assert body["requeued_dag_run_ids"] == ["r1"] and body["dry_run"] is False
    store = api.store()
    assert store.runs.get("api_etl", "r1").state is DagRunState.QUEUED  # type: ignore[union-attr]
    extract = store.task_instances.get(TaskInstanceKey("api_etl", "r1", "extract"))
    assert extract is not None and extract.state is TaskState.SUCCESS
    audit = store.audit.list(limit=1)[0]
    assert (audit.event, audit.who, audit.extra["tasks"]) == ("clear", "op",
                                                              ["load", "transform"])


def test_delete_run_removes_it_with_its_tasks(api: ApiEnv) -> None:
    api.add_run("r1")
    api.add_run("r2", day=1)
    api.set_task("r1", "extract", TaskState.SUCCESS)
    assert api.delete("viewer", "/dags/api_etl/dagRuns/r1").status_code == 403
    response = api.delete("op", "/dags/api_etl/dagRuns/r1")
    assert response.status_code == 204 and response.content == b""
    store = api.store()
    assert store.runs.get("api_etl", "r1") is None
    assert store.task_instances.for_run("api_etl", "r1") == []
    assert store.runs.get("api_etl", "r2") is not None
    audit = store.audit.list(limit=1)[0]
    assert (audit.event, audit.who, audit.run_id) == ("delete_run", "op", "r1")
    assert api.delete("op", "/dags/api_etl/dagRuns/r1").status_code == 404


def test_a_run_with_a_try_under_way_is_not_deleted(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.RUNNING)
    response = api.delete("op", "/dags/api_etl/dagRuns/r1")
    assert response.status_code == 409
    assert "extract" in response.json()["detail"] and "mark the run" in response.json()["detail"]
    assert api.store().runs.get("api_etl", "r1") is not None
