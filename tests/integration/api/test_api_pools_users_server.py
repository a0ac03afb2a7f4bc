"""``/pools``, ``/users``, ``/health`` and ``/version``."""

from __future__ import annotations

from datetime import timedelta

import millstream
from millstream.api.accounts import authenticate
from millstream.api.deps import utcnow
from millstream.model.states import TaskState
from tests.integration.api.api_helpers import ApiEnv


def test_pools_show_their_occupancy(api: ApiEnv) -> None:
    api.store().pools.set("etl_pool", 4, "for the ETL")
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.RUNNING)
    body = api.get("viewer", "/pools").json()
    assert body["total_entries"] == 2
    default = next(p for p in body["pools"] if p["name"] == "default_pool")
    assert (default["running_slots"], default["queued_slots"], default["open_slots"]) == (
        1, 0, default["slots"] - 1)
    assert api.get("viewer", "/pools/etl_pool").json() == {
        "name": "etl_pool", "slots": 4, "description": "for the ETL", "running_slots": 0,
        "queued_slots": 0, "open_slots": 4}
    assert [p["name"] for p in api.get("viewer", "/pools?limit=1&offset=1").json()["pools"]
            ] == ["etl_pool"]


def test_pools_are_created_changed_and_deleted_with_audit(api: ApiEnv) -> None:
    created = api.post("op", "/pools", json={"name": "etl_pool", "slots": 3})
    assert created.status_code == 200 and created.json()["slots"] == 3
    assert api.post("op", "/pools", json={"name": "etl_pool", "slots": 1}).status_code == 409
    changed = api.patch("op", "/pools/etl_pool", json={"description": "nightly"})
    assert changed.json()["slots"] == 3 and changed.json()["description"] == "nightly"
    assert api.delete("op", "/pools/etl_pool").status_code == 204
    assert api.get("op", "/pools/etl_pool").status_code == 404
    default = api.delete("op", "/pools/default_pool")
    assert default.status_code == 409 and "default_pool" in default.json()["detail"]
    events = [(a.event, a.who) for a in api.store().audit.list(limit=3)]
    assert events == [("pool_delete", "op"), ("pool_set", "op"), ("pool_set", "op")]
    blank = api.post("op", "/pools", json={"name": " ", "slots": 1})
    assert blank.status_code == 422 and blank.json()["detail"].startswith("body.name: ")


def test_admins_manage_users(api: ApiEnv) -> None:
    listed = api.get("admin", "/users").json()
    assert listed["total_entries"] == 3
    assert [u["username"] for u in listed["users"]] == ["admin", "op", "viewer"]
    assert all(set(u) == {"username", "role", "email", "created_at", "last_login"}
               for u in listed["users"])  # never a password or its hash
    created = api.post("admin", "/users", json={"username": "dana", "password": "long-enough",
                                                "role": "op", "email": "dana@example.com"})
    assert created.status_code == 200
    assert (created.json()["role"], created.json()["email"]) == ("op", "dana@example.com")
    assert api.post("admin", "/users", json={"username": "dana", "password": "long-enough"}
                    ).status_code == 409
    assert api.patch("admin", "/users/dana", json={"role": "admin"}).json()["role"] == "admin"
    assert api.get("admin", "/users?limit=2&offset=1").json()["users"][0]["username"] == "dana"
    assert api.delete("admin", "/users/dana").status_code == 204
    assert api.get("admin", "/users/dana").status_code == 404
    own = api.delete("admin", "/users/admin")
    assert own.status_code == 409
    events = [a.event for a in api.store().audit.list(limit=3)]
    assert events == ["user_delete", "user_update", "user_create"]


def test_a_changed_password_is_the_one_that_works(api: ApiEnv) -> None:
    api.patch("admin", "/users/viewer", json={"password": "brand-new-password"})
    store = api.store()
    assert authenticate(store, "viewer", "brand-new-password") is not None
    assert authenticate(store, "viewer", "viewer-password") is None
    short = api.patch("admin", "/users/viewer", json={"password": "short"})
    assert short.status_code == 422 and short.json()["detail"].startswith("body.password: ")


def test_version_and_health_need_no_login(api: ApiEnv) -> None:
    assert api.get(None, "/version").json() == {"version": millstream.__version__}
    body = api.get(None, "/health").json()
    assert body == {"metadatabase": {"status": "healthy"},
                    "scheduler": {"status": None, "latest_heartbeat": None, "hostname": None},
                    "triggerer": {"status": None, "latest_heartbeat": None, "hostname": None}}


def test_health_follows_the_heartbeats(api: ApiEnv) -> None:
    store = api.store()
    now = utcnow()
    store.jobs.heartbeat("scheduler", "host-a", 11, now - timedelta(seconds=2))
    store.jobs.heartbeat("triggerer", "host-b", 12, now - timedelta(minutes=5))
    body = api.get(None, "/health").json()
    assert body["scheduler"]["status"] == "healthy"
    assert body["scheduler"]["hostname"] == "host-a"
    assert body["triggerer"]["status"] == "unhealthy"
    assert body["triggerer"]["latest_heartbeat"] is not None


def test_the_last_admin_keeps_the_role(api: ApiEnv) -> None:
    demoted = api.patch("admin", "/users/admin", json={"role": "op"})
    assert demoted.status_code == 409
    assert "only admin" in demoted.json()["detail"]
    assert api.get("admin", "/auth/me").json()["role"] == "admin"
    api.patch("admin", "/users/op", json={"role": "admin"})
    assert api.patch("admin", "/users/admin", json={"role": "viewer"}).json()["role"] == "viewer"
    assert api.delete("op", "/users/admin").status_code == 204
