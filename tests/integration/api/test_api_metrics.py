"""``/metrics`` on the web server: who may read it, and what it reads from the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from millstream.api import accounts
from millstream.api.auth import SESSION_COOKIE
from millstream.ui.server import create_app
from tests.integration.api.api_helpers import ApiEnv

TOKEN = "a-long-scrape-token"


def _client(api: ApiEnv, **metrics: object) -> TestClient:
    settings = api.settings.model_copy(update={
        "metrics": api.settings.metrics.model_copy(update=metrics)})
    return TestClient(create_app(settings))


def test_admins_and_the_scrape_token_may_read_it(api: ApiEnv) -> None:
    from pydantic import SecretStr

    with _client(api, token=SecretStr(TOKEN)) as client:
        def status(headers: dict[str, str], **kwargs: object) -> int:
            return client.get("/metrics", headers=headers, **kwargs).status_code  # type: ignore[arg-type]

        assert status({}) == 401
        assert status({"Authorization": "Bearer not-it"}) == 401
        assert status({"Authorization": f"Basic {TOKEN}"}) == 401
        assert status({"Authorization": f"Bearer {TOKEN}"}) == 200
        assert status(api.headers("admin")) == 200
        assert status(api.headers("op")) == 401
        assert status(api.headers("viewer")) == 401
        now = datetime.now(UTC)
        store = api.store()
        admin = accounts.open_login_session(store, "admin", now, timedelta(hours=1))
        viewer = accounts.open_login_session(store, "viewer", now, timedelta(hours=1))
        client.cookies.set(SESSION_COOKIE, admin)
        assert status({}) == 200
        client.cookies.set(SESSION_COOKIE, viewer)
        assert status({}) == 401


def test_without_a_token_only_admins_read_it(api: ApiEnv) -> None:
    with _client(api) as client:
        assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
        response = client.get("/metrics", headers=api.headers("admin"))
        assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    # The seeded database: one import error, the default pool with nothing running.
    (errors,) = families["millstream_dag_import_errors"].samples
    assert errors.value == 1 and errors.labels["component"] == "webserver"
    pool = {s.labels["state"]: s.value for s in families["millstream_pool_slots"].samples
            if s.labels["pool"] == "default_pool"}
    assert pool == {"running": 0, "queued": 0, "free": 128}


def test_off_is_not_found(api: ApiEnv) -> None:
    with _client(api, enabled=False) as client:
        assert client.get("/metrics", headers=api.headers("admin")).status_code == 404


def test_deadline_misses_are_listed_newest_first_for_viewers(api: ApiEnv) -> None:
    from millstream.store.deadline_records import DeadlineMissRecord

    first, second = api.add_run("r1"), api.add_run("r2", day=1)
    day = datetime(2026, 2, 1, tzinfo=UTC)
    store = api.store()
    store.deadline_misses.add(DeadlineMissRecord(first.dag_id, "r1", "", "deadline", day, day))
    store.deadline_misses.add(DeadlineMissRecord(
        second.dag_id, "r2", "load", "sla", day, day + timedelta(hours=1)))

    assert api.get(None, "/deadlineMisses").status_code == 401
    response = api.get("viewer", "/deadlineMisses", params={"limit": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["total_entries"] == 2
    assert body["deadline_misses"] == [{
        "dag_id": second.dag_id, "dag_run_id": "r2", "task_id": "load", "kind": "sla",
        "deadline": "2026-02-01T00:00:00Z", "detected_at": "2026-02-01T01:00:00Z"}]
    rest = api.get("viewer", "/deadlineMisses", params={"offset": 1}).json()
    assert [(m["dag_run_id"], m["task_id"], m["kind"]) for m in rest["deadline_misses"]] == [
        ("r1", None, "deadline")]
    other = api.get("viewer", "/deadlineMisses", params={"dag_id": "nope"}).json()
    assert other == {"deadline_misses": [], "total_entries": 0}
