"""Task instances: list, get, mark, clear with downstream, tries, XComs."""

from __future__ import annotations

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import TaskInstanceKey
from tests.integration.api.api_helpers import ApiEnv

TIS = "/dags/api_etl/dagRuns/r1/taskInstances"


def test_list_and_get_task_instances(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.SUCCESS, tries=2)
    body = api.get("viewer", TIS).json()
    assert body["total_entries"] == 4
    assert [t["task_id"] for t in body["task_instances"]] == [
        "audit", "extract", "load", "transform"]
    assert api.get("viewer", f"{TIS}?state=success").json()["total_entries"] == 1
    page = api.get("viewer", f"{TIS}?limit=2&offset=1").json()
    assert [t["task_id"] for t in page["task_instances"]] == ["extract", "load"]
    extract = api.get("viewer", f"{TIS}/extract").json()
    assert (extract["state"], extract["try_number"], extract["hostname"], extract["duration"]) == (
        "success", 2, "worker-1", 30.0)
    assert api.get("viewer", f"{TIS}/nope").status_code == 404
    assert api.get("viewer", f"{TIS}/extract?map_index=0").status_code == 404
    assert api.get("viewer", f"{TIS}/extract?map_index=-2").status_code == 422
    assert api.get("viewer", "/dags/api_etl/dagRuns/nope/taskInstances").status_code == 404


def test_tries_are_the_history_of_finished_tries(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.SUCCESS, tries=2)
    body = api.get("viewer", f"{TIS}/extract/tries").json()
    assert body["total_entries"] == 2
    assert [(t["try_number"], t["state"], t["error"]) for t in body["tries"]] == [
        (1, "up_for_retry", "boom"), (2, "success", None)]


def test_mark_a_task_instance(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.RUNNING)
    response = api.patch("op", f"{TIS}/extract", json={"state": "failed"})
    assert response.status_code == 200 and response.json()["state"] == "failed"
    store = api.store()
    ti = store.task_instances.get(TaskInstanceKey("api_etl", "r1", "extract"))
    assert ti is not None and ti.state is TaskState.FAILED
    audit = store.audit.list(limit=1)[0]
    assert (audit.event, audit.who, audit.task_id) == ("mark_failed", "op", "extract")
    assert api.patch("viewer", f"{TIS}/extract", json={"state": "success"}).status_code == 403
    bad = api.patch("op", f"{TIS}/extract", json={"state": "skipped"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("body.state: ")


def test_clear_with_downstream(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    for task_id in ["extract", "transform", "load", "audit"]:
        api.set_task("r1", task_id, TaskState.SUCCESS)
    api.patch("op", "/dags/api_etl/dagRuns/r1", json={"state": "success"})
    only = api.post("op", "/dags/api_etl/clearTaskInstances",
                    json={"dag_run_id": "r1", "task_ids": ["transform"], "dry_run": True})
    assert [t["task_id"] for t in only.json()["task_instances"]] == ["transform"]
    response = api.post("op", "/dags/api_etl/clearTaskInstances", json={
        "dag_run_id": "r1", "task_ids": ["transform"], "include_downstream": True})
    assert response.status_code == 200
    body = response.json()
    assert sorted(t["task_id"] for t in body["task_instances"]) == ["load", "transform"]
    assert body["requeued_dag_run_ids"] == ["r1"]
    store = api.store()
    states = {ti.task_id: ti.state for ti in store.task_instances.for_run("api_etl", "r1")}
    assert states == {"extract": TaskState.SUCCESS, "audit": TaskState.SUCCESS,
                      "transform": TaskState.NONE, "load": TaskState.NONE}
    assert store.runs.get("api_etl", "r1").state is DagRunState.QUEUED  # type: ignore[union-attr]
    upstream = api.post("op", "/dags/api_etl/clearTaskInstances", json={
        "dag_run_id": "r1", "task_ids": ["audit"], "include_upstream": True, "dry_run": True})
    assert sorted(t["task_id"] for t in upstream.json()["task_instances"]) == [
        "audit", "extract"]


def test_clear_names_bad_input(api: ApiEnv) -> None:
    api.add_run("r1")
    unknown = api.post("op", "/dags/api_etl/clearTaskInstances",
                       json={"dag_run_id": "r1", "task_ids": ["nope"]})
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "body.task_ids: DAG 'api_etl' has no task 'nope'"
    empty = api.post("op", "/dags/api_etl/clearTaskInstances",
                     json={"dag_run_id": "r1", "task_ids": []})
    assert empty.status_code == 422 and empty.json()["detail"].startswith("body.task_ids: ")
    missing = api.post("op", "/dags/api_etl/clearTaskInstances", json={"task_ids": ["load"]})
    assert missing.status_code == 422
    assert missing.json()["detail"].startswith("body.dag_run_id: ")
    no_run = api.post("op", "/dags/api_etl/clearTaskInstances",
                      json={"dag_run_id": "nope", "task_ids": ["load"]})
    assert no_run.status_code == 404


def test_xcom_entries(api: ApiEnv) -> None:
    api.add_run("r1")
    store = api.store()
    store.xcoms.set_many(TaskInstanceKey("api_etl", "r1", "extract"),
                         [("return_value", '{"rows": 3}'), ("path", '"/tmp/x.csv"')])
    body = api.get("viewer", f"{TIS}/extract/xcomEntries").json()
    assert body == {"total_entries": 2, "xcom_entries": [
        {"key": "path", "value": "/tmp/x.csv"}, {"key": "return_value", "value": {"rows": 3}}]}
    one = api.get("viewer", f"{TIS}/extract/xcomEntries/return_value")
    assert one.status_code == 200 and one.json() == {"key": "return_value",
                                                     "value": {"rows": 3}}
    missing = api.get("viewer", f"{TIS}/extract/xcomEntries/nope")
    assert missing.status_code == 404 and "'nope'" in missing.json()["detail"]
    assert api.get("viewer", f"{TIS}/load/xcomEntries").json()["total_entries"] == 0
    assert api.get(None, f"{TIS}/extract/xcomEntries").status_code == 401
