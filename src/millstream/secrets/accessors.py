"""``var`` and ``conn`` of a task's context: variables and connections by attribute, as in Airflow.

In a template: ``{{ var.value.my_key }}``, ``{{ var.json.my_config.limit }}``,
``{{ var.value.get('my_key', 'fallback') }}``, ``{{ conn.my_db.host }}``,
``{{ conn.get('my_db').port }}``. Each read goes through the same lookups as
``Variable.get`` and ``get_connection`` (environment, secrets file, database), when the
template is rendered, and a missing one is an error naming it.
"""

from __future__ import annotations

from typing import Any

from millstream.secrets.variable import _NO_DEFAULT, Variable


class _VariableValues:
    """``var.value`` (text) or ``var.json`` (decoded JSON)."""

    def __init__(self, deserialize_json: bool) -> None:
        self._json = deserialize_json

    def get(self, key: str, default: Any = _NO_DEFAULT) -> Any:
        return Variable.get(key, default_var=default, deserialize_json=self._json)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):  # Jinja and copy look for protocols; those are not variables
            raise AttributeError(key)
        return self.get(key)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def __repr__(self) -> str:
        return f"<variables as {'JSON' if self._json else 'text'}>"


class VariableAccessor:
    """``var``: ``var.value.<key>`` is the text of a variable, ``var.json.<key>`` its JSON."""

    def __init__(self) -> None:
        self.value = _VariableValues(deserialize_json=False)
        self.json = _VariableValues(deserialize_json=True)

    def __repr__(self) -> str:
        return "<var: var.value.<key>, var.json.<key>>"


class ConnectionAccessor:
    """``conn``: ``conn.<conn_id>`` is that connection (``.host``, ``.login``, ``.port`` ...)."""

    def get(self, conn_id: str, default: Any = _NO_DEFAULT) -> Any:
        from millstream.secrets.errors import ConnectionNotFound
        from millstream.secrets.service import get_connection

        try:
            return get_connection(conn_id)
        except ConnectionNotFound:
            if default is _NO_DEFAULT:
                raise
            return default

    def __getattr__(self, conn_id: str) -> Any:
        if conn_id.startswith("__"):
            raise AttributeError(conn_id)
        return self.get(conn_id)

    def __getitem__(self, conn_id: str) -> Any:
        return self.get(conn_id)

    def __repr__(self) -> str:
        return "<conn: conn.<conn_id>.host, .login, .port ...>"
