"""Lookups as tasks make them: environment, then the secrets file, then the metadata store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pytest

from millstream.exceptions import InvalidInputError
from millstream.secrets import Connection, Variable, get_connection, service
from millstream.secrets.accessors import ConnectionAccessor, VariableAccessor
from millstream.secrets.errors import ConnectionNotFound, SecretsFileError, VariableNotFound
from millstream.secrets.masking import MASK, redact_text
from millstream.store.current import using_store
from millstream.store.memory import MemoryStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def db(store: MemoryStore) -> Iterator[MemoryStore]:
    """The store tasks of this process read (as dag.test() and workers set it)."""
    with using_store(store):
        yield store


def _secrets_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                  name: str = "secrets.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    monkeypatch.setenv("MILLSTREAM__SECRETS__SECRETS_FILE", str(path))
    return path


def test_variables_come_from_env_then_file_then_database(
    db: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    service.set_variable(db, "region", "from-db", "tester", NOW)
    assert Variable.get("region") == "from-db"
    _secrets_file(tmp_path, monkeypatch, "variables:\n  region: from-file\n")
    assert Variable.get("region") == "from-file"
    monkeypatch.setenv("MILLSTREAM_VAR_REGION", "from-env")
    assert Variable.get("region") == "from-env"
    monkeypatch.delenv("MILLSTREAM_VAR_REGION")
    monkeypatch.delenv("MILLSTREAM__SECRETS__SECRETS_FILE")
    assert Variable.get("region") == "from-db"


def test_connections_come_from_env_then_file_then_database(
    db: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    service.set_connection(db, Connection("warehouse", "postgres", host="db-host"), "t", NOW)
    assert get_connection("warehouse").host == "db-host"
    _secrets_file(tmp_path, monkeypatch, json.dumps({"connections": {
        "warehouse": {"conn_type": "postgres", "host": "file-host", "extra": {"a": 1}},
    }}), name="secrets.json")
    found = get_connection("warehouse")
    assert (found.host, found.extra_dejson) == ("file-host", {"a": 1})
    monkeypatch.setenv("MILLSTREAM_CONN_WAREHOUSE", "postgres://u:pw@env-host:5433/dw")
    assert (get_connection("warehouse").host, get_connection("warehouse").port) == (
        "env-host", 5433)
    monkeypatch.setenv("MILLSTREAM_CONN_WAREHOUSE", '{"conn_type": "http", "host": "json-host"}')
    assert get_connection("warehouse").host == "json-host"
    assert Connection.get_connection_from_secrets("warehouse").conn_type == "http"


def test_a_missing_connection_names_the_id_and_where_it_looked(
    db: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConnectionNotFound) as caught:
        get_connection("nowhere")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == (
        "connection 'nowhere' is not defined (looked in env var MILLSTREAM_CONN_NOWHERE, "
        "no secrets file (none configured), the metadata database)"
    )
    path = _secrets_file(tmp_path, monkeypatch, "connections: {}\n")
    with pytest.raises(ConnectionNotFound, match=f"the secrets file {path}"):
        get_connection("nowhere")


def test_a_bad_environment_value_names_the_variable(db: MemoryStore,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM_CONN_BROKEN", "postgres://h:port/x")
    with pytest.raises(InvalidInputError,
                       match="env var MILLSTREAM_CONN_BROKEN: connection 'broken'"):
        get_connection("broken")


@pytest.mark.parametrize(("name", "text", "fragment"), [
    ("s.json", "{nope", "is not valid JSON"),
    ("s.yaml", "a: [", "is not valid YAML"),
    ("s.yaml", "- 1\n", "must hold a mapping"),
    ("s.yaml", "conections: {}\n", "unknown section(s) 'conections'"),
    ("s.yaml", "variables: [1]\n", "'variables' must be a mapping"),
    ("s.yaml", "connections:\n  c: 5\n", "connection 'c' must be a URI or a mapping"),
])
def test_a_bad_secrets_file_is_an_error_naming_the_file(
    db: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str,
    fragment: str,
) -> None:
    path = _secrets_file(tmp_path, monkeypatch, text, name)
    with pytest.raises(SecretsFileError) as caught:
        Variable.get("anything", default_var=None)
    assert str(path) in str(caught.value) and fragment in str(caught.value)


def test_a_bad_connection_in_the_secrets_file_names_the_file_and_connection(
    db: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = _secrets_file(tmp_path, monkeypatch, "connections:\n  c: {conn_type: x, port: 0}\n")
    with pytest.raises(SecretsFileError, match=f"secrets file {path}: connection 'c': port"):
        get_connection("c")


def test_a_missing_secrets_file_is_an_error(db: MemoryStore, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM__SECRETS__SECRETS_FILE", str(tmp_path / "gone.yaml"))
    with pytest.raises(SecretsFileError, match=r"cannot read the secrets file .*gone\.yaml"):
        Variable.get("x", default_var=None)


def test_secrets_file_values_that_are_not_text_are_json(
    db: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _secrets_file(tmp_path, monkeypatch, "variables:\n  limits: {batch: 10}\n  n: 3\n")
    assert Variable.get("limits", deserialize_json=True) == {"batch": 10}
    assert Variable.get("n") == "3"


def test_variable_get_defaults_and_json(db: MemoryStore) -> None:
    with pytest.raises(VariableNotFound) as caught:
        Variable.get("absent")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value).startswith("variable 'absent' does not exist (looked in env var "
                                        "MILLSTREAM_VAR_ABSENT")
    assert Variable.get("absent", default_var=None) is None
    assert Variable.get("absent", default_var={"d": 1}, deserialize_json=True) == {"d": 1}
    Variable.set("config", {"batch": 5, "tables": ["a"]}, serialize_json=True)
    assert Variable.get("config", deserialize_json=True) == {"batch": 5, "tables": ["a"]}
    Variable.set("plain", "not json", description="for the test")
    with pytest.raises(ValueError, match="variable 'plain' is not valid JSON"):
        Variable.get("plain", deserialize_json=True)
    with pytest.raises(TypeError, match="serialize_json=True"):
        Variable.set("number", 5)
    assert Variable.setdefault("made", "first") == "first"
    assert Variable.setdefault("made", "second") == "first"
    assert Variable.delete("made") is True and Variable.delete("made") is False
    assert [a.event for a in db.audit.list()][:2] == ["variable_delete", "variable_set"]


def test_reading_a_secret_masks_it_in_this_process(db: MemoryStore,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    Variable.set("stripe_api_key", "sk-live-0123456789")
    Variable.set("region", "eu-west-1-long")
    assert Variable.get("region") == "eu-west-1-long"
    assert redact_text("eu-west-1-long") == "eu-west-1-long"  # not a secret name
    assert Variable.get("stripe_api_key") == "sk-live-0123456789"
    assert redact_text("key sk-live-0123456789") == f"key {MASK}"
    monkeypatch.setenv("MILLSTREAM_CONN_API", "http://bot:tok-9876543210@api.example.com/"
                       "?api_key=extra-secret-1")
    get_connection("api")
    assert redact_text("tok-9876543210 extra-secret-1") == f"{MASK} {MASK}"


def test_var_and_conn_in_templates(db: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    Variable.set("env", "prod")
    Variable.set("limits", json.dumps({"batch": 7}))
    monkeypatch.setenv("MILLSTREAM_CONN_MY_DB", "postgres://etl:pw@db.example.com:5432/sales")
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    context = {"var": VariableAccessor(), "conn": ConnectionAccessor()}

    def render(template: str) -> str:
        return environment.from_string(template).render(context)

    assert render("{{ var.value.env }}/{{ var.value['env'] }}") == "prod/prod"
    assert render("{{ var.json.limits.batch }}") == "7"
    assert render("{{ var.value.get('nope', 'fallback') }}") == "fallback"
    assert render("{{ var.json.get('nope', {'x': 1}).x }}") == "1"
    assert render("{{ conn.my_db.host }}:{{ conn.my_db.port }} {{ conn['my_db'].login }}") == (
        "db.example.com:5432 etl")
    assert render("{{ conn.get('nope', none) is none }}") == "True"
    with pytest.raises(VariableNotFound, match="'missing'"):
        render("{{ var.value.missing }}")
    with pytest.raises(ConnectionNotFound, match="'gone'"):
        render("{{ conn.gone.host }}")
