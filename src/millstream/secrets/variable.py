"""Variable: global key/value settings that tasks and DAG files read, as in Airflow.

``Variable.get`` looks in ``MILLSTREAM_VAR_<KEY>``, then the secrets file, then the
metadata database (the store of this process, see :mod:`millstream.store.current`).
A variable whose key names a secret (``password``, ``api_key`` ...) is masked as ``***``
in the task's log from the moment it is read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from millstream.secrets.errors import VariableNotFound
from millstream.secrets.masking import is_sensitive_name, mask_secret

_NO_DEFAULT: Any = object()


def _who() -> str:
    from millstream.store.audit import current_user

    return current_user()


class Variable:
    """Read and write variables: ``Variable.get("key")``, ``Variable.set("key", "value")``."""

    @staticmethod
    def get(key: str, default_var: Any = _NO_DEFAULT, deserialize_json: bool = False) -> Any:
        """The variable's value (text, or its JSON decoded with ``deserialize_json``).

        A missing variable gives ``default_var`` when one is passed (``None`` included), and
        otherwise raises :class:`VariableNotFound` (a KeyError) naming the key.
        """
        from millstream.secrets.service import get_variable_value

        value = get_variable_value(key)
        if value is None:
            if default_var is _NO_DEFAULT:
                from millstream.secrets.backends import looked_in

                raise VariableNotFound(
                    key, f"variable {key!r} does not exist (looked in "
                    f"{looked_in(env_var_name(key))})"
                )
            return default_var
        if is_sensitive_name(key):
            mask_secret(value)
        if not deserialize_json:
            return value
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"variable {key!r} is not valid JSON ({exc.msg} at {exc.pos}): read it "
                "without deserialize_json=True, or store JSON in it"
            ) from None
        if is_sensitive_name(key):
            mask_secret(decoded, key)
        return decoded

    @staticmethod
    def set(key: str, value: Any, description: str | None = None,
            serialize_json: bool = False) -> None:
        """Create or replace the variable in the metadata database (encrypted at rest).

        A value that is not text needs ``serialize_json=True``, which stores it as JSON.
        """
        from millstream.secrets.service import set_variable
        from millstream.store.current import current_store

        if serialize_json:
            text = json.dumps(value, indent=2)
        elif isinstance(value, str):
            text = value
        else:
            raise TypeError(
                f"variable {key!r}: the value is a {type(value).__name__}, not text; pass "
                "serialize_json=True to store it as JSON"
            )
        set_variable(current_store(), key, text, _who(), datetime.now(UTC), description)

    @staticmethod
    def setdefault(key: str, default: Any, deserialize_json: bool = False) -> Any:
        """The variable's value; when it does not exist, ``default`` is stored and returned."""
        value = Variable.get(key, default_var=None, deserialize_json=deserialize_json)
        if value is not None:
            return value
        if default is None:
            raise ValueError(f"variable {key!r} does not exist and the default is None")
        Variable.set(key, default, serialize_json=deserialize_json)
        return default

    @staticmethod
    def delete(key: str) -> bool:
        """Remove the variable from the metadata database; False if it was not there."""
        from millstream.secrets.service import delete_variable
        from millstream.store.current import current_store

        return delete_variable(current_store(), key, _who(), datetime.now(UTC))


def env_var_name(key: str) -> str:
    """The environment variable that defines variable ``key``."""
    return f"MILLSTREAM_VAR_{key.upper()}"
