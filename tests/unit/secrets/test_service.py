"""The audited, validated, encrypted actions the CLI, API and UI use (on the memory store)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet

from millstream.exceptions import ConflictError, InvalidInputError
from millstream.secrets import service
from millstream.secrets.connection import Connection
from millstream.secrets.errors import FernetKeyError
from millstream.store.memory import MemoryStore

from .conftest import KEY_ENV

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_set_variable_encrypts_audits_and_keeps_the_description(store: MemoryStore) -> None:
    service.set_variable(store, "region", "eu-west-1", "ana", NOW, description="where we run")
    record = store.variables.get("region")
    assert record is not None and record.is_encrypted
    assert "eu-west-1" not in record.value
    assert service.get_variable(store, "region") == "eu-west-1"
    service.set_variable(store, "region", "us-east-1", "bo", NOW)
    record = store.variables.get("region")
    assert record is not None and record.description == "where we run"
    service.set_variable(store, "region", "us-east-1", "bo", NOW, description="")
    assert store.variables.get("region").description == ""  # type: ignore[union-attr]
    events = [(a.event, a.who, a.extra) for a in store.audit.list()]
    assert events[-1] == ("variable_set", "ana", {"key": "region"})
    assert all("eu-west-1" not in json.dumps(extra) for _, _, extra in events)
    assert service.get_variable(store, "nothing") is None


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("bad key", "v", "variable key 'bad key' holds ' '"),
    ("", "v", "variable key '' is empty"),
    ("k" * 251, "v", "is 251 characters long"),
    ("ok", 5, "the value must be text, got int"),
])
def test_bad_variables_are_refused_naming_what_is_wrong(store: MemoryStore, key: str,
                                                        value: object, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        service.set_variable(store, key, value, "t", NOW)  # type: ignore[arg-type]
    assert fragment in str(caught.value)
    assert store.variables.count() == 0 and store.audit.list() == []


def test_list_variables_masks_secret_keys_and_pages(store: MemoryStore) -> None:
    for key, value in [("b_password", "hunter22"), ("a_region", "eu"), ("c_size", "10")]:
        service.set_variable(store, key, value, "t", NOW)
    views, total = service.list_variables(store, limit=2, offset=0)
    assert total == 3
    assert [(v.key, v.value, v.is_encrypted) for v in views] == [
        ("a_region", "eu", True), ("b_password", "***", True)]
    views, total = service.list_variables(store, limit=2, offset=2)
    assert [(v.key, v.value) for v in views] == [("c_size", "10")] and total == 3


def test_import_is_all_or_nothing_and_export_gives_the_values(store: MemoryStore) -> None:
    service.set_variable(store, "kept", "old", "t", NOW)
    with pytest.raises(InvalidInputError, match="variable key 'bad key'"):
        service.import_variables(store, {"fine": "1", "bad key": "2", "kept": "new"}, "t", NOW)
    assert service.export_variables(store) == {"kept": "old"}
    keys = service.import_variables(store, {"kept": "new", "cfg": {"a": [1]}, "n": 3}, "t", NOW)
    assert keys == ["cfg", "kept", "n"]
    assert service.export_variables(store) == {"cfg": '{"a": [1]}', "kept": "new", "n": "3"}
    assert store.audit.list()[0].extra == {"keys": ["cfg", "kept", "n"]}


def test_delete_variable(store: MemoryStore) -> None:
    assert service.delete_variable(store, "none", "t", NOW) is False
    service.set_variable(store, "k", "v", "t", NOW)
    assert service.delete_variable(store, "k", "t", NOW) is True
    assert store.variables.get("k") is None
    assert [a.event for a in store.audit.list()] == ["variable_delete", "variable_set"]


def test_set_connection_encrypts_the_password_and_extra(store: MemoryStore) -> None:
    conn = Connection("dw", "postgres", "the warehouse", "db", "etl", "pw-secret", "dw", 5432,
                      json.dumps({"sslmode": "require", "client_secret": "cs-value"}))
    service.set_connection(store, conn, "ana", NOW)
    record = store.connections.get("dw")
    assert record is not None and record.is_encrypted and record.is_extra_encrypted
    assert record.password is not None and "pw-secret" not in record.password
    assert record.extra is not None and "sslmode" not in record.extra
    assert (record.host, record.login, record.port) == ("db", "etl", 5432)
    assert service.get_connection_record(store, "dw") == conn
    assert service.get_connection_record(store, "other") is None
    assert store.audit.list()[0].extra == {"conn_id": "dw", "conn_type": "postgres"}
    with pytest.raises(ConflictError, match="connection 'dw' already exists"):
        service.set_connection(store, conn, "ana", NOW, must_not_exist=True)
    no_secret = Connection("plain", "http", host="h")
    service.set_connection(store, no_secret, "ana", NOW)
    record = store.connections.get("plain")
    assert record is not None and not record.is_encrypted and record.password is None


@pytest.mark.parametrize(("conn", "fragment"), [
    (Connection("x y", "postgres"), "connection id 'x y' holds ' '"),
    (Connection("c", ""), "conn_type is required"),
    (Connection("c", "postgres", port=99999), "port must be a number from 1 to 65535"),
    (Connection("c", "postgres", extra="[1]"), "extra must be a JSON object"),
])
def test_bad_connections_are_refused_and_change_nothing(store: MemoryStore, conn: Connection,
                                                        fragment: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        service.set_connection(store, conn, "t", NOW)
    assert fragment in str(caught.value)
    assert store.connections.count() == 0 and store.audit.list() == []


def test_list_connections_shows_no_password(store: MemoryStore) -> None:
    service.set_connection(store, Connection(
        "b", "http", host="api", password="pw-secret",
        extra=json.dumps({"api_key": "k-123456", "timeout": 3})), "t", NOW)
    service.set_connection(store, Connection("a", "sqlite", host="/tmp/x.db"), "t", NOW)
    views, total = service.list_connections(store, limit=10, offset=0)
    assert total == 2
    assert [(v.conn_id, v.password_set, v.is_encrypted) for v in views] == [
        ("a", False, False), ("b", True, True)]
    assert not hasattr(views[1], "password")
    assert json.loads(views[1].extra or "") == {"api_key": "***", "timeout": 3}
    assert views[0].extra is None
    views, _ = service.list_connections(store, limit=1, offset=1)
    assert [v.conn_id for v in views] == ["b"]


def test_delete_connection(store: MemoryStore) -> None:
    assert service.delete_connection(store, "none", "t", NOW) is False
    service.set_connection(store, Connection("c", "http", host="h"), "t", NOW)
    assert service.delete_connection(store, "c", "t", NOW) is True
    assert store.connections.get("c") is None
    assert [a.event for a in store.audit.list()] == ["connection_delete", "connection_set"]


def test_reading_with_the_wrong_key_is_an_error_not_garbage(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    service.set_variable(store, "v", "value", "t", NOW)
    service.set_connection(store, Connection("c", "http", host="h", password="pw"), "t", NOW)
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    with pytest.raises(FernetKeyError, match="the value of variable 'v'"):
        service.get_variable(store, "v")
    with pytest.raises(FernetKeyError, match="the password of connection 'c'"):
        service.get_connection_record(store, "c")
    # a listing shows no password, so it needs no key for one
    assert service.list_connections(store, 10, 0)[0][0].password_set
