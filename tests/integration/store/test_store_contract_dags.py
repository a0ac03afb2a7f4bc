"""The store contract for DAGs and their versions, import errors and the audit log.

Each test runs once per store kind (memory, SQLite, PostgreSQL) through the ``store`` fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from millstream.exceptions import NotFoundError
from millstream.store.interfaces import Store
from millstream.store.records import AuditRecord

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def test_dag_upsert_records_the_dag_and_its_versions(store: Store) -> None:
    parsed = DAY + timedelta(minutes=1)
    with store.transaction():
        created = store.dags.upsert("etl", "/dags/etl.py", '{"v": 1}', "v1", DAY,
                                    paused_on_create=True)
    assert (created.dag_id, created.fileloc, created.is_paused, created.is_active,
            created.latest_version, created.last_parsed) == (
        "etl", "/dags/etl.py", True, True, "v1", DAY)
    with store.transaction():
        store.dags.set_paused("etl", False)
        again = store.dags.upsert("etl", "/dags/moved.py", '{"v": 2}', "v2", parsed,
                                  paused_on_create=True)
        store.dags.upsert("etl", "/dags/moved.py", '{"v": "other"}', "v2", parsed)
    assert (again.is_paused, again.latest_version, again.fileloc) == (False, "v2", "/dags/moved.py")
    got = store.dags.get("etl")
    assert got is not None and got.last_parsed == parsed and got.is_paused is False
    assert store.dags.structure("etl") == '{"v": 2}'
    assert store.dags.structure("etl", "v1") == '{"v": 1}'
    assert store.dags.structure("etl", "v9") is None
    assert store.dags.structure("nope") is None
    assert store.dags.get("nope") is None
    with pytest.raises(NotFoundError, match="nope"):
        store.dags.set_paused("nope", True)


def test_dags_missing_from_their_files_are_deactivated(store: Store) -> None:
    with store.transaction():
        for dag_id, fileloc in [("a", "/d/one.py"), ("b", "/d/one.py"), ("c", "/d/two.py")]:
            store.dags.upsert(dag_id, fileloc, "{}", "v1", DAY)
    with store.transaction():
        gone = store.dags.deactivate_missing(["a"], ["/d/one.py"])
    assert gone == ["b"]
    assert [d.dag_id for d in store.dags.list()] == ["a", "c"]
    assert [d.dag_id for d in store.dags.list(active_only=False)] == ["a", "b", "c"]
    assert store.dags.deactivate_missing([], []) == []
    with store.transaction():
        store.dags.upsert("b", "/d/one.py", "{}", "v1", DAY)
    assert [d.dag_id for d in store.dags.list()] == ["a", "b", "c"]


def test_import_errors_are_kept_per_file_until_cleared(store: Store) -> None:
    later = DAY + timedelta(hours=1)
    with store.transaction():
        store.import_errors.set("/d/b.py", "SyntaxError: b", DAY)
        store.import_errors.set("/d/a.py", "ImportError: a", DAY)
        store.import_errors.set("/d/b.py", "NameError: b", later)
    errors = store.import_errors.list()
    assert [(e.filename, e.traceback) for e in errors] == [
        ("/d/a.py", "ImportError: a"), ("/d/b.py", "NameError: b")
    ]
    assert errors[1].timestamp == later
    with store.transaction():
        store.import_errors.set("/d/a.py", None, later)
        store.import_errors.set("/d/never.py", None, later)
    assert [e.filename for e in store.import_errors.list()] == ["/d/b.py"]


def test_audit_log_lists_newest_first(store: Store) -> None:
    actions: list[tuple[str, str, dict[str, object]]] = [
        ("trigger", "etl", {"conf": {"a": 1}}),
        ("pause", "other", {}),
        ("clear", "etl", {"tasks": ["x"]}),
    ]
    records = [
        AuditRecord(DAY + timedelta(minutes=i), "admin", event, dag_id, extra=extra)
        for i, (event, dag_id, extra) in enumerate(actions)
    ]
    with store.transaction():
        for record in records:
            store.audit.add(record)
    assert store.audit.list() == list(reversed(records))
    assert store.audit.list("etl") == [records[2], records[0]]
    assert store.audit.list(limit=1) == [records[2]]
    assert store.audit.list("nope") == []
