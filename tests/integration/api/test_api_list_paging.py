"""The list routes page in the store: every page, walked with limit and offset, adds up to
the whole list in the documented order, with the whole list's length as ``total_entries``."""

from __future__ import annotations

from typing import Any

from millstream.model.states import DagRunState
from millstream.store.records import TaskInstanceKey
from tests.integration.api.api_helpers import ApiEnv


def _walk(api: ApiEnv, path: str, field: str, limit: int) -> tuple[list[Any], set[int]]:
    """Every entry of a list, page by page; and the totals the pages gave."""
    entries: list[Any] = []
    totals: set[int] = set()
    while True:
        joiner = "&" if "?" in path else "?"
        response = api.get("viewer", f"{path}{joiner}limit={limit}&offset={len(entries)}")
        assert response.status_code == 200, response.text
        body = response.json()
        totals.add(body["total_entries"])
        if not body[field]:
            return entries, totals
        assert len(body[field]) <= limit
        entries.extend(body[field])


def test_runs_of_every_dag_page_through_in_logical_date_order(api: ApiEnv) -> None:
    for day in range(7):
        api.add_run(f"etl_{day}", day=day)
    for day in (0, 3, 9):
        api.add_run(f"other_{day}", day=day, dag_id="api_other")
    for run_id in ("etl_2", "other_3"):
        api.start_run(run_id, dag_id="api_etl" if run_id.startswith("etl") else "api_other")

    newest, totals = _walk(api, "/dags/~/dagRuns", "dag_runs", limit=3)
    assert totals == {10}
    assert [r["dag_run_id"] for r in newest] == [
        "other_9", "etl_6", "etl_5", "etl_4", "other_3", "etl_3", "etl_2", "etl_1", "other_0",
        "etl_0"]  # runs of one day by DAG id, newest first reversing that too
    oldest, _ = _walk(api, "/dags/~/dagRuns?order_by=logical_date", "dag_runs", limit=4)
    assert oldest == list(reversed(newest))
    running, totals = _walk(api, "/dags/~/dagRuns?state=running", "dag_runs", limit=1)
    assert ([r["dag_run_id"] for r in running], totals) == (["other_3", "etl_2"], {2})
    assert {r["state"] for r in running} == {DagRunState.RUNNING.value}
    one_dag, totals = _walk(api, "/dags/api_other/dagRuns?state=queued", "dag_runs", limit=1)
    assert ([r["dag_run_id"] for r in one_dag], totals) == (["other_9", "other_0"], {2})


def test_task_instances_and_xcoms_page_through(api: ApiEnv) -> None:
    api.add_run("r1")
    tis = "/dags/api_etl/dagRuns/r1/taskInstances"
    instances, totals = _walk(api, tis, "task_instances", limit=3)
    assert [t["task_id"] for t in instances] == ["audit", "extract", "load", "transform"]
    assert totals == {4}
    api.store().xcoms.set_many(TaskInstanceKey("api_etl", "r1", "extract"),
                               [(f"key_{n:02d}", str(n)) for n in range(12)])
    entries, totals = _walk(api, f"{tis}/extract/xcomEntries", "xcom_entries", limit=5)
    assert entries == [{"key": f"key_{n:02d}", "value": n} for n in range(12)]
    assert totals == {12}


def test_dags_filtered_by_tag_are_paged_after_the_filter(api: ApiEnv) -> None:
    def ids(query: str) -> tuple[list[str], int]:
        body = api.get("viewer", f"/dags?{query}").json()
        return [d["dag_id"] for d in body["dags"]], body["total_entries"]

    assert ids("tags=etl&tags=other&limit=1&offset=1") == (["api_other"], 2)
    assert ids("tags=other&offset=1") == ([], 1)
    assert ids("tags=etl&dag_id_pattern=other") == ([], 0)
    assert ids("dag_id_pattern=api_&limit=1&offset=1") == (["api_other"], 2)
    assert ids("dag_id_pattern=api%25") == ([], 0)  # a literal %, not a wildcard
    body = api.get("viewer", "/dags?tags=other").json()["dags"][0]
    assert (body["dag_id"], body["tags"]) == ("api_other", ["other"])
