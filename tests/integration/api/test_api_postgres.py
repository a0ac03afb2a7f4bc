"""The API's main flows on PostgreSQL (a schema of this test session's own): trigger, list,
mark, clear with downstream, delete; secrets; users and tokens; health."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from millstream.api.deps import utcnow
from millstream.config import load_settings
from millstream.model.states import DagRunState, TaskState
from millstream.store.sql import SqlStore
from millstream.store.sql.migrate import migrate
from millstream.ui.server import create_app
from tests.integration.api.api_helpers import (
    DAGS_FOLDER,
    PASSWORDS,
    ApiEnv,
    seed_dags,
    seed_users,
)
from tests.store_fixtures import (
    drop_postgres_schema,
    new_schema_name,
    postgres_schema_engine,
)

POSTGRES_ENV = "MILLSTREAM_TEST_POSTGRES_URL"


@pytest.fixture
def pg_api(tmp_path: Path) -> Iterator[ApiEnv]:
    """The web server over a migrated PostgreSQL schema of this test's own, with the users
    and DAGs of the SQLite tests."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"needs PostgreSQL: set {POSTGRES_ENV}")
    schema = new_schema_name("api")
    engine = postgres_schema_engine(url, schema)
    try:
        migrate(engine)
        store = SqlStore(engine)
        try:
            tokens = seed_users(store, PASSWORDS)
            seed_dags(store, DAGS_FOLDER)
        finally:
            store.close()
        environ = {"MILLSTREAM__CORE__FERNET_KEY": Fernet.generate_key().decode()}
        settings = load_settings(home=tmp_path, environ=environ)
        with TestClient(create_app(settings, store=SqlStore(engine))) as client:
            env = ApiEnv(settings, client, tokens, _engine=engine)
            try:
                yield env
            finally:
                env.close()
    finally:
        engine.dispose()
        drop_postgres_schema(url, schema)


def test_runs_are_triggered_marked_cleared_and_deleted(pg_api: ApiEnv) -> None:
    api = pg_api
    created = api.post("op", "/dags/api_etl/dagRuns",
                       json={"dag_run_id": "pg1", "logical_date": "2026-02-01T00:00:00Z",
                             "conf": {"n": 5}})
    assert created.status_code == 200, created.text
    assert api.post("op", "/dags/api_etl/dagRuns", json={"dag_run_id": "pg1"}
                    ).status_code == 409
    assert api.post("op", "/dags/api_etl/dagRuns", json={"conf": {"n": "many"}}
                    ).status_code == 422
    api.start_run("pg1")
    for task_id in ("extract", "transform", "load", "audit"):
        api.set_task("pg1", task_id, TaskState.SUCCESS)
    marked = api.patch("op", "/dags/api_etl/dagRuns/pg1", json={"state": "success"})
    assert marked.json()["state"] == "success"
    listed = api.get("viewer", "/dags/api_etl/dagRuns?state=success").json()
    assert [r["dag_run_id"] for r in listed["dag_runs"]] == ["pg1"]
    cleared = api.post("op", "/dags/api_etl/clearTaskInstances", json={
        "dag_run_id": "pg1", "task_ids": ["transform"], "include_downstream": True})
    assert sorted(t["task_id"] for t in cleared.json()["task_instances"]) == [
        "load", "transform"]
    store = api.store()
    assert store.runs.get("api_etl", "pg1").state is DagRunState.QUEUED  # type: ignore[union-attr]
    states = {t["task_id"]: t["state"] for t in api.get(
        "viewer", "/dags/api_etl/dagRuns/pg1/taskInstances").json()["task_instances"]}
    assert states == {"audit": "success", "extract": "success", "load": "none",
                      "transform": "none"}
    assert api.delete("op", "/dags/api_etl/dagRuns/pg1").status_code == 204
    assert store.task_instances.for_run("api_etl", "pg1") == []
    events = [a.event for a in store.audit.list(dag_id="api_etl", limit=4)]
    assert events == ["delete_run", "clear", "mark_run_success", "trigger"]


def test_pause_and_dag_listing(pg_api: ApiEnv) -> None:
    assert pg_api.patch("op", "/dags/api_other", json={"is_paused": True}).status_code == 200
    body = pg_api.get("viewer", "/dags?paused=true").json()
    assert [d["dag_id"] for d in body["dags"]] == ["api_other"]
    assert pg_api.get("viewer", "/dags/api_etl/structure").json()["dag_id"] == "api_etl"


def test_secrets_users_and_tokens(pg_api: ApiEnv) -> None:
    api = pg_api
    assert api.post("op", "/variables", json={"key": "region", "value": "north"}
                    ).status_code == 200
    assert api.get("op", "/variables/region").json()["value"] == "north"
    conn = api.post("op", "/connections", json={"conn_id": "wh", "conn_type": "postgres",
                                                "password": "pg-secret"})
    assert conn.status_code == 200 and "pg-secret" not in conn.text
    assert conn.json()["password_set"] is True
    assert api.post("admin", "/users", json={"username": "pg_user", "password": "long-enough",
                                             "role": "op"}).status_code == 200
    assert api.get("op", "/users").status_code == 403
    assert api.get("admin", "/users").json()["total_entries"] == 4
    assert api.delete("admin", "/users/pg_user").status_code == 204


def test_health_reads_the_heartbeats(pg_api: ApiEnv) -> None:
    store = pg_api.store()
    store.jobs.heartbeat("scheduler", "pg-host", 77, utcnow() - timedelta(seconds=1))
    body = pg_api.get(None, "/health").json()
    assert body["metadatabase"]["status"] == "healthy"
    assert (body["scheduler"]["status"], body["scheduler"]["hostname"]) == ("healthy", "pg-host")
