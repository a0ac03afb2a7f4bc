"""The store contract for variables and connections (kept as the secrets code hands them over).

Each test runs once per store kind (memory, SQLite, PostgreSQL) through the ``store`` fixture.
"""

from __future__ import annotations

import pytest

from millstream.exceptions import InvalidInputError
from millstream.store.interfaces import Store
from millstream.store.secrets_records import ConnectionRecord, VariableRecord
from millstream.store.sql import SqlStore


def test_variables_are_set_replaced_listed_and_deleted(store: Store) -> None:
    assert store.variables.get("a") is None and store.variables.count() == 0
    with store.transaction():
        store.variables.set(VariableRecord("b", "gAAAA-cipher-b", "the b", is_encrypted=True))
        store.variables.set(VariableRecord("a", "plain ü text", None, is_encrypted=False))
        store.variables.set(VariableRecord("c", "", "empty"))
    assert store.variables.get("b") == VariableRecord("b", "gAAAA-cipher-b", "the b", True)
    assert store.variables.get("a") == VariableRecord("a", "plain ü text", None, False)
    with store.transaction():
        store.variables.set(VariableRecord("b", "gAAAA-cipher-2", None, is_encrypted=True))
    assert store.variables.get("b") == VariableRecord("b", "gAAAA-cipher-2", None, True)
    assert [v.key for v in store.variables.list()] == ["a", "b", "c"]
    assert [v.key for v in store.variables.list(limit=2)] == ["a", "b"]
    assert [v.key for v in store.variables.list(limit=2, offset=2)] == ["c"]
    assert store.variables.list(limit=0) == [] and store.variables.list(offset=9) == []
    assert store.variables.count() == 3
    with store.transaction():
        assert store.variables.delete("a") is True
        assert store.variables.delete("a") is False
    assert store.variables.get("a") is None and store.variables.count() == 2


def test_connections_keep_every_field(store: Store) -> None:
    full = ConnectionRecord(
        "warehouse", "postgres", "the warehouse", "db.internal", "dw", "etl", "gAAAA-pw",
        5432, "gAAAA-extra", is_encrypted=True, is_extra_encrypted=True,
    )
    bare = ConnectionRecord("api", "http")
    with store.transaction():
        store.connections.set(full)
        store.connections.set(bare)
    assert store.connections.get("warehouse") == full
    assert store.connections.get("api") == bare
    changed = ConnectionRecord("api", "https", host="api.example.com", port=443)
    store.connections.set(changed)  # outside a transaction: a transaction of its own
    assert store.connections.get("api") == changed
    assert [c.conn_id for c in store.connections.list()] == ["api", "warehouse"]
    assert [c.conn_id for c in store.connections.list(limit=1, offset=1)] == ["warehouse"]
    assert store.connections.count() == 2
    assert store.connections.delete("api") is True
    assert store.connections.delete("api") is False
    assert store.connections.get("api") is None


def test_a_rolled_back_transaction_leaves_no_variable(sql_store: SqlStore) -> None:
    with pytest.raises(RuntimeError), sql_store.transaction():
        sql_store.variables.set(VariableRecord("gone", "x"))
        sql_store.connections.set(ConnectionRecord("gone", "http"))
        raise RuntimeError("abort")
    assert sql_store.variables.get("gone") is None
    assert sql_store.connections.get("gone") is None


def test_a_bad_page_is_an_error(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="offset must be >= 0"):
        store.variables.list(offset=-1)
    with pytest.raises(InvalidInputError, match="limit must be >= 0"):
        store.connections.list(limit=-1)
