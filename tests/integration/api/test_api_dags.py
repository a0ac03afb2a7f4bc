"""``/dags``: listing with filters and paging, one DAG, pausing (audited), source, structure;
``/importErrors``."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

from tests.integration.api.api_helpers import BROKEN_FILE, DAGS_FOLDER, DAY, ApiEnv


def test_list_dags_shows_what_the_stored_structures_say(api: ApiEnv) -> None:
    response = api.get("viewer", "/dags")
    assert response.status_code == 200
    body = response.json()
    assert body["total_entries"] == 2
    etl = next(d for d in body["dags"] if d["dag_id"] == "api_etl")
    assert etl["is_paused"] is False and etl["is_active"] is True
    assert etl["tags"] == ["api", "etl"]
    assert etl["schedule"] == "@daily"
    assert etl["owners"] == ["data", "millstream"]
    assert etl["description"] == "extract, transform, load; extract also feeds an audit"
    assert etl["fileloc"] == str(DAGS_FOLDER / "api_etl.py")
    assert etl["has_import_errors"] is False
    assert etl["start_date"].startswith("2026-01-01T00:00:00")


def test_list_dags_filters_and_pages(api: ApiEnv) -> None:
    def ids(query: str) -> tuple[list[str], int]:
        body = api.get("viewer", f"/dags{query}").json()
        return [d["dag_id"] for d in body["dags"]], body["total_entries"]

    assert ids("?tags=other") == (["api_other"], 1)
    assert ids("?tags=etl&tags=other") == (["api_etl", "api_other"], 2)
    assert ids("?dag_id_pattern=ETL") == (["api_etl"], 1)
    assert ids("?limit=1") == (["api_etl"], 2)
    assert ids("?limit=1&offset=1") == (["api_other"], 2)
    assert ids("?offset=5") == ([], 2)
    assert ids("?paused=true") == ([], 0)
    api.patch("op", "/dags/api_other", json={"is_paused": True})
    assert ids("?paused=true") == (["api_other"], 1)
    assert ids("?paused=false") == (["api_etl"], 1)


def test_list_paging_is_checked_and_the_error_names_the_field(api: ApiEnv) -> None:
    for query, field in [("limit=0", "query.limit"), ("limit=1001", "query.limit"),
                         ("offset=-1", "query.offset"), ("paused=maybe", "query.paused")]:
        response = api.get("viewer", f"/dags?{query}")
        assert response.status_code == 422, query
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 422 and problem["title"] == HTTPStatus(422).phrase
        assert problem["detail"].startswith(f"{field}: ")
        assert problem["errors"][0]["loc"] == field


def test_get_dag_and_unknown_dag(api: ApiEnv) -> None:
    response = api.get("viewer", "/dags/api_etl")
    assert response.status_code == 200
    assert response.json()["dag_id"] == "api_etl"
    missing = api.get("viewer", "/dags/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["detail"] == (
        "no DAG 'nope' in the store (is its file in the dags folder, and has the scheduler "
        "parsed it?)"
    )


def test_pause_and_unpause_are_audited_with_the_user(api: ApiEnv) -> None:
    response = api.patch("op", "/dags/api_etl", json={"is_paused": True})
    assert response.status_code == 200
    assert response.json()["is_paused"] is True
    store = api.store()
    record = store.dags.get("api_etl")
    assert record is not None and record.is_paused
    assert api.patch("admin", "/dags/api_etl", json={"is_paused": False}).status_code == 200
    events = [(a.event, a.who, a.dag_id) for a in store.audit.list()]
    assert events[:2] == [("unpause", "admin", "api_etl"), ("pause", "op", "api_etl")]


def test_pausing_needs_op_and_a_valid_body(api: ApiEnv) -> None:
    assert api.patch("viewer", "/dags/api_etl", json={"is_paused": True}).status_code == 403
    assert api.patch(None, "/dags/api_etl", json={"is_paused": True}).status_code == 401
    bad = api.patch("op", "/dags/api_etl", json={"is_paused": "sometimes"})
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("body.is_paused: ")
    extra = api.patch("op", "/dags/api_etl", json={"is_paused": True, "owner": "x"})
    assert extra.status_code == 422 and "body.owner" in extra.json()["detail"]
    assert api.patch("op", "/dags/nope", json={"is_paused": True}).status_code == 404
    record = api.store().dags.get("api_etl")
    assert record is not None and not record.is_paused


def test_source_is_the_dag_file(api: ApiEnv) -> None:
    response = api.get("viewer", "/dags/api_etl/source")
    assert response.status_code == 200
    body = response.json()
    assert body["fileloc"] == str(DAGS_FOLDER / "api_etl.py")
    assert body["content"] == Path(body["fileloc"]).read_text(encoding="utf-8")
    assert api.get("viewer", "/dags/nope/source").status_code == 404


def test_source_of_a_vanished_file_is_a_404_naming_it(api: ApiEnv, tmp_path: Path) -> None:
    gone = tmp_path / "gone.py"
    store = api.store()
    store.dags.upsert("api_other", str(gone), store.dags.structure("api_other") or "",
                      "v-gone", DAY)
    response = api.get("viewer", "/dags/api_other/source")
    assert response.status_code == 404
    assert str(gone) in response.json()["detail"]


def test_structure_lists_tasks_and_their_dependencies(api: ApiEnv) -> None:
    response = api.get("viewer", "/dags/api_etl/structure")
    assert response.status_code == 200
    body = response.json()
    tasks = {t["task_id"]: t for t in body["tasks"]}
    assert list(tasks) == ["extract", "transform", "load", "audit"]  # topological order
    assert sorted(tasks["extract"]["downstream_task_ids"]) == ["audit", "transform"]
    assert tasks["load"]["upstream_task_ids"] == ["transform"]
    assert tasks["transform"]["retries"] == 2
    assert tasks["extract"]["operator_name"] == "EmptyOperator"
    assert body["params"]["n"]["default"] == 3
    assert body["schedule"] == "@daily"
    version = body["version"]
    again = api.get("viewer", f"/dags/api_etl/structure?version={version}")
    assert again.status_code == 200 and again.json()["version"] == version
    unknown = api.get("viewer", "/dags/api_etl/structure?version=nope")
    assert unknown.status_code == 404 and "version 'nope'" in unknown.json()["detail"]


def test_import_errors_are_listed_and_flag_their_dags(api: ApiEnv) -> None:
    response = api.get("viewer", "/importErrors")
    assert response.status_code == 200
    body = response.json()
    assert body["total_entries"] == 1
    error = body["import_errors"][0]
    assert error["filename"] == BROKEN_FILE
    assert "SyntaxError" in error["stack_trace"]
    assert api.get("viewer", "/importErrors?offset=1").json()["import_errors"] == []
    store = api.store()
    store.dags.upsert("api_other", BROKEN_FILE, store.dags.structure("api_other") or "",
                      "v-broken", DAY)
    assert api.get("viewer", "/dags/api_other").json()["has_import_errors"] is True
