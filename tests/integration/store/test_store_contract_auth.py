"""The store contract for users, API tokens, login sessions, service heartbeats, deleting runs
and listing a task instance's XComs.

Each test runs once per store kind (memory, SQLite, PostgreSQL) through the ``store`` fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from millstream.exceptions import ConflictError, NotFoundError
from millstream.model.states import TaskState
from millstream.store.auth_records import ApiTokenRecord, LoginSessionRecord, UserRecord
from millstream.store.interfaces import Store
from millstream.store.records import (
    DagRunRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    TaskTryRecord,
)

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def user(name: str, role: str = "viewer", **fields: object) -> UserRecord:
    return UserRecord(name, f"hash-of-{name}", role, DAY, **fields)  # type: ignore[arg-type]


def token(token_id: str, username: str, **fields: object) -> ApiTokenRecord:
    return ApiTokenRecord(token_id, username, f"sha-{token_id}", f"{token_id} token", DAY,
                          **fields)  # type: ignore[arg-type]


# -- users -----------------------------------------------------------------------------------------
def test_users_read_back_list_by_name_and_page(store: Store) -> None:
    with store.transaction():
        for name in ["carol", "alice", "bob"]:
            store.users.add(user(name, email=f"{name}@example.com"))
    assert store.users.get("alice") == user("alice", email="alice@example.com")
    assert store.users.get("nobody") is None
    assert [u.username for u in store.users.list()] == ["alice", "bob", "carol"]
    assert [u.username for u in store.users.list(limit=1, offset=1)] == ["bob"]
    assert store.users.list(limit=5, offset=3) == []
    assert store.users.count() == 3


def test_a_taken_username_is_a_conflict_and_changes_nothing(store: Store) -> None:
    store.users.add(user("alice", role="admin"))
    with pytest.raises(ConflictError, match="alice"):
        store.users.add(user("alice", role="viewer"))
    found = store.users.get("alice")
    assert found is not None and found.role == "admin"
    assert store.users.count() == 1


def test_user_update_changes_only_the_given_fields(store: Store) -> None:
    store.users.add(user("alice"))
    later = DAY + timedelta(hours=3)
    updated = store.users.update("alice", role="op", last_login=later)
    assert (updated.role, updated.last_login, updated.password_hash) == ("op", later,
                                                                         "hash-of-alice")
    assert store.users.get("alice") == updated
    with pytest.raises(NotFoundError, match="nobody"):
        store.users.update("nobody", role="op")
    with pytest.raises(AttributeError, match="created_at"):
        store.users.update("alice", created_at=DAY + timedelta(days=1))
    with pytest.raises(AttributeError, match="colour"):
        store.users.update("alice", colour="red")


def test_deleting_a_user_deletes_their_tokens_and_sessions(store: Store) -> None:
    with store.transaction():
        store.users.add(user("alice"))
        store.users.add(user("bob"))
        store.api_tokens.add(token("t1", "alice"))
        store.api_tokens.add(token("t2", "bob"))
        store.login_sessions.add(LoginSessionRecord("s1", "alice", DAY, DAY + timedelta(days=1)))
        store.login_sessions.add(LoginSessionRecord("s2", "bob", DAY, DAY + timedelta(days=1)))
    assert store.users.delete("alice") is True
    assert store.users.delete("alice") is False
    assert store.users.get("alice") is None
    assert [t.token_id for t in store.api_tokens.list()] == ["t2"]
    assert store.api_tokens.by_hash("sha-t1") is None
    assert store.login_sessions.get("s1") is None
    assert store.login_sessions.get("s2") is not None


# -- API tokens ------------------------------------------------------------------------------------
def test_tokens_are_found_by_hash_listed_per_user_and_deleted(store: Store) -> None:
    expires = DAY + timedelta(days=30)
    with store.transaction():
        store.users.add(user("alice"))
        store.users.add(user("bob"))
        store.api_tokens.add(token("t1", "alice", expires_at=expires))
        store.api_tokens.add(token("t2", "bob"))
        store.api_tokens.add(
            ApiTokenRecord("t3", "alice", "sha-t3", "later", DAY + timedelta(hours=1)))
    assert store.api_tokens.by_hash("sha-t1") == token("t1", "alice", expires_at=expires)
    assert store.api_tokens.by_hash("sha-unknown") is None
    assert [t.token_id for t in store.api_tokens.list()] == ["t1", "t2", "t3"]
    assert [t.token_id for t in store.api_tokens.list("alice")] == ["t1", "t3"]
    assert store.api_tokens.delete("t1") is True
    assert store.api_tokens.delete("t1") is False
    assert [t.token_id for t in store.api_tokens.list("alice")] == ["t3"]


def test_a_token_of_an_unknown_user_or_a_reused_id_is_refused(store: Store) -> None:
    store.users.add(user("alice"))
    store.api_tokens.add(token("t1", "alice"))
    with pytest.raises(ConflictError):
        store.api_tokens.add(token("t1", "alice"))
    if not hasattr(store, "engine"):
        return  # the memory store does not check references between records
    with pytest.raises(ConflictError, match="nobody"):
        store.api_tokens.add(token("t9", "nobody"))


# -- login sessions --------------------------------------------------------------------------------
def test_login_sessions_are_deleted_one_by_one_or_when_expired(store: Store) -> None:
    with store.transaction():
        store.users.add(user("alice"))
        for name, hours in [("old", 1), ("soon", 5), ("fresh", 48)]:
            store.login_sessions.add(
                LoginSessionRecord(name, "alice", DAY, DAY + timedelta(hours=hours)))
    assert store.login_sessions.get("soon") == LoginSessionRecord(
        "soon", "alice", DAY, DAY + timedelta(hours=5))
    assert store.login_sessions.delete_expired(DAY + timedelta(hours=2)) == 1
    assert store.login_sessions.get("old") is None
    assert store.login_sessions.delete("soon") is True
    assert store.login_sessions.delete("soon") is False
    assert store.login_sessions.get("fresh") is not None


# -- service heartbeats ----------------------------------------------------------------------------
def test_latest_heartbeat_is_the_most_recent_process_of_that_type(store: Store) -> None:
    assert store.jobs.latest("scheduler") is None
    store.jobs.heartbeat("scheduler", "host-a", 10, DAY)
    store.jobs.heartbeat("scheduler", "host-b", 20, DAY + timedelta(seconds=5))
    store.jobs.heartbeat("triggerer", "host-a", 30, DAY + timedelta(seconds=9))
    latest = store.jobs.latest("scheduler")
    assert latest is not None
    assert (latest.hostname, latest.pid, latest.latest_heartbeat) == (
        "host-b", 20, DAY + timedelta(seconds=5))
    store.jobs.heartbeat("scheduler", "host-a", 10, DAY + timedelta(seconds=7))
    latest = store.jobs.latest("scheduler")
    assert latest is not None and (latest.hostname, latest.pid) == ("host-a", 10)
    triggerer = store.jobs.latest("triggerer")
    assert triggerer is not None and triggerer.pid == 30


def test_alive_lists_the_processes_of_a_type_that_beat_since_a_moment(store: Store) -> None:
    store.jobs.heartbeat("triggerer", "host-b", 20, DAY + timedelta(seconds=30))
    store.jobs.heartbeat("triggerer", "host-a", 10, DAY)
    store.jobs.heartbeat("triggerer", "host-a", 5, DAY + timedelta(seconds=20))
    store.jobs.heartbeat("scheduler", "host-a", 1, DAY + timedelta(seconds=30))
    alive = store.jobs.alive("triggerer", DAY + timedelta(seconds=20))
    assert [(j.hostname, j.pid) for j in alive] == [("host-a", 5), ("host-b", 20)]
    assert store.jobs.alive("triggerer", DAY + timedelta(minutes=1)) == []


# -- deleting runs, listing XComs ------------------------------------------------------------------
def _run(run_id: str, day: int) -> DagRunRecord:
    logical = DAY + timedelta(days=day)
    return DagRunRecord("etl", run_id, logical, logical, logical + timedelta(days=1))


def test_deleting_a_run_deletes_its_instances_tries_and_xcoms(store: Store) -> None:
    gone, kept = TaskInstanceKey("etl", "r1", "extract"), TaskInstanceKey("etl", "r2", "extract")
    with store.transaction():
        for run_id, day in [("r1", 0), ("r2", 1)]:
            store.runs.add(_run(run_id, day))
            store.task_instances.add_many([TaskInstanceRecord("etl", run_id, "extract")])
        for key in (gone, kept):
            store.task_instances.record_try(
                TaskTryRecord(key, 1, TaskState.FAILED, DAY, DAY, "boom"))
            store.xcoms.set_many(key, [("return_value", "1")])
    with store.transaction():
        assert store.runs.delete("etl", "r1") is True
    assert store.runs.delete("etl", "r1") is False
    assert store.runs.get("etl", "r1") is None
    assert store.task_instances.get(gone) is None
    assert store.task_instances.tries(gone) == []
    assert store.xcoms.entries(gone) == []
    assert store.task_instances.get(kept) is not None
    assert len(store.task_instances.tries(kept)) == 1
    assert store.xcoms.entries(kept) == [("return_value", "1")]
    with store.transaction():  # the logical date is free again
        store.runs.add(_run("r1-again", 0))


def test_xcom_entries_of_one_instance_by_key(store: Store) -> None:
    key = TaskInstanceKey("etl", "r1", "extract")
    with store.transaction():
        store.runs.add(_run("r1", 0))
        store.task_instances.add_many([TaskInstanceRecord("etl", "r1", "extract"),
                                       TaskInstanceRecord("etl", "r1", "load")])
        store.xcoms.set_many(key, [("rows", "3"), ("return_value", '{"a": 1}')])
        store.xcoms.set_many(TaskInstanceKey("etl", "r1", "load"), [("other", "0")])
    assert store.xcoms.entries(key) == [("return_value", '{"a": 1}'), ("rows", "3")]
    assert store.xcoms.entries(TaskInstanceKey("etl", "r1", "extract", 0)) == []
