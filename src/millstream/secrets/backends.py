"""Where connections and variables are found, in order: environment, secrets file, database.

- Environment: ``MILLSTREAM_CONN_<ID>`` (the id upper-cased) holds a connection as a URI
  or as a JSON object of its fields; ``MILLSTREAM_VAR_<KEY>`` holds a variable's value.
- Secrets file: ``[secrets] secrets_file``, a JSON or YAML file (by its suffix: ``.yaml``
  or ``.yml`` is YAML, anything else JSON) with two optional mappings::

      connections:
        warehouse_db: postgres://etl:s3cret@db.internal:5432/warehouse
        api: {conn_type: http, host: api.example.com, extra: {timeout: 30}}
      variables:
        environment: production
        limits: {batch_size: 1000}      # a value that is not text is stored as its JSON

- The metadata database (encrypted at rest), read through the store this process uses.

The first place that defines an id wins, so an environment variable overrides the file
and the file overrides the database.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from millstream.exceptions import InvalidInputError
from millstream.secrets.connection import Connection
from millstream.secrets.errors import SecretsFileError
from millstream.secrets.variable import env_var_name

CONN_ENV_PREFIX = "MILLSTREAM_CONN_"
VAR_ENV_PREFIX = "MILLSTREAM_VAR_"
# Further (connection prefix, variable prefix) pairs read after millstream's own: the Airflow
# compatibility layer adds ("AIRFLOW_CONN_", "AIRFLOW_VAR_") while it is on.
_more_env_prefixes: list[tuple[str, str]] = []


def add_env_prefixes(conn_prefix: str, var_prefix: str) -> None:
    """Also read connections from ``<conn_prefix><ID>`` and variables from
    ``<var_prefix><KEY>``, after millstream's own variables (again: no effect)."""
    if (conn_prefix, var_prefix) not in _more_env_prefixes:
        _more_env_prefixes.append((conn_prefix, var_prefix))


def remove_env_prefixes(conn_prefix: str, var_prefix: str) -> None:
    while (conn_prefix, var_prefix) in _more_env_prefixes:
        _more_env_prefixes.remove((conn_prefix, var_prefix))


def conn_env_var_name(conn_id: str) -> str:
    """The environment variable that defines connection ``conn_id``."""
    return f"{CONN_ENV_PREFIX}{conn_id.upper()}"


# -- environment --------------------------------------------------------------------------------
def connection_from_env(conn_id: str, environ: Mapping[str, str] | None = None
                        ) -> Connection | None:
    """The connection an environment variable defines, or None; a bad value names the variable."""
    env = os.environ if environ is None else environ
    names = [conn_env_var_name(conn_id)]
    names += [prefix + conn_id.upper() for prefix, _ in _more_env_prefixes]
    for name in names:
        value = env.get(name)
        if value is None:
            continue
        try:
            return parse_connection(conn_id, value)
        except InvalidInputError as exc:
            raise InvalidInputError(f"env var {name}: {exc}") from None
    return None


def variable_from_env(key: str, environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    value = env.get(env_var_name(key))
    for _, prefix in _more_env_prefixes:
        if value is not None:
            break
        value = env.get(prefix + key.upper())
    return value


def parse_connection(conn_id: str, value: str) -> Connection:
    """A connection from text that is either its URI or a JSON object of its fields."""
    stripped = value.strip()
    if stripped.startswith("{"):
        return Connection.from_json(conn_id, stripped)
    return Connection.from_uri(conn_id, stripped)


# -- secrets file -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SecretsFile:
    """The parsed secrets file: connection entries and variable values by id."""

    path: Path
    connections: Mapping[str, Any]
    variables: Mapping[str, str]

    def connection(self, conn_id: str) -> Connection | None:
        entry = self.connections.get(conn_id)
        if entry is None:
            return None
        try:
            if isinstance(entry, str):
                return parse_connection(conn_id, entry)
            return Connection.from_json(conn_id, entry)
        except InvalidInputError as exc:
            raise SecretsFileError(f"secrets file {self.path}: {exc}") from None


_file_cache: dict[Path, tuple[tuple[int, int], SecretsFile]] = {}
_file_lock = threading.Lock()


def read_secrets_file(path: Path) -> SecretsFile:
    """The secrets file at ``path`` (re-read only when it changes), or a SecretsFileError."""
    path = Path(path).expanduser()
    try:
        stat = path.stat()
    except OSError as exc:
        raise SecretsFileError(
            f"cannot read the secrets file {path} ([secrets] secrets_file): {exc.strerror}"
        ) from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _file_lock:
        cached = _file_cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    parsed = _parse_secrets_file(path)
    with _file_lock:
        _file_cache[path] = (stamp, parsed)
    return parsed


def _parse_secrets_file(path: Path) -> SecretsFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsFileError(f"cannot read the secrets file {path}: {exc}") from None
    data: Any
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SecretsFileError(f"secrets file {path} is not valid YAML: {exc}") from None
    else:
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise SecretsFileError(
                f"secrets file {path} is not valid JSON: {exc.msg} (line {exc.lineno})"
            ) from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise SecretsFileError(
            f"secrets file {path} must hold a mapping with 'connections' and 'variables'"
        )
    unknown = sorted(str(k) for k in set(data) - {"connections", "variables"})
    if unknown:
        raise SecretsFileError(
            f"secrets file {path}: unknown section(s) {', '.join(map(repr, unknown))}; "
            "use 'connections' and 'variables'"
        )
    sections: dict[str, dict[str, Any]] = {}
    for section in ("connections", "variables"):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise SecretsFileError(f"secrets file {path}: '{section}' must be a mapping")
        for name, entry in entries.items():
            if section == "connections" and not isinstance(entry, str | dict):
                raise SecretsFileError(
                    f"secrets file {path}: connection {name!r} must be a URI or a mapping "
                    "of fields"
                )
        sections[section] = {str(name): entry for name, entry in entries.items()}
    variables = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in sections["variables"].items()
    }
    return SecretsFile(path, sections["connections"], variables)


def configured_secrets_file() -> SecretsFile | None:
    """The secrets file of the current settings, or None when none is configured."""
    from millstream.secrets.settings import current_settings

    path = current_settings().secrets.secrets_file
    return None if path is None else read_secrets_file(path)


def looked_in(env_name: str) -> str:
    """The places a lookup went through, for a not-found message."""
    from millstream.secrets.settings import current_settings

    path = current_settings().secrets.secrets_file
    file = f"the secrets file {path}" if path is not None else "no secrets file (none configured)"
    return f"env var {env_name}, {file}, the metadata database"
